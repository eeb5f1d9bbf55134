"""Tests of data_readers.tissue: clipped-Otsu tissue mask (faint tissue kept) and mask fractions."""

import cv2
import numpy as np
import pytest

from _slides import FAINT_BLEND, tissue_texture
from data_readers import tissue


@pytest.fixture(autouse=True)
def _clear_keras_session():
    """Overrides the conftest fixture: these tests never touch Keras, and clearing costs ~1 s each."""
    yield


def _glass(height, width, seed=0):
    return np.random.default_rng(seed).integers(246, 254, size=(height, width, 3), dtype=np.uint8)


def test_blank_slide_has_no_tissue():
    assert not tissue.tissue_mask(_glass(64, 96)).any()
    white = np.full((32, 32, 3), 255, np.uint8)
    assert not tissue.tissue_mask(white).any()


def test_faint_tissue_is_kept_next_to_strong_tissue():
    image = _glass(96, 192)
    strong = tissue_texture(64, 64, seed=1, nuclei_per_kpx=20)
    image[16:80, 16:80] = strong
    faint = np.round(255 - FAINT_BLEND * (255 - tissue_texture(64, 64, seed=2).astype(np.float32)))
    image[16:80, 112:176] = faint.astype(np.uint8)
    saturation = tissue.saturation_of(image)
    otsu, _ = cv2.threshold(saturation.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    faint_saturation = np.median(saturation[16:80, 112:176])
    assert otsu > faint_saturation  # plain Otsu would drop the faint tissue (histolab#417)
    mask = tissue.tissue_mask(image)
    assert mask.dtype == bool and mask.shape == (96, 192)
    assert mask[16:80, 16:80].mean() > 0.99
    assert mask[20:76, 116:172].mean() > 0.95
    assert mask[:, 90:100].sum() == 0 and mask[:10].sum() == 0


def test_threshold_is_otsu_clipped():
    two_level = np.zeros((10, 10), np.uint8)
    two_level[:, 5:] = 200
    assert tissue.tissue_threshold(two_level, min_threshold=0, max_threshold=255) == 0.0  # Otsu on {0, 200}
    assert tissue.tissue_threshold(two_level) == 10.0  # floor
    two_level[:, :5] = 100
    assert tissue.tissue_threshold(two_level, min_threshold=0, max_threshold=255) == 100.0
    assert tissue.tissue_threshold(two_level, min_threshold=10, max_threshold=40) == 40.0  # ceiling


@pytest.mark.parametrize("kwargs, name", [
    ({"min_threshold": -1}, "min_threshold"),
    ({"min_threshold": 30, "max_threshold": 20}, "max_threshold"),
    ({"kernel_size": 4}, "kernel_size"),
])
def test_bad_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=rf"Received: {name}="):
        tissue.tissue_mask(_glass(8, 8), **kwargs)


def test_bad_image_is_rejected():
    with pytest.raises(ValueError, match=r"Received: rgb with shape=\(8, 8\)"):
        tissue.tissue_mask(np.zeros((8, 8), np.uint8))


def test_mask_fractions_against_hand_computed_values():
    mask = np.zeros((4, 4), bool)
    mask[:, :2] = True  # left half; each mask pixel covers 2x2 level-0 pixels
    boxes = [
        (0, 0, 8, 8),  # whole mask -> 0.5
        (0, 0, 4, 4),  # top-left 2x2 mask pixels, all tissue -> 1.0
        (4, 0, 4, 8),  # right half -> 0.0
        (2, 2, 4, 2),  # mask columns 1..2, row 1 -> 0.5
        (6, 6, 4, 4),  # mask pixel (3, 3) plus 3 pixels outside -> 0 / 4
        (1, 1, 1, 1),  # smaller than a mask pixel: reads pixel (0, 0) -> 1.0
    ]
    fractions = tissue.mask_fractions(mask, boxes, downsample=2)
    np.testing.assert_allclose(fractions, [0.5, 1.0, 0.0, 0.5, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"Received: downsample=0"):
        tissue.mask_fractions(mask, boxes, downsample=0)
