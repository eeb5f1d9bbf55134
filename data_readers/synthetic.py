"""The embedded default data set: procedurally drawn images of stained blood smears.

No real medical data set can be downloaded with the toolkit, so it ships a generator of synthetic
white-blood-cell images in the spirit of the CellaVision data of Klang & Carlberg (master thesis,
"Blood Cell Data Augmentation using Deep Learning Methods"): one white cell in the centre of a pale
field of overlapping red cells, in 8 classes named after real white-cell types, with an imbalanced
class distribution like the thesis's Tables 5-6 (there 30-50x between the commonest and the rarest
class; here 20x by default).

Drawing model: every object adds optical density (a stain colour times a density map) and the image
is the background light attenuated by it (Beer-Lambert, ``I = I0 * exp(-OD)``), so overlapping red
cells get darker where they overlap and granules darken whatever lies below, as on a real smear.
Shapes are drawn in normalised coordinates (fractions of the image side) at a working resolution of
at least 128 px and at least twice the output size, then area-averaged down, so an image looks the
same at 32, 64 or 256 px. Every image is a pure function of ``(class, image_size, seed)``; a data set
derives each image's seed from ``(seed, class, index)``, so an image does not depend on how many
others are generated or in which order.

Only numpy and OpenCV are used; nothing here imports ganaug or TensorFlow.
"""

import csv
import json
import math
import numbers
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

GENERATOR_VERSION = "1.0"
"""Bumped whenever a change to the drawing changes the pixels of any image."""

CLASS_NAMES = (
    "band_neutrophil",
    "basophil",
    "eosinophil",
    "large_granular_lymphocyte",
    "lymphocyte",
    "monocyte",
    "neutrophil",
    "smudge_cell",
)
"""The classes, sorted like the folder names a folder reader sorts, so class indices agree."""

DEFAULT_CLASS_RATIOS = {
    "neutrophil": 20.0,
    "lymphocyte": 14.0,
    "monocyte": 6.0,
    "band_neutrophil": 4.0,
    "eosinophil": 3.0,
    "large_granular_lymphocyte": 2.5,
    "smudge_cell": 1.5,
    "basophil": 1.0,
}
"""Relative class frequencies. Segmented neutrophils are the thesis's class 0 and its largest GAN
training class (39,931 images, Table 5), band neutrophils class 1 (10,035, a quarter of it), and its
rarest classes hold 1,240-2,904 images; the commonest class is here 20 times the rarest (basophils,
also the rarest white cell in blood); the thesis's tables span 32x (Table 5) and 49x (Table 6)."""

REGION_NAMES = ("background", "red_cell", "cytoplasm", "nucleus", "granules")
"""The labels of a mask (``render_blood_cell_with_mask``), by index: the regions the drawing paints.
"cytoplasm" is the white cell's cytoplasm; red cells have none of their own."""

MASK_THRESHOLDS = {"red_cell": 0.2, "cytoplasm": 0.4, "nucleus": 0.4, "granules": 0.3}
"""A pixel belongs to a region when the region's density map, area-averaged to the output size
(the fraction of the pixel it covers, times its drawing weight), exceeds the threshold; later
regions in ``REGION_NAMES`` win where several do (granules over nucleus over cytoplasm over red
cells). Red cells and granules have lower thresholds: red cells have pale centres (density
0.35-0.6 of the rim) and granules are often smaller than a pixel."""

MIN_IMAGE_SIZE = 16
MASKS_FOLDER = "masks"
MANIFEST_FILE = "manifest.csv"
DATASET_FILE = "dataset.json"

_SHIFT = 4  # OpenCV fixed-point bits: shapes are placed with 1/16 px precision
_ONE = 1 << _SHIFT
_MIN_WORKING_SIZE = 128


def _od(rgb):
    """Optical density of a stain that turns white light into ``rgb`` (0-255) at full density."""
    return -np.log(np.asarray(rgb, dtype=np.float32) / 255.0)


_RED_CELL_OD = _od((228, 150, 158))
_NUCLEUS_OD = _od((92, 46, 138))
_CLASS_COLOURS = {
    # name: (cytoplasm RGB, nucleus RGB, granule RGB or None)
    "neutrophil": ((236, 206, 216), (92, 46, 138), (205, 150, 185)),
    "band_neutrophil": ((236, 206, 216), (92, 46, 138), (205, 150, 185)),
    "lymphocyte": ((160, 192, 236), (70, 34, 118), None),
    "large_granular_lymphocyte": ((184, 208, 240), (78, 40, 126), (165, 55, 125)),
    "monocyte": ((192, 188, 218), (122, 82, 162), None),
    "eosinophil": ((238, 204, 196), (88, 44, 134), (232, 118, 66)),
    "basophil": ((214, 194, 222), (90, 46, 136), (66, 28, 108)),
    "smudge_cell": ((236, 226, 236), (140, 96, 176), None),
}


# --------------------------------------------------------------------------------------------------
# Argument checks


def _check_image_size(image_size):
    if isinstance(image_size, bool) or not isinstance(image_size, numbers.Integral):
        raise TypeError(f"image_size must be an integer. Received: image_size={image_size!r}")
    if image_size < MIN_IMAGE_SIZE:
        raise ValueError(
            f"image_size must be at least {MIN_IMAGE_SIZE}. Received: image_size={image_size}"
        )
    return int(image_size)


