"""Streaming image reader: folders, manifests or path lists -> shuffled ``(images, labels)`` batches.

One engine, three faces:

* iterate the reader itself: ``for images, labels in reader`` gives numpy batches (float32 NHWC in
  ``[-1, 1]``, int32 labels);
* ``reader.as_py_dataset()``: a ``keras.utils.PyDataset`` (index-addressed batches);
* ``reader.as_tf_dataset()``: a ``tf.data.Dataset`` with a declared ``output_signature`` and
  prefetching, usable with ``tf.distribute`` (``strategy.experimental_distribute_dataset``).

The data set is never held in memory: worker threads decode ahead into a bounded queue of
``queue_size`` batches (OpenCV releases the GIL while decoding), so memory depends on the batch size
and the queue depth, not on the number of files.

Conventions (docs/architecture.md): images ``float32`` ``(N, H, W, C)``, RGB or grey, in ``[-1, 1]``
(``(p - 127.5) / 127.5``, Radford et al. 2016; Fernandez et al. 2021); labels ``int32`` class indices;
``class_names`` travel with the reader. An *unlabelled* reader (``from_folder(..., labelled=False)``,
a manifest without a label column, ``from_paths(paths)``) has ``class_names == []``,
``num_classes == 0`` and yields labels equal to ``-1``, so every face always yields
``(images, labels)`` pairs of the same structure.

Order: epoch ``e`` reads the files in a permutation derived from ``(seed, e)`` (reproducible, different
each epoch). Iterating the reader (or the tf.data face) reads epoch ``reader.epoch`` and then advances
``reader.epoch`` by one, so ``for epoch in range(n): for batch in reader: ...`` reshuffles every epoch;
``reader.set_epoch(e)`` picks the epoch explicitly and ``reader.iter_epoch(e)`` reads one without
touching the counter. With ``num_shards > 1`` every worker computes the same permutation and keeps
positions ``shard_index, shard_index + num_shards, ...`` of it, so the shards of an epoch are disjoint
and together complete (this needs the same explicit ``seed`` on every worker).

Unreadable files (corrupt, truncated, missing, unsupported pixel type) are skipped with one logged
warning per file and counted in ``reader.skipped`` / ``reader.skipped_paths`` (distinct files, over
the reader's lifetime, with the reason in ``reader.skip_reasons``); ``strict=True`` raises on the
first one instead, with its path. A training run writes these counts to its ``metrics.json``.

Bit depth: a reader carries one bit depth, that of its first readable image. An 8-bit image in a
16-bit data set is widened exactly (``p * 257``, the same value in ``[-1, 1]``); a 16-bit image in
an 8-bit data set is converted to 8 bits (``round(p / 257)``) with one logged warning per file and
counted in ``reader.converted`` / ``reader.converted_paths`` (reasons in ``reader.convert_reasons``),
so every face reads mixed bit depths and all faces give the same values. The
iterator (a stream) fills a batch from the next files of the epoch, so batches stay full; the epoch
then ends with a shorter last batch (dropped when ``drop_remainder=True``), i.e. it can yield fewer
batches than ``len(reader)``, which counts batches as if every file were readable. The PyDataset and
tf.data faces are index-addressed and always yield ``len(reader)`` batches (a fixed number of steps,
as ``tf.distribute`` likes): there, an unreadable file's slot is filled with the next readable file
after the batch (wrapping around the epoch), which is then read twice in that epoch.

When a folder is scanned only files with an extension in :data:`IMAGE_EXTENSIONS` (``.bmp``,
``.jpeg``, ``.jpg``, ``.png``, ``.tif``, ``.tiff``, any case) are taken; other files (``.txt``,
``.DS_Store``, ...) and hidden files or folders (names starting with ``.``) are ignored. Symbolic
links are followed once: a folder or file reached again through another link (a link loop, or
two links to one file) is read once. A class folder without image files is an error unless
``allow_empty_classes=True``. Files listed explicitly (manifest, path list) are not filtered.
"""

import collections
import concurrent.futures
import csv
import logging
import os
import re
import sys
import threading

import cv2
import numpy as np

