"""Batches of decoded files under the one rule for unreadable files, shared by every face.

The rule: batch ``i`` of an epoch holds the files at positions ``[i * batch_size, (i + 1) *
batch_size)`` of the epoch's order (``data_readers.epoch_order``). An unreadable file (corrupt,
truncated, missing, unsupported pixel type) is skipped, logged once and counted
(:class:`ReadLog`), and its slot is filled with the next readable file after the batch in the
epoch's order (wrapping around), which is then read twice in that epoch. So every batch has its
full length, every face (iterator, PyDataset, tf.data) yields exactly ``len(reader)`` batches, and
the faces yield the same batches. With ``strict=True`` the first unreadable file raises instead.

Bit depth: a reader carries one bit depth, that of its first readable image. An 8-bit image in a
16-bit data set is widened exactly (``p * 257``, the same value in ``[-1, 1]``); a 16-bit image in
an 8-bit data set is converted to 8 bits (``round(p / 257)``), logged once and counted.
"""

import logging
import sys
import threading

import numpy as np

from data_readers.checks import is_int
from data_readers.decode import UnreadableImageError, decode_pixels, scale_into

logger = logging.getLogger("data_readers.image_reader")

SKIPPABLE_ERRORS = (UnreadableImageError, OSError)


class ReadLog:
    """The files skipped as unreadable and those converted to 8 bits (distinct, thread-safe)."""

    def __init__(self):
        self.skipped_paths = []
        self.skip_reasons = {}
        self.converted_paths = []
        self.convert_reasons = {}
        self._lock = threading.Lock()

    def record_skip(self, path, reason):
        """Records ``path`` as skipped (once) with ``reason`` (an exception or a string)."""
        text = f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else str(reason)
        with self._lock:
            if path in self.skip_reasons:
                return
            self.skipped_paths.append(path)
            self.skip_reasons[path] = text
        logger.warning("Skipping unreadable image (%s)", text)

    def record_conversion(self, path, first_path):
        """Records a 16-bit ``path`` converted to the 8 bits of ``first_path`` (once)."""
        with self._lock:
            if path in self.convert_reasons:
                return
            self.converted_paths.append(path)
            self.convert_reasons[path] = (
                f"16-bit image converted to 8 bits (the bit depth of the first image, {first_path})"
            )
        logger.warning(
            "Converting a 16-bit image to 8 bits (the data set's first image %s is 8-bit): %s",
            first_path, path,
        )


class PixelSource:
    """What a batch needs from where pixels come from: ``read(index)`` (pixels or None when the
    file is skipped) plus the data set's first image, bit depth and size errors built on it.

    Subclasses: :class:`FileDecoder` (decodes files) and ``data_readers.decoded_cache.DecodedCache``.
    """

    def __init__(self, paths, *, source):
        self.paths = paths
        self.source = source
        self.first_path = None
        self._depth = None

    def read(self, index, *, transient=False):
        """Returns the pixels of file ``index`` or None when it is skipped; with ``transient`` the
        array may be a per-thread buffer, valid until the thread's next transient read."""
        raise NotImplementedError

    def first_pixels(self, what):
        """Returns the pixels of the first readable file (``what`` names the use, for the error)."""
        for index in range(len(self.paths)):
            pixels = self.read(index)
            if pixels is not None:
                self.first_path = self.paths[index]
                self._depth = pixels.dtype.type
                return pixels
        raise ValueError(
            f"None of the {len(self.paths)} files in {self.source} could be read as an image, so "
            f"{what} cannot be inferred (see the logged warnings)."
        )

    def depth(self):
        """The data set's bit depth (``np.uint8`` or ``np.uint16``): that of its first readable image."""
        if self._depth is None:
            self.first_pixels("the bit depth")
        return self._depth

    def size_error(self, index, size, expected):
        """The error for an image whose size differs from the inferred one, naming the odd file:
        the first image when most of a sample of the others have this image's size."""
        path = self.paths[index]
        first = self.first_path or self.paths[0]
        sample = [i for i in range(len(self.paths)) if self.paths[i] not in (path, first)][:8]
        sizes = [p.shape[:2] for p in (self.read(i) for i in sample) if p is not None]
        expected = tuple(expected)
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


class FileDecoder(PixelSource):
    """Decodes file ``index`` of a listing into integer pixels, or None when it is skipped.

    Args:
        paths: the listed files.
        image_size: None (every image must have the size of the first readable one) or
            ``(height, width)``.
        channels: 3 or 1.
        alpha: ``"composite"`` or ``"drop"``.
        strict: raise on the first unreadable file.
        log: the :class:`ReadLog` skips are recorded in.
        source: the listing's description, for messages.
    """

    def __init__(self, paths, *, image_size, channels, alpha, strict, log, source):
        super().__init__(paths, source=source)
        self.fixed_size = image_size
        self.channels = channels
        self.alpha = alpha
        self.strict = strict
        self.log = log

    def settings(self):
        """The decode settings a decoded cache is keyed by."""
        return {
            "image_size": list(self.fixed_size) if self.fixed_size else None,
            "channels": self.channels,
            "alpha": self.alpha,
        }

    def read(self, index, *, transient=False):
        """Returns the pixels of file ``index`` (uint8/uint16 ``(H, W, C)``) or None if skipped
        (always a new array: ``transient`` is accepted for the pixel-source interface)."""
        path = self.paths[index]
        try:
            return decode_pixels(path, image_size=self.fixed_size, channels=self.channels, alpha=self.alpha)
        except SKIPPABLE_ERRORS as error:
            if self.strict:
                raise
            self.log.record_skip(path, error)
            return None

