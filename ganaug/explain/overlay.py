"""Heatmap pictures: coloured heatmaps, overlays on images and the Fernández et al. 2021 Fig. 6 panel.

Fig. 6 of Fernández et al. 2021 ("Consistence of the class-features highlighted by the Grad-cam in
real images (top) and synthetic images (bottom)") shows, per image, from left to right: the class
activation heatmap, the image, and transparent overlays with two different colormaps.
``evidence_panel_figure`` draws that layout for any list of images.
"""

import numbers

import numpy as np

from ganaug.figures import images_to_uint8, labelled_grid_figure

DEFAULT_COLORMAPS = ("jet", "viridis")


def _colormap(name, argument="colormap"):
    import matplotlib

    if not isinstance(name, str) or name not in matplotlib.colormaps:
        raise ValueError(
            f"`{argument}` must name a matplotlib colormap (e.g. 'jet', 'viridis', 'inferno'). "
            f"Received: {argument}={name!r}"
        )
    return matplotlib.colormaps[name]


def _checked_heatmaps(heatmaps):
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    if heatmaps.ndim == 2:
        heatmaps = heatmaps[None]
    if heatmaps.ndim == 4 and heatmaps.shape[-1] == 1:
        heatmaps = heatmaps[..., 0]
    if heatmaps.ndim != 3:
        raise ValueError(
            f"`heatmaps` must have shape (N, H, W). Received: heatmaps.shape={heatmaps.shape}"
        )
    if not np.all(np.isfinite(heatmaps)):
        raise ValueError("`heatmaps` must be finite. Received: heatmaps with NaN or inf values")
    return heatmaps


def colorize_heatmaps(heatmaps, *, colormap="jet"):
    """Returns heatmaps in [0, 1] coloured with a matplotlib colormap, as uint8 RGB.

    Args:
        heatmaps: ``(N, H, W)`` (or ``(H, W)``) values in [0, 1]; values outside are clipped.
        colormap: a matplotlib colormap name.

    Returns:
        uint8 ``(N, H, W, 3)``.

    Raises:
        ValueError: for an unknown colormap or heatmaps that are not ``(N, H, W)``.
    """
    colours = _colormap(colormap)
    heatmaps = np.clip(_checked_heatmaps(heatmaps), 0.0, 1.0)
    rgba = colours(heatmaps)
    return np.rint(rgba[..., :3] * 255.0).astype(np.uint8)