def _check_seed(seed, name="seed"):
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be an integer. Received: {name}={seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be non-negative. Received: {name}={seed}")
    return int(seed)


def _class_index(class_index_or_name, name="class_index_or_name"):
    if isinstance(class_index_or_name, str):
        if class_index_or_name not in CLASS_NAMES:
            raise ValueError(
                f"Unknown class; expected one of {list(CLASS_NAMES)}. "
                f"Received: {name}={class_index_or_name!r}"
            )
        return CLASS_NAMES.index(class_index_or_name)
    if isinstance(class_index_or_name, bool) or not isinstance(
        class_index_or_name, numbers.Integral
    ):
        raise TypeError(
            f"A class is given by its name or index. Received: {name}={class_index_or_name!r}"
        )
    if not 0 <= class_index_or_name < len(CLASS_NAMES):
        raise ValueError(
            f"Class index must be in [0, {len(CLASS_NAMES) - 1}]. "
            f"Received: {name}={class_index_or_name}"
        )
    return int(class_index_or_name)


def _per_class_values(values, name):
    """Turns a {class_name: number} mapping or a per-class sequence into a list in CLASS_NAMES order."""
    if isinstance(values, dict):
        for key in values:
            _class_index(key, name=f"{name} key")
        result = [values.get(class_name, 0) for class_name in CLASS_NAMES]
    elif isinstance(values, (list, tuple, np.ndarray)):
        if len(values) != len(CLASS_NAMES):
            raise ValueError(
                f"{name} must have one value per class ({len(CLASS_NAMES)}). "
                f"Received: {name}={list(values)!r}"
            )
        result = list(values)
    else:
        raise TypeError(
            f"{name} must be a dict {{class_name: value}} or a sequence. Received: {name}={values!r}"
        )
    for value in result:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise TypeError(f"{name} values must be finite numbers. Received: {name}={values!r}")
        if value < 0:
            raise ValueError(f"{name} values must be non-negative. Received: {name}={values!r}")
    if sum(result) <= 0:
        raise ValueError(f"{name} must have at least one positive value. Received: {name}={values!r}")
    return result


# --------------------------------------------------------------------------------------------------
# Seeds and counts


def image_seed(seed, class_index_or_name, index):
    """Returns the seed of one image of a data set, derived from ``(seed, class, index)``.

    The image does not depend on how many other images are generated or in which order:
    ``render_blood_cell(class_name, image_size=..., seed=image_seed(seed, class_name, index))`` is the
    file ``<class_name>/<class_name>_<index>.png`` of ``make_blood_cell_dataset(..., seed=seed)``.

    Args:
        seed: the data set's seed, a non-negative integer.
        class_index_or_name: a name from ``CLASS_NAMES`` or its index.
        index: the image's index within its class, a non-negative integer.

    Returns:
        A non-negative Python int below 2**63.

    Raises:
        ValueError, TypeError: for a bad argument.
    """
    seed = _check_seed(seed)
    class_index = _class_index(class_index_or_name)
    index = _check_seed(index, name="index")
    state = np.random.SeedSequence([seed, class_index, index]).generate_state(1, dtype=np.uint64)
    return int(state[0] >> np.uint64(1))


def class_counts(num_images, ratios=None):
    """Returns how many images each class gets when ``num_images`` are split by ``ratios``.

    Largest-remainder rounding, so the counts add up to exactly ``num_images``; every class with a
    positive ratio gets at least one image when there are enough images to go round.

    Args:
        num_images: the total number of images, a positive integer.
        ratios: relative class frequencies, a dict ``{class_name: ratio}`` (missing classes get 0)
            or a sequence in ``CLASS_NAMES`` order; ``DEFAULT_CLASS_RATIOS`` when None.

    Returns:
        A dict ``{class_name: count}`` over all of ``CLASS_NAMES``, in that order.

    Raises:
        ValueError, TypeError: for a bad argument (the message names it).
    """
    if isinstance(num_images, bool) or not isinstance(num_images, numbers.Integral):
        raise TypeError(f"num_images must be an integer. Received: num_images={num_images!r}")
    if num_images < 1:
        raise ValueError(f"num_images must be positive. Received: num_images={num_images}")
    weights = np.asarray(
        _per_class_values(DEFAULT_CLASS_RATIOS if ratios is None else ratios, "ratios"),
        dtype=np.float64,
    )
    exact = num_images * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    remainder = exact - counts
    order = np.lexsort((np.arange(len(weights)), -remainder))  # stable: ties go to the first class
    counts[order[: num_images - counts.sum()]] += 1
    positive = weights > 0
    if num_images >= positive.sum():
        while np.any(counts[positive] == 0):
            counts[np.argmax(counts)] -= 1
            counts[np.flatnonzero(positive & (counts == 0))[0]] += 1
    return {name: int(count) for name, count in zip(CLASS_NAMES, counts)}


# --------------------------------------------------------------------------------------------------
# Drawing primitives (normalised coordinates -> fixed-point pixels of a `size` x `size` canvas)


def _fixed(values, size):
    """Normalised coordinates/lengths (any shape) as OpenCV fixed-point integers (nested lists)."""
    return np.round(np.asarray(values, dtype=np.float64) * (size * _ONE)).astype(np.int64).tolist()


def _fill_ellipse(canvas, centre, axes, angle, value, size):
    scale = size * _ONE
    x, y = int(round(centre[0] * scale)), int(round(centre[1] * scale))
    a, b = int(round(axes[0] * scale)), int(round(axes[1] * scale))
    cv2.ellipse(
        canvas, (x, y), (max(a, 1), max(b, 1)), float(np.degrees(angle)), 0, 360, float(value), -1,
        cv2.LINE_8, _SHIFT,
    )


def _fill_circles(canvas, centres, radii, values, size):
    """Draws filled discs; ``radii`` and ``values`` are scalars or one per centre."""
    centres = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
    count = len(centres)
    radii = _fixed(np.broadcast_to(radii, (count,)), size)
    values = np.broadcast_to(np.asarray(values, dtype=np.float64), (count,)).tolist()
    for (x, y), radius, value in zip(_fixed(centres, size), radii, values):
        cv2.circle(canvas, (x, y), max(radius, 1), value, -1, cv2.LINE_8, _SHIFT)


def _fill_circle(canvas, centre, radius, value, size):
    _fill_circles(canvas, [centre], radius, value, size)


def _fill_polygon(canvas, points, value, size):
    fixed = np.round(np.asarray(points) * size * _ONE).astype(np.int32)
    cv2.fillPoly(canvas, [fixed], float(value), cv2.LINE_8, _SHIFT)


def _blob_outline(rng, centre, radius, *, irregularity, aspect=1.0, angle=0.0, num_points=48):
    """Points of a closed wobbly ellipse (harmonics 2-5 of random phase) around ``centre``."""
    theta = np.linspace(0.0, 2.0 * np.pi, num_points, endpoint=False)
    r = np.ones_like(theta)
    for harmonic in (2, 3, 4, 5):
        r += irregularity * rng.normal() / harmonic * np.cos(harmonic * theta + rng.uniform(0, 2 * np.pi))
    x = radius * r * np.cos(theta) * aspect
    y = radius * r * np.sin(theta)
    cos_a, sin_a = np.cos(angle), np.sin(angle)
    return np.stack([centre[0] + cos_a * x - sin_a * y, centre[1] + sin_a * x + cos_a * y], axis=1)


def _stroke(canvas, points, width, value, size):
    """Draws a thick polyline through ``points`` as discs of radius ``width`` a third apart."""
    path = _resample_path(points, 0.33 * width)
    _fill_circles(canvas, path, width, value, size)


def _resample_path(points, step):
    """Points spaced about ``step`` apart along the polyline through ``points``."""
    points = np.asarray(points, dtype=np.float64)
    lengths = np.linalg.norm(np.diff(points, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(lengths)])
    samples = np.linspace(0.0, along[-1], max(int(along[-1] / step) + 2, 2))
    return np.stack([np.interp(samples, along, points[:, 0]), np.interp(samples, along, points[:, 1])], 1)


def _arc(centre, radius, start, span, num_points=24):
    angles = start + np.linspace(0.0, span, num_points)
    return np.stack([centre[0] + radius * np.cos(angles), centre[1] + radius * np.sin(angles)], axis=1)


def _smooth_noise(rng, size, cells):
    """A smooth random field of unit-ish amplitude: ``cells`` x ``cells`` normals, resized."""
    coarse = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)


