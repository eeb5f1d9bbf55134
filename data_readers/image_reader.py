"""Streaming image reader: folders, manifests or path lists -> shuffled ``(images, labels)`` batches.

One engine, three faces:

* iterate the reader itself: ``for images, labels in reader`` gives numpy batches (float32 NHWC in
  ``[-1, 1]``, int32 labels);
* ``reader.as_py_dataset()``: a ``keras.utils.PyDataset`` (index-addressed batches);
* ``reader.as_tf_dataset()``: a ``tf.data.Dataset`` with a declared ``output_signature`` and
  prefetching, usable with ``tf.distribute`` (``strategy.experimental_distribute_dataset``).

The data set is never held in memory. The reader is assembled from modules with one job each:

* ``data_readers.sources``: where the files come from (folders, CSV manifests, path lists) and
  their labels;
* ``data_readers.epoch_order``: the permutation of each epoch, class balancing and sharding;
* ``data_readers.batches``: batch ``i`` of an epoch and the one rule for unreadable files;
* ``data_readers.faces``: the iterator, PyDataset and tf.data faces over those batches;
* ``data_readers.decode``: decoding one file (channels, alpha, resizing, value range).

Conventions (docs/architecture.md): images ``float32`` ``(N, H, W, C)``, RGB or grey, in ``[-1, 1]``
(``(p - 127.5) / 127.5``, Radford et al. 2016; Fernandez et al. 2021); labels ``int32`` class indices;
``class_names`` travel with the reader. An *unlabelled* reader (``from_folder(..., labelled=False)``,
a manifest without a label column, ``from_paths(paths)``) has ``class_names == []``,
``num_classes == 0`` and yields labels equal to ``-1``, so every face always yields
``(images, labels)`` pairs of the same structure.

Order: iterating the reader (or the tf.data face) reads epoch ``reader.epoch`` and then advances
``reader.epoch`` by one, so ``for epoch in range(n): for batch in reader: ...`` reshuffles every epoch;
``reader.set_epoch(e)`` picks the epoch explicitly and ``reader.iter_epoch(e)`` reads one without
touching the counter.

Unreadable files (corrupt, truncated, missing, unsupported pixel type) are skipped with one logged
warning per file and counted in ``reader.skipped`` / ``reader.skipped_paths`` (distinct files, over
the reader's lifetime, with the reason in ``reader.skip_reasons``); their slot in a batch is filled
with the next readable file after the batch, the same way in every face, so every face yields
exactly ``len(reader)`` batches and the same ones (``data_readers.batches``). ``strict=True`` raises
on the first one instead, with its path. A training run writes these counts to its ``metrics.json``.
Mixed bit depths are converted to the first image's and counted in ``reader.converted``.

A decoded cache (``cache="DIR"``, ``data_readers.decoded_cache``) decodes every file once into
uint8/uint16 shards on disk and reads batches from there, bit-identical to decoding.
"""

import concurrent.futures
import os

import numpy as np

from data_readers.batches import BatchMaker, FileDecoder, ReadLog
from data_readers.checks import check_bool, check_int_in_range, check_positive_int, is_int
from data_readers.decode import (
    IMAGE_EXTENSIONS,
    UnreadableImageError,
    check_alpha,
    check_channels,
    decode_pixels,
    normalize_image_size,
    read_image,
    scale_into,
    to_uint8,
    write_image,
)
from data_readers.epoch_order import EpochOrder, check_epoch
from data_readers.faces import (
    default_num_threads,
    init_decode_thread,
    iterate_batches,
    make_py_dataset,
    make_tf_dataset,
)
from data_readers.sources import csv_listing, folder_listing, paths_listing

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageReader",
    "UnreadableImageError",
    "read_image",
    "read_images",
    "to_uint8",
    "write_image",
]

UNLABELLED = -1


