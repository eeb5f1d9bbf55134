"""Masks of the embedded data set and the paired (image, mask) reader."""

import csv
import hashlib
import json
import os

import cv2
import numpy as np
import pytest

from data_readers import synthetic
from data_readers.masks import PairedReader, read_mask, resize_mask
from data_readers.synthetic import (
    REGION_NAMES,
    blood_cell_arrays,
    make_blood_cell_dataset,
    render_blood_cell,
    render_blood_cell_with_mask,
)

# SHA-256 of images drawn by the generator before masks existed (commit 9c1a2f4): the demo's
# figures depend on these pixels, so drawing masks must not change the random stream.
_IMAGES_BEFORE_MASKS = [
    ("neutrophil", 16, 1, "b14152ebc1df9add0ef760a14d875ecf1e5c074521cf7324ffc19041cdca4263"),
    ("eosinophil", 32, 7, "d85af4087fd55e9f68cdff6d10a71980ef1348c54f34bd345818f76b3a959f32"),
    ("smudge_cell", 64, 11, "77028f9dda91ec2e4346eb19e856f9eb2d2c0392d2913448dd856bbeb6dd9a05"),
    ("monocyte", 64, 123, "9fdf6c681c8bb99f15c53d55dae2ddd7abee9a79ef0133b657d9b93787625097"),
]


@pytest.mark.parametrize("name, size, seed, digest", _IMAGES_BEFORE_MASKS)
def test_images_are_bit_identical_with_and_without_masks(name, size, seed, digest):
    image, mask = render_blood_cell_with_mask(name, image_size=size, seed=seed)
    assert hashlib.sha256(image.tobytes()).hexdigest() == digest
    assert hashlib.sha256(render_blood_cell(name, image_size=size, seed=seed).tobytes()).hexdigest() == digest
    assert mask.shape == (size, size) and mask.dtype == np.uint8 and mask.max() < len(REGION_NAMES)


def test_masks_label_the_painted_regions():
    image, mask = render_blood_cell_with_mask("lymphocyte", image_size=64, seed=4)
    present = set(np.unique(mask).tolist())
    assert {0, 1, 2, 3} <= present  # background, red cells, cytoplasm, nucleus
    nucleus = image[mask == REGION_NAMES.index("nucleus")].mean(0)
    background = image[mask == REGION_NAMES.index("background")].mean(0)
    red = image[mask == REGION_NAMES.index("red_cell")].mean(0)
    assert nucleus.sum() < red.sum() < background.sum()  # dark purple nucleus, pink red cells, pale background
    assert red[0] > red[2] + 20  # red cells are red
    assert mask[32, 32] in (2, 3)  # the white cell sits in the centre
    eosinophil_mask = render_blood_cell_with_mask("eosinophil", image_size=64, seed=0)[1]
    assert (eosinophil_mask == REGION_NAMES.index("granules")).sum() > 20  # coarse granules


def test_dataset_writes_masks_and_reader_returns_them_bit_exactly(tmp_path):
    counts = {"eosinophil": 2, "lymphocyte": 2}
    summary = make_blood_cell_dataset(tmp_path / "d", image_size=32, counts=counts, seed=3, masks=True, verbose=0)
    assert summary["region_names"] == list(REGION_NAMES)
    with open(tmp_path / "d" / "dataset.json") as handle:
        assert json.load(handle)["region_names"] == list(REGION_NAMES)
    with open(tmp_path / "d" / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["mask"] == "masks/eosinophil/eosinophil_00000.png"
    images, labels, masks = blood_cell_arrays(image_size=32, counts=counts, seed=3, masks=True)
    plain_images, _ = blood_cell_arrays(image_size=32, counts=counts, seed=3)
    np.testing.assert_array_equal(images, plain_images)
    for row, mask in zip(rows, masks):
        np.testing.assert_array_equal(read_mask(tmp_path / "d" / row["mask"]), mask)

    reader = PairedReader(tmp_path / "d", batch_size=2, shuffle=False)
    assert reader.region_names == list(REGION_NAMES) and reader.num_classes == len(REGION_NAMES)
    np.testing.assert_array_equal(reader.masks, masks)
    np.testing.assert_array_equal(np.round((reader.images + 1) * 127.5).astype(np.uint8), images)
    assert reader.class_names == ["eosinophil", "lymphocyte"] and reader.labels.tolist() == [0, 0, 1, 1]
    batch_images, batch_masks = next(iter(reader.as_tf_dataset()))
    assert batch_masks.dtype.name == "int32" and batch_images.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(batch_masks.numpy(), masks[:2])

    # resized: nearest-neighbour only, so every value is a label that was written there
    small = PairedReader(tmp_path / "d", image_size=16)
    for original, resized in zip(masks, small.masks):
        np.testing.assert_array_equal(resized, cv2.resize(original, (16, 16), interpolation=cv2.INTER_NEAREST))
        assert set(np.unique(resized)) <= set(np.unique(original))
    large = PairedReader(tmp_path / "d", image_size=48)
    assert large.masks.dtype == np.uint8 and set(np.unique(large.masks)) <= set(np.unique(masks))


def test_the_folder_reader_does_not_read_the_masks_as_a_class(tmp_path):
    from data_readers.image_reader import ImageReader

    make_blood_cell_dataset(tmp_path / "d", image_size=16, counts={"eosinophil": 2, "lymphocyte": 3}, seed=3,
                            masks=True, verbose=0)
    reader = ImageReader.from_folder(tmp_path / "d", shuffle=False)
    assert reader.class_names == ["eosinophil", "lymphocyte"] and len(reader.paths) == 5
    assert not any("masks" in os.path.relpath(p, tmp_path / "d").split(os.sep)[0] for p in reader.paths)
    # named explicitly, the folder is still readable
    assert ImageReader.from_folder(tmp_path / "d", class_names=["masks"]).class_names == ["masks"]


def test_reader_and_mask_errors(tmp_path):
    make_blood_cell_dataset(tmp_path / "plain", image_size=16, counts={"basophil": 1}, verbose=0)
    with pytest.raises(ValueError, match="`path` and `mask` columns"):
        PairedReader(tmp_path / "plain")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        PairedReader(tmp_path / "nowhere")
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[..., 0] = 3
    synthetic.write_png(str(tmp_path / "colour.png"), colour)
    with pytest.raises(ValueError, match="differing colour channels"):
        read_mask(tmp_path / "colour.png")
    with pytest.raises(ValueError, match="Received: image_size=0"):
        resize_mask(np.zeros((4, 4), np.uint8), 0)
    with pytest.raises(TypeError, match="Received: masks='yes'"):
        make_blood_cell_dataset(tmp_path / "x", image_size=16, masks="yes", verbose=0)