def _granules(rng, canvas, centre, radius, count, granule_radius, size):
    """Scatters ``count`` round granules uniformly over the disc ``(centre, radius)``."""
    r = radius * np.sqrt(rng.uniform(0.0, 1.0, count))
    theta = rng.uniform(0.0, 2.0 * np.pi, count)
    sizes = granule_radius * rng.uniform(0.7, 1.3, count)
    values = rng.uniform(0.6, 1.0, count)
    centres = np.stack([centre[0] + r * np.cos(theta), centre[1] + r * np.sin(theta)], axis=1)
    _fill_circles(canvas, centres, sizes, values, size)


# --------------------------------------------------------------------------------------------------
# The scene


def _red_cells(rng, size):
    """Density map of the red-cell background: overlapping discs with paler centres."""
    count = int(rng.integers(16, 34))
    centres = rng.uniform(-0.12, 1.12, (count, 2))
    radii = rng.uniform(0.08, 0.118, count)
    aspects = rng.uniform(0.82, 1.0, count)
    angles = rng.uniform(0.0, np.pi, count)
    pale_sizes = rng.uniform(0.35, 0.6, count)
    pale_densities = rng.uniform(0.35, 0.6, count)
    weights = rng.uniform(0.75, 1.15, count)
    # Each disc is drawn on a small patch and added into a padded canvas (no clipping needed).
    margin = int(math.ceil(0.27 * size)) + 4
    half = int(math.ceil(0.12 * size)) + 2
    canvas = np.zeros((size + 2 * margin, size + 2 * margin), np.float32)
    patch = np.empty((2 * half, 2 * half), np.float32)
    pixels = centres * size + margin
    corners = pixels.astype(np.int64) - half
    local = np.round((pixels - corners) * _ONE).astype(np.int64).tolist()
    outer = np.round(np.stack([radii, radii * aspects], 1) * size * _ONE).astype(np.int64).tolist()
    inner = np.round(np.stack([radii, radii * aspects], 1) * pale_sizes[:, None] * size * _ONE)
    inner = inner.astype(np.int64).tolist()
    degrees = np.degrees(angles).tolist()
    corners = corners.tolist()
    for (x0, y0), centre, outer_axes, inner_axes, angle, weight, pale_density in zip(
        corners, local, outer, inner, degrees, weights.tolist(), pale_densities.tolist()
    ):
        patch.fill(0.0)
        cv2.ellipse(patch, centre, outer_axes, angle, 0, 360, weight, -1, cv2.LINE_8, _SHIFT)
        cv2.ellipse(patch, centre, inner_axes, angle, 0, 360, weight * pale_density, -1, cv2.LINE_8, _SHIFT)
        canvas[y0 : y0 + 2 * half, x0 : x0 + 2 * half] += patch
    return canvas[margin : margin + size, margin : margin + size]


class _Cell:
    """Density maps of one white cell: cytoplasm, nucleus and up to one kind of granule."""

    def __init__(self, size):
        self.cytoplasm = np.zeros((size, size), np.float32)
        self.nucleus = np.zeros((size, size), np.float32)
        self.granules = np.zeros((size, size), np.float32)
        self.granule_rgb = None  # override the class's granule / cytoplasm colour when set
        self.cytoplasm_rgb = None


def _draw_cytoplasm(rng, cell, centre, radius, angle, size, *, irregularity=0.05, aspect=None):
    aspect = rng.uniform(0.88, 1.0) if aspect is None else aspect
    outline = _blob_outline(rng, centre, radius, irregularity=irregularity, aspect=aspect, angle=angle)
    _fill_polygon(cell.cytoplasm, outline, 1.0, size)


