"""Tissue detection on a low-resolution view of a whole slide, and per-patch mask fractions.

The approach of the histolab tilers (Otsu + morphology on a thumbnail, then keep only patches above a
tissue fraction), adapted so that faint tissue survives: histolab#417 reported that a too-strict
tissue check skipped real tissue on CAMELYON16 slides. Tissue is detected on the HSV saturation of
the thumbnail (white glass and black scanner borders have none; eosin and haematoxylin have a lot),
with Otsu's threshold clipped into ``[min_threshold, max_threshold]``:

- the floor keeps a blank or nearly blank slide (where Otsu splits noise) from yielding tissue;
- the ceiling keeps faint, pale-pink tissue: on a slide with strongly stained tissue Otsu lands
  between the glass and the dark stain, above faint tissue, and would drop it.

Used for the whole-slide patch extraction of Fernández et al. 2021 (CAMELYON16/17, section 2).
"""

import cv2
import numpy as np


def saturation_of(rgb):
    """Returns the HSV saturation (uint8, 0-255) of a uint8 RGB image ``(H, W, 3)``."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
        raise ValueError(
            f"rgb must be a uint8 (H, W, 3) array. Received: rgb with shape={rgb.shape} dtype={rgb.dtype}"
        )
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV)[..., 1]


def tissue_threshold(saturation, *, min_threshold=10, max_threshold=20):
    """Returns Otsu's threshold of ``saturation`` clipped into ``[min_threshold, max_threshold]``.

    Args:
        saturation: uint8 saturation image.
        min_threshold: floor, so that a blank slide yields no tissue.
        max_threshold: ceiling, so that faint tissue is kept next to strongly stained tissue.

    Returns:
        The threshold as a float; a pixel is tissue when its saturation is >= the threshold.

    Raises:
        ValueError: if the thresholds are outside 0-255 or ``min_threshold > max_threshold``.
    """
    if not 0 <= min_threshold <= 255:
        raise ValueError(f"min_threshold must be in [0, 255]. Received: min_threshold={min_threshold}")
    if not 0 <= max_threshold <= 255 or max_threshold < min_threshold:
        raise ValueError(
            "max_threshold must be in [min_threshold, 255]. "
            f"Received: max_threshold={max_threshold}"
        )
    saturation = np.ascontiguousarray(saturation, dtype=np.uint8)
    if saturation.size == 0:
        return float(max_threshold)
    otsu, _ = cv2.threshold(saturation.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return float(min(max(otsu, min_threshold), max_threshold))


def tissue_mask(rgb, *, min_threshold=10, max_threshold=20, kernel_size=3):
    """Returns the boolean tissue mask of a low-resolution RGB view of a slide.

    Saturation >= `tissue_threshold`, then a morphological closing (fills gaps between nuclei) and
    an opening (removes specks of dust) with an elliptical ``kernel_size`` kernel.

    Args:
        rgb: uint8 ``(H, W, 3)`` thumbnail, RGBA already composited on white.
        min_threshold: saturation floor (0-255), see `tissue_threshold`.
        max_threshold: saturation ceiling (0-255), see `tissue_threshold`.
        kernel_size: odd size of the morphology kernel in thumbnail pixels; 1 disables morphology.

    Returns:
        A bool array ``(H, W)``, True on tissue.

    Raises:
        ValueError: on a bad image, thresholds or ``kernel_size``.
    """
    if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer. Received: kernel_size={kernel_size}")
    saturation = saturation_of(rgb)
    threshold = tissue_threshold(saturation, min_threshold=min_threshold, max_threshold=max_threshold)
    mask = (saturation >= threshold).astype(np.uint8)
    if kernel_size > 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel_size, kernel_size))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    return mask.astype(bool)


def mask_fractions(mask, boxes, *, downsample):
    """Returns the fraction of each level-0 box covered by a low-resolution mask.

    Args:
        mask: 2-D bool/0-1 array; pixel ``(r, c)`` covers level-0 ``[c, c+1) x [r, r+1)`` times
            ``downsample``.
        boxes: ``(N, 4)`` array of level-0 ``(x, y, width, height)``.
        downsample: level-0 pixels per mask pixel.

    Returns:
        A float64 array ``(N,)`` in [0, 1]: the mean of the mask pixels the box touches (a box
        smaller than one mask pixel reads that pixel). Parts of a box outside the mask count as 0.
    """
    if downsample <= 0:
        raise ValueError(f"downsample must be positive. Received: downsample={downsample}")
    mask = np.asarray(mask, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    height, width = mask.shape
    integral = np.zeros((height + 1, width + 1), dtype=np.float64)
    integral[1:, 1:] = mask.cumsum(axis=0).cumsum(axis=1)
    x0 = np.floor(boxes[:, 0] / downsample).astype(np.int64)
    y0 = np.floor(boxes[:, 1] / downsample).astype(np.int64)
    x1 = np.maximum(np.ceil((boxes[:, 0] + boxes[:, 2]) / downsample).astype(np.int64), x0 + 1)
    y1 = np.maximum(np.ceil((boxes[:, 1] + boxes[:, 3]) / downsample).astype(np.int64), y0 + 1)
    area = (x1 - x0) * (y1 - y0)
    cx0, cx1 = np.clip(x0, 0, width), np.clip(x1, 0, width)
    cy0, cy1 = np.clip(y0, 0, height), np.clip(y1, 0, height)
    covered = integral[cy1, cx1] - integral[cy0, cx1] - integral[cy1, cx0] + integral[cy0, cx0]
    return covered / area
