"""Paired ``(image, mask)`` reading: a manifest with ``path`` and ``mask`` columns -> arrays or batches.

Semantic-map synthesis (SHI-GAN, Falahkheirkhah et al., "Deepfake histological images", section 2)
trains on images paired with integer label maps, and segmentation networks train and are scored on
the same pairs. A label map is categorical: it is resized nearest-neighbour only (a value between
two labels is no label at all), never interpolated, never rescaled to [-1, 1]; it stays ``uint8``
(``int32`` in a ``tf.data`` batch) holding the region indices that were written.

Layout read here (what ``data_readers.synthetic.make_blood_cell_dataset(..., masks=True)`` writes,
and what a user's annotated data set can be converted to): a CSV manifest with a header row and at
least the columns ``path`` and ``mask`` (paths relative to the CSV's folder, or absolute), an
optional ``label`` column (the image's class) and, beside it, ``dataset.json`` with the
``region_names`` (the labels of mask values ``0, 1, ...``). Images are decoded with
``data_readers.image_reader.read_images`` (its public API, so images read exactly as everywhere
else in the toolkit).

Nothing here imports ganaug; TensorFlow is imported only by ``PairedReader.as_tf_dataset``.
"""

import csv
import json
import numbers
import os

import cv2
import numpy as np

from data_readers.image_reader import read_images

DATASET_FILE = "dataset.json"
MANIFEST_FILE = "manifest.csv"


def _check_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, bool) or not isinstance(image_size, numbers.Integral) or image_size < 1:
        raise ValueError(f"image_size must be a positive integer or None. Received: image_size={image_size!r}")
    return int(image_size)