def _neutrophil(rng, cell, centre, angle, size):
    """Segmented neutrophil: 3-5 lobes joined by thin strands, pale pink finely granular cytoplasm."""
    radius = rng.uniform(0.22, 0.27)
    _draw_cytoplasm(rng, cell, centre, radius, angle, size)
    num_lobes = int(rng.choice([2, 3, 4, 5], p=[0.04, 0.44, 0.4, 0.12]))
    arc_radius = radius * rng.uniform(0.38, 0.52)
    span = rng.uniform(0.55, 0.95) * np.pi * (num_lobes - 1) / 2.2
    start = angle - span / 2
    lobe_angles = start + np.linspace(0, span, num_lobes) + rng.normal(0, 0.12, num_lobes)
    lobe_centres = np.stack(
        [centre[0] + arc_radius * np.cos(lobe_angles), centre[1] + arc_radius * np.sin(lobe_angles)], 1
    )
    lobe_centres += rng.normal(0, 0.012, lobe_centres.shape)
    strand_width = radius * rng.uniform(0.03, 0.07)  # thick strands make it look like a band
    _stroke(cell.nucleus, lobe_centres, strand_width, 1.0, size)
    lobe_size = radius * rng.uniform(0.24, 0.32)
    for lobe in lobe_centres:
        axes = (lobe_size * rng.uniform(0.9, 1.15), lobe_size * rng.uniform(0.7, 0.95))
        _fill_ellipse(cell.nucleus, lobe, axes, rng.uniform(0, np.pi), 1.0, size)
    _granules(rng, cell.granules, centre, radius * 0.92, int(rng.integers(40, 90)), 0.0055, size)


def _band_neutrophil(rng, cell, centre, angle, size):
    """Band neutrophil: an unsegmented C- or S-shaped nucleus of even width, neutrophil cytoplasm."""
    radius = rng.uniform(0.22, 0.27)
    _draw_cytoplasm(rng, cell, centre, radius, angle, size)
    arc_radius = radius * rng.uniform(0.38, 0.52)
    if rng.uniform() < 0.75:  # C shape
        span = rng.uniform(0.8, 1.45) * np.pi
        path = _arc(centre, arc_radius, angle - span / 2, span)
    else:  # S shape: two opposite half arcs
        offset = arc_radius * 0.55
        direction = np.array([np.cos(angle), np.sin(angle)])
        first = _arc(centre - direction * offset, arc_radius * 0.55, angle, np.pi * 0.9, 14)
        second = _arc(centre + direction * offset, arc_radius * 0.55, angle + np.pi, -np.pi * 0.9, 14)
        path = np.concatenate([first[::-1], second])
    width = radius * rng.uniform(0.22, 0.3)
    path = _resample_path(path, 0.15 * width)
    t = np.linspace(0, 1, len(path))
    widths = width * (1.0 - 0.25 * (2 * t - 1) ** 4)  # rounded, slightly tapered ends
    for _ in range(int(rng.integers(0, 2))):  # a shallow constriction, never a true segment
        where = rng.uniform(0.25, 0.75)
        widths = widths * (1.0 - rng.uniform(0.1, 0.3) * np.exp(-(((t - where) / 0.05) ** 2)))
    _fill_circles(cell.nucleus, path, widths, 1.0, size)
    _granules(rng, cell.granules, centre, radius * 0.92, int(rng.integers(40, 90)), 0.0055, size)


def _lymphocyte(rng, cell, centre, angle, size):
    """Small lymphocyte: round dense nucleus filling most of the cell, thin rim of blue cytoplasm."""
    radius = rng.uniform(0.145, 0.2)
    _draw_cytoplasm(rng, cell, centre, radius, angle, size, irregularity=0.03)
    nucleus_radius = radius * rng.uniform(0.78, 0.9)
    shift = (radius - nucleus_radius) * rng.uniform(0, 0.8)
    nucleus_centre = centre + shift * np.array([np.cos(angle), np.sin(angle)])
    outline = _blob_outline(
        rng, nucleus_centre, nucleus_radius, irregularity=0.04, aspect=rng.uniform(0.88, 1.0), angle=angle
    )
    _fill_polygon(cell.nucleus, outline, 1.0, size)
    if rng.uniform() < 0.3:  # a small notch
        notch = nucleus_centre + nucleus_radius * np.array([np.cos(angle + 2.0), np.sin(angle + 2.0)])
        _fill_circle(cell.nucleus, notch, nucleus_radius * 0.2, 0.0, size)


def _large_granular_lymphocyte(rng, cell, centre, angle, size):
    """Large granular lymphocyte: more pale blue cytoplasm, eccentric round nucleus, few red granules."""
    radius = rng.uniform(0.19, 0.25)
    _draw_cytoplasm(rng, cell, centre, radius, angle, size, irregularity=0.06)
    nucleus_radius = radius * rng.uniform(0.58, 0.76)
    shift = (radius - nucleus_radius) * rng.uniform(0.3, 0.85)
    nucleus_centre = centre + shift * np.array([np.cos(angle), np.sin(angle)])
    outline = _blob_outline(
        rng, nucleus_centre, nucleus_radius, irregularity=0.05, aspect=rng.uniform(0.85, 1.0), angle=angle
    )
    _fill_polygon(cell.nucleus, outline, 1.0, size)
    away = centre - (radius * 0.45) * np.array([np.cos(angle), np.sin(angle)])
    _granules(rng, cell.granules, away, radius * 0.45, int(rng.integers(2, 11)), 0.009, size)


def _monocyte(rng, cell, centre, angle, size):
    """Monocyte: large cell, kidney- to horseshoe-shaped lacy nucleus, grey-blue cytoplasm, vacuoles."""
    radius = rng.uniform(0.25, 0.32)
    _draw_cytoplasm(rng, cell, centre, radius, angle, size, irregularity=0.09, aspect=rng.uniform(0.8, 1.0))
    axes = (radius * rng.uniform(0.58, 0.72), radius * rng.uniform(0.45, 0.58))
    _fill_ellipse(cell.nucleus, centre, axes, angle, 1.0, size)
    depth = rng.uniform(0.25, 0.85)  # indentation: bean (shallow) to horseshoe (deep)
    notch_centre = centre + (axes[1] * (1.25 - depth)) * np.array([-np.sin(angle), np.cos(angle)])
    notch_axes = (axes[0] * rng.uniform(0.35, 0.6), axes[1] * 0.6)
    _fill_ellipse(cell.nucleus, notch_centre, notch_axes, angle, 0.0, size)
    for _ in range(int(rng.integers(0, 7))):  # vacuoles
        r = radius * np.sqrt(rng.uniform(0.5, 0.85))
        theta = rng.uniform(0, 2 * np.pi)
        vacuole = centre + r * np.array([np.cos(theta), np.sin(theta)])
        _fill_circle(cell.cytoplasm, vacuole, radius * rng.uniform(0.04, 0.09), 0.35, size)


