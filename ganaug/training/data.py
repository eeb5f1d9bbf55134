"""Training input: numpy arrays, an ImageReader or a tf.data.Dataset -> distributed batches.

Numpy arrays get an index-based pipeline: element ``i`` of the endless stream is image
``index_shuffle(i mod n, seed=[seed, epoch])``. So the order is a pure function of the seed, and a
resumed run starts exactly at the step where the previous one stopped without replaying data.
An ImageReader resumes at the epoch and batch of the step without decoding the batches already
used (``as_tf_dataset(skip_batches=...)``); other ``tf.data`` datasets are repeated and, on resume,
skip (read and drop) the batches already used.
"""

import zlib

import numpy as np
import tensorflow as tf


class TrainingData:
    """The training input with what the trainer needs to know about it.

    Args:
        data: ``(images, labels)`` numpy arrays (labels may be None), a ``tf.data.Dataset`` yielding
            ``(images, labels)`` batches (or image batches), or an object with ``as_tf_dataset()``
            (``data_readers.image_reader.ImageReader``).
        batch_size: the global batch size for numpy arrays (readers and datasets are already
            batched; their batch size is read from them when known).
        seed: the shuffling seed (numpy arrays).

    Raises:
        TypeError: for unsupported data.
        ValueError: for inconsistent arrays or a bad batch size.
    """

    def __init__(self, data, *, batch_size=64, seed=0):
        self.seed = int(seed)
        self.class_names = None
        self.num_classes = None
        self.images = self.labels = self.reader = self.dataset = None
        if isinstance(data, tf.data.Dataset):
            self.kind = "dataset"
            self.dataset = data
            spec = data.element_spec
            image_spec = spec[0] if isinstance(spec, (tuple, list)) else spec
            self.image_shape = tuple(image_spec.shape[1:])
            self.batch_size = image_spec.shape[0]
            cardinality = int(data.cardinality())
            self.steps_per_epoch = cardinality if cardinality > 0 else None
            self.description = "tf.data.Dataset"
        elif hasattr(data, "as_tf_dataset"):
            self.kind = "reader"
            self.reader = data
            self.class_names = list(getattr(data, "class_names", None) or []) or None
            self.num_classes = getattr(data, "num_classes", None)
            self.batch_size = getattr(data, "batch_size", None)
            size = getattr(data, "image_size", None)
            size = (size, size) if isinstance(size, int) else tuple(size) if size else (None, None)
            self.image_shape = (*size, getattr(data, "channels", None))
            self.steps_per_epoch = len(data) if hasattr(data, "__len__") else None
            self.description = _reader_description(data)
        elif isinstance(data, (tuple, list)) and len(data) == 2:
            images, labels = data
            self.kind = "arrays"
            self.images = np.asarray(images, dtype=np.float32)
            if self.images.ndim != 4:
                raise ValueError(
                    "`data` images must be an (N, H, W, C) array. "
                    f"Received: data[0].shape={self.images.shape}"
                )
            if labels is not None:
                self.labels = np.asarray(labels).astype(np.int32)
                if self.labels.ndim != 3:  # (N, H, W) label maps (SPADE's masks) keep their shape
                    self.labels = self.labels.reshape(-1)
                if len(self.labels) != len(self.images):
                    raise ValueError(
                        "`data` needs one label per image. "
                        f"Received: {len(self.images)} images and {len(self.labels)} labels"
                    )
                self.num_classes = int(self.labels.max()) + 1
            if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
                raise ValueError(f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}")
            if batch_size > len(self.images):
                raise ValueError(
                    f"`batch_size` must not exceed the number of images ({len(self.images)}). "
                    f"Received: batch_size={batch_size}"
                )
            self.batch_size = int(batch_size)
            self._source = (images, labels)
            self._distributed = self._start = None
            self._built_fingerprint = self._fingerprint()
            self.image_shape = self.images.shape[1:]
            self.steps_per_epoch = len(self.images) // self.batch_size
            self.description = f"numpy arrays {self.images.shape}"
        else:
            raise TypeError(
                "`data` must be (images, labels) arrays, a tf.data.Dataset or an ImageReader. "
                f"Received: data={type(data).__name__}"
            )

    def class_frequencies(self, num_classes):
        """Returns the share of each class among the training labels, or None when unknown.

        Known for numpy arrays and readers with a ``labels`` array (equal shares of the classes
        present for a class-balanced reader, ``balanced=True``); a ``tf.data.Dataset`` is not read
        ahead for it (None).
        """
        labels = self.labels if self.kind == "arrays" else getattr(self.reader, "labels", None)
        if labels is None:
            return None
        labels = np.asarray(labels).reshape(-1)
        labels = labels[(labels >= 0) & (labels < num_classes)]
        if not len(labels):
            return None
        counts = np.bincount(labels, minlength=num_classes)[:num_classes].astype(np.float64)
        if getattr(self.reader, "balanced", False):
            counts = (counts > 0).astype(np.float64)  # a class-balanced reader draws every class equally
        return counts / counts.sum()

    def distributed(self, strategy, *, start_step=0):
        """Returns an iterable of distributed ``(images, labels)`` batches starting at ``start_step``."""
        if self.kind == "arrays":
            if self._distributed is None or self._distributed[0] is not strategy:
                self._start = tf.Variable(0, dtype=tf.int64, trainable=False, name="start_step")
                self._distributed = (strategy, strategy.distribute_datasets_from_function(self._array_pipeline))
            self._start.assign(int(start_step))  # read by the iterator that the caller starts next
            return self._distributed[1]
        if self.kind == "reader" and start_step and self.steps_per_epoch and hasattr(self.reader, "set_epoch"):
            # An ImageReader: jump to the epoch and batch of start_step without decoding the
            # batches already used (its epochs have exactly len(reader) batches).
            epochs, batch = divmod(start_step, self.steps_per_epoch)
            self.reader.set_epoch(self.reader.epoch + epochs)
            dataset = self.reader.as_tf_dataset(skip_batches=batch).map(_as_pair).repeat()
        else:
            dataset = self.reader.as_tf_dataset() if self.kind == "reader" else self.dataset
            dataset = dataset.map(_as_pair).repeat()
            if start_step:
                dataset = dataset.skip(start_step)
        return strategy.experimental_distribute_dataset(dataset)

    def same_arrays(self, data, batch_size):
        """Returns whether ``data`` and ``batch_size`` are this object's arrays (the same objects,
        unchanged since) and batch size, so that its built pipeline can be reused: a later ``fit``
        on the same arrays then only starts a new iterator."""
        return (
            self.kind == "arrays"
            and isinstance(data, (tuple, list))
            and len(data) == 2
            and data[0] is self._source[0]
            and data[1] is self._source[1]
            and batch_size == self.batch_size
            and self._fingerprint() == self._built_fingerprint
        )

    def _fingerprint(self):
        """CRC of the caller's arrays (``self.images`` is a float32 copy when they were not)."""
        crc = 0
        for array in self._source:
            if array is not None:
                crc = zlib.crc32(memoryview(np.ascontiguousarray(array)).cast("B"), crc)
        return crc

    def _array_pipeline(self, context):
        """Per-input-pipeline dataset of per-replica batches, in global-batch order, starting at
        step ``self._start`` (read when an iterator starts, so the dataset is built only once)."""
        per_replica = context.get_per_replica_batch_size(self.batch_size)
        replicas_per_pipeline = context.num_replicas_in_sync // context.num_input_pipelines
        count = len(self.images)
        steps_per_epoch = count // self.batch_size
        seed = self.seed
        images = tf.constant(self.images)
        labels = tf.constant(self.labels if self.labels is not None else np.zeros(count, np.int32))
        pipeline_offset = context.input_pipeline_id * replicas_per_pipeline * per_replica
        batch_size = self.batch_size
        start = self._start

        def batch_indices(index):
            step = index + start.read_value()
            epoch = step // steps_per_epoch
            position = (step % steps_per_epoch) * batch_size + pipeline_offset
            positions = position + tf.range(replicas_per_pipeline * per_replica, dtype=tf.int64)
            seeds = tf.stack([tf.cast(seed, tf.int64), epoch])
            indices = tf.random.experimental.index_shuffle(positions, seeds, count - 1)
            return tf.reshape(indices, [replicas_per_pipeline, per_replica])  # one row per replica

        def gather(indices):
            return tf.gather(images, indices), tf.gather(labels, indices)

        dataset = tf.data.Dataset.range(np.iinfo(np.int64).max)
        dataset = dataset.map(batch_indices).unbatch()  # the replicas' index rows, in order
        dataset = dataset.map(gather, num_parallel_calls=2)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        # Fixed parallelism instead of autotuning: with autotuning on, TensorFlow 2.21 often held
        # the release of the pipeline (the end of every fit) for a further 1-3 s
        # (benchmarks/bench_train.py showed chunks pinned at 1/2 and 1/4 of the speed).
        options.autotune.enabled = False
        return dataset.with_options(options).prefetch(2)