def read_mask(path):
    """Returns a label map file as ``uint8`` ``(H, W)``, its stored values unchanged.

    A one-channel PNG is read as is; a three-channel file is accepted only when its channels are
    equal (a grey image saved as RGB), so a colour-coded mask is never silently misread.

    Args:
        path: the mask file (PNG; any format OpenCV decodes losslessly).

    Returns:
        ``uint8`` array ``(H, W)``.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if it cannot be decoded, is not 8-bit, or has differing colour channels.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Mask file not found: {path}")
    data = np.fromfile(path, dtype=np.uint8)
    mask = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise ValueError(f"Cannot decode the mask file. Received: path={path!r}")
    if mask.dtype != np.uint8:
        raise ValueError(f"A mask must be an 8-bit image of label indices. Received: {path} of dtype {mask.dtype}")
    if mask.ndim == 3:
        if mask.shape[2] == 4:
            mask = mask[..., :3]
        if not (np.array_equal(mask[..., 0], mask[..., 1]) and np.array_equal(mask[..., 0], mask[..., 2])):
            raise ValueError(
                "A mask must hold one label per pixel; this file has differing colour channels (a "
                f"colour-coded mask? convert it to label indices first). Received: path={path!r}"
            )
        mask = mask[..., 0]
    return np.ascontiguousarray(mask)


def resize_mask(mask, image_size):
    """Resizes a label map nearest-neighbour (labels are never interpolated).

    Args:
        mask: integer array ``(H, W)`` (or ``(N, H, W)``).
        image_size: the side of the square output, or None (unchanged).

    Returns:
        An array of the same dtype, ``(image_size, image_size)`` (or ``(N, image_size, image_size)``),
        whose values are all values of ``mask``.
    """
    mask = np.asarray(mask)
    image_size = _check_size(image_size)
    if image_size is None or mask.shape[-2:] == (image_size, image_size):
        return mask
    if mask.ndim == 3:
        return np.stack([resize_mask(m, image_size) for m in mask])
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W) or (N, H, W). Received: mask.shape={mask.shape}")
    return cv2.resize(mask, (image_size, image_size), interpolation=cv2.INTER_NEAREST)


def _manifest_path(source):
    source = os.fspath(source)
    path = os.path.join(source, MANIFEST_FILE) if os.path.isdir(source) else source
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Manifest not found: {path}")
    return path


class PairedReader:
    """The ``(image, mask)`` pairs of a manifest, decoded once and held in memory.

    Meant for data sets of the embedded generator's scale (thousands of small images); a
    larger collection would need a streaming variant.

    Args:
        source: a data set folder holding ``manifest.csv`` (and ``dataset.json``), or a CSV path.
        image_size: resize images (area / bilinear, as ``read_images``) and masks
            (nearest-neighbour) to this side; None keeps the stored size (all must agree).
        region_names: the names of mask values ``0, 1, ...``; read from ``dataset.json`` beside the
            manifest when None (else ``"0", "1", ...`` up to the largest value found).
        batch_size: images per batch of ``as_tf_dataset``.
        shuffle: shuffle the order each epoch (seeded by ``seed`` and the epoch).
        drop_remainder: drop the last incomplete batch.
        seed: the shuffling seed.

    Attributes:
        images: float32 ``(N, S, S, 3)`` in [-1, 1]; masks: uint8 ``(N, S, S)``; labels: int32
        ``(N,)`` image classes (-1 without a ``label`` column); class_names: the image classes;
        region_names: the mask labels; paths / mask_paths: the files read.

    Raises:
        FileNotFoundError: if the manifest, an image or a mask is missing (naming it).
        ValueError: for a manifest without ``path``/``mask`` columns or rows, masks whose size
            differs from their image's, a mask value outside ``region_names``, or a bad argument.
    """

    def __init__(
        self, source, *, image_size=None, region_names=None, batch_size=32, shuffle=True,
        drop_remainder=True, seed=0,
    ):
        self.image_size = _check_size(image_size)
        for name, value in (("batch_size", batch_size), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < (1 if name == "batch_size" else 0):
                raise ValueError(f"{name} must be a {'positive' if name == 'batch_size' else 'non-negative'} integer. Received: {name}={value!r}")
        for name, value in (("shuffle", shuffle), ("drop_remainder", drop_remainder)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool. Received: {name}={value!r}")
        self.batch_size, self.shuffle, self.drop_remainder, self.seed = int(batch_size), shuffle, drop_remainder, int(seed)
        manifest = _manifest_path(source)
        self.root = os.path.dirname(os.path.abspath(manifest))
        with open(manifest, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
        if not rows or "path" not in rows[0] or "mask" not in rows[0]:
            columns = list(rows[0]) if rows else []
            raise ValueError(f"The manifest needs rows with `path` and `mask` columns. Received: {manifest} with columns {columns}")
        join = lambda p: p if os.path.isabs(p) else os.path.join(self.root, *p.split("/"))  # noqa: E731
        self.paths = [join(row["path"]) for row in rows]
        self.mask_paths = [join(row["mask"]) for row in rows]
        for path in self.paths:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"Image file not found: {path}")
        raw_labels = [row.get("label") for row in rows]
        if all(label is not None for label in raw_labels):
            self.class_names = sorted(set(raw_labels))
            self.labels = np.array([self.class_names.index(label) for label in raw_labels], np.int32)
        else:
            self.class_names, self.labels = [], np.full(len(rows), -1, np.int32)

        masks = [read_mask(path) for path in self.mask_paths]
        self.images = read_images(self.paths, image_size=self.image_size, channels=3)
        if self.image_size is None:
            for path, mask, image in zip(self.mask_paths, masks, self.images):
                if mask.shape != image.shape[:2]:
                    raise ValueError(
                        f"Mask {path} is {mask.shape} but its image is {image.shape[:2]}; pass image_size= to "
                        f"resize both. Received: image_size=None"
                    )
        self.masks = np.stack([resize_mask(mask, self.image_size) for mask in masks])
        self.region_names = self._region_names(region_names, manifest)
        largest = int(self.masks.max())
        if largest >= len(self.region_names):
            raise ValueError(
                f"A mask holds the value {largest}, beyond the {len(self.region_names)} regions "
                f"{self.region_names}. Received: region_names={region_names!r}"
            )
        self.epoch = 0

    def _region_names(self, region_names, manifest):
        if region_names is not None:
            if isinstance(region_names, str) or not all(isinstance(n, str) for n in region_names) or not region_names:
                raise TypeError(f"region_names must be a non-empty list of strings. Received: region_names={region_names!r}")
            return list(region_names)
        info = os.path.join(os.path.dirname(os.path.abspath(manifest)), DATASET_FILE)
        if os.path.isfile(info):
            with open(info) as handle:
                names = json.load(handle).get("region_names")
            if names:
                return list(names)
        return [str(i) for i in range(int(self.masks.max()) + 1)]

    @property
    def num_regions(self):
        return len(self.region_names)

    @property
    def num_classes(self):
        """The number of mask labels: what a SPADE generator or a segmenter is conditioned on."""
        return self.num_regions

    @property
    def channels(self):
        return 3

    def __len__(self):
        """Batches per epoch."""
        count = len(self.images)
        return count // self.batch_size if self.drop_remainder else -(-count // self.batch_size)

    def arrays(self):
        """Returns ``(images float32 [-1, 1], masks uint8, labels int32)`` of every pair, in manifest order."""
        return self.images, self.masks, self.labels

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def epoch_order(self, epoch):
        """The order of the pairs in ``epoch`` (a permutation seeded by ``(seed, epoch)`` when shuffling)."""
        if not self.shuffle:
            return np.arange(len(self.images))
        return np.random.default_rng([self.seed, int(epoch)]).permutation(len(self.images))

    def as_tf_dataset(self, *, skip_batches=0):
        """Returns a ``tf.data.Dataset`` of one epoch of ``(images float32, masks int32)`` batches.

        The epoch is ``self.epoch`` (advanced by one after each full pass a caller starts).
        """
        import tensorflow as tf

        order = self.epoch_order(self.epoch)
        self.epoch += 1
        stop = len(self) * self.batch_size if self.drop_remainder else len(order)
        order = order[skip_batches * self.batch_size : stop]
        images = tf.constant(self.images[order])
        masks = tf.constant(self.masks[order].astype(np.int32))
        return tf.data.Dataset.from_tensor_slices((images, masks)).batch(self.batch_size)

    def __repr__(self):
        return (
            f"PairedReader({self.root!r}, {len(self.images)} pairs, image_size={self.images.shape[1]}, "
            f"regions={self.region_names})"
        )


def load_masks(source, *, image_size=None):
    """Returns label maps from a paired data set (manifest with a ``mask`` column) or a folder of mask PNGs.

    Args:
        source: a data set folder / manifest (its ``mask`` column is read), or a folder whose
            ``.png`` files (recursive, sorted) are masks.
        image_size: resize nearest-neighbour to this side (None: stored size; all must agree).

    Returns:
        ``(masks uint8 (N, S, S), paths)``.

    Raises:
        FileNotFoundError: if ``source`` does not exist.
        ValueError: if it holds no masks or masks of different sizes without ``image_size``.
    """
    source = os.fspath(source)
    if not os.path.exists(source):
        raise FileNotFoundError(f"Masks not found: {source}")
    manifest = os.path.join(source, MANIFEST_FILE) if os.path.isdir(source) else source
    paths = None
    if os.path.isfile(manifest):
        with open(manifest, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
        if rows and "mask" in rows[0]:
            root = os.path.dirname(os.path.abspath(manifest))
            paths = [p if os.path.isabs(p) else os.path.join(root, *p.split("/")) for p in (r["mask"] for r in rows)]
    if paths is None:
        if not os.path.isdir(source):
            raise ValueError(f"Not a manifest with a `mask` column nor a folder of masks. Received: source={source!r}")
        paths = sorted(
            os.path.join(folder, name) for folder, _, names in os.walk(source) for name in names
            if name.lower().endswith(".png")
        )
    if not paths:
        raise ValueError(f"No masks found. Received: source={source!r}")
    masks = [resize_mask(read_mask(path), image_size) for path in paths]
    if len({m.shape for m in masks}) > 1:
        raise ValueError(f"Masks of different sizes in {source}; pass image_size=. Received: image_size=None")
    return np.stack(masks), paths
