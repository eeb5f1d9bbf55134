"""Whole-slide images (OpenSlide) + region annotations -> labelled patches on disk.

Reproduces the data preparation of Fernández et al. 2021 ("Medical image editing in the latent space
of GANs", section 2 and Table 1): 256x256 patches at levels 0 and 1 of CAMELYON16/17 slides, labelled
positive inside annotated metastases and negative elsewhere, the classes balanced per level by random
subsampling. On top of the paper: a tissue mask so that glass is never extracted (faint tissue kept,
see `data_readers.tissue`), exclusion regions, several slides and worker processes in one call,
resumable output and a Table-1-like summary.

Output layout (read by `data_readers.image_reader.ImageReader.from_csv`, which uses ``path,label``
and ignores the other columns)::

    out_dir/tumor/<slide>_L<level>_x<x>_y<y>_s<size>.png
    out_dir/normal/<slide>_L<level>_x<x>_y<y>_s<size>.png
    out_dir/manifest.csv   path,label,slide,level,x,y,size,tumor_fraction,tissue_fraction
    out_dir/extraction.json   the settings the patches were extracted with

Re-running into the same ``out_dir`` with the same settings resumes (patches already written are
kept); with other settings (another seed, cap, level, threshold, slide list, ...) it is refused,
naming what differs, unless ``overwrite=True`` (``--overwrite``), which removes the old patches and
manifest first. Mixing the rows of two extractions in one manifest would unbalance the classes.

``x, y`` are always level-0 pixel coordinates of the patch's top-left corner (what
``openslide.OpenSlide.read_region`` takes at every level); ``size`` is the patch side in pixels of
the patch's level; ``path`` is relative to the manifest.

Dependencies: OpenSlide comes from the ``openslide-python`` and ``openslide-bin`` wheels, which are
part of the base install (``install_requires``), so that ``pip install ganaug`` can extract patches
without system packages. The ``wsi`` extra (``pip install ganaug[wsi]``) is kept as an alias that
names the same two packages. Like everything in ``data_readers``, this module imports neither
``ganaug`` nor TensorFlow.
"""

import concurrent.futures
import contextlib
import csv
import dataclasses
import io
import json
import multiprocessing
import os
import re
import shutil
import time
import warnings

import cv2
import numpy as np
import openslide
from tqdm.auto import tqdm

from data_readers import annotations as annotations_lib
from data_readers import tissue as tissue_lib
from data_readers.checks import check_int_in_range, check_positive_int

TUMOR = "tumor"
NORMAL = "normal"
EXCLUDE = "exclude"
CLASS_NAMES = (NORMAL, TUMOR)
"""Class folder names, sorted (the reader's ``class_names`` for a folder data set)."""
MANIFEST_COLUMNS = ("path", "label", "slide", "level", "x", "y", "size", "tumor_fraction", "tissue_fraction")
MANIFEST_NAME = "manifest.csv"
SETTINGS_NAME = "extraction.json"
ANNOTATION_SUFFIXES = (".xml", ".geojson", ".json")
_AMBIGUOUS_RULES = ("skip", TUMOR, NORMAL)
_CHECKPOINT_SECONDS = 15.0


# --------------------------------------------------------------------------------------------------
# Slides


