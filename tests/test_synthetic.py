"""Tests of the embedded synthetic blood-cell data set (data_readers/synthetic.py) and its command."""

import csv
import json
import os

import cv2
import numpy as np
import pytest

from data_readers import synthetic
from data_readers.synthetic import (
    CLASS_NAMES,
    DEFAULT_CLASS_RATIOS,
    blood_cell_arrays,
    class_counts,
    example_grid,
    image_seed,
    make_blood_cell_dataset,
    render_blood_cell,
    save_example_grid,
)


@pytest.fixture(autouse=True)
def _clear_keras_session():
    """Overrides conftest's fixture of the same name: these tests build no Keras model, and
    ``keras.utils.clear_session()`` (a full gc pass, ~0.25 s CPU each) would dominate their time."""
    yield


def _read_rgb(path):
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _read_manifest(out_dir):
    with open(os.path.join(out_dir, "manifest.csv"), newline="") as file:
        return list(csv.DictReader(file))


# ------------------------------------------------------------------------------------------------
# Single images


@pytest.mark.parametrize("class_name", CLASS_NAMES)
def test_render_shape_dtype_range(class_name):
    for image_size in (16, 33):
        image = render_blood_cell(class_name, image_size=image_size, seed=3)
        assert image.shape == (image_size, image_size, 3)
        assert image.dtype == np.uint8
        assert image.min() < 200 < image.max()  # stained cells on a pale background, not flat


def test_render_same_seed_same_bytes_and_name_equals_index():
    first = render_blood_cell("monocyte", image_size=32, seed=11)
    second = render_blood_cell(CLASS_NAMES.index("monocyte"), image_size=32, seed=11)
    assert first.tobytes() == second.tobytes()


def test_render_different_seed_or_class_differs():
    base = render_blood_cell("neutrophil", image_size=32, seed=0)
    assert not np.array_equal(base, render_blood_cell("neutrophil", image_size=32, seed=1))
    assert not np.array_equal(base, render_blood_cell("lymphocyte", image_size=32, seed=0))


def test_classes_differ_in_colour_where_the_paper_says():
    """Eosinophil granules are orange-red, lymphocyte nuclei purple-blue: compare the cell centre."""

    def centre_red_minus_blue(name):
        images = np.stack([render_blood_cell(name, image_size=32, seed=s) for s in range(6)])
        centre = images[:, 10:22, 10:22].astype(np.float32)
        return float((centre[..., 0] - centre[..., 2]).mean())

    assert centre_red_minus_blue("eosinophil") > centre_red_minus_blue("lymphocyte") + 20


def test_white_cell_is_darker_than_surroundings():
    images = np.stack([render_blood_cell("lymphocyte", image_size=32, seed=s) for s in range(6)])
    grey = images.astype(np.float32).mean(axis=-1)
    assert grey[:, 12:20, 12:20].mean() < grey[:, :4, :].mean() - 40


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(class_index_or_name="platelet"), "class_index_or_name='platelet'"),
        (dict(class_index_or_name=len(CLASS_NAMES)), f"class_index_or_name={len(CLASS_NAMES)}"),
        (dict(class_index_or_name="neutrophil", image_size=8), "image_size=8"),
        (dict(class_index_or_name="neutrophil", seed=-1), "seed=-1"),
    ],
)
def test_render_bad_arguments_raise_value_error_naming_them(kwargs, fragment):
    with pytest.raises(ValueError, match="Received: " + fragment.replace("[", r"\[")):
        render_blood_cell(**kwargs)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(class_index_or_name=1.5), "class_index_or_name=1.5"),
        (dict(class_index_or_name="neutrophil", image_size=32.0), "image_size=32.0"),
        (dict(class_index_or_name="neutrophil", seed=True), "seed=True"),
    ],
)
def test_render_bad_types_raise_type_error_naming_them(kwargs, fragment):
    with pytest.raises(TypeError, match="Received: " + fragment):
        render_blood_cell(**kwargs)


# ------------------------------------------------------------------------------------------------
# Seeds and counts


def test_image_seed_is_deterministic_and_distinct():
    seeds = {image_seed(0, name, index) for name in CLASS_NAMES for index in range(50)}
    assert len(seeds) == len(CLASS_NAMES) * 50
    assert image_seed(5, "basophil", 3) == image_seed(5, 1, 3)
    assert image_seed(5, "basophil", 3) != image_seed(6, "basophil", 3)
    assert all(0 <= seed < 2**63 for seed in seeds)