def _eosinophil(rng, cell, centre, angle, size):
    """Eosinophil: bilobed nucleus ('spectacles'), cytoplasm packed with large orange-red granules."""
    radius = rng.uniform(0.23, 0.28)
    _draw_cytoplasm(rng, cell, centre, radius, angle, size)
    direction = np.array([np.cos(angle), np.sin(angle)])
    separation = radius * rng.uniform(0.3, 0.45)
    bend = radius * rng.uniform(-0.15, 0.15) * np.array([-direction[1], direction[0]])
    lobes = [centre - direction * separation + bend, centre + direction * separation + bend]
    _stroke(cell.nucleus, lobes, radius * rng.uniform(0.05, 0.1), 1.0, size)
    for lobe in lobes:
        axes = (radius * rng.uniform(0.25, 0.33), radius * rng.uniform(0.22, 0.3))
        _fill_ellipse(cell.nucleus, lobe, axes, rng.uniform(0, np.pi), 1.0, size)
    # Granules from bright orange-red to a poorly stained pink, sparse to packed.
    mix = rng.uniform(0.0, 0.9) ** 2
    cell.granule_rgb = tuple((1 - mix) * np.array([232, 118, 66]) + mix * np.array([226, 150, 160]))
    count = int(rng.integers(40, 170))
    _granules(rng, cell.granules, centre, radius * 0.9, count, rng.uniform(0.011, 0.016), size)


def _basophil(rng, cell, centre, angle, size):
    """Basophil: lobed nucleus hidden under coarse, dense, dark purple granules."""
    radius = rng.uniform(0.2, 0.25)
    _draw_cytoplasm(rng, cell, centre, radius, angle, size, irregularity=0.07)
    direction = np.array([np.cos(angle), np.sin(angle)])
    for sign in (-1, 1):
        lobe = centre + sign * direction * radius * rng.uniform(0.15, 0.3)
        _fill_ellipse(cell.nucleus, lobe, (radius * 0.38, radius * 0.3), rng.uniform(0, np.pi), 1.0, size)
    # From packed, nucleus hidden, to partly degranulated with the nucleus showing through.
    mix = rng.uniform(0.0, 0.8)
    cell.granule_rgb = tuple((1 - mix) * np.array([66, 28, 108]) + mix * np.array([112, 72, 150]))
    count = int(rng.integers(15, 110))
    _granules(rng, cell.granules, centre, radius * 0.88, count, rng.uniform(0.01, 0.016), size)


def _smudge_cell(rng, cell, centre, angle, size):
    """Smudge cell: a crushed cell, a pale smear of nuclear material with streaks, no cytoplasm rim."""
    radius = rng.uniform(0.18, 0.27)
    outline = _blob_outline(rng, centre, radius, irregularity=0.3, aspect=rng.uniform(0.6, 1.0), angle=angle)
    _fill_polygon(cell.nucleus, outline, 0.75, size)
    for _ in range(int(rng.integers(3, 8))):  # streaks of chromatin
        theta = rng.uniform(0, 2 * np.pi)
        tip = centre + radius * rng.uniform(0.8, 1.3) * np.array([np.cos(theta), np.sin(theta)])
        _stroke(cell.nucleus, [centre, tip], radius * rng.uniform(0.04, 0.1), rng.uniform(0.4, 0.8), size)
    partial = rng.uniform() < 0.4  # only partly crushed: sharper, with a rim of cytoplasm left
    spread = rng.uniform(0.03, 0.06) if partial else rng.uniform(0.08, 0.16)
    blurred = cv2.GaussianBlur(cell.nucleus, (0, 0), radius * size * spread)
    cell.nucleus[...] = blurred * rng.uniform(0.7, 1.0)
    cell.cytoplasm[...] = np.clip(blurred * 1.5, 0, 1)
    if partial:
        _draw_cytoplasm(rng, cell, centre, radius * 1.15, angle, size, irregularity=0.15)
        cell.cytoplasm *= 0.6
        cell.cytoplasm_rgb = (184, 208, 240)  # the pale blue of the lymphocyte it was


_DRAW = {
    "neutrophil": _neutrophil,
    "band_neutrophil": _band_neutrophil,
    "lymphocyte": _lymphocyte,
    "large_granular_lymphocyte": _large_granular_lymphocyte,
    "monocyte": _monocyte,
    "eosinophil": _eosinophil,
    "basophil": _basophil,
    "smudge_cell": _smudge_cell,
}


def _stain(rng, od):
    """The stain of one slide: each channel's density jittered, overall intensity too."""
    return (od * np.exp(rng.normal(0.0, 0.1, 3)) * np.exp(rng.normal(0.0, 0.12))).astype(np.float32)


def render_blood_cell(class_index_or_name, *, image_size=64, seed=0):
    """Returns one synthetic image of a stained blood smear with a white cell of the given class.

    A pale field of overlapping red cells (pink discs with paler centres) with one white cell near the
    centre whose class decides nucleus shape, cell size, chromatin texture and cytoplasm granules;
    random stain colour (hue and saturation), brightness, rotation, position jitter, defocus blur and
    sensor noise. Modelled on the CellaVision white-cell images of Klang & Carlberg (master thesis,
    "Blood Cell Data Augmentation using Deep Learning Methods", Figure 10).

    Args:
        class_index_or_name: a name from ``CLASS_NAMES`` or its index.
        image_size: the side of the square image in pixels, at least 16.
        seed: a non-negative integer; the same seed (and size and class) gives the same pixels.

    Returns:
        A ``uint8`` array ``(image_size, image_size, 3)``, RGB.

    Raises:
        ValueError: for an unknown class, an out-of-range index, ``image_size < 16`` or a negative seed.
        TypeError: for arguments of the wrong type.
    """
    return _render(class_index_or_name, image_size, seed, with_mask=False)[0]