def open_slide(path):
    """Returns an ``openslide.OpenSlide`` for any slide format OpenSlide reads.

    Args:
        path: the slide file (``.tif``, ``.svs``, ``.ndpi``, ``.mrxs``, ...).

    Returns:
        The open ``openslide.OpenSlide``; close it (or use it as a context manager) when done.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if OpenSlide cannot read it (the message names the path and OpenSlide's reason).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Slide not found: {path}")
    try:
        return openslide.OpenSlide(path)
    except openslide.OpenSlideUnsupportedFormatError:
        raise ValueError(
            f"Unsupported slide format: {path} is not a format OpenSlide reads "
            "(e.g. a plain or untiled image, or not an image)."
        ) from None
    except openslide.OpenSlideError as error:
        raise ValueError(f"Unreadable slide {path}: OpenSlide failed with: {error}") from None


def composite_on_white(rgba):
    """Returns uint8 RGB ``(H, W, 3)``: an RGBA array (OpenSlide, not premultiplied) over white."""
    rgba = np.asarray(rgba, dtype=np.uint16)
    alpha = rgba[..., 3:4]
    rgb = (rgba[..., :3] * alpha + 255 * (255 - alpha) + 127) // 255
    return rgb.astype(np.uint8)


def read_patch(slide, *, location, level, size):
    """Returns one patch as uint8 RGB, composited on white.

    Args:
        slide: an open ``openslide.OpenSlide``.
        location: level-0 ``(x, y)`` of the top-left corner.
        level: pyramid level to read from.
        size: patch side, in pixels of ``level``.

    Returns:
        uint8 array ``(size, size, 3)``.
    """
    region = slide.read_region((int(location[0]), int(location[1])), int(level), (int(size), int(size)))
    return composite_on_white(np.asarray(region))


def read_thumbnail(slide, *, downsample=32.0, tile_size=512):
    """Returns a low-resolution RGB view of the whole slide, read tile by tile (bounded memory).

    The coarsest level whose downsample is <= ``downsample`` is read and resized (area averaging)
    so that one output pixel covers ``downsample`` level-0 pixels.

    Args:
        slide: an open ``openslide.OpenSlide``.
        downsample: level-0 pixels per thumbnail pixel.
        tile_size: output tile side used to bound memory.

    Returns:
        uint8 array ``(ceil(height / downsample), ceil(width / downsample), 3)``.
    """
    if downsample < 1:
        raise ValueError(f"downsample must be >= 1. Received: downsample={downsample}")
    level = slide.get_best_level_for_downsample(downsample)
    level_downsample = slide.level_downsamples[level]
    level_width, level_height = slide.level_dimensions[level]
    factor = downsample / level_downsample
    width0, height0 = slide.dimensions
    out_width, out_height = int(np.ceil(width0 / downsample)), int(np.ceil(height0 / downsample))
    thumbnail = np.full((out_height, out_width, 3), 255, dtype=np.uint8)
    for out_y in range(0, out_height, tile_size):
        for out_x in range(0, out_width, tile_size):
            tile_w, tile_h = min(tile_size, out_width - out_x), min(tile_size, out_height - out_y)
            src_x, src_y = int(round(out_x * factor)), int(round(out_y * factor))
            src_w = max(1, min(int(round((out_x + tile_w) * factor)), level_width) - src_x)
            src_h = max(1, min(int(round((out_y + tile_h) * factor)), level_height) - src_y)
            region = slide.read_region(
                (int(round(src_x * level_downsample)), int(round(src_y * level_downsample))),
                level, (src_w, src_h),
            )
            rgb = composite_on_white(np.asarray(region))
            covered_w = min(tile_w, int(round(src_w / factor)) or 1)
            covered_h = min(tile_h, int(round(src_h / factor)) or 1)
            thumbnail[out_y:out_y + covered_h, out_x:out_x + covered_w] = cv2.resize(
                rgb, (covered_w, covered_h), interpolation=cv2.INTER_AREA
            ).reshape(covered_h, covered_w, 3)
    return thumbnail


def patch_grid(level_dimensions, *, level_downsample, patch_size, stride):
    """Returns the level-0 ``(x, y)`` of every patch that fits inside a level, in raster order.

    Args:
        level_dimensions: ``(width, height)`` of the level.
        level_downsample: the level's downsample relative to level 0.
        patch_size: patch side in pixels of the level.
        stride: step between patches in pixels of the level.

    Returns:
        int64 array ``(N, 2)`` of level-0 coordinates (row-major: y, then x).
    """
    width, height = level_dimensions
    xs = np.arange(0, width - patch_size + 1, stride, dtype=np.int64)
    ys = np.arange(0, height - patch_size + 1, stride, dtype=np.int64)
    grid_y, grid_x = np.meshgrid(ys, xs, indexing="ij")
    level_xy = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
    return np.round(level_xy * float(level_downsample)).astype(np.int64)


def find_annotation_file(slide_path, directory):
    """Returns the annotation file named like the slide in ``directory`` (.xml, .geojson, .json), or None."""
    stem = os.path.splitext(os.path.basename(os.fspath(slide_path)))[0]
    for suffix in ANNOTATION_SUFFIXES:
        candidate = os.path.join(os.fspath(directory), stem + suffix)
        if os.path.isfile(candidate):
            return candidate
    return None


def patch_file_name(*, slide_name, level, x, y, size):
    """Returns the PNG name of a patch: ``<slide>_L<level>_x<x>_y<y>_s<size>.png``."""
    return f"{slide_name}_L{int(level)}_x{int(x)}_y{int(y)}_s{int(size)}.png"


# --------------------------------------------------------------------------------------------------
# Planning: which patches exist, and their labels (reads only thumbnails and annotations)


@dataclasses.dataclass
class SlidePlan:
    """The labelled candidate patches of one slide at one level (no pixels read yet).

    Attributes:
        slide: the slide path.
        slide_name: the slide's file stem, used in patch names and the manifest.
        level: the pyramid level.
        size: patch side in pixels of ``level``.
        xy: int64 ``(N, 2)`` level-0 coordinates of the candidates.
        labels: ``(N,)`` array of ``"tumor"``/``"normal"``.
        tumor_fraction: float64 ``(N,)``.
        tissue_fraction: float64 ``(N,)``.
        grid_size: number of grid positions before filtering.
        excluded: grid positions on tissue dropped because they touch an exclusion region.
        ambiguous: grid positions on tissue dropped as ambiguous.
    """

    slide: str
    slide_name: str
    level: int
    size: int
    xy: np.ndarray
    labels: np.ndarray
    tumor_fraction: np.ndarray
    tissue_fraction: np.ndarray
    grid_size: int = 0
    excluded: int = 0
    ambiguous: int = 0


def _annotation_fractions(annotations, boxes, *, box_side, resolution):
    """Fraction of each level-0 box inside ``annotations``, rasterised at ``resolution`` px per box side."""
    fractions = np.zeros(len(boxes), dtype=np.float64)
    if not annotations or not len(boxes):
        return fractions
    bounds = np.array([annotation.bounds for annotation in annotations])
    x_min, y_min = bounds[:, 0].min(), bounds[:, 1].min()
    x_max, y_max = bounds[:, 2].max(), bounds[:, 3].max()
    touching = ((boxes[:, 0] < x_max) & (boxes[:, 0] + boxes[:, 2] > x_min)
                & (boxes[:, 1] < y_max) & (boxes[:, 1] + boxes[:, 3] > y_min))
    if not touching.any():
        return fractions
    downsample = box_side / resolution
    origin_x = np.floor(x_min / downsample) * downsample
    origin_y = np.floor(y_min / downsample) * downsample
    shape = (int(np.ceil((y_max - origin_y) / downsample)) + 1, int(np.ceil((x_max - origin_x) / downsample)) + 1)
    mask = annotations_lib.rasterize_annotations(
        annotations, origin=(origin_x, origin_y), scale=1.0 / downsample, shape=shape
    )
    shifted = boxes[touching].astype(np.float64) - np.array([origin_x, origin_y, 0.0, 0.0])
    fractions[touching] = tissue_lib.mask_fractions(mask, shifted, downsample=downsample)
    return fractions


def plan_slide(slide_path, *, annotation_path=None, levels=(0,), patch_size=256, stride=None,
               min_tissue_fraction=0.5, positive_threshold=0.5, negative_threshold=0.0,
               ambiguous="skip", group_labels=None, mask_downsample=32.0,
               min_saturation=10, max_saturation=20, fraction_resolution=16):
    """Returns the labelled candidate patches of one slide, one `SlidePlan` per level.

    Validates everything (slide readable, levels in range, annotations well formed and inside the
    slide) and reads only a thumbnail, so it can run before anything is written.

    Args:
        slide_path: the slide.
        annotation_path: its ASAP XML / GeoJSON file, or None for a slide without tumour.
        levels: pyramid levels to tile (Fernández 2021: 0 and 1).
        patch_size: patch side in pixels of each level (Fernández 2021: 256).
        stride: step in pixels of each level; ``patch_size`` (no overlap) when None.
        min_tissue_fraction: a patch is kept only if at least this fraction of it is tissue.
        positive_threshold: ``tumor_fraction >= positive_threshold`` labels a patch ``"tumor"``.
        negative_threshold: ``tumor_fraction <= negative_threshold`` labels it ``"normal"``.
        ambiguous: what to do in between: ``"skip"`` (default), ``"tumor"`` or ``"normal"``.
        group_labels: annotation group -> label mapping (see `data_readers.annotations`).
        mask_downsample: level-0 pixels per tissue-mask pixel.
        min_saturation: floor of the tissue saturation threshold (see `data_readers.tissue`).
        max_saturation: ceiling of the tissue saturation threshold, keeps faint tissue.
        fraction_resolution: annotation raster pixels per patch side when measuring tumour fractions.

    Returns:
        A list of `SlidePlan`, in the order of ``levels``.

    Raises:
        FileNotFoundError: if the slide or annotation file is missing.
        ValueError: on an unreadable slide, a level out of range, a malformed annotation file, an
            annotation group that maps to no label, or an annotation far outside the slide.
    """
    slide_path = os.fspath(slide_path)
    slide_name = os.path.splitext(os.path.basename(slide_path))[0]
    slide_annotations = []
    if annotation_path is not None:
        slide_annotations = annotations_lib.read_annotations(annotation_path, group_labels=group_labels)
        annotations_lib.check_groups(slide_annotations, source=os.fspath(annotation_path))
    with open_slide(slide_path) as slide:
        for level in levels:
            if level >= slide.level_count:
                raise ValueError(
                    f"level {level} is out of range for slide {slide_path}, which has levels "
                    f"0-{slide.level_count - 1}. Received: levels={list(levels)}"
                )
        slide_annotations = annotations_lib.clip_annotations(  # a vertex 0.5 px past the edge is fine
            slide_annotations, slide.dimensions, source=os.fspath(annotation_path or "")
        )
        mask = tissue_lib.tissue_mask(
            read_thumbnail(slide, downsample=mask_downsample),
            min_threshold=min_saturation, max_threshold=max_saturation,
        )
        level_dimensions = slide.level_dimensions
        level_downsamples = slide.level_downsamples
    tumor_annotations = [a for a in slide_annotations if a.label == TUMOR]
    exclude_annotations = [a for a in slide_annotations if a.label == EXCLUDE]
    plans = []
    for level in levels:
        downsample = float(level_downsamples[level])
        xy = patch_grid(level_dimensions[level], level_downsample=downsample, patch_size=patch_size,
                        stride=stride or patch_size)
        box_side = patch_size * downsample
        boxes = np.concatenate([xy, np.full_like(xy, int(round(box_side)))], axis=1).astype(np.float64)
        tissue_fraction = tissue_lib.mask_fractions(mask, boxes, downsample=mask_downsample)
        on_tissue = tissue_fraction >= min_tissue_fraction
        xy, boxes, tissue_fraction = xy[on_tissue], boxes[on_tissue], tissue_fraction[on_tissue]
        excluded = _annotation_fractions(exclude_annotations, boxes, box_side=box_side,
                                         resolution=fraction_resolution) > 0
        tumor_fraction = _annotation_fractions(tumor_annotations, boxes, box_side=box_side,
                                               resolution=fraction_resolution)
        labels = np.full(len(xy), "", dtype=object)
        labels[tumor_fraction >= positive_threshold] = TUMOR
        labels[tumor_fraction <= negative_threshold] = NORMAL
        is_ambiguous = labels == ""
        if ambiguous != "skip":
            labels[is_ambiguous] = ambiguous
        keep = (labels != "") & ~excluded
        plans.append(SlidePlan(
            slide=slide_path, slide_name=slide_name, level=int(level), size=int(patch_size),
            xy=xy[keep], labels=labels[keep].astype(str), tumor_fraction=tumor_fraction[keep],
            tissue_fraction=tissue_fraction[keep], grid_size=int(on_tissue.size),
            excluded=int(excluded.sum()), ambiguous=int((is_ambiguous & ~excluded).sum()),
        ))
    return plans


def subsample_indices(labels, *, balance=True, max_per_class=None, seed=0):
    """Returns sorted indices of the patches kept by class balancing (Fernández 2021, Table 1).

    With ``balance``, every class is randomly subsampled without replacement to the size of the
    smallest class present among ``"normal"``, ``"tumor"`` and any other label (a class with no
    patches makes that size 0); then every class is capped at ``max_per_class``.

    Args:
        labels: sequence of class names.
        balance: equalise the class counts.
        max_per_class: upper bound per class, or None.
        seed: seed of the subsampling (same seed, same indices).

    Returns:
        int64 array of the kept indices, ascending.
    """
    labels = np.asarray(labels, dtype=str)
    classes = list(CLASS_NAMES) + sorted(set(labels.tolist()) - set(CLASS_NAMES))
    groups = [np.flatnonzero(labels == name) for name in classes]
    rng = np.random.default_rng(seed)
    common = min(len(group) for group in groups) if balance else None
    kept = []
    for group in groups:
        count = len(group) if common is None else common
        if max_per_class is not None:
            count = min(count, max_per_class)
        kept.append(group if count == len(group) else rng.choice(group, size=count, replace=False))
    return np.sort(np.concatenate(kept)).astype(np.int64)


# --------------------------------------------------------------------------------------------------
# Writing: worker processes, atomic files, resumable manifest


_WORKER_SLIDES = {}


#: Environment of worker processes: one thread per library, so that N workers use N cores and
#: not N x (BLAS + OpenCV + OpenMP) threads fighting over them.
_SINGLE_THREADED = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def _init_worker():
    """Worker initialiser: OpenCV single-threaded; slides are opened on first use, once per process
    (handles are not picklable, and opening every slide of a large job in every worker costs
    seconds before the first patch)."""
    cv2.setNumThreads(1)
    _WORKER_SLIDES.clear()


@contextlib.contextmanager
def _worker_pool(num_workers):
    """Yields a process pool of ``num_workers`` (None when 1: the work runs in this process).

    Workers come from a fork server that has imported this module once (``forkserver`` with
    preload), so starting one costs a fork rather than a fresh interpreter importing numpy, OpenCV
    and OpenSlide; they get single-threaded libraries (:data:`_SINGLE_THREADED`).
    """
    if num_workers == 1:
        _init_worker()
        try:
            yield None
        finally:
            _close_worker_slides()
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        context.set_forkserver_preload(["data_readers.wsi"])
    saved = {name: os.environ.get(name) for name in _SINGLE_THREADED}
    os.environ.update(_SINGLE_THREADED)
    try:
        with concurrent.futures.ProcessPoolExecutor(max_workers=num_workers, mp_context=context,
                                                    initializer=_init_worker) as pool:
            yield pool
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _close_worker_slides():
    for handle in _WORKER_SLIDES.values():
        handle.close()
    _WORKER_SLIDES.clear()


def _write_text_atomic(path, text):
    """Writes ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8", newline="") as handle:  # open(): the user's umask
        handle.write(text)
    os.replace(temporary, path)