def test_class_counts_hand_computed():
    # 10 * (3/4, 1/4) = (7.5, 2.5): floors (7, 2), the one left over goes to the first class in
    # CLASS_NAMES order among the equal remainders (basophil).
    counts = class_counts(10, {"neutrophil": 3, "basophil": 1})
    assert counts == {name: 0 for name in CLASS_NAMES} | {"neutrophil": 7, "basophil": 3}
    assert list(counts) == list(CLASS_NAMES)
    # 8 images over 8 classes: every class with a positive ratio gets one.
    assert class_counts(8) == {name: 1 for name in CLASS_NAMES}


@pytest.mark.parametrize("num_images", [100, 2000, 12345])
def test_class_counts_sum_exactly_and_follow_default_ratios(num_images):
    counts = class_counts(num_images)
    assert sum(counts.values()) == num_images
    assert all(count >= 1 for count in counts.values())
    total = sum(DEFAULT_CLASS_RATIOS.values())
    for name, count in counts.items():
        assert abs(count - num_images * DEFAULT_CLASS_RATIOS[name] / total) <= 1


def test_default_imbalance_is_about_twenty():
    counts = class_counts(2000)
    assert max(counts, key=counts.get) == "neutrophil"
    assert min(counts, key=counts.get) == "basophil"
    assert 17 <= counts["neutrophil"] / counts["basophil"] <= 23


@pytest.mark.parametrize(
    "args, error, fragment",
    [
        ((0,), ValueError, "num_images=0"),
        ((10, {"neutrophil": -1}), ValueError, "ratios="),
        ((10, {"platelet": 1}), ValueError, "ratios key='platelet'"),
        ((10, [1, 2]), ValueError, "ratios="),
        ((10, {"neutrophil": 0}), ValueError, "ratios="),
        ((2.5,), TypeError, "num_images=2.5"),
    ],
)
def test_class_counts_bad_arguments(args, error, fragment):
    with pytest.raises(error, match="Received: " + fragment):
        class_counts(*args)


# ------------------------------------------------------------------------------------------------
# Data sets on disk


def test_make_dataset_writes_consistent_files_and_manifest(tmp_path):
    out_dir = tmp_path / "cells"
    counts = {"neutrophil": 4, "basophil": 2, "monocyte": 3}
    summary = make_blood_cell_dataset(out_dir, image_size=16, counts=counts, seed=7, verbose=0)

    assert summary["class_names"] == ["basophil", "monocyte", "neutrophil"]
    assert summary["counts"] == {"basophil": 2, "monocyte": 3, "neutrophil": 4}
    assert summary["num_images"] == 9 and summary["image_size"] == 16 and summary["seed"] == 7
    with open(out_dir / "dataset.json") as file:
        stored = json.load(file)
    assert stored["class_names"] == summary["class_names"]
    assert stored["generator_version"] == synthetic.GENERATOR_VERSION

    # Only the classes asked for have folders; every folder file is in the manifest and vice versa.
    folders = sorted(p.name for p in out_dir.iterdir() if p.is_dir())
    assert folders == ["basophil", "monocyte", "neutrophil"]
    rows = _read_manifest(out_dir)
    assert len(rows) == 9
    on_disk = sorted(f"{d}/{f}" for d in folders for f in os.listdir(out_dir / d))
    assert sorted(row["path"] for row in rows) == on_disk
    assert "neutrophil/neutrophil_00003.png" in on_disk
    for row in rows:
        assert row["path"].split("/")[0] == row["label"]
        image = _read_rgb(out_dir / row["path"])
        assert image.shape == (16, 16, 3)
        # The manifest seed reproduces the file exactly (PNG is lossless).
        expected = render_blood_cell(row["label"], image_size=16, seed=int(row["seed"]))
        np.testing.assert_array_equal(image, expected)


def test_images_do_not_depend_on_counts_or_order(tmp_path):
    small = make_blood_cell_dataset(tmp_path / "a", image_size=16, counts={"eosinophil": 2}, seed=3, verbose=0)
    large = make_blood_cell_dataset(
        tmp_path / "b", image_size=16, counts={"lymphocyte": 2, "eosinophil": 4}, seed=3,
        num_workers=2, verbose=0,
    )
    for index in range(2):
        name = f"eosinophil/eosinophil_{index:05d}.png"
        with open(os.path.join(small["out_dir"], name), "rb") as file:
            small_bytes = file.read()
        with open(os.path.join(large["out_dir"], name), "rb") as file:
            assert file.read() == small_bytes
    other_seed = make_blood_cell_dataset(tmp_path / "c", image_size=16, counts={"eosinophil": 1}, seed=4, verbose=0)
    assert not np.array_equal(
        _read_rgb(os.path.join(small["out_dir"], "eosinophil/eosinophil_00000.png")),
        _read_rgb(os.path.join(other_seed["out_dir"], "eosinophil/eosinophil_00000.png")),
    )