from data_readers.decode import (
    IMAGE_EXTENSIONS,
    UnreadableImageError,
    check_alpha,
    check_channels,
    decode_pixels,
    is_image_file,
    normalize_image_size,
    read_image,
    scale_into,
    to_uint8,
    write_image,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageReader",
    "UnreadableImageError",
    "read_image",
    "read_images",
    "to_uint8",
    "write_image",
]

logger = logging.getLogger(__name__)

UNLABELLED = -1
_INTEGER_LABEL = re.compile(r"^\s*[+-]?\d+\s*$")
_SKIPPABLE_ERRORS = (UnreadableImageError, OSError)


class _BatchArrays:
    """A bounded pool of batch arrays, recycled once nothing outside the pool references them.

    Fresh large arrays cost page faults and kernel zeroing on every batch (about as much as the
    float conversion itself); reusing an array is safe when the pool holds its only reference
    (``sys.getrefcount``), i.e. the consumer, its views and any tensor aliasing it are gone.
    """

    def __init__(self, shape, capacity):
        self._shape = tuple(shape)
        self._capacity = capacity
        self._arrays = []
        self._lock = threading.Lock()

    def take(self, length):
        if length != self._shape[0]:
            return np.empty((length, *self._shape[1:]), np.float32)
        with self._lock:
            for i in range(len(self._arrays)):
                if sys.getrefcount(self._arrays[i]) == 2:  # the list's reference + the argument
                    return self._arrays[i]
            array = np.empty(self._shape, np.float32)
            if len(self._arrays) < self._capacity:
                self._arrays.append(array)
            return array


def _init_decode_thread():
    """Keeps OpenCV single-threaded inside our worker threads (no oversubscription)."""
    cv2.setNumThreads(0)


def _default_num_threads():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _check_positive_int(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}")
    return int(value)


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a bool. Received: {name}={value!r}")
    return bool(value)


def _scan_images(directory):
    """Returns the image files under ``directory`` (recursive, sorted, hidden entries skipped).

    Symbolic links are followed once: a folder whose real path was already walked (a link loop,
    or a second link to it) and a file whose real path was already taken are not read again.
    """
    found, seen_folders, seen_files, repeats = [], set(), set(), 0
    for root, dirs, files in os.walk(directory, followlinks=True):
        real = os.path.realpath(root)
        if real in seen_folders:
            dirs[:] = []
            repeats += 1
            continue
        seen_folders.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not is_image_file(name):
                continue
            path = os.path.join(root, name)
            real_file = os.path.realpath(path)
            if real_file in seen_files:
                repeats += 1
                continue
            seen_files.add(real_file)
            found.append(path)
    if repeats:
        logger.warning(
            "Folder %s: %d folder(s)/file(s) reached again through symbolic links were read once.",
            directory, repeats,
        )
    return found