def shard_file_names(shard_index, num_shards):
    """Returns ``(manifest name, settings name)`` of a shard: ``manifest.csv`` and
    ``extraction.json`` unsharded, ``manifest.shard-I-of-N.csv`` and ``extraction.shard-I-of-N.json``
    for shard ``I`` of ``N``."""
    if num_shards == 1:
        return MANIFEST_NAME, SETTINGS_NAME
    tag = f"shard-{shard_index}-of-{num_shards}"
    return f"manifest.{tag}.csv", f"extraction.{tag}.json"


def _remove_leftovers(out_dir, *, owned=None, own_files=(MANIFEST_NAME, SETTINGS_NAME)):
    """Removes the temporary files a killed extraction left (``*.tmp`` next to patches and manifest).

    Args:
        owned: None (every leftover is ours), or the relative patch paths of this shard: in an
            ``out_dir`` shared by shards only the leftovers of our own patches and files go.
        own_files: this shard's manifest and settings names.
    """
    for folder in (out_dir, *(os.path.join(out_dir, name) for name in CLASS_NAMES)):
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            if not name.endswith(".tmp"):
                continue
            if owned is not None:
                stem = name[1:].rsplit(".", 2)[0] if name.startswith(".") else name.rsplit(".", 2)[0]
                relative = stem if folder == out_dir else f"{os.path.basename(folder)}/{stem}"
                if relative not in owned and stem not in own_files:
                    continue
            os.remove(os.path.join(folder, name))