def test_arrays_match_files(tmp_path):
    counts = {"lymphocyte": 2, "smudge_cell": 1}
    images, labels = blood_cell_arrays(image_size=16, counts=counts, seed=2)
    assert images.shape == (3, 16, 16, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int32
    expected_labels = [CLASS_NAMES.index("lymphocyte")] * 2 + [CLASS_NAMES.index("smudge_cell")]
    np.testing.assert_array_equal(labels, expected_labels)
    make_blood_cell_dataset(tmp_path, image_size=16, counts=counts, seed=2, verbose=0)
    for image, row in zip(images, _read_manifest(tmp_path)):
        np.testing.assert_array_equal(image, _read_rgb(tmp_path / row["path"]))


def test_default_dataset_counts_follow_class_counts(tmp_path):
    summary = make_blood_cell_dataset(tmp_path, image_size=16, num_images=60, verbose=0)
    expected = class_counts(60)
    assert summary["counts"] == expected
    for name, count in expected.items():
        assert len(os.listdir(tmp_path / name)) == count


def test_overwrite_protection_and_replacement(tmp_path):
    make_blood_cell_dataset(tmp_path, image_size=16, counts={"neutrophil": 3}, verbose=0)
    with pytest.raises(FileExistsError, match=str(tmp_path)):
        make_blood_cell_dataset(tmp_path, image_size=16, counts={"neutrophil": 1}, verbose=0)
    (tmp_path / "notes.txt").write_text("keep me")
    make_blood_cell_dataset(tmp_path, image_size=16, counts={"basophil": 1}, overwrite=True, verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["basophil", "dataset.json", "manifest.csv", "notes.txt"]
    assert len(_read_manifest(tmp_path)) == 1


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        (dict(image_size=8), ValueError, "image_size=8"),
        (dict(counts={"neutrophil": -2}), ValueError, "counts="),
        (dict(counts={"neutrophil": 1.5}), ValueError, "counts="),
        (dict(counts={"platelet": 3}), ValueError, "counts key='platelet'"),
        (dict(num_images=-5), ValueError, "num_images=-5"),
        (dict(seed=-1), ValueError, "seed=-1"),
        (dict(num_workers=0), ValueError, "num_workers=0"),
        (dict(overwrite="yes"), TypeError, "overwrite='yes'"),
    ],
)
def test_make_dataset_bad_arguments(tmp_path, kwargs, error, fragment):
    with pytest.raises(error, match="Received: " + fragment):
        make_blood_cell_dataset(tmp_path / "out", verbose=0, **kwargs)
    assert not (tmp_path / "out").exists()  # nothing written before the arguments are checked


def test_example_grid_layout(tmp_path):
    grid = example_grid(per_class=2, image_size=16, seed=0, label_width=40)
    assert grid.dtype == np.uint8
    assert grid.shape == (len(CLASS_NAMES) * 18, 40 + 2 * 18, 3)
    # The first tile of row 2 is image 0 of the third class of the data set with the same seed.
    expected = render_blood_cell(CLASS_NAMES[2], image_size=16, seed=image_seed(0, CLASS_NAMES[2], 0))
    np.testing.assert_array_equal(grid[2 * 18 + 1 : 2 * 18 + 17, 41:57], expected)
    assert grid[:, :40].min() < 128  # labels are drawn
    path = save_example_grid(tmp_path / "docs" / "grid.png", per_class=1, image_size=16)
    assert _read_rgb(path).shape[0] == len(CLASS_NAMES) * 18


# ------------------------------------------------------------------------------------------------
# Command line


def test_cli_make_dataset(tmp_path, capsys):
    from ganaug.cli import main

    out_dir = tmp_path / "cli"
    argv = ["make-dataset", "--out", str(out_dir), "--image-size", "16", "--seed", "5", "--quiet"]
    assert main(argv + ["--counts", "neutrophil=3", "basophil=2"]) == 0
    rows = _read_manifest(out_dir)
    assert sorted(row["label"] for row in rows) == ["basophil"] * 2 + ["neutrophil"] * 3
    with open(out_dir / "dataset.json") as file:
        assert json.load(file)["seed"] == 5

    assert main(argv + ["--num-images", "9"]) == 2  # exists, no --overwrite
    assert "overwrite" in capsys.readouterr().err
    assert main(argv + ["--num-images", "9", "--overwrite"]) == 0
    assert len(_read_manifest(out_dir)) == 9

    assert main(["make-dataset", "--out", str(tmp_path / "bad"), "--counts", "neutrophil=x"]) == 2
    assert main(["make-dataset", "--out", str(tmp_path / "bad"), "--image-size", "8", "--quiet"]) == 2
    assert "image_size=8" in capsys.readouterr().err
