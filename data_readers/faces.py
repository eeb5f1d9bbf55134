"""The three faces of a reader: a numpy iterator, a ``keras.utils.PyDataset`` and a ``tf.data.Dataset``.

All three take batch ``i`` of an epoch from one :class:`data_readers.batches.BatchMaker`, so they
yield the same ``len(reader)`` batches with the same values (``data_readers.batches`` has the rule
for unreadable files). The iterator decodes ahead in worker threads into a bounded queue of
``queue_size`` batches (OpenCV releases the GIL while decoding), so memory depends on the batch size
and the queue depth, not on the number of files.
"""

import collections
import concurrent.futures
import os

import cv2
import numpy as np

from data_readers.batches import BatchArrays
from data_readers.checks import check_int_in_range, check_positive_int
from data_readers.epoch_order import RecentOrders, check_epoch


def init_decode_thread():
    """Keeps OpenCV single-threaded inside our worker threads (no oversubscription)."""
    cv2.setNumThreads(0)


def default_num_threads():
    """The CPUs available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def iterate_batches(maker, order, *, num_threads, queue_size):
    """Yields the float32 ``(images, labels)`` batches of one epoch order, decoded ahead in threads.

    Args:
        maker: the reader's ``BatchMaker``.
        order: the epoch's file indices.
        num_threads: decoding threads.
        queue_size: batches decoded ahead.
    """
    executor = concurrent.futures.ThreadPoolExecutor(
        max_workers=num_threads, thread_name_prefix="ImageReader", initializer=init_decode_thread
    )
    # Arrays in flight: the queue, the consumer's batch and the one being handed over; any more
    # are allocated fresh rather than pooled.
    arrays = BatchArrays((maker.batch_size, *maker.image_shape), queue_size + 2)
    pending = collections.deque()
    next_batch = 0
    try:
        while pending or next_batch < maker.num_batches:
            while next_batch < maker.num_batches and len(pending) < queue_size:
                pending.append(executor.submit(maker.make, order, next_batch, arrays=arrays))
                next_batch += 1
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)


_PY_DATASET_CLASS = None


def make_py_dataset(reader, *, workers, max_queue_size):
    """Returns the ``keras.utils.PyDataset`` face of ``reader`` (see ``ImageReader.as_py_dataset``)."""
    workers = check_positive_int(workers, "workers", allow_none=True) or reader.num_threads
    max_queue_size = check_positive_int(max_queue_size, "max_queue_size", allow_none=True) or reader.queue_size
    init_decode_thread()
    return _py_dataset_class()(reader, workers=workers, max_queue_size=max_queue_size)


def _py_dataset_class():
    """Returns the ``keras.utils.PyDataset`` subclass, defined on first use (imports Keras)."""
    global _PY_DATASET_CLASS
    if _PY_DATASET_CLASS is not None:
        return _PY_DATASET_CLASS
    import keras

    class ImageReaderPyDataset(keras.utils.PyDataset):
        """Index-addressed batches of an :class:`ImageReader`, reshuffled at each epoch end."""

        def __init__(self, reader, **kwargs):
            super().__init__(**kwargs)
            self.reader = reader
            self.epoch = reader.epoch
            self._order = reader.epoch_indices(self.epoch)

        def set_epoch(self, epoch):
            self.epoch = check_epoch(epoch)
            self._order = self.reader.epoch_indices(self.epoch)

        def __len__(self):
            return len(self.reader)

        def __getitem__(self, index):
            return self.reader._batches().make(self._order, index)

        def on_epoch_end(self):
            self.set_epoch(self.epoch + 1)

    _PY_DATASET_CLASS = ImageReaderPyDataset
    return _PY_DATASET_CLASS


def make_tf_dataset(reader, *, prefetch, skip_batches):
    """Returns the ``tf.data.Dataset`` face of ``reader`` (see ``ImageReader.as_tf_dataset``)."""
    import tensorflow as tf

    prefetch = check_positive_int(prefetch, "prefetch", allow_none=True) or 2
    num_batches = len(reader)
    first_batch = [
        check_int_in_range(skip_batches, "skip_batches", low=0, high=num_batches, high_name="len(reader)")
    ]  # used by the first iteration only
    maker = reader._batches()
    maker.pixels.depth()  # the data set's bit depth, found (and carried) before any batch
    batch = reader.batch_size if reader.drop_remainder else None
    image_shape = reader.image_shape
    orders = RecentOrders(reader._order)
    # The float32 batch is made in numpy, as the iterator's (one lookup-table pass, cv2.LUT), in a
    # 64-byte-aligned array that TensorFlow adopts as the tensor's buffer without a copy
    # (batches.aligned_empty). Crossing as uint8 and rescaling in the graph (cast, subtract,
    # divide) measured 0.15-0.4 ms per 256 px image against 0.1 ms for the lookup table, and an
    # unaligned array is copied on the way in (0.07 ms per float32 image) (2 cores, TF 2.21).
    arrays = BatchArrays((reader.batch_size, *image_shape), reader.num_threads + prefetch + 2)
    init_decode_thread()

    def start_epoch():
        epoch = reader.epoch
        reader.epoch = epoch + 1
        start, first_batch[0] = first_batch[0], 0
        return np.int64(epoch), np.int64(start)

    def float_batch(epoch, index):
        return maker.make(orders.get(int(epoch)), int(index), arrays=arrays)

    def load(epoch, index):
        images, labels = tf.numpy_function(float_batch, [epoch, index], [tf.float32, tf.int32], stateful=False)
        images = tf.ensure_shape(images, (batch, *image_shape), name="images")
        labels = tf.ensure_shape(labels, (batch,), name="labels")
        return images, labels

    epochs = tf.data.Dataset.range(1).map(
        lambda _: tuple(tf.numpy_function(start_epoch, [], [tf.int64, tf.int64], stateful=True))
    )
    indices = epochs.flat_map(
        lambda epoch, start: tf.data.Dataset.range(start, num_batches).map(lambda index: (epoch, index))
    )
    dataset = indices.map(load, num_parallel_calls=reader.num_threads, deterministic=True)
    dataset = dataset.prefetch(prefetch)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    # Parallelism and prefetching are set by the reader; with autotuning on, TensorFlow 2.21
    # often held the end of each epoch for a further 1-2 s (benchmarks/bench_reader.py).
    options.autotune.enabled = False
    return dataset.with_options(options)