def render_blood_cell_with_mask(class_index_or_name, *, image_size=64, seed=0):
    """Returns ``render_blood_cell(...)`` and its label map, drawn from the same regions.

    The image is bit-identical to ``render_blood_cell`` with the same arguments: the mask is
    computed from the density maps the drawing paints (no extra random draws). Each pixel gets the
    index in ``REGION_NAMES`` of the region that covers it (``MASK_THRESHOLDS``): 0 background,
    1 red cell, 2 white-cell cytoplasm, 3 nucleus, 4 granules. The label map plays the part of the
    semantic maps of SHI-GAN (Falahkheirkhah et al., "Deepfake histological images", section 2),
    from which images are synthesised.

    Args:
        class_index_or_name, image_size, seed: as in ``render_blood_cell``.

    Returns:
        ``(image, mask)``: ``uint8`` RGB ``(image_size, image_size, 3)`` and ``uint8``
        ``(image_size, image_size)`` with values in ``[0, len(REGION_NAMES))``.

    Raises:
        ValueError, TypeError: as ``render_blood_cell``.
    """
    return _render(class_index_or_name, image_size, seed, with_mask=True)


def _region_mask(red_cells, cytoplasm, nucleus, granules, image_size):
    """The label map (``REGION_NAMES`` indices) of area-averaged density maps."""
    maps = cv2.resize(
        np.stack([red_cells, cytoplasm, nucleus, granules], axis=-1), (image_size, image_size),
        interpolation=cv2.INTER_AREA,
    )
    mask = np.zeros((image_size, image_size), np.uint8)
    for index, name in enumerate(REGION_NAMES[1:]):
        mask[maps[..., index] > MASK_THRESHOLDS[name]] = index + 1
    return mask


def _render(class_index_or_name, image_size, seed, *, with_mask):
    """Draws one image; returns ``(image, mask or None)``. The random draws do not depend on
    ``with_mask``."""
    class_name = CLASS_NAMES[_class_index(class_index_or_name)]
    image_size = _check_image_size(image_size)
    seed = _check_seed(seed)
    rng = np.random.default_rng(seed)
    size = image_size * max(2, math.ceil(_MIN_WORKING_SIZE / image_size))  # supersampled canvas

    red_cells = _red_cells(rng, size)

    cell = _Cell(size)
    centre = np.array([0.5, 0.5]) + rng.normal(0.0, 0.025, 2)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    _DRAW[class_name](rng, cell, centre, angle, size)
    cytoplasm_rgb, nucleus_rgb, granule_rgb = _CLASS_COLOURS[class_name]
    if cell.granule_rgb is not None:
        granule_rgb = cell.granule_rgb
    if cell.cytoplasm_rgb is not None:
        cytoplasm_rgb = cell.cytoplasm_rgb
    texture = 1.0 + rng.uniform(0.12, 0.3) * _smooth_noise(rng, size, int(rng.integers(10, 18)))
    nucleus = cell.nucleus * np.clip(texture, 0.35, 1.7)
    cytoplasm = cell.cytoplasm
    granules = cell.granules
    if class_name in ("neutrophil", "band_neutrophil"):  # fine pale granularity
        cytoplasm = cytoplasm * (1.0 + 0.3 * _smooth_noise(rng, size, size // 3))
    if class_name in ("eosinophil", "neutrophil", "band_neutrophil"):
        granules = granules * (1.0 - 0.7 * np.clip(cell.nucleus, 0, 1))  # granules sit in the cytoplasm

    cover = rng.uniform(0.75, 1.0)  # red cells pushed aside by (or lying under) the white cell
    red_cells *= 1.0 - cover * np.clip(cell.cytoplasm + cell.nucleus, 0.0, 1.0)
    mask = _region_mask(red_cells, cell.cytoplasm, cell.nucleus, granules, image_size) if with_mask else None
    # Downsampling is linear, so the density maps are averaged to the output size before mixing.
    maps = cv2.resize(
        np.stack([red_cells, cytoplasm, nucleus, granules], axis=-1),
        (image_size, image_size),
        interpolation=cv2.INTER_AREA,
    )
    stains = np.stack(
        [
            _stain(rng, _RED_CELL_OD),
            _stain(rng, _od(cytoplasm_rgb)),
            _stain(rng, _od(nucleus_rgb)),
            _stain(rng, _od(granule_rgb if granule_rgb is not None else (255, 255, 255))),
        ]
    )
    od = maps @ stains

    background = np.array([246, 238, 238], np.float32) + rng.normal(0.0, 4.0, 3)
    shading = 1.0 + 0.03 * _smooth_noise(rng, image_size, 3)
    image = background * shading[..., None] * np.exp(-od) * rng.uniform(0.88, 1.06)
    defocus = rng.uniform(0.15, 0.65) * image_size / 64.0
    if defocus > 0.25:
        image = cv2.GaussianBlur(image, (0, 0), defocus)
    image += rng.normal(0.0, rng.uniform(1.0, 4.0), image.shape).astype(np.float32)
    image = np.clip(image, 0, 255).astype(np.uint8)

    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    hue = (hsv[..., 0].astype(np.int16) + int(round(rng.normal(0.0, 4.0)))) % 180
    saturation = hsv[..., 1].astype(np.float32) * rng.uniform(0.8, 1.2)
    hsv[..., 0] = hue.astype(np.uint8)
    hsv[..., 1] = np.clip(saturation, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), mask


# --------------------------------------------------------------------------------------------------
# Pictures and data sets


def example_grid(*, per_class=8, image_size=64, seed=0, label_width=None):
    """Returns a mosaic with one row of examples per class, each row labelled with its class name.

    The images are those of ``make_blood_cell_dataset(..., image_size=image_size, seed=seed)``
    (indices 0 to ``per_class - 1`` of every class). Used for the README picture.

    Args:
        per_class: images per row, a positive integer.
        image_size: the side of each image in pixels, at least 16.
        seed: the data set seed.
        label_width: width in pixels of the label column; sized to the longest name when None.

    Returns:
        A ``uint8`` RGB array ``(len(CLASS_NAMES) * (image_size + 2), label_width + per_class *
        (image_size + 2), 3)`` on white.

    Raises:
        ValueError, TypeError: for a bad argument (the message names it).
    """
    if isinstance(per_class, bool) or not isinstance(per_class, numbers.Integral) or per_class < 1:
        raise ValueError(f"per_class must be a positive integer. Received: per_class={per_class!r}")
    image_size = _check_image_size(image_size)
    seed = _check_seed(seed)
    row_height = image_size + 2
    font_scale = max(0.35, min(1.2, row_height / 70.0))
    thickness = 1 if font_scale < 0.8 else 2
    if label_width is None:
        label_width = 8 + max(
            cv2.getTextSize(name, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)[0][0]
            for name in CLASS_NAMES
        )
    mosaic_shape = (len(CLASS_NAMES) * row_height, label_width + per_class * row_height, 3)
    mosaic = np.full(mosaic_shape, 255, np.uint8)
    for row, name in enumerate(CLASS_NAMES):
        top = row * row_height + 1
        text_height = cv2.getTextSize(name, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)[0][1]
        cv2.putText(
            mosaic, name, (4, top + (image_size + text_height) // 2), cv2.FONT_HERSHEY_SIMPLEX,
            font_scale, (0, 0, 0), thickness, cv2.LINE_AA,
        )
        for column in range(per_class):
            left = label_width + column * row_height + 1
            image = render_blood_cell(name, image_size=image_size, seed=image_seed(seed, name, column))
            mosaic[top : top + image_size, left : left + image_size] = image
    return mosaic


def write_png(path, image, *, compression=1):
    """Writes an RGB (or grey) ``uint8`` image to ``path`` as PNG; works for any path encoding.

    Args:
        path: where to write; the parent directory must exist.
        image: ``uint8`` array ``(H, W, 3)`` RGB or ``(H, W)``.
        compression: zlib level 0-9 (1: fast, for data sets; 9: small, for figures).

    Returns:
        The path written.

    Raises:
        OSError: if the image cannot be encoded or written.
    """
    array = np.asarray(image)
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, int(compression)])
    if not ok:
        raise OSError(f"Could not encode a PNG for {path}")
    with open(path, "wb") as file:
        file.write(encoded.tobytes())
    return path


def save_example_grid(path, *, per_class=8, image_size=64, seed=0):
    """Renders ``example_grid(...)`` and writes it to ``path`` as PNG (creating the folder).

    Args:
        path: the PNG file to write, e.g. ``"docs/images/embedded_dataset.png"``.
        per_class, image_size, seed: as in ``example_grid``.

    Returns:
        The path written.
    """
    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    os.makedirs(directory, exist_ok=True)
    grid = example_grid(per_class=per_class, image_size=image_size, seed=seed)
    return write_png(os.fspath(path), grid, compression=9)


def _progress(total, verbose, description):
    if not verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="img")