def aligned_empty(shape, dtype, alignment=64):
    """Returns an uninitialised array whose data starts on an ``alignment``-byte boundary.

    TensorFlow adopts the buffer of a 64-byte-aligned array returned by ``tf.numpy_function``
    (the tensor keeps the array alive) and copies any other; numpy's own allocations start 16
    bytes past a boundary.
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + alignment, np.uint8)
    offset = (-raw.ctypes.data) % alignment
    return raw[offset : offset + nbytes].view(dtype).reshape(shape)


class BatchArrays:
    """A bounded pool of batch arrays, recycled once nothing outside the pool references them.

    Fresh large arrays cost page faults and kernel zeroing on every batch (about as much as the
    float conversion itself); reusing an array is safe when the pool holds its only reference
    (``sys.getrefcount``), i.e. the consumer, its views and any tensor aliasing it are gone.
    """

    def __init__(self, shape, capacity, dtype=np.float32):
        self._shape = tuple(shape)
        self._capacity = capacity
        self._dtype = dtype
        self._arrays = []
        self._lock = threading.Lock()

    def take(self, length):
        if length != self._shape[0]:
            return aligned_empty((length, *self._shape[1:]), self._dtype)
        with self._lock:
            for i in range(len(self._arrays)):
                if sys.getrefcount(self._arrays[i]) == 2:  # the list's reference + the argument
                    return self._arrays[i]
            array = aligned_empty(self._shape, self._dtype)
            if len(self._arrays) < self._capacity:
                self._arrays.append(array)
            return array


class BatchMaker:
    """Makes batch ``index`` of an epoch order by the module's rule, from a pixel source.

    Args:
        pixels: an object with ``read(index)`` (pixels or None when skipped), ``depth()``,
            ``size_error(...)``, ``paths`` and ``source``: a :class:`FileDecoder` or a decoded cache.
        labels: int32 label per file.
        image_shape: ``(H, W, C)`` of every image.
        batch_size: positions per batch.
        num_batches: batches per epoch.
        log: the reader's :class:`ReadLog` (conversions are recorded there).
    """

    def __init__(self, pixels, labels, *, image_shape, batch_size, num_batches, log):
        self.pixels = pixels
        self.labels = labels
        self.image_shape = tuple(image_shape)
        self.batch_size = batch_size
        self.num_batches = num_batches
        self.log = log

    def make(self, order, index, *, pixel_dtype=None, arrays=None):
        """Returns batch ``index`` of ``order`` as ``(images, labels)``.

        Args:
            order: the epoch's file indices (this shard's).
            index: the batch, in ``[-num_batches, num_batches)``.
            pixel_dtype: None for float32 images in ``[-1, 1]``; ``np.uint8`` / ``np.uint16`` for
                the integer pixels (8-bit pixels in a uint16 batch are multiplied by 257, which
                leaves their rescaled values exactly unchanged).
            arrays: an optional :class:`BatchArrays` to take the batch array from.

        Raises:
            TypeError, IndexError: for a bad ``index``.
            ValueError: when no file of the epoch is readable, or an image has the wrong size.
        """
        if not is_int(index):
            raise TypeError(f"`index` must be an int. Received: index={index!r}")
        if index < 0:
            index += self.num_batches
        if not 0 <= index < self.num_batches:
            raise IndexError(f"Batch index out of range [0, {self.num_batches}). Received: index={index}")
        start = index * self.batch_size
        stop = min(start + self.batch_size, len(order))
        wanted = stop - start
        dtype = np.float32 if pixel_dtype is None else pixel_dtype
        images = arrays.take(wanted) if arrays is not None else aligned_empty((wanted, *self.image_shape), dtype)
        labels = np.empty(wanted, np.int32)
        depth = pixel_dtype if pixel_dtype is not None else self.pixels.depth()
        filled = self._fill(order[start:stop], images, labels, 0, depth, pixel_dtype)
        position, tried = stop, 0
        while filled < wanted and tried < len(order):  # the rule: refill from after the batch
            wrapped = position % len(order)
            filled = self._fill(order[wrapped : wrapped + 1], images, labels, filled, depth, pixel_dtype)
            position += 1
            tried += 1
        if filled < wanted:
            raise ValueError(f"None of the files in {self.pixels.source} could be read as an image.")
        return images, labels

    def _fill(self, indices, images, labels, filled, depth, pixel_dtype):
        """Writes the readable files of ``indices`` from slot ``filled`` on; returns the new count."""
        for index in indices:
            if filled == len(images):
                break
            pixels = self.pixels.read(index, transient=True)  # copied into the batch below
            if pixels is None:
                continue
            if pixels.shape != self.image_shape:
                raise self.pixels.size_error(index, pixels.shape[:2], self.image_shape[:2])
            if depth == np.uint8 and pixels.dtype == np.uint16:
                pixels = self._to_eight_bits(pixels, index)
            if pixel_dtype is None:
                scale_into(pixels, images[filled])
            elif pixels.dtype == pixel_dtype:
                images[filled] = pixels
            elif pixels.dtype == np.uint8:
                np.multiply(pixels, np.uint16(257), out=images[filled], dtype=np.uint16)
            else:  # unreachable: 16-bit pixels were converted to the carried 8 bits above
                raise AssertionError(f"{pixels.dtype} pixels in a {pixel_dtype.__name__} batch: {self.pixels.paths[index]}")
            labels[filled] = self.labels[index]
            filled += 1
        return filled

    def _to_eight_bits(self, pixels, index):
        """Converts 16-bit pixels to 8 bits (nearest, ``round(p / 257)``) and records it."""
        self.log.record_conversion(self.pixels.paths[index], self.pixels.first_path)
        return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