def overlay(images, heatmaps, *, colormap="jet", alpha=0.4):
    """Returns the coloured heatmaps blended over the images (Grad-CAM visualisation).

    ``out = (1 - alpha) * image + alpha * colormap(heatmap)``, per pixel, in 8-bit RGB.

    Args:
        images: ``(N, H, W, C)`` float in [-1, 1] or uint8, C in (1, 3).
        heatmaps: ``(N, H, W)`` in [0, 1], e.g. from ``gradcam_heatmaps``.
        colormap: a matplotlib colormap name.
        alpha: opacity of the heatmap, in [0, 1].

    Returns:
        uint8 RGB ``(N, H, W, 3)``.

    Raises:
        ValueError: for a bad ``alpha`` or ``colormap``, or images and heatmaps whose number or
            size differ.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"`alpha` must be a number in [0, 1]. Received: alpha={alpha!r}")
    pictures = images_to_uint8(images)
    heatmaps = _checked_heatmaps(heatmaps)
    if heatmaps.shape != pictures.shape[:3]:
        raise ValueError(
            "`heatmaps` must have one (H, W) map per image, shape "
            f"{pictures.shape[:3]}. Received: heatmaps.shape={heatmaps.shape}"
        )
    coloured = colorize_heatmaps(heatmaps, colormap=colormap).astype(np.float32)
    blended = (1.0 - alpha) * pictures.astype(np.float32) + alpha * coloured
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def evidence_panel(images, heatmaps, *, colormaps=DEFAULT_COLORMAPS, alpha=0.4):
    """Returns the Fernández et al. 2021 Fig. 6 cells: per image, heatmap | image | two overlays.

    Args:
        images: ``(N, H, W, C)`` float in [-1, 1] or uint8.
        heatmaps: ``(N, H, W)`` in [0, 1].
        colormaps: two matplotlib colormap names; the heatmap column uses the first.
        alpha: opacity of the overlays.

    Returns:
        uint8 ``(N, 4, H, W, 3)``.

    Raises:
        ValueError: if ``colormaps`` is not two colormap names, or as ``overlay``.
    """
    if isinstance(colormaps, str) or len(colormaps) != 2:
        raise ValueError(
            f"`colormaps` must be two matplotlib colormap names. Received: colormaps={colormaps!r}"
        )
    pictures = images_to_uint8(images)
    first = overlay(pictures, heatmaps, colormap=colormaps[0], alpha=alpha)
    second = overlay(pictures, heatmaps, colormap=colormaps[1], alpha=alpha)
    coloured = colorize_heatmaps(heatmaps, colormap=colormaps[0])
    return np.stack([coloured, pictures, first, second], axis=1)


def evidence_panel_figure(
    images,
    heatmaps,
    *,
    row_labels=None,
    colormaps=DEFAULT_COLORMAPS,
    alpha=0.4,
    title=None,
    cell_inches=1.4,
):
    """Returns a matplotlib Figure in the layout of Fernández et al. 2021, Fig. 6.

    One row per image; columns from left to right: the class activation heatmap, the image, and
    transparent overlays with two colormaps. Put real images first and generated images after
    them (with ``row_labels`` such as ``"real 1"``, ``"generated 1"``) to reproduce the figure.

    Args:
        images: ``(N, H, W, C)`` float in [-1, 1] or uint8.
        heatmaps: ``(N, H, W)`` in [0, 1].
        row_labels: one label per image, or None.
        colormaps: the two overlay colormaps.
        alpha: opacity of the overlays.
        title: figure title.
        cell_inches: size of one cell.

    Returns:
        ``matplotlib.figure.Figure``.
    """
    cells = evidence_panel(images, heatmaps, colormaps=colormaps, alpha=alpha)
    column_labels = [
        "heatmap",
        "image",
        f"overlay ({colormaps[0]})",
        f"overlay ({colormaps[1]})",
    ]
    return labelled_grid_figure(
        cells,
        row_labels=row_labels,
        column_labels=column_labels,
        title=title,
        cell_inches=cell_inches,
    )


def save_overlays(out_dir, names, images, heatmaps, *, colormap="jet", alpha=0.4, suffix="_gradcam"):
    """Writes one overlay PNG per image to ``out_dir`` and returns their paths.

    Args:
        out_dir: output folder (created).
        names: one file name (or path; its stem is used) per image.
        images: ``(N, H, W, C)`` float in [-1, 1] or uint8.
        heatmaps: ``(N, H, W)`` in [0, 1].
        colormap: a matplotlib colormap name.
        alpha: opacity of the heatmap.
        suffix: added to each stem: ``<stem><suffix>.png``.

    Returns:
        The list of written paths, in the order of ``names``.

    Raises:
        ValueError: if ``names`` does not have one entry per image, or as ``overlay``.
    """
    import os

    from ganaug.figures import save_png

    pictures = overlay(images, heatmaps, colormap=colormap, alpha=alpha)
    names = [os.fspath(name) for name in names]
    if len(names) != len(pictures):
        raise ValueError(
            f"`names` must have one entry per image ({len(pictures)}). Received: {len(names)} names"
        )
    paths = []
    used = set()
    for name, picture in zip(names, pictures):
        stem = os.path.splitext(os.path.basename(name))[0]
        candidate, counter = stem, 1
        while candidate in used:  # same file name in two sub-folders
            counter += 1
            candidate = f"{stem}_{counter}"
        used.add(candidate)
        paths.append(save_png(os.path.join(out_dir, f"{candidate}{suffix}.png"), picture))
    return paths