def _plan(image_size, num_images, counts, seed, num_workers):
    """Checks the shared arguments; returns (image_size, seed, per-class counts, jobs, num_workers).

    A job is ``(class_name, index, image_seed)``, in class order then index order.
    """
    image_size = _check_image_size(image_size)
    seed = _check_seed(seed)
    if counts is None:
        per_class = class_counts(num_images)
    else:
        values = _per_class_values(counts, "counts")
        for value in values:
            if not float(value).is_integer():
                raise ValueError(f"counts must be whole numbers. Received: counts={counts!r}")
        per_class = {name: int(value) for name, value in zip(CLASS_NAMES, values)}
    if num_workers is None:
        num_workers = min(4, os.cpu_count() or 1)
    if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) or num_workers < 1:
        raise ValueError(f"num_workers must be a positive integer. Received: num_workers={num_workers!r}")
    jobs = [
        (name, index, image_seed(seed, name, index))
        for name, count in per_class.items()
        for index in range(count)
    ]
    return image_size, seed, per_class, jobs, int(num_workers)


def _run(function, jobs, num_workers, verbose, description):
    """Maps ``function`` over ``jobs`` on a thread pool (OpenCV releases the GIL), in order."""
    progress = _progress(len(jobs), verbose, description)
    results = []
    with ThreadPoolExecutor(max_workers=num_workers) as pool:
        for result in pool.map(function, jobs):
            results.append(result)
            if progress is not None:
                progress.update(1)
    if progress is not None:
        progress.close()
    return results


def _relative_path(class_name, index):
    return f"{class_name}/{class_name}_{index:05d}.png"


def blood_cell_arrays(
    *, image_size=64, num_images=2000, counts=None, seed=0, num_workers=None, masks=False, verbose=0
):
    """Returns the embedded data set in memory: the same images ``make_blood_cell_dataset`` writes.

    Args:
        image_size, num_images, counts, seed, num_workers: as in ``make_blood_cell_dataset``.
        masks: also return each image's label map (``render_blood_cell_with_mask``).
        verbose: 0 for silence, 1 for a progress bar.

    Returns:
        ``(images, labels)``: ``uint8`` RGB ``(N, image_size, image_size, 3)`` and ``int32`` ``(N,)``
        indices into ``CLASS_NAMES``, in class order then index order; with ``masks=True``,
        ``(images, labels, masks)`` with ``uint8`` masks ``(N, image_size, image_size)``
        (indices into ``REGION_NAMES``).

    Raises:
        ValueError, TypeError: for a bad argument (the message names it).
    """
    image_size, seed, _, jobs, num_workers = _plan(image_size, num_images, counts, seed, num_workers)
    if not isinstance(masks, bool):
        raise TypeError(f"masks must be a bool. Received: masks={masks!r}")
    drawn = _run(
        lambda job: _render(job[0], image_size, job[2], with_mask=masks),
        jobs, num_workers, verbose, "blood cells",
    )
    images = np.stack([image for image, _ in drawn])
    labels = np.array([CLASS_NAMES.index(job[0]) for job in jobs], dtype=np.int32)
    if masks:
        return images, labels, np.stack([mask for _, mask in drawn])
    return images, labels