class ImageReader:
    """Streams ``(images, labels)`` batches from image files, decoding ahead in worker threads.

    Build one with :meth:`from_folder`, :meth:`from_csv` or :meth:`from_paths` (or directly from
    file paths and int32 class indices). See the module docstring for the order, sharding and
    unreadable-file rules; the decoding rules are in ``data_readers.decode``.

    Args:
        paths: image file paths (any sequence of str / ``os.PathLike``).
        labels: None (unlabelled: every label is -1) or one int class index per path.
        class_names: the names of the class indices (required with ``labels``), e.g. sorted folder
            names.
        image_size: None to take the size of the first readable image (then every image must have
            it, or iteration raises ``ValueError`` naming the file), an int (square) or
            ``(height, width)`` to resize every image to.
        channels: 3 (RGB) or 1 (grey).
        batch_size: images per batch.
        shuffle: reshuffle every epoch (permutation derived from ``(seed, epoch)``); False reads
            the files in the listed order.
        seed: int >= 0; None draws one at construction (kept in ``reader.seed``). Required when
            ``num_shards > 1`` so that every worker computes the same permutation.
        drop_remainder: drop the last batch of an epoch if it is short (gives a static batch
            dimension in the tf.data face).
        balanced: class-balanced sampling: each epoch draws as many files as the shard would read,
            the same number (within one) from every non-empty class, cycling through each class's
            files in a fresh random order (rare classes are repeated, common ones subsampled).
        num_shards: number of workers reading disjoint parts of each epoch.
        shard_index: this worker's part, in ``[0, num_shards)``.
        num_threads: decoding threads; None uses every CPU available to the process.
        queue_size: batches decoded ahead (bounds memory); None uses ``2 * num_threads``.
        alpha: ``"composite"`` (RGBA onto white) or ``"drop"``.
        strict: raise on the first unreadable file (with its path) instead of skipping it.
        source: where the paths came from, for messages (set by the ``from_*`` constructors).
        cache: None, or a folder for a decoded cache (``data_readers.decoded_cache``): every file
            is decoded once (at construction, for the files the cache lacks or that changed) and
            every face then reads the pixels from there, bit-identical to decoding them;
            ``reader.cache`` has the counts (``decoded``, ``reused``, ``unreadable``).

    Batch arrays are recycled between batches once nothing references them any more, so keeping
    a batch (or a view of it) is always safe.

    Raises:
        ValueError: for a bad argument, an empty source, or no readable image when ``image_size``
            has to be inferred.
        TypeError: for an argument of the wrong type.
    """

    def __init__(
        self,
        paths,
        labels=None,
        *,
        class_names=None,
        image_size=None,
        channels=3,
        batch_size=32,
        shuffle=True,
        seed=None,
        drop_remainder=False,
        balanced=False,
        num_shards=1,
        shard_index=0,
        num_threads=None,
        queue_size=None,
        alpha="composite",
        strict=False,
        source=None,
        cache=None,
    ):
        if isinstance(paths, (str, bytes)) or not hasattr(paths, "__iter__"):
            raise TypeError(f"`paths` must be a sequence of file paths. Received: paths={paths!r}")
        self.paths = [os.fspath(p) for p in paths]
        self.source = source if source is not None else "the given paths"
        if not self.paths:
            raise ValueError(f"No image files found in {self.source}. Received: paths=[]")
        self.channels = check_channels(channels)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.shuffle = check_bool(shuffle, "shuffle")
        self.drop_remainder = check_bool(drop_remainder, "drop_remainder")
        self.balanced = check_bool(balanced, "balanced")
        self.strict = check_bool(strict, "strict")
        self.alpha = check_alpha(alpha)
        self.num_shards = check_positive_int(num_shards, "num_shards")
        self.shard_index = check_int_in_range(
            shard_index, "shard_index", low=0, high=self.num_shards, high_name="num_shards"
        )
        if self.num_shards > len(self.paths):
            raise ValueError(
                f"`num_shards` cannot exceed the number of files ({len(self.paths)}). "
                f"Received: num_shards={num_shards}"
            )
        if seed is None:
            if self.num_shards > 1 and (self.shuffle or self.balanced):
                raise ValueError(
                    "`seed` must be given when sharding a shuffled reader, so that every worker "
                    "draws the same permutation. Received: seed=None"
                )
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        if not is_int(seed) or seed < 0:
            raise ValueError(f"`seed` must be None or an int >= 0. Received: seed={seed!r}")
        self.seed = int(seed)
        self.num_threads = check_positive_int(num_threads, "num_threads", allow_none=True)
        if self.num_threads is None:
            self.num_threads = default_num_threads()
        self.queue_size = check_positive_int(queue_size, "queue_size", allow_none=True)
        if self.queue_size is None:
            self.queue_size = 2 * self.num_threads
        self.class_names, self.labels = self._checked_labels(labels, class_names)

        self.epoch = 0
        self._log = ReadLog()
        self._decoder = FileDecoder(
            self.paths, image_size=normalize_image_size(image_size), channels=self.channels,
            alpha=self.alpha, strict=self.strict, log=self._log, source=self.source,
        )
        self._order = EpochOrder(
            self.labels, len(self.class_names), seed=self.seed, shuffle=self.shuffle,
            balanced=self.balanced, num_shards=self.num_shards, shard_index=self.shard_index,
        )
        shard_length = self._order.shard_length
        if self.drop_remainder and shard_length < self.batch_size:
            raise ValueError(
                f"`batch_size` exceeds the {shard_length} files of this shard, so "
                f"drop_remainder=True would leave no batch. Received: batch_size={batch_size}"
            )
        self.cache = None
        pixels = self._decoder
        if cache is not None:
            from data_readers.decoded_cache import DecodedCache

            self.cache = DecodedCache.open(
                cache, self._decoder, num_threads=self.num_threads, progress=False
            )
            pixels = self.cache
        self._image_hw = self._decoder.fixed_size or tuple(pixels.first_pixels("`image_size`").shape[:2])
        self._maker = BatchMaker(
            pixels, self.labels, image_shape=self.image_shape, batch_size=self.batch_size,
            num_batches=self._order.num_batches(self.batch_size, self.drop_remainder), log=self._log,
        )

    def _checked_labels(self, labels, class_names):
        """Returns ``(class_names, int32 labels)`` after checking them against ``paths``."""
        if labels is None:
            if class_names:
                raise ValueError(
                    "`class_names` needs `labels`. Received: labels=None, "
                    f"class_names={class_names!r}"
                )
            if self.balanced:
                raise ValueError("`balanced=True` needs labels. Received: labels=None")
            return [], np.full(len(self.paths), UNLABELLED, np.int32)
        labels = np.asarray(labels)
        if labels.shape != (len(self.paths),) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"`labels` must be {len(self.paths)} int class indices, one per path. "
                f"Received: labels with shape={labels.shape} and dtype={labels.dtype}"
            )
        if class_names is None:
            raise ValueError("`class_names` is required with `labels`. Received: class_names=None")
        class_names = list(class_names)
        if labels.min() < 0 or labels.max() >= len(class_names):
            raise ValueError(
                f"`labels` must be in [0, {len(class_names)}). "
                f"Received: labels in [{labels.min()}, {labels.max()}]"
            )
        return class_names, labels.astype(np.int32)

    # ------------------------------------------------------------------ construction from sources
    @classmethod
    def from_folder(cls, directory, *, labelled=True, class_names=None, allow_empty_classes=False, **options):
        """Returns a reader over a folder of class folders (or any folder, unlabelled).

        Labelled: every non-hidden sub-folder of ``directory`` is a class, class names are the
        sorted folder names (indices in that order), and each class folder is scanned
        recursively; image files directly in ``directory`` are ignored. Unlabelled
        (``labelled=False``): every image file under ``directory`` (recursive) is read, with
        label -1. Only :data:`IMAGE_EXTENSIONS` are taken, in sorted order.

        Args:
            directory: the root folder.
            labelled: whether sub-folders are classes.
            class_names: optional subset/order of the class folders to read (labelled only).
            allow_empty_classes: keep a class folder without image files as a class with no
                images (logged); by default it is an error, since it is usually a mistake (a
                folder of another format, or a failed copy).
            **options: the :class:`ImageReader` options (image_size, batch_size, seed, ...).

        Returns:
            An :class:`ImageReader`.

        Raises:
            FileNotFoundError: if ``directory`` does not exist.
            ValueError: if it holds no image file, a named class folder is missing, or a class
                folder has no image file (unless ``allow_empty_classes``).
        """
        paths, labels, names, source = folder_listing(
            directory, labelled=labelled, class_names=class_names, allow_empty_classes=allow_empty_classes
        )
        return cls(paths, labels, class_names=names or None, source=source, **options)

    @classmethod
    def from_csv(cls, csv_path, *, path_column="path", label_column="label", class_names=None, **options):
        """Returns a reader over a CSV manifest with a header row, e.g. ``path,label``.

        Paths are relative to the CSV's folder (absolute paths are kept). Labels are class names
        (strings; class names are then sorted unless ``class_names`` gives the order) or, if every
        label is an integer, class indices (class names ``"0", "1", ...`` unless given). Extra
        columns are ignored. ``label_column=None`` (or a manifest without that column when
        ``label_column`` is left at its default) gives an unlabelled reader. Listed files are not
        checked up front: missing or unreadable ones are skipped when read (or raise if strict).

        Args:
            csv_path: the manifest file.
            path_column: the column holding the image paths.
            label_column: the column holding the labels, or None.
            class_names: optional list fixing the class names and their order.
            **options: the :class:`ImageReader` options.

        Returns:
            An :class:`ImageReader`.

        Raises:
            FileNotFoundError: if ``csv_path`` does not exist.
            ValueError: if the manifest has no rows, lacks the path column, or has bad labels.
        """
        paths, labels, names, source = csv_listing(
            csv_path, path_column=path_column, label_column=label_column, class_names=class_names
        )
        return cls(paths, labels, class_names=names or None, source=source, **options)

    @classmethod
    def from_paths(cls, paths, labels=None, *, class_names=None, **options):
        """Returns a reader over explicit file paths and (optional) labels.

        Args:
            paths: the image files.
            labels: None (unlabelled, label -1), class names (strings; sorted unless
                ``class_names`` is given) or int class indices, one per path.
            class_names: optional list fixing the class names and their order.
            **options: the :class:`ImageReader` options.

        Returns:
            An :class:`ImageReader`.

        Raises:
            ValueError: for an empty list, a length mismatch or bad labels.
        """
        paths, labels, names, source = paths_listing(paths, labels, class_names=class_names)
        if source is not None:
            options.setdefault("source", source)
        return cls(paths, labels, class_names=names or None, **options)

    # ------------------------------------------------------------------ description
    @property
    def num_classes(self):
        """The number of classes (0 for an unlabelled reader)."""
        return len(self.class_names)

    @property
    def image_size(self):
        """The size of the images: an int when square (as the toolkit's models take it), else
        ``(height, width)``."""
        height, width = self._image_hw
        return height if height == width else (height, width)

    @property
    def image_shape(self):
        """``(height, width, channels)`` of every image in a batch."""
        return (*self._image_hw, self.channels)

    @property
    def skipped_paths(self):
        """The distinct files skipped as unreadable so far, in the order they were met."""
        return self._log.skipped_paths

    @property
    def skip_reasons(self):
        """``{path: "ErrorType: message"}`` of the skipped files."""
        return self._log.skip_reasons

    @property
    def converted_paths(self):
        """The distinct 16-bit files converted to the data set's 8 bits so far."""
        return self._log.converted_paths

    @property
    def convert_reasons(self):
        """``{path: reason}`` of the converted files."""
        return self._log.convert_reasons

    @property
    def skipped(self):
        """The number of distinct files skipped as unreadable so far."""
        return len(self._log.skipped_paths)

    @property
    def converted(self):
        """The number of distinct 16-bit files converted to the data set's 8 bits so far."""
        return len(self._log.converted_paths)

    def __len__(self):
        """Batches per epoch for this shard: every face yields exactly this many (see
        ``data_readers.batches`` for how unreadable files' slots are filled)."""
        return self._maker.num_batches

    def __repr__(self):
        return (
            f"ImageReader({len(self.paths)} files from {self.source}, num_classes={self.num_classes}, "
            f"image_shape={self.image_shape}, batch_size={self.batch_size}, epoch={self.epoch})"
        )

    # ------------------------------------------------------------------ order
    def set_epoch(self, epoch):
        """Sets the epoch the next iteration reads (its shuffling permutation).

        Args:
            epoch: int >= 0.

        Raises:
            ValueError: for a negative or non-int epoch.
        """
        self.epoch = check_epoch(epoch)

    def epoch_indices(self, epoch):
        """Returns the indices into ``paths`` this shard reads in ``epoch``, in reading order.

        Args:
            epoch: int >= 0; the permutation is derived from ``(seed, epoch)``.

        Returns:
            An int64 array (before any unreadable file's slot is refilled).
        """
        return self._order.indices(epoch)

    def _batches(self):
        """The ``BatchMaker`` every face takes its batches from."""
        return self._maker

    # ------------------------------------------------------------------ face 1: Python iterator
    def __iter__(self):
        """Yields the batches of epoch ``self.epoch`` and advances ``self.epoch`` by one."""
        epoch = self.epoch
        self.epoch = epoch + 1
        return self.iter_epoch(epoch)

    def iter_epoch(self, epoch):
        """Yields the ``(images, labels)`` numpy batches of one epoch (the counter is unchanged).

        Worker threads decode up to ``queue_size`` batches ahead. Exactly ``len(reader)`` batches,
        the same as the other faces' (an unreadable file's slot is filled with the next readable
        file after the batch); the last one is short when the shard's files do not fill it (dropped
        with ``drop_remainder=True``).

        Args:
            epoch: int >= 0.

        Yields:
            ``images`` float32 ``(n, H, W, C)`` in ``[-1, 1]`` and ``labels`` int32 ``(n,)``, with
            ``n == batch_size`` except possibly for the last batch.

        Raises:
            ValueError: an image of the wrong size when ``image_size`` was inferred.
            UnreadableImageError, FileNotFoundError: with ``strict=True``.
        """
        order = self.epoch_indices(epoch)
        return iterate_batches(self._maker, order, num_threads=self.num_threads, queue_size=self.queue_size)

    # ------------------------------------------------------------------ face 2: keras PyDataset
    def as_py_dataset(self, *, workers=None, max_queue_size=None):
        """Returns a ``keras.utils.PyDataset`` over this reader.

        Batch ``i`` of an epoch is the iterator's batch ``i``. ``on_epoch_end`` (called by ``fit``)
        advances to the next epoch's permutation. Decoding runs in Keras's worker threads.

        Args:
            workers: Keras worker threads; None uses ``num_threads``.
            max_queue_size: batches Keras prepares ahead; None uses ``queue_size``.

        Returns:
            A ``keras.utils.PyDataset`` with ``len()`` equal to ``len(reader)``; it starts at
            ``reader.epoch`` and has its own ``epoch`` counter and ``set_epoch``.
        """
        return make_py_dataset(self, workers=workers, max_queue_size=max_queue_size)

    # ------------------------------------------------------------------ face 3: tf.data
    def as_tf_dataset(self, *, prefetch=None, skip_batches=0):
        """Returns a ``tf.data.Dataset`` of ``(images, labels)`` batches with a declared signature.

        Each iteration of the dataset (each ``for`` loop, each ``fit`` epoch, each ``repeat``) reads
        the next epoch of the reader (``reader.epoch`` advances) and yields exactly ``len(reader)``
        batches, the iterator's. The batch dimension is static when ``drop_remainder=True``.
        Auto-sharding is switched off (the reader shards itself with ``num_shards``/``shard_index``),
        so the dataset can go straight to ``strategy.experimental_distribute_dataset``.

        Batches are decoded by TensorFlow's own threads, ``num_threads`` batches at a time, in
        order. They cross into TensorFlow as integer pixels (uint8, or uint16 when the first image
        has 16 bits per channel; four or two times fewer bytes than float32) and are rescaled in
        the graph with the formula of the other faces, ``(p - 127.5) / 127.5`` (or
        ``(p - 32767.5) / 32767.5``), so the values are bit-identical to the iterator's.

        Args:
            prefetch: batches TensorFlow keeps ready; None uses 2.
            skip_batches: the first iteration of the dataset starts at this batch of its epoch,
                without decoding the batches before it (a resumed training run); later
                iterations read whole epochs. In ``[0, len(reader))``.

        Returns:
            A ``tf.data.Dataset`` with element spec ``(TensorSpec((B, H, W, C), float32),
            TensorSpec((B,), int32))``, ``B`` = ``batch_size`` or None.

        Raises:
            ValueError: for a bad ``prefetch`` or ``skip_batches``.
        """
        return make_tf_dataset(self, prefetch=prefetch, skip_batches=skip_batches)