def _as_pair(*element):
    if len(element) == 1:
        element = element[0]
    if isinstance(element, (tuple, list)):
        images = element[0]
        labels = element[1] if len(element) > 1 else tf.zeros(tf.shape(images)[:1], tf.int32)
    else:
        images = element
        labels = tf.zeros(tf.shape(images)[:1], tf.int32)
    if labels.shape.rank != 3:  # (N, H, W) label maps (SPADE's masks) keep their shape
        labels = tf.reshape(labels, [-1])
    return tf.cast(images, tf.float32), tf.cast(labels, tf.int32)


def _reader_description(reader):
    """What ``config.json`` records as the training data of a reader: its source, size and a digest.

    ``source`` is the folder or CSV the reader was made from (``"the given paths"`` for
    ``ImageReader.from_paths``); the digest of its file list tells two readers of one source apart.
    """
    name = type(reader).__name__
    paths = getattr(reader, "paths", None)
    source = getattr(reader, "source", None) or getattr(reader, "root", None)
    if paths is None:
        return f"{name} from {source}" if source else name
    digest = zlib.crc32("\n".join(map(str, paths)).encode()) & 0xFFFFFFFF
    return f"{name}: {len(paths)} files from {source or 'unknown source'} (file-list crc32 {digest:08x})"