def _remove_extraction(out_dir, *, manifest_name=MANIFEST_NAME, settings_name=SETTINGS_NAME, rows=None):
    """Removes an earlier extraction from ``out_dir``: its class folders (or, for a shard, the
    patches its manifest ``rows`` list), manifest and settings."""
    if rows is None:
        for name in CLASS_NAMES:
            shutil.rmtree(os.path.join(out_dir, name), ignore_errors=True)
    else:
        for row in rows:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(out_dir, row["path"]))
    for name in (manifest_name, settings_name):
        path = os.path.join(out_dir, name)
        if os.path.isfile(path):
            os.remove(path)
    _remove_leftovers(out_dir, owned=None if rows is None else {row["path"] for row in rows},
                      own_files=(manifest_name, settings_name))


def read_settings(out_dir, name=SETTINGS_NAME):
    """Returns the settings an extraction in ``out_dir`` was made with (``extraction.json``, or a
    shard's settings file ``name``), or None."""
    path = os.path.join(os.fspath(out_dir), name)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except ValueError:
            return {}


def _differences(old, new):
    keys = sorted(set(old) | set(new))
    return ", ".join(f"{key} {old.get(key)!r} -> {new.get(key)!r}" for key in keys if old.get(key) != new.get(key))


def _write_png_atomic(path, rgb):
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"Could not encode patch {path}")
    temporary = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(encoded.tobytes())
    os.replace(temporary, path)


def _write_patches(tasks):
    """Reads and writes a chunk of ``(slide, level, x, y, size, path)`` tasks; returns how many."""
    for slide_path, level, x, y, size, path in tasks:
        slide = _WORKER_SLIDES.get(slide_path)
        if slide is None:
            slide = _WORKER_SLIDES[slide_path] = openslide.OpenSlide(slide_path)
        _write_png_atomic(path, read_patch(slide, location=(x, y), level=level, size=size))
    return len(tasks)