def read_images(paths, image_size=None, channels=3, *, alpha="composite", num_threads=None):
    """Returns a small list of image files as one float32 array ``(N, H, W, C)`` in ``[-1, 1]``.

    For figures, inversion targets and Grad-CAM inputs: every file must be readable (the order of
    the result matches ``paths``), and without ``image_size`` every image must have the same size.

    Args:
        paths: image file paths.
        image_size: None (keep the stored size), an int (square) or ``(height, width)``.
        channels: 3 (RGB) or 1 (grey).
        alpha: ``"composite"`` (onto white) or ``"drop"``.
        num_threads: decoding threads; None uses every available CPU.

    Returns:
        float32 array ``(len(paths), H, W, channels)``.

    Raises:
        FileNotFoundError: a file is missing (the message has the path).
        UnreadableImageError: a file cannot be decoded (the message has the path).
        ValueError: no paths, bad arguments, or images of different sizes without ``image_size``.
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError("`paths` must name at least one image file. Received: paths=[]")
    size = normalize_image_size(image_size)
    channels = check_channels(channels)
    alpha = check_alpha(alpha)
    num_threads = check_positive_int(num_threads, "num_threads", allow_none=True)
    num_threads = min(num_threads or default_num_threads(), len(paths))

    def decode(path):
        return decode_pixels(path, image_size=size, channels=channels, alpha=alpha)

    with concurrent.futures.ThreadPoolExecutor(num_threads, initializer=init_decode_thread) as pool:
        decoded = list(pool.map(decode, paths))
    shape = decoded[0].shape
    images = np.empty((len(decoded), *shape), np.float32)
    for path, pixels, slot in zip(paths, decoded, images):
        if pixels.shape != shape:
            raise ValueError(
                f"Image {path} has size {pixels.shape[:2]} but {paths[0]} has {shape[:2]}; pass "
                "image_size= to resize them to one size. Received: image_size=None"
            )
        scale_into(pixels, slot)
    return images