def _label_indices(raw_labels, class_names, source):
    """Returns ``(int32 label indices, class_names)`` from class names or integer labels."""
    raw_labels = list(raw_labels)
    if class_names is not None:
        if isinstance(class_names, str) or not all(isinstance(c, str) for c in class_names):
            raise TypeError(
                f"`class_names` must be a list of strings. Received: class_names={class_names!r}"
            )
        class_names = list(class_names)
        if len(set(class_names)) != len(class_names):
            raise ValueError(f"`class_names` has duplicates. Received: class_names={class_names!r}")

    def as_int(label):
        if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
            return int(label)
        if isinstance(label, str) and _INTEGER_LABEL.match(label):
            return int(label)
        return None

    integers = [as_int(label) for label in raw_labels]
    strings_are_names = class_names is not None and all(
        isinstance(label, str) and label in class_names for label in raw_labels
    )
    if all(i is not None for i in integers) and not strings_are_names:
        bad = [i for i in integers if i < 0 or (class_names is not None and i >= len(class_names))]
        if bad:
            limit = f"[0, {len(class_names)})" if class_names is not None else ">= 0"
            raise ValueError(
                f"Integer labels in {source} must be class indices {limit}. Received: label={bad[0]}"
            )
        if class_names is None:
            class_names = [str(i) for i in range(max(integers) + 1)]
        return np.asarray(integers, np.int32), class_names
    for label in raw_labels:
        if not isinstance(label, str) or not label.strip():
            raise ValueError(
                f"Labels in {source} must be all class names (non-empty strings) or all integer "
                f"class indices. Received: label={label!r}"
            )
    if class_names is None:
        class_names = sorted(set(raw_labels))
    index = {name: i for i, name in enumerate(class_names)}
    unknown = sorted(set(raw_labels) - set(index))
    if unknown:
        raise ValueError(
            f"Labels in {source} are not in `class_names` {class_names}. Received: label={unknown[0]!r}"
        )
    return np.asarray([index[label] for label in raw_labels], np.int32), class_names


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
    ):
        if isinstance(paths, (str, bytes)) or not hasattr(paths, "__iter__"):
            raise TypeError(f"`paths` must be a sequence of file paths. Received: paths={paths!r}")
        self.paths = [os.fspath(p) for p in paths]
        self.source = source if source is not None else "the given paths"
        if not self.paths:
            raise ValueError(f"No image files found in {self.source}. Received: paths=[]")
        self.channels = check_channels(channels)
        self.batch_size = _check_positive_int(batch_size, "batch_size")
        self.shuffle = _check_bool(shuffle, "shuffle")
        self.drop_remainder = _check_bool(drop_remainder, "drop_remainder")
        self.balanced = _check_bool(balanced, "balanced")
        self.strict = _check_bool(strict, "strict")
        self.alpha = check_alpha(alpha)
        self.num_shards = _check_positive_int(num_shards, "num_shards")
        if (
            isinstance(shard_index, bool)
            or not isinstance(shard_index, (int, np.integer))
            or not 0 <= shard_index < self.num_shards
        ):
            raise ValueError(
                f"`shard_index` must be an int in [0, num_shards={self.num_shards}). "
                f"Received: shard_index={shard_index!r}"
            )
        self.shard_index = int(shard_index)
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
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"`seed` must be None or an int >= 0. Received: seed={seed!r}")
        self.seed = int(seed)
        self.num_threads = _check_positive_int(num_threads, "num_threads", allow_none=True)
        if self.num_threads is None:
            self.num_threads = _default_num_threads()
        self.queue_size = _check_positive_int(queue_size, "queue_size", allow_none=True)
        if self.queue_size is None:
            self.queue_size = 2 * self.num_threads

        if labels is None:
            if class_names:
                raise ValueError(
                    "`class_names` needs `labels`. Received: labels=None, "
                    f"class_names={class_names!r}"
                )
            if self.balanced:
                raise ValueError("`balanced=True` needs labels. Received: labels=None")
            self.class_names = []
            self.labels = np.full(len(self.paths), UNLABELLED, np.int32)
        else:
            labels = np.asarray(labels)
            if labels.shape != (len(self.paths),) or not np.issubdtype(labels.dtype, np.integer):
                raise ValueError(
                    f"`labels` must be {len(self.paths)} int class indices, one per path. "
                    f"Received: labels with shape={labels.shape} and dtype={labels.dtype}"
                )
            if class_names is None:
                raise ValueError("`class_names` is required with `labels`. Received: class_names=None")
            self.class_names = list(class_names)
            if labels.min() < 0 or labels.max() >= len(self.class_names):
                raise ValueError(
                    f"`labels` must be in [0, {len(self.class_names)}). "
                    f"Received: labels in [{labels.min()}, {labels.max()}]"
                )
            self.labels = labels.astype(np.int32)

        self.skipped_paths = []
        self.skip_reasons = {}
        self.converted_paths = []
        self.convert_reasons = {}
        self._skipped_set = set()
        self._skip_lock = threading.Lock()
        self._first_path = None
        self.epoch = 0
        self._fixed_size = normalize_image_size(image_size)
        self._image_hw = self._fixed_size or self._first_image_size()

        shard_length = len(self._shard_positions(len(self.paths)))
        if self.drop_remainder and shard_length < self.batch_size:
            raise ValueError(
                f"`batch_size` exceeds the {shard_length} files of this shard, so "
                f"drop_remainder=True would leave no batch. Received: batch_size={batch_size}"
            )

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
        directory = os.fspath(directory)
        allow_empty_classes = _check_bool(allow_empty_classes, "allow_empty_classes")
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"Image folder not found: {directory}")
        labelled = _check_bool(labelled, "labelled")
        source = f"folder '{directory}'"
        if not labelled:
            if class_names is not None:
                raise ValueError(
                    f"`class_names` needs labelled=True. Received: class_names={class_names!r}"
                )
            paths = _scan_images(directory)
            if not paths:
                raise ValueError(
                    f"No image files ({', '.join(IMAGE_EXTENSIONS)}) found under {source}."
                )
            return cls(paths, None, source=source, **options)
        folders = sorted(
            name
            for name in os.listdir(directory)
            if not name.startswith(".") and os.path.isdir(os.path.join(directory, name))
        )
        if class_names is not None:
            if isinstance(class_names, str) or not all(isinstance(c, str) for c in class_names):
                raise TypeError(
                    f"`class_names` must be a list of strings. Received: class_names={class_names!r}"
                )
            missing = [c for c in class_names if c not in folders]
            if missing:
                raise ValueError(
                    f"Class folder {missing[0]!r} not found in {source}. "
                    f"Received: class_names={list(class_names)!r}"
                )
            folders = list(class_names)
        if not folders:
            raise ValueError(
                f"No class folders found in {source}; pass labelled=False to read the images "
                "under it without labels."
            )
        paths, labels, empty = [], [], []
        for index, name in enumerate(folders):
            found = _scan_images(os.path.join(directory, name))
            if not found:
                empty.append(name)
            paths.extend(found)
            labels.extend([index] * len(found))
        if empty and paths:
            names = ", ".join(repr(name) for name in empty)
            if not allow_empty_classes:
                raise ValueError(
                    f"Class folder(s) {names} in {source} have no image files "
                    f"({', '.join(IMAGE_EXTENSIONS)}); remove them, convert their images, or pass "
                    "allow_empty_classes=True to keep them as classes without images. "
                    "Received: allow_empty_classes=False"
                )
            logger.warning("Class folder(s) %s in %s have no image files; kept as empty classes.", names, source)
        if not paths:
            raise ValueError(
                f"No image files ({', '.join(IMAGE_EXTENSIONS)}) found in the class folders of "
                f"{source}."
            )
        return cls(paths, np.asarray(labels, np.int32), class_names=folders, source=source, **options)

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
        csv_path = os.fspath(csv_path)
        if not os.path.isfile(csv_path):
            raise FileNotFoundError(f"Manifest not found: {csv_path}")
        source = f"manifest '{csv_path}'"
        with open(csv_path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            rows = list(reader)
        if path_column not in columns:
            raise ValueError(
                f"{source} has no column {path_column!r} (columns: {columns}). "
                f"Received: path_column={path_column!r}"
            )
        if label_column is not None and label_column not in columns:
            if label_column != "label":
                raise ValueError(
                    f"{source} has no column {label_column!r} (columns: {columns}). "
                    f"Received: label_column={label_column!r}"
                )
            label_column = None
        if not rows:
            raise ValueError(f"No image files listed in {source}: it has no rows.")
        base = os.path.dirname(os.path.abspath(csv_path))
        paths = []
        for line, row in enumerate(rows, start=2):
            value = (row.get(path_column) or "").strip()
            if not value:
                raise ValueError(f"Empty path in {source} at line {line}. Received: path={value!r}")
            paths.append(os.path.normpath(os.path.join(base, value)))
        if label_column is None:
            if class_names is not None:
                raise ValueError(
                    f"`class_names` needs a label column. Received: class_names={class_names!r}"
                )
            return cls(paths, None, source=source, **options)
        labels, names = _label_indices(
            [(row.get(label_column) or "").strip() for row in rows], class_names, source
        )
        return cls(paths, labels, class_names=names, source=source, **options)

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
        if isinstance(paths, (str, bytes)) or not hasattr(paths, "__iter__"):
            raise TypeError(f"`paths` must be a sequence of file paths. Received: paths={paths!r}")
        paths = [os.fspath(p) for p in paths]
        if labels is None:
            if class_names is not None:
                raise ValueError(
                    f"`class_names` needs `labels`. Received: class_names={class_names!r}"
                )
            return cls(paths, None, **options)
        labels = list(np.asarray(labels).tolist()) if isinstance(labels, np.ndarray) else list(labels)
        if len(labels) != len(paths):
            raise ValueError(
                f"`labels` must have one entry per path ({len(paths)}). "
                f"Received: len(labels)={len(labels)}"
            )
        if not paths:
            raise ValueError("No image files given. Received: paths=[]")
        indices, names = _label_indices(labels, class_names, "`labels`")
        return cls(paths, indices, class_names=names, **options)

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
    def skipped(self):
        """The number of distinct files skipped as unreadable so far."""
        return len(self.skipped_paths)

    @property
    def converted(self):
        """The number of distinct 16-bit files converted to the data set's 8 bits so far."""
        return len(self.converted_paths)

    def __len__(self):
        """Batches per epoch for this shard, counting every listed file as readable."""
        length = len(self._shard_positions(len(self.paths)))
        if self.drop_remainder:
            return length // self.batch_size
        return -(-length // self.batch_size)

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
        self.epoch = self._check_epoch(epoch)

    @staticmethod
    def _check_epoch(epoch):
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"`epoch` must be an int >= 0. Received: epoch={epoch!r}")
        return int(epoch)

    def _shard_positions(self, length):
        return np.arange(self.shard_index, length, self.num_shards)

    def epoch_indices(self, epoch):
        """Returns the indices into ``paths`` this shard reads in ``epoch``, in reading order.

        Args:
            epoch: int >= 0; the permutation is derived from ``(seed, epoch)``.

        Returns:
            An int64 array (before any unreadable file is skipped).
        """
        epoch = self._check_epoch(epoch)
        count = len(self.paths)
        rng = np.random.default_rng([self.seed, epoch])
        if self.balanced:
            order = self._balanced_draw(count, rng)
        elif self.shuffle:
            order = rng.permutation(count)
        else:
            order = np.arange(count)
        return order[self.shard_index :: self.num_shards]

    def _balanced_draw(self, count, rng):
        members = [np.flatnonzero(self.labels == c) for c in range(self.num_classes)]
        members = [m for m in members if len(m)]
        quotas = np.full(len(members), count // len(members))
        quotas[rng.permutation(len(members))[: count % len(members)]] += 1
        drawn = []
        for files, quota in zip(members, quotas):
            cycles = -(-quota // len(files))
            drawn.append(np.concatenate([rng.permutation(files) for _ in range(cycles)])[:quota])
        order = np.concatenate(drawn)
        rng.shuffle(order)
        return order

    # ------------------------------------------------------------------ decoding
    def _record_skip(self, path, error):
        with self._skip_lock:
            if path in self._skipped_set:
                return
            self._skipped_set.add(path)
            self.skipped_paths.append(path)
            self.skip_reasons[path] = f"{type(error).__name__}: {error}"
        logger.warning("Skipping unreadable image (%s): %s", type(error).__name__, error)

    def _to_eight_bits(self, pixels, index):
        """Converts 16-bit pixels to 8 bits (nearest, ``round(p / 257)``) and records it."""
        path = self.paths[index]
        with self._skip_lock:
            first = path not in self.convert_reasons
            if first:
                self.converted_paths.append(path)
                self.convert_reasons[path] = (
                    f"16-bit image converted to 8 bits (the bit depth of the first image, {self._first_path})"
                )
        if first:
            logger.warning("Converting a 16-bit image to 8 bits (the data set's first image %s is 8-bit): %s",
                           self._first_path, path)
        return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)

    def _decode(self, index):
        """Returns the pixels of file ``index`` or None when it is skipped."""
        path = self.paths[index]
        try:
            return decode_pixels(
                path, image_size=self._fixed_size, channels=self.channels, alpha=self.alpha
            )
        except _SKIPPABLE_ERRORS as error:
            if self.strict:
                raise
            self._record_skip(path, error)
            return None

    def _first_pixels(self, what):
        """Returns the integer pixels of the first readable file (``what`` names the use)."""
        for index in range(len(self.paths)):
            pixels = self._decode(index)
            if pixels is not None:
                self._first_path = self.paths[index]
                return pixels
        raise ValueError(
            f"None of the {len(self.paths)} files in {self.source} could be read as an image, so "
            f"{what} cannot be inferred (see the logged warnings)."
        )

    def _first_image_size(self):
        return tuple(self._first_pixels("`image_size`").shape[:2])

    def _decode_chunk(self, indices, arrays=None, pixel_dtype=None, depth=None):
        """Decodes files into a batch array (new, or recycled from ``arrays``); returns
        ``(images, labels)`` of the readable ones, in order.

        With ``pixel_dtype=None`` the images are float32 in ``[-1, 1]``; with ``np.uint8`` or
        ``np.uint16`` they are the integer pixels (8-bit pixels in a uint16 batch are multiplied by
        257, which leaves their rescaled values exactly unchanged). ``depth`` is the data set's
        bit depth (``pixel_dtype`` when given): 16-bit images are converted to it when it is 8.
        """
        depth = pixel_dtype if pixel_dtype is not None else depth
        dtype = np.float32 if pixel_dtype is None else pixel_dtype
        if arrays is None:
            images = np.empty((len(indices), *self.image_shape), dtype)
        else:
            images = arrays.take(len(indices))
        labels = np.empty(len(indices), np.int32)
        filled = 0
        for index in indices:
            pixels = self._decode(index)
            if pixels is None:
                continue
            if pixels.shape != images.shape[1:]:
                raise self._size_error(index, pixels.shape[:2])
            if depth is not None and depth == np.uint8 and pixels.dtype == np.uint16:
                pixels = self._to_eight_bits(pixels, index)
            if pixel_dtype is None:
                scale_into(pixels, images[filled])
            elif pixels.dtype == pixel_dtype:
                images[filled] = pixels
            elif pixels.dtype == np.uint8:
                np.multiply(pixels, np.uint16(257), out=images[filled], dtype=np.uint16)
            else:  # unreachable: 16-bit pixels were converted to the carried 8 bits above
                raise AssertionError(f"{pixels.dtype} pixels in a {pixel_dtype.__name__} batch: {self.paths[index]}")
            labels[filled] = self.labels[index]
            filled += 1
        if filled < len(indices):
            return images[:filled], labels[:filled]
        return images, labels

    def _size_error(self, index, size):
        """The error for an image whose size differs from the inferred one, naming the odd file:
        the first image when most of a sample of the others have this image's size."""
        path = self.paths[index]
        first = self._first_path or self.paths[0]
        sample = [i for i in range(len(self.paths)) if self.paths[i] not in (path, first)][:8]
        sizes = [p.shape[:2] for p in (self._decode(i) for i in sample) if p is not None]
        expected = tuple(self._image_hw)
        if sizes and sum(tuple(s) == tuple(size) for s in sizes) > sum(tuple(s) == expected for s in sizes):
            return ValueError(
                f"Image {first} (the first image, whose size the reader takes when image_size=None) "
                f"has size {expected}, but the other images have {tuple(size)} (e.g. {path}); pass "
                "image_size= to resize every image, or remove that image. Received: image_size=None"
            )
        return ValueError(
            f"Image {path} has size {tuple(size)}, but the reader's images are {expected} (the "
            f"size of its first image, {first}); pass image_size= to resize every image. "
            "Received: image_size=None"
        )

    def _data_depth(self):
        """The data set's bit depth: that of the first readable image (read where it is used)."""
        return self._first_pixels("the bit depth").dtype.type

    def _executor(self):
        return concurrent.futures.ThreadPoolExecutor(
            max_workers=self.num_threads,
            thread_name_prefix="ImageReader",
            initializer=_init_decode_thread,
        )

    # ------------------------------------------------------------------ face 1: Python iterator
    def __iter__(self):
        """Yields the batches of epoch ``self.epoch`` and advances ``self.epoch`` by one."""
        epoch = self.epoch
        self.epoch = epoch + 1
        return self.iter_epoch(epoch)

    def iter_epoch(self, epoch):
        """Yields the ``(images, labels)`` numpy batches of one epoch (the counter is unchanged).

        Worker threads decode up to ``queue_size`` batches ahead. A batch holding an unreadable file
        is completed from the next files of the epoch; the last batch can be short (dropped with
        ``drop_remainder=True``).

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
        size = self.batch_size
        return self._stream([order[start : start + size] for start in range(0, len(order), size)])

    def _stream(self, chunks):
        depth = self._data_depth()
        size = self.batch_size
        executor = self._executor()
        # Arrays in flight: the queue (which includes the chunks being decoded), the consumer's
        # batch and the one being handed over; any more are allocated fresh rather than pooled.
        arrays = _BatchArrays((size, *self.image_shape), self.queue_size + 2)
        pending = collections.deque()
        next_chunk = 0
        held_images, held_labels, held = [], [], 0
        try:
            while pending or next_chunk < len(chunks):
                while next_chunk < len(chunks) and len(pending) < self.queue_size:
                    pending.append(executor.submit(self._decode_chunk, chunks[next_chunk], arrays, None, depth))
                    next_chunk += 1
                images, labels = pending.popleft().result()
                if not held and len(images) == size:
                    yield images, labels
                    continue
                held_images.append(images)
                held_labels.append(labels)
                held += len(images)
                while held >= size:
                    all_images = np.concatenate(held_images)
                    all_labels = np.concatenate(held_labels)
                    yield all_images[:size], all_labels[:size]
                    held_images, held_labels = [all_images[size:]], [all_labels[size:]]
                    held -= size
            if held and not self.drop_remainder:
                yield np.concatenate(held_images), np.concatenate(held_labels)
        finally:
            for future in pending:
                future.cancel()
            executor.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------------ face 2: keras PyDataset
    def as_py_dataset(self, *, workers=None, max_queue_size=None):
        """Returns a ``keras.utils.PyDataset`` over this reader.

        Batch ``i`` of an epoch holds positions ``[i * batch_size, (i + 1) * batch_size)`` of the
        epoch's order; an unreadable file's slot is filled with the next readable file after the
        batch (wrapping around). ``on_epoch_end`` (called by ``fit``) advances to the next epoch's
        permutation. Decoding runs in Keras's worker threads.

        Args:
            workers: Keras worker threads; None uses ``num_threads``.
            max_queue_size: batches Keras prepares ahead; None uses ``queue_size``.

        Returns:
            A ``keras.utils.PyDataset`` with ``len()`` equal to ``len(reader)``; it starts at
            ``reader.epoch`` and has its own ``epoch`` counter and ``set_epoch``.
        """
        workers = _check_positive_int(workers, "workers", allow_none=True) or self.num_threads
        max_queue_size = (
            _check_positive_int(max_queue_size, "max_queue_size", allow_none=True) or self.queue_size
        )
        _init_decode_thread()
        return _py_dataset_class()(self, workers=workers, max_queue_size=max_queue_size)

    def _indexed_batch(self, order, index, pixel_dtype=None, depth=None):
        """Returns batch ``index`` of an epoch order for the index-addressed faces (float32 images,
        or integer pixels of ``pixel_dtype``, as :meth:`_decode_chunk`)."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"`index` must be an int. Received: index={index!r}")
        batches = len(self)
        if index < 0:
            index += batches
        if not 0 <= index < batches:
            raise IndexError(f"Batch index out of range [0, {batches}). Received: index={index}")
        start = index * self.batch_size
        stop = min(start + self.batch_size, len(order))
        images, labels = self._decode_chunk(order[start:stop], pixel_dtype=pixel_dtype, depth=depth)
        missing = (stop - start) - len(images)
        if not missing:
            return images, labels
        extra_images, extra_labels = [images], [labels]
        position = stop
        for _ in range(len(order)):
            if not missing:
                break
            wrapped = position % len(order)
            more_images, more_labels = self._decode_chunk(
                order[wrapped : wrapped + 1], pixel_dtype=pixel_dtype, depth=depth
            )
            position += 1
            if len(more_images):
                extra_images.append(more_images)
                extra_labels.append(more_labels)
                missing -= 1
        if missing:
            raise ValueError(f"None of the files in {self.source} could be read as an image.")
        return np.concatenate(extra_images), np.concatenate(extra_labels)

    # ------------------------------------------------------------------ face 3: tf.data
    def as_tf_dataset(self, *, prefetch=None, skip_batches=0):
        """Returns a ``tf.data.Dataset`` of ``(images, labels)`` batches with a declared signature.

        Each iteration of the dataset (each ``for`` loop, each ``fit`` epoch, each ``repeat``) reads
        the next epoch of the reader (``reader.epoch`` advances) and yields exactly ``len(reader)``
        batches. The batch dimension is static when ``drop_remainder=True``. Auto-sharding is
        switched off (the reader shards itself with ``num_shards``/``shard_index``), so the dataset
        can go straight to ``strategy.experimental_distribute_dataset``.

        Batches are index-addressed like the PyDataset face's (an unreadable file's slot is filled
        with the next readable file after the batch) and decoded by TensorFlow's own threads,
        ``num_threads`` batches at a time, in order. They cross into TensorFlow as integer pixels
        (uint8, or uint16 when the first image has 16 bits per channel; four or two times fewer
        bytes than float32) and are rescaled in the graph with the formula of the other faces,
        ``(p - 127.5) / 127.5`` (or ``(p - 32767.5) / 32767.5``), so the values are bit-identical to
        the iterator's. A 16-bit image in a data set whose first image is 8-bit is converted to 8
        bits and counted, as in every face (see the module docstring).

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
        import tensorflow as tf

        prefetch = _check_positive_int(prefetch, "prefetch", allow_none=True) or 2
        num_batches = len(self)
        if (
            isinstance(skip_batches, bool)
            or not isinstance(skip_batches, (int, np.integer))
            or not 0 <= skip_batches < num_batches
        ):
            raise ValueError(
                f"`skip_batches` must be an int in [0, len(reader)={num_batches}). "
                f"Received: skip_batches={skip_batches!r}"
            )
        first_batch = [int(skip_batches)]  # used by the first iteration only
        pixel_dtype = self._first_pixels("the bit depth").dtype  # uint8 or uint16, carried across
        batch = self.batch_size if self.drop_remainder else None
        image_shape = self.image_shape
        orders = _EpochOrders(self)
        middle = np.float32(np.iinfo(pixel_dtype).max / 2)  # 127.5 or 32767.5, exact in float32
        _init_decode_thread()

        def start_epoch():
            epoch = self.epoch
            self.epoch = epoch + 1
            start, first_batch[0] = first_batch[0], 0
            return np.int64(epoch), np.int64(start)

        def pixel_batch(epoch, index):
            return self._indexed_batch(orders.get(int(epoch)), int(index), pixel_dtype.type)

        def load(epoch, index):
            pixels, labels = tf.numpy_function(
                pixel_batch, [epoch, index], [tf.as_dtype(pixel_dtype), tf.int32], stateful=False
            )
            pixels = tf.ensure_shape(pixels, (batch, *image_shape), name="pixels")
            labels = tf.ensure_shape(labels, (batch,), name="labels")
            return (tf.cast(pixels, tf.float32) - middle) / middle, labels

        epochs = tf.data.Dataset.range(1).map(
            lambda _: tuple(tf.numpy_function(start_epoch, [], [tf.int64, tf.int64], stateful=True))
        )
        indices = epochs.flat_map(
            lambda epoch, start: tf.data.Dataset.range(start, num_batches).map(
                lambda index: (epoch, index)
            )
        )
        dataset = indices.map(load, num_parallel_calls=self.num_threads, deterministic=True)
        dataset = dataset.prefetch(prefetch)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        # Parallelism and prefetching are set by the reader; with autotuning on, TensorFlow 2.21
        # often held the end of each epoch for a further 1-2 s (benchmarks/bench_reader.py).
        options.autotune.enabled = False
        return dataset.with_options(options)


class _EpochOrders:
    """The reading orders of the last few epochs of a reader, computed once each (thread-safe)."""

    def __init__(self, reader, keep=2):
        self._reader = reader
        self._keep = keep
        self._orders = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, epoch):
        with self._lock:
            order = self._orders.get(epoch)
            if order is None:
                order = self._orders[epoch] = self._reader.epoch_indices(epoch)
                while len(self._orders) > self._keep:
                    self._orders.popitem(last=False)
            return order


_PY_DATASET_CLASS = None


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
            self._depth = reader._data_depth()

        def set_epoch(self, epoch):
            self.epoch = self.reader._check_epoch(epoch)
            self._order = self.reader.epoch_indices(self.epoch)

        def __len__(self):
            return len(self.reader)

        def __getitem__(self, index):
            return self.reader._indexed_batch(self._order, index, depth=self._depth)

        def on_epoch_end(self):
            self.set_epoch(self.epoch + 1)

    _PY_DATASET_CLASS = ImageReaderPyDataset
    return _PY_DATASET_CLASS


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
    num_threads = _check_positive_int(num_threads, "num_threads", allow_none=True)
    num_threads = min(num_threads or _default_num_threads(), len(paths))

    def decode(path):
        return decode_pixels(path, image_size=size, channels=channels, alpha=alpha)

    with concurrent.futures.ThreadPoolExecutor(num_threads, initializer=_init_decode_thread) as pool:
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