def make_blood_cell_dataset(
    out_dir,
    *,
    image_size=64,
    num_images=2000,
    counts=None,
    seed=0,
    overwrite=False,
    num_workers=None,
    masks=False,
    verbose=1,
):
    """Writes the embedded synthetic blood-cell data set as a folder-per-class PNG data set.

    Layout: ``out_dir/<class_name>/<class_name>_<index:05d>.png`` (RGB), ``out_dir/manifest.csv``
    with columns ``path,label,seed`` (``path`` relative to the CSV, ``label`` the class name, ``seed``
    the image's own seed for ``render_blood_cell``) and ``out_dir/dataset.json`` (class names, counts,
    image size, seed, generator version). Classes with no images get no folder. Image ``i`` of a class
    is the same whatever the counts (its seed is ``image_seed(seed, class_name, i)``). The class
    distribution follows ``DEFAULT_CLASS_RATIOS`` (about 20x between the commonest and rarest class,
    like the CellaVision data of Klang & Carlberg's thesis, Tables 5-6) unless ``counts`` is given.

    With ``masks=True`` every image also gets its label map (``render_blood_cell_with_mask``; the
    images are the same bytes as without) as a one-channel PNG
    ``out_dir/masks/<class_name>/<class_name>_<index:05d>.png`` holding ``REGION_NAMES`` indices,
    the manifest gets a ``mask`` column (relative path) and ``dataset.json`` the ``region_names``.
    Read such a data set through its manifest (``data_readers.masks.PairedReader``): a folder
    reader would take ``masks/`` for one more class.

    Args:
        out_dir: the folder to write; created if missing.
        image_size: the side of the square images in pixels, at least 16.
        num_images: the total number of images, split by ``class_counts``; ignored if ``counts``.
        counts: images per class, a dict ``{class_name: count}`` (missing classes get none) or a
            sequence in ``CLASS_NAMES`` order.
        seed: a non-negative integer; the same seed gives the same files.
        overwrite: if False, a non-empty ``out_dir`` raises FileExistsError; if True, the class
            folders, manifest and dataset.json of a previous data set are replaced (other files are
            left alone).
        num_workers: threads drawing and writing images; ``min(4, os.cpu_count())`` when None.
        masks: also write the label maps (see above).
        verbose: 0 for silence, 1 for a progress bar.

    Returns:
        The summary written to ``dataset.json`` plus ``out_dir`` (absolute) and ``manifest``
        (absolute path of the CSV).

    Raises:
        ValueError, TypeError: for a bad argument (the message names it).
        FileExistsError: if ``out_dir`` is not empty and ``overwrite`` is False.
    """
    image_size, seed, per_class, jobs, num_workers = _plan(image_size, num_images, counts, seed, num_workers)
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be a bool. Received: overwrite={overwrite!r}")
    if not isinstance(masks, bool):
        raise TypeError(f"masks must be a bool. Received: masks={masks!r}")
    out_dir = os.path.abspath(os.fspath(out_dir))
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"out_dir exists and is not a folder. Received: out_dir={out_dir!r}")
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        if not overwrite:
            raise FileExistsError(
                f"Output folder is not empty (pass overwrite=True to replace the data set): {out_dir}"
            )
        for name in CLASS_NAMES + (MASKS_FOLDER,):
            shutil.rmtree(os.path.join(out_dir, name), ignore_errors=True)
        for name in (MANIFEST_FILE, DATASET_FILE):
            if os.path.isfile(os.path.join(out_dir, name)):
                os.remove(os.path.join(out_dir, name))
    for name, count in per_class.items():
        if count:
            os.makedirs(os.path.join(out_dir, name), exist_ok=True)
            if masks:
                os.makedirs(os.path.join(out_dir, MASKS_FOLDER, name), exist_ok=True)
    os.makedirs(out_dir, exist_ok=True)

    def write_one(job):
        name, index, own_seed = job
        image, mask = _render(name, image_size, own_seed, with_mask=masks)
        write_png(os.path.join(out_dir, *_relative_path(name, index).split("/")), image)
        if masks:
            write_png(os.path.join(out_dir, MASKS_FOLDER, *_relative_path(name, index).split("/")), mask)

    _run(write_one, jobs, num_workers, verbose, "blood cells")

    manifest_path = os.path.join(out_dir, MANIFEST_FILE)
    with open(manifest_path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["path", "label", "seed"] + (["mask"] if masks else []))
        for name, index, own_seed in jobs:
            mask_column = [f"{MASKS_FOLDER}/{_relative_path(name, index)}"] if masks else []
            writer.writerow([_relative_path(name, index), name, own_seed] + mask_column)

    present = [name for name in CLASS_NAMES if per_class[name] > 0]
    summary = {
        "name": "ganaug synthetic blood cells",
        "generator": "data_readers.synthetic",
        "generator_version": GENERATOR_VERSION,
        "class_names": present,
        "counts": {name: per_class[name] for name in present},
        "num_images": len(jobs),
        "image_size": image_size,
        "channels": 3,
        "seed": seed,
        "manifest": MANIFEST_FILE,
    }
    if masks:
        summary["region_names"] = list(REGION_NAMES)
        summary["masks_folder"] = MASKS_FOLDER  # ImageReader.from_folder does not read it as a class
        summary["mask_thresholds"] = dict(MASK_THRESHOLDS)
    with open(os.path.join(out_dir, DATASET_FILE), "w") as file:
        json.dump(summary, file, indent=2)
        file.write("\n")
    return dict(summary, out_dir=out_dir, manifest=manifest_path)