def read_manifest(path):
    """Returns the rows of a patch manifest as a list of dicts of strings (empty if it is absent).

    Raises:
        ValueError: if the file exists but lacks the manifest columns.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(MANIFEST_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(
                f"Existing manifest {path} is not a patch manifest: it lacks columns {sorted(missing)}. "
                "Use another out_dir or remove the file."
            )
        return [{column: row[column] for column in MANIFEST_COLUMNS} for row in reader]


def write_manifest(path, rows):
    """Writes manifest rows atomically (temporary file, then rename), sorted by path."""
    path = os.fspath(path)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in sorted(rows, key=lambda row: row["path"]):
        writer.writerow(row)
    _write_text_atomic(path, buffer.getvalue())


@dataclasses.dataclass
class ExtractionSummary:
    """What `extract_patches` found and kept, per slide and level (Fernández 2021, Table 1).

    Attributes:
        rows: list of dicts with ``slide, level, tumor_found, normal_found, tumor_kept,
            normal_kept, excluded, ambiguous``, one per slide and level, then one ``slide="all"``
            row per level.
        manifest_path: the manifest written.
        written: patches written by this call.
        skipped_existing: selected patches already on disk and in the manifest (resume).
    """

    rows: list
    manifest_path: str
    written: int
    skipped_existing: int

    def table(self):
        """Returns the summary as a fixed-width text table."""
        header = ("slide", "level", "tumor found", "normal found", "tumor kept", "normal kept",
                  "excluded", "ambiguous")
        keys = ("slide", "level", "tumor_found", "normal_found", "tumor_kept", "normal_kept",
                "excluded", "ambiguous")
        cells = [header] + [tuple(str(row[key]) for key in keys) for row in self.rows]
        widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                           for i, (cell, width) in enumerate(zip(line, widths))) for line in cells]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(lines)

    def __str__(self):
        return (f"{self.table()}\n{self.written} patches written, {self.skipped_existing} already "
                f"present, manifest: {self.manifest_path}")


def _check_options(*, levels, patch_size, stride, min_tissue_fraction, positive_threshold,
                   negative_threshold, ambiguous, max_per_class, num_workers, mask_downsample, verbose):
    if not levels or any(not isinstance(level, (int, np.integer)) or level < 0 for level in levels):
        raise ValueError(f"levels must be non-negative integers. Received: levels={levels!r}")
    if not isinstance(patch_size, (int, np.integer)) or patch_size < 1:
        raise ValueError(f"patch_size must be a positive integer. Received: patch_size={patch_size!r}")
    if stride is not None and (not isinstance(stride, (int, np.integer)) or stride < 1):
        raise ValueError(f"stride must be a positive integer or None. Received: stride={stride!r}")
    if not 0.0 <= min_tissue_fraction <= 1.0:
        raise ValueError(f"min_tissue_fraction must be in [0, 1]. Received: min_tissue_fraction={min_tissue_fraction}")
    if not 0.0 < positive_threshold <= 1.0:
        raise ValueError(f"positive_threshold must be in (0, 1]. Received: positive_threshold={positive_threshold}")
    if not 0.0 <= negative_threshold < positive_threshold:
        raise ValueError(
            f"negative_threshold must be in [0, positive_threshold). Received: negative_threshold={negative_threshold}"
        )
    if ambiguous not in _AMBIGUOUS_RULES:
        raise ValueError(f"ambiguous must be one of {_AMBIGUOUS_RULES}. Received: ambiguous={ambiguous!r}")
    if max_per_class is not None and (not isinstance(max_per_class, (int, np.integer)) or max_per_class < 1):
        raise ValueError(f"max_per_class must be a positive integer or None. Received: max_per_class={max_per_class!r}")
    if not isinstance(num_workers, (int, np.integer)) or num_workers < 1:
        raise ValueError(f"num_workers must be a positive integer. Received: num_workers={num_workers!r}")
    if not mask_downsample >= 1:
        raise ValueError(f"mask_downsample must be >= 1. Received: mask_downsample={mask_downsample}")
    if verbose not in (0, 1):
        raise ValueError(f"verbose must be 0 or 1. Received: verbose={verbose!r}")


def _check_group_labels(group_labels):
    group_labels = dict(annotations_lib.DEFAULT_GROUP_LABELS if group_labels is None else group_labels)
    for group, label in group_labels.items():
        if label not in annotations_lib.REGION_LABELS:
            raise ValueError(
                f"group_labels maps {group!r} to {label!r}, which is not a region label; use one of "
                f"{annotations_lib.REGION_LABELS}. Received: group_labels={group_labels!r}"
            )
    return group_labels


def _aligned_annotations(slides, annotations):
    if annotations is None:
        return [None] * len(slides)
    if isinstance(annotations, (str, os.PathLike)):
        annotations = [annotations]
    annotations = [None if a is None else os.fspath(a) for a in annotations]
    if len(annotations) != len(slides):
        raise ValueError(
            f"annotations must give one entry (a file or None) per slide: {len(slides)} slide(s). "
            f"Received: annotations={annotations!r}"
        )
    return annotations


def extract_patches(slides, out_dir, *, annotations=None, levels=(0, 1), patch_size=256, stride=None,
                    min_tissue_fraction=0.5, positive_threshold=0.5, negative_threshold=0.0,
                    ambiguous="skip", group_labels=None, balance=True, max_per_class=None, seed=0,
                    num_workers=1, mask_downsample=32.0, min_saturation=10, max_saturation=20,
                    overwrite=False, verbose=1, num_shards=1, shard_index=0):
    """Extracts labelled, class-balanced patches from whole-slide images (Fernández et al. 2021).

    Every slide is tiled at each level into ``patch_size`` patches (level-0 coordinates); patches
    with too little tissue or touching an exclusion region are dropped; the rest are labelled by the
    fraction inside tumour annotations; per level, pooled over the slides, the classes are balanced
    by seeded random subsampling (Table 1 of the paper); the kept patches are written as PNG files
    in ``out_dir/tumor`` and ``out_dir/normal`` plus ``out_dir/manifest.csv``.

    Everything is validated before anything is written. Patch files are written under temporary
    names and renamed; the manifest is replaced atomically (and checkpointed during long runs). A
    second call with the same settings (``extraction.json``) skips patches listed in the manifest
    and present on disk, so an interrupted run resumes; a call with other settings into the same
    ``out_dir`` is refused unless ``overwrite=True``, which starts clean (the old patches would
    otherwise mix with the new ones in one manifest).

    Args:
        slides: a slide path or a list of them (any format OpenSlide reads); file stems must differ.
        out_dir: output directory (created).
        annotations: None, or one annotation file (ASAP XML / GeoJSON) or None per slide; a slide
            without annotations has no tumour (all its patches are normal).
        levels: pyramid levels to tile.
        patch_size: patch side in pixels of the level.
        stride: step between patches in pixels of the level; ``patch_size`` when None.
        min_tissue_fraction: minimum tissue fraction of a kept patch.
        positive_threshold: ``tumor_fraction >= positive_threshold`` -> ``"tumor"``.
        negative_threshold: ``tumor_fraction <= negative_threshold`` -> ``"normal"``.
        ambiguous: patches in between: ``"skip"`` (default), or labelled ``"tumor"``/``"normal"``.
        group_labels: annotation group -> label (``"tumor"``, ``"exclude"`` or ``"ignore"``);
            `annotations.DEFAULT_GROUP_LABELS` if None. An annotation in a group it does not map is
            an error naming the groups found (never silently normal tissue).
        balance: subsample each class to the smallest class count per level (warns when a class is
            empty, since nothing is then kept at that level).
        max_per_class: cap on the patches per class and level (after balancing), or None.
        seed: seed of the subsampling.
        num_workers: worker processes reading and writing patches (1: in this process).
        mask_downsample: level-0 pixels per tissue-mask pixel.
        min_saturation: floor of the tissue saturation threshold (0-255).
        max_saturation: ceiling of the tissue saturation threshold (0-255), keeps faint tissue.
        overwrite: remove an extraction made with other settings from ``out_dir`` and start clean.
        verbose: 1 shows progress bars and prints the summary; 0 is silent.
        num_shards: machines sharing the job (a SLURM job array, a Kubernetes Indexed Job). Every
            shard plans every slide (cheap: thumbnails) and selects the same patches, sorts them by
            path and writes positions ``shard_index, shard_index + num_shards, ...``, so the shards
            are disjoint, complete together, and give the patches of one unsharded run whatever
            ``num_shards``. A shard writes its patches into ``out_dir`` (shared, or copied together
            afterwards) with its own ``manifest.shard-I-of-N.csv`` and settings file; it resumes
            and overwrites only its own files. :func:`merge_manifests` then writes ``manifest.csv``.
        shard_index: this shard, in ``[0, num_shards)``.

    Returns:
        An `ExtractionSummary`.

    Raises:
        FileNotFoundError: if a slide or annotation file is missing.
        ValueError: on a bad argument, unreadable slide, level out of range, malformed annotation
            file, unmapped annotation group, annotation far outside its slide, or an
            ``out_dir/manifest.csv`` that is not a manifest.
        FileExistsError: if ``out_dir`` holds an extraction made with other (or unknown) settings
            and ``overwrite`` is False.
    """
    if isinstance(slides, (str, os.PathLike)):
        slides = [slides]
    slides = [os.fspath(slide) for slide in slides]
    if not slides:
        raise ValueError(f"slides must name at least one slide. Received: slides={slides!r}")
    levels = tuple(levels) if not isinstance(levels, (int, np.integer)) else (levels,)
    _check_options(levels=levels, patch_size=patch_size, stride=stride,
                   min_tissue_fraction=min_tissue_fraction, positive_threshold=positive_threshold,
                   negative_threshold=negative_threshold, ambiguous=ambiguous,
                   max_per_class=max_per_class, num_workers=num_workers,
                   mask_downsample=mask_downsample, verbose=verbose)
    names = [os.path.splitext(os.path.basename(slide))[0] for slide in slides]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"slides must have distinct file names; repeated: {duplicates}. Received: slides={slides!r}")
    annotation_files = _aligned_annotations(slides, annotations)
    group_labels = _check_group_labels(group_labels)
    num_shards = check_positive_int(num_shards, "num_shards")
    shard_index = check_int_in_range(shard_index, "shard_index", low=0, high=num_shards, high_name="num_shards")
    manifest_name, settings_name = shard_file_names(shard_index, num_shards)
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False. Received: overwrite={overwrite!r}")
    out_dir = os.fspath(out_dir)
    manifest_path = os.path.join(out_dir, manifest_name)
    existing_rows = read_manifest(manifest_path)
    settings = {
        "slides": [os.path.abspath(slide) for slide in slides],
        "annotations": [None if a is None else os.path.abspath(a) for a in annotation_files],
        "levels": [int(level) for level in levels], "patch_size": int(patch_size),
        "stride": None if stride is None else int(stride), "min_tissue_fraction": float(min_tissue_fraction),
        "positive_threshold": float(positive_threshold), "negative_threshold": float(negative_threshold),
        "ambiguous": ambiguous, "group_labels": dict(sorted(group_labels.items())), "balance": bool(balance),
        "max_per_class": None if max_per_class is None else int(max_per_class), "seed": int(seed),
        "mask_downsample": float(mask_downsample), "min_saturation": int(min_saturation),
        "max_saturation": int(max_saturation),
    }
    previous = read_settings(out_dir, name=settings_name)
    start_clean = False
    if (existing_rows or previous is not None) and previous != settings:
        if not overwrite:
            what = (f"other settings ({_differences(previous, settings)})" if previous
                    else f"unknown settings (a manifest of {len(existing_rows)} rows and no {SETTINGS_NAME})")
            raise FileExistsError(
                f"{out_dir} holds patches extracted with {what}; adding to them would mix two "
                "extractions in one manifest. Re-run with the same settings to resume, pass overwrite=True "
                "(--overwrite) to start clean, or choose another out_dir."
            )
        start_clean = True

    plan_options = dict(
        levels=levels, patch_size=patch_size, stride=stride, min_tissue_fraction=min_tissue_fraction,
        positive_threshold=positive_threshold, negative_threshold=negative_threshold, ambiguous=ambiguous,
        group_labels=group_labels, mask_downsample=mask_downsample, min_saturation=min_saturation,
        max_saturation=max_saturation,
    )
    with _worker_pool(num_workers) as pool:
        plans = _plan_slides(slides, annotation_files, pool=pool, verbose=verbose, **plan_options)
        selected = _select(plans, levels=levels, balance=balance, max_per_class=max_per_class, seed=seed)
        candidates = []
        for plan, index in selected:
            x, y = (int(value) for value in plan.xy[index])
            label = str(plan.labels[index])
            relative = f"{label}/" + patch_file_name(slide_name=plan.slide_name, level=plan.level, x=x, y=y,
                                                     size=plan.size)
            candidates.append((relative, plan, index, x, y, label))
        candidates.sort(key=lambda candidate: candidate[0])
        candidates = candidates[shard_index::num_shards]
        if start_clean:  # validated: now the old extraction (this shard's) can go
            _remove_extraction(out_dir, manifest_name=manifest_name, settings_name=settings_name,
                               rows=existing_rows if num_shards > 1 else None)
            existing_rows = []
        rows_by_path = {row["path"]: row for row in existing_rows
                        if os.path.isfile(os.path.join(out_dir, row["path"]))}
        tasks, new_rows, skipped = [], [], 0
        for relative, plan, index, x, y, label in candidates:
            if relative in rows_by_path:
                skipped += 1
                continue
            tasks.append((plan.slide, plan.level, x, y, plan.size, os.path.join(out_dir, relative)))
            new_rows.append({
                "path": relative, "label": label, "slide": plan.slide_name, "level": str(plan.level),
                "x": str(x), "y": str(y), "size": str(plan.size),
                "tumor_fraction": f"{plan.tumor_fraction[index]:.4f}",
                "tissue_fraction": f"{plan.tissue_fraction[index]:.4f}",
            })

        os.makedirs(out_dir, exist_ok=True)
        for name in CLASS_NAMES:
            os.makedirs(os.path.join(out_dir, name), exist_ok=True)
        owned = {relative for relative, *_ in candidates} if num_shards > 1 else None
        _remove_leftovers(out_dir, owned=owned, own_files=(manifest_name, settings_name))
        if previous != settings:
            _write_text_atomic(os.path.join(out_dir, settings_name), json.dumps(settings, indent=2) + "\n")
        try:
            written = _run_tasks(tasks, new_rows, rows_by_path, manifest_path=manifest_path, pool=pool,
                                 num_workers=num_workers, verbose=verbose)
        finally:  # an interrupted run leaves a manifest of what landed, so the next call resumes
            write_manifest(manifest_path, list(rows_by_path.values()))
    summary = ExtractionSummary(rows=_summary_rows(plans, selected, levels), manifest_path=manifest_path,
                                written=written, skipped_existing=skipped)
    if verbose:
        print(summary)
    return summary


def _select(plans, *, levels, balance, max_per_class, seed):
    """Returns ``(plan, index)`` pairs kept after per-level balancing (pooled over slides)."""
    selected = []
    for level_position, level in enumerate(levels):
        level_plans = [plan for plan in plans if plan.level == level]
        owners = [(plan, index) for plan in level_plans for index in range(len(plan.xy))]
        labels = np.array([plan.labels[index] for plan, index in owners], dtype=str)
        if balance and len(labels):
            for name in CLASS_NAMES:
                if not np.any(labels == name):
                    warnings.warn(
                        f"No {name} patches found at level {level}; balancing keeps none of this level. "
                        "Pass balance=False (--no-balance on the command line) to keep the patches "
                        "of the other class.",
                        stacklevel=3,
                    )
        kept = subsample_indices(labels, balance=balance, max_per_class=max_per_class,
                                 seed=seed + level_position)
        selected.extend(owners[i] for i in kept)
    return selected


def _run_tasks(tasks, new_rows, rows_by_path, *, manifest_path, pool, num_workers, verbose):
    """Writes the patches, adding their rows to ``rows_by_path`` as they land; returns the count.

    Chunks hold consecutive tasks (sorted by path, so mostly one slide), and each worker encodes
    and writes its own PNGs: the parent only collects counts and checkpoints the manifest.
    """
    chunk_size = max(1, min(64, len(tasks) // (4 * num_workers) or 1))
    chunks = [(tasks[i:i + chunk_size], new_rows[i:i + chunk_size]) for i in range(0, len(tasks), chunk_size)]
    written = 0
    last_checkpoint = time.monotonic()
    with tqdm(total=len(tasks), desc="Writing patches", unit="patch", disable=not verbose) as progress:
        def landed(count, chunk_rows):
            nonlocal written, last_checkpoint
            written += count
            rows_by_path.update((row["path"], row) for row in chunk_rows)
            progress.update(count)
            if time.monotonic() - last_checkpoint > _CHECKPOINT_SECONDS:
                write_manifest(manifest_path, list(rows_by_path.values()))
                last_checkpoint = time.monotonic()

        if pool is None:
            for chunk_tasks, chunk_rows in chunks:
                landed(_write_patches(chunk_tasks), chunk_rows)
            return written
        futures = {pool.submit(_write_patches, chunk_tasks): chunk_rows for chunk_tasks, chunk_rows in chunks}
        try:
            for future in concurrent.futures.as_completed(futures):
                landed(future.result(), futures[future])
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return written


def _plan_slides(slides, annotation_files, *, pool, verbose, **options):
    """Plans every slide (thumbnail, tissue mask, labels), in the worker processes when there are
    some: with many slides, planning in the parent alone was the serial part of the job."""
    pairs = list(zip(slides, annotation_files))
    with tqdm(total=len(pairs), desc="Planning slides", unit="slide", disable=not verbose) as progress:
        if pool is None:
            results = []
            for slide, annotation_file in pairs:
                results.append(plan_slide(slide, annotation_path=annotation_file, **options))
                progress.update(1)
        else:
            futures = [pool.submit(_plan_one, slide, annotation_file, options) for slide, annotation_file in pairs]
            for future in concurrent.futures.as_completed(futures):
                progress.update(1)
            results = [future.result() for future in futures]  # slide order, whatever finished first
    return [plan for plans in results for plan in plans]


def _plan_one(slide, annotation_file, options):
    return plan_slide(slide, annotation_path=annotation_file, **options)


def _summary_rows(plans, selected, levels):
    kept = {}
    for plan, index in selected:
        key = (plan.slide_name, plan.level, str(plan.labels[index]))
        kept[key] = kept.get(key, 0) + 1
    rows = []
    for plan in plans:
        rows.append({
            "slide": plan.slide_name, "level": plan.level,
            "tumor_found": int(np.sum(plan.labels == TUMOR)), "normal_found": int(np.sum(plan.labels == NORMAL)),
            "tumor_kept": kept.get((plan.slide_name, plan.level, TUMOR), 0),
            "normal_kept": kept.get((plan.slide_name, plan.level, NORMAL), 0),
            "excluded": plan.excluded, "ambiguous": plan.ambiguous,
        })
    for level in levels:
        level_rows = [row for row in rows if row["level"] == level]
        total = {"slide": "all", "level": level}
        for key in ("tumor_found", "normal_found", "tumor_kept", "normal_kept", "excluded", "ambiguous"):
            total[key] = sum(row[key] for row in level_rows)
        rows.append(total)
    return rows


_SHARD_MANIFEST = re.compile(r"^manifest\.shard-(\d+)-of-(\d+)\.csv$")


def merge_manifests(out_dir, *, num_shards=None):
    """Joins the manifests of the shards of one extraction into ``out_dir/manifest.csv``.

    The shards' patches must all be in ``out_dir`` (a shared file system, or copied together).
    Checks that every shard ``0 .. N-1`` is there, that they were made with the same settings, that
    no patch is listed twice and that every listed patch file exists; then writes ``manifest.csv``
    and ``extraction.json``, the same files an unsharded run writes.

    Args:
        out_dir: the extraction folder holding ``manifest.shard-I-of-N.csv`` files.
        num_shards: the expected number of shards, or None to take it from the files.

    Returns:
        A dict: ``manifest_path``, ``num_shards``, ``rows`` (patches listed), ``per_shard`` (rows
        per shard).

    Raises:
        FileNotFoundError: if ``out_dir`` has no shard manifest, or a listed patch file is missing.
        ValueError: for shards missing, of different counts or settings, or a patch listed twice.
    """
    out_dir = os.fspath(out_dir)
    num_shards = check_positive_int(num_shards, "num_shards", allow_none=True)
    found = {}
    for name in sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else []:
        match = _SHARD_MANIFEST.match(name)
        if match:
            found[(int(match.group(1)), int(match.group(2)))] = name
    if not found:
        raise FileNotFoundError(f"No shard manifests (manifest.shard-I-of-N.csv) in {out_dir}")
    counts = sorted({n for _, n in found})
    if len(counts) > 1:
        raise ValueError(f"{out_dir} holds shards of different extractions (of {counts} shards); "
                         "merge one set at a time.")
    total = counts[0] if num_shards is None else int(num_shards)
    if counts[0] != total:
        raise ValueError(f"{out_dir} holds shards of {counts[0]}, not {total}. Received: num_shards={num_shards}")
    missing = [i for i in range(total) if (i, total) not in found]
    if missing:
        raise ValueError(f"Shard(s) {missing} of {total} missing in {out_dir} (no manifest.shard-I-of-{total}.csv): "
                         "run them, or wait for them to finish, before merging.")
    settings = None
    owner, per_shard = {}, []
    for index in range(total):
        manifest_name, settings_name = shard_file_names(index, total)
        shard_settings = read_settings(out_dir, name=settings_name)
        if shard_settings is None:
            raise ValueError(f"Shard {index} of {total} in {out_dir} has no {settings_name}.")
        if settings is None:
            settings = shard_settings
        elif shard_settings != settings:
            raise ValueError(f"Shard {index} of {total} was extracted with other settings than shard 0 "
                             f"({_differences(settings, shard_settings)}).")
        rows = read_manifest(os.path.join(out_dir, manifest_name))
        per_shard.append(len(rows))
        for row in rows:
            if row["path"] in owner:
                raise ValueError(f"Patch {row['path']} is listed by shards {owner[row['path']][0]} and {index}.")
            owner[row["path"]] = (index, row)
    absent = [path for path in owner if not os.path.isfile(os.path.join(out_dir, path))]
    if absent:
        raise FileNotFoundError(f"{len(absent)} patch file(s) listed by the shards are not in {out_dir}, "
                                f"e.g. {absent[0]} (shard {owner[absent[0]][0]}).")
    manifest_path = os.path.join(out_dir, MANIFEST_NAME)
    write_manifest(manifest_path, [row for _, row in owner.values()])
    _write_text_atomic(os.path.join(out_dir, SETTINGS_NAME), json.dumps(settings, indent=2) + "\n")
    return {"manifest_path": manifest_path, "num_shards": total, "rows": len(owner), "per_shard": per_shard}
