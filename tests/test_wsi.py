"""Tests of data_readers.wsi: patch extraction from OpenSlide-readable pyramidal TIFF slides.

The slide (tests/_slides.py) is 2048x1536 at level 0 with levels 1 and 2, a synthetic H&E texture,
a painted tumour polygon, an exclusion square and a faint-tissue region; the painted truth masks
are compared with what the extractor writes.
"""

import csv
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from _slides import EXCLUSION_POLYGON, FAINT_TISSUE, build_test_slide
from data_readers import wsi

COLUMNS = ["path", "label", "slide", "level", "x", "y", "size", "tumor_fraction", "tissue_fraction"]
FAST = {"patch_size": 256, "mask_downsample": 8.0, "verbose": 0}


@pytest.fixture(autouse=True)
def _clear_keras_session():
    """Overrides the conftest fixture: these tests never touch Keras, and clearing costs ~1 s each."""
    yield


@pytest.fixture(scope="module")
def slide(tmp_path_factory):
    return build_test_slide(tmp_path_factory.mktemp("slides"))


def _rows(out_dir):
    with open(os.path.join(out_dir, "manifest.csv"), newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == COLUMNS
        return list(reader)


def _png(out_dir, row):
    image = cv2.imread(os.path.join(out_dir, row["path"]), cv2.IMREAD_COLOR)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _truth_fraction(mask, row):
    box = int(row["size"]) * 2 ** int(row["level"])
    x, y = int(row["x"]), int(row["y"])
    return float(mask[y:y + box, x:x + box].mean())


def _expected(slide, level, *, min_tissue=0.4):
    """Patches the painted truth says should be extracted at ``level`` (balance off, skip ambiguous).

    Returns ``(expected, borderline)``: position -> label, and the positions whose tissue fraction is
    within 0.05 of ``min_tissue`` (the low-resolution mask may fall on either side there).
    """
    box = 256 * 2 ** level
    exclusion = np.zeros_like(slide["tumor"])
    (x0, y0), (x1, y1) = EXCLUSION_POLYGON.min(axis=0).astype(int), EXCLUSION_POLYGON.max(axis=0).astype(int)
    exclusion[y0:y1, x0:x1] = True
    expected, borderline = {}, set()
    for y in range(0, slide["tumor"].shape[0] - box + 1, box):
        for x in range(0, slide["tumor"].shape[1] - box + 1, box):
            region = np.s_[y:y + box, x:x + box]
            tumor, tissue = slide["tumor"][region].mean(), slide["tissue"][region].mean()
            if abs(tissue - min_tissue) < 0.05:
                borderline.add((x, y))
            if tissue < min_tissue or exclusion[region].any():
                continue
            if tumor >= 0.5 or tumor == 0:
                expected[(x, y)] = "tumor" if tumor >= 0.5 else "normal"
    return expected, borderline


@pytest.fixture(scope="module")
def extracted(slide, tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp("patches"))
    summary = wsi.extract_patches(slide["slide"], out_dir, annotations=slide["xml"], levels=(0, 1),
                                  balance=False, min_tissue_fraction=0.4, **FAST)
    return out_dir, summary


def test_labels_counts_and_fractions_match_the_painted_truth(slide, extracted):
    out_dir, summary = extracted
    rows = _rows(out_dir)
    for level in (0, 1):
        found = {(int(r["x"]), int(r["y"])): r["label"] for r in rows if r["level"] == str(level)}
        expected, borderline = _expected(slide, level)
        assert len(expected) >= 4 and not borderline  # fractions are 0, 0.25, 0.5 or 1 by design
        assert {k: v for k, v in found.items() if k not in borderline} == {
            k: v for k, v in expected.items() if k not in borderline}, level
        assert all(found[k] == expected[k] for k in borderline if k in found), level
    assert sum(r["label"] == "tumor" for r in rows if r["level"] == "0") == 6
    for row in rows:
        assert row["slide"] == "slide_a" and row["size"] == "256"
        assert row["path"] == (f"{row['label']}/slide_a_L{row['level']}_x{row['x']}_y{row['y']}_s256.png")
        assert abs(float(row["tumor_fraction"]) - _truth_fraction(slide["tumor"], row)) < 0.05
        assert abs(float(row["tissue_fraction"]) - _truth_fraction(slide["tissue"], row)) < 0.05
    table = {(r["slide"], r["level"]): r for r in summary.rows}
    assert table[("slide_a", 0)]["tumor_found"] == table[("slide_a", 0)]["tumor_kept"] == 6
    assert table[("slide_a", 0)]["excluded"] == 1
    assert table[("all", 1)]["normal_kept"] == sum(r["label"] == "normal" for r in rows if r["level"] == "1")
    assert summary.written == len(rows) and summary.skipped_existing == 0


def test_background_never_extracted_faint_tissue_kept_exclusion_skipped(slide, extracted):
    out_dir, _ = extracted
    rows = _rows(out_dir)
    assert all(_truth_fraction(slide["tissue"], row) >= 0.4 for row in rows)
    level0 = {(int(r["x"]), int(r["y"])) for r in rows if r["level"] == "0"}
    fx0, fy0, _, fy1 = FAINT_TISSUE
    assert {(fx0, y) for y in range(fy0, fy1, 256)} <= level0  # both faint-tissue patches
    assert (256, 1024) not in level0  # the exclusion square, on tissue
    assert (0, 0) not in level0 and (1536, 512) not in level0  # glass


def test_patches_are_read_at_level_zero_coordinates(slide, extracted):
    out_dir, _ = extracted
    rows = _rows(out_dir)
    level0_image, level1_image = slide["levels"][0], slide["levels"][1]
    for row in rows:
        x, y = int(row["x"]), int(row["y"])
        patch = _png(out_dir, row)
        assert patch.shape == (256, 256, 3) and patch.dtype == np.uint8
        if row["level"] == "0":
            np.testing.assert_array_equal(patch, level0_image[y:y + 256, x:x + 256])
        else:
            np.testing.assert_array_equal(patch, level1_image[y // 2:y // 2 + 256, x // 2:x // 2 + 256])
            downsampled = cv2.resize(level0_image[y:y + 512, x:x + 512], (256, 256), interpolation=cv2.INTER_AREA)
            np.testing.assert_allclose(patch, downsampled, atol=1)
    assert {r["level"] for r in rows} == {"0", "1"}


def test_geojson_gives_the_same_patches_as_asap_xml(slide, extracted, tmp_path):
    out_dir, _ = extracted
    wsi.extract_patches(slide["slide"], tmp_path, annotations=[slide["geojson"]], levels=(0, 1),
                        balance=False, min_tissue_fraction=0.4, **FAST)
    assert _rows(tmp_path) == _rows(out_dir)


def test_manifest_loads_as_csv_and_with_the_image_reader(extracted):
    out_dir, _ = extracted
    rows = _rows(out_dir)
    assert all(os.path.isfile(os.path.join(out_dir, r["path"])) for r in rows)
    assert sorted(os.listdir(out_dir)) == ["extraction.json", "manifest.csv", "normal", "tumor"]
    image_reader = pytest.importorskip("data_readers.image_reader")
    reader = image_reader.ImageReader.from_csv(os.path.join(out_dir, "manifest.csv"), batch_size=4,
                                               shuffle=False)
    assert reader.class_names == ["normal", "tumor"]
    assert len(reader.paths) == len(rows)
    images, labels = next(iter(reader))
    assert images.shape == (4, 256, 256, 3) and images.dtype == np.float32
    assert images.min() >= -1 and images.max() <= 1


def test_balancing_subsamples_per_level_with_a_seed(slide, tmp_path):
    kwargs = dict(annotations=[slide["xml"]], levels=(0,), **FAST)
    first = wsi.extract_patches(slide["slide"], tmp_path / "a", seed=1, **kwargs)
    rows = _rows(tmp_path / "a")
    assert sum(r["label"] == "tumor" for r in rows) == sum(r["label"] == "normal" for r in rows) == 6
    row = next(r for r in first.rows if r["slide"] == "slide_a")
    assert (row["tumor_found"], row["tumor_kept"], row["normal_kept"]) == (6, 6, 6) and row["normal_found"] > 6
    wsi.extract_patches(slide["slide"], tmp_path / "b", seed=1, **kwargs)
    assert _rows(tmp_path / "b") == rows
    normals = set()
    for seed in range(2, 6):
        wsi.extract_patches(slide["slide"], tmp_path / f"s{seed}", seed=seed, **kwargs)
        normals.add(frozenset(r["path"] for r in _rows(tmp_path / f"s{seed}") if r["label"] == "normal"))
    assert len(normals) > 1
    capped = wsi.extract_patches(slide["slide"], tmp_path / "c", max_per_class=2, **kwargs)
    assert len(_rows(tmp_path / "c")) == 4 and capped.rows[-1]["tumor_kept"] == 2


def test_balancing_warns_when_a_class_is_empty(slide, tmp_path):
    with pytest.warns(UserWarning, match="No tumor patches found at level 0"):
        summary = wsi.extract_patches(slide["slide"], tmp_path, levels=(0,), **FAST)
    assert summary.written == 0
    np.testing.assert_array_equal(wsi.subsample_indices(["tumor", "normal", "normal"], balance=False), [0, 1, 2])


def test_ambiguous_patches_can_be_labelled_by_rule(slide, extracted, tmp_path):
    out_dir, summary = extracted
    ambiguous = next(r for r in summary.rows if r["slide"] == "slide_a" and r["level"] == 0)["ambiguous"]
    assert ambiguous > 0
    wsi.extract_patches(slide["slide"], tmp_path, annotations=[slide["xml"]], levels=(0,), balance=False,
                        ambiguous="tumor", **FAST)
    tumors = [r for r in _rows(tmp_path) if r["label"] == "tumor"]
    assert len(tumors) == 6 + ambiguous
    assert all(0 < float(r["tumor_fraction"]) for r in tumors)


def test_resume_writes_nothing_new_and_keeps_the_manifest(slide, tmp_path):
    kwargs = dict(annotations=[slide["xml"]], levels=(0, 1), **FAST)
    first = wsi.extract_patches(slide["slide"], tmp_path, **kwargs)
    manifest = (tmp_path / "manifest.csv").read_bytes()
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.png")}
    second = wsi.extract_patches(slide["slide"], tmp_path, **kwargs)
    assert first.written > 0 and second.written == 0 and second.skipped_existing == first.written
    assert (tmp_path / "manifest.csv").read_bytes() == manifest
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.png")} == stamps
    victim = sorted(stamps)[0]
    victim.unlink()
    third = wsi.extract_patches(slide["slide"], tmp_path, **kwargs)
    assert third.written == 1 and victim.exists()
    assert (tmp_path / "manifest.csv").read_bytes() == manifest
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.multiprocess
def test_several_slides_with_worker_processes_match_one_process(slide, tmp_path):
    second = tmp_path / "slide_b.tif"
    shutil.copy(slide["slide"], second)  # same pixels, no annotations: all normal
    kwargs = dict(annotations=[slide["xml"], None], levels=(0, 1), balance=False, **FAST)
    serial = wsi.extract_patches([slide["slide"], second], tmp_path / "serial", num_workers=1, **kwargs)
    parallel = wsi.extract_patches([slide["slide"], second], tmp_path / "parallel", num_workers=2, **kwargs)
    assert _rows(tmp_path / "parallel") == _rows(tmp_path / "serial")
    assert parallel.rows == serial.rows
    rows = _rows(tmp_path / "parallel")
    assert {r["slide"] for r in rows} == {"slide_a", "slide_b"}
    assert all(r["label"] == "normal" for r in rows if r["slide"] == "slide_b")
    for row in rows[::7]:
        np.testing.assert_array_equal(_png(tmp_path / "parallel", row), _png(tmp_path / "serial", row))


def test_summary_is_printed_and_verbose_zero_is_silent(slide, tmp_path, capsys):
    wsi.extract_patches(slide["slide"], tmp_path / "quiet", annotations=[slide["xml"]], levels=(0,), **FAST)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    summary = wsi.extract_patches(slide["slide"], tmp_path / "loud", annotations=[slide["xml"]], levels=(0,),
                                  **{**FAST, "verbose": 1})
    out = capsys.readouterr().out
    assert "tumor found" in out and "normal kept" in out and "slide_a" in out
    assert summary.table() in out


@pytest.mark.parametrize("case", ["missing_slide", "corrupt_xml", "outside", "level", "unsupported"])
def test_bad_input_raises_and_writes_nothing(slide, tmp_path, case):
    slides, annotations, levels = [slide["slide"]], [slide["xml"]], (0, 1)
    if case == "missing_slide":
        slides = [slide["slide"], tmp_path / "nope.tif"]
        annotations = [slide["xml"], None]
        error, message = FileNotFoundError, "nope.tif"
    elif case == "corrupt_xml":
        bad = tmp_path / "bad.xml"
        bad.write_text("<ASAP_Annotations><Annotations><Annotation")
        annotations = [bad]
        error, message = ValueError, "bad.xml: not valid XML"
    elif case == "outside":
        outside = tmp_path / "outside.xml"
        outside.write_text(slide["xml"].read_text().replace('X="1310.0"', 'X="4000.0"'))
        annotations = [outside]
        error, message = ValueError, "Annotation 'Annotation 0' in .*outside.xml lies outside the slide"
    elif case == "level":
        levels = (0, 3)
        error, message = ValueError, r"level 3 is out of range .* levels 0-2"
    else:
        png = tmp_path / "plain.png"
        cv2.imwrite(str(png), np.zeros((8, 8, 3), np.uint8))
        slides, annotations = [png], None
        error, message = ValueError, "Unsupported slide format: .*plain.png"
    out_dir = tmp_path / "out"
    with pytest.raises(error, match=message):
        wsi.extract_patches(slides, out_dir, annotations=annotations, levels=levels, **FAST)
    assert not out_dir.exists()


@pytest.mark.parametrize("kwargs, name", [
    ({"levels": (-1,)}, "levels"),
    ({"patch_size": 0}, "patch_size"),
    ({"positive_threshold": 0.2, "negative_threshold": 0.3}, "negative_threshold"),
    ({"ambiguous": "maybe"}, "ambiguous"),
    ({"num_workers": 0}, "num_workers"),
    ({"annotations": ["a.xml", "b.xml"]}, "annotations"),
])
def test_bad_arguments_are_named(slide, tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=rf"Received: {name}="):
        wsi.extract_patches(slide["slide"], tmp_path / "out", **{**FAST, **kwargs})
    assert not (tmp_path / "out").exists()


def test_open_slide_and_grid(slide, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.svs"):
        wsi.open_slide(tmp_path / "missing.svs")
    with wsi.open_slide(slide["slide"]) as handle:
        assert handle.level_count == 3 and handle.dimensions == (2048, 1536)
        patch = wsi.read_patch(handle, location=(2000, 1500), level=0, size=64)
        assert patch.shape == (64, 64, 3) and (patch[40:, 60:] == 255).all()  # outside: transparent -> white
    grid = wsi.patch_grid((1024, 768), level_downsample=2.0, patch_size=256, stride=256)
    assert grid.shape == (12, 2) and grid[1].tolist() == [512, 0] and grid[4].tolist() == [0, 512]
    overlap = wsi.patch_grid((600, 256), level_downsample=1.0, patch_size=256, stride=128)
    assert overlap[:, 0].tolist() == [0, 128, 256]
    rgba = np.array([[[200, 100, 0, 0], [200, 100, 0, 255], [0, 0, 0, 128]]], np.uint8)
    np.testing.assert_array_equal(wsi.composite_on_white(rgba), [[[255, 255, 255], [200, 100, 0], [127, 127, 127]]])


def test_cli_extracts_and_reports_errors(slide, tmp_path, capsys):
    from ganaug.cli import main

    shutil.copy(slide["xml"], tmp_path / "slide_a.xml")
    out_dir = tmp_path / "cli"
    code = main(["extract-patches", str(slide["slide"]), "--out", str(out_dir), "--annotation-dir", str(tmp_path),
                 "--levels", "0", "--mask-downsample", "8", "--seed", "3"])
    assert code == 0
    assert "tumor found" in capsys.readouterr().out
    rows = _rows(out_dir)
    assert sum(r["label"] == "tumor" for r in rows) == sum(r["label"] == "normal" for r in rows) == 6
    code = main(["extract-patches", str(slide["slide"]), "--out", str(tmp_path / "bad"), "--levels", "5", "--quiet"])
    assert code == 2 and "level 5 is out of range" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_data_readers_wsi_imports_neither_ganaug_nor_tensorflow():
    code = ("import sys, data_readers.wsi, data_readers.annotations, data_readers.tissue; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ganaug', 'tensorflow', 'keras')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def _tree(out_dir):
    """``{relative path: bytes}`` of the patches of an extraction."""
    return {str(p.relative_to(out_dir)): p.read_bytes() for p in sorted(out_dir.rglob("*.png"))}


@pytest.mark.multiprocess
def test_one_shard_and_three_shards_merged_give_the_same_manifest_and_patches(slide, tmp_path, capsys):
    from ganaug.cli import main

    kwargs = dict(annotations=[slide["xml"]], levels=(0, 1), seed=2, **FAST)
    whole = wsi.extract_patches(slide["slide"], tmp_path / "one", **kwargs)
    common = [str(slide["slide"]), "--out", str(tmp_path / "three"), "--annotations", str(slide["xml"]),
              "--levels", "0", "1", "--mask-downsample", "8", "--seed", "2", "--quiet", "--num-shards", "3"]
    for index in (2, 0):
        assert main(["extract-patches", *common, "--shard-index", str(index)]) == 0
    assert main(["merge-manifests", str(tmp_path / "three")]) == 2  # shard 1 missing
    assert "Shard(s) [1] of 3 missing" in capsys.readouterr().err
    shard = wsi.extract_patches(slide["slide"], tmp_path / "three", num_workers=2, num_shards=3, shard_index=1,
                                **kwargs)
    assert 0 < shard.written < whole.written
    assert main(["merge-manifests", str(tmp_path / "three"), "--num-shards", "3"]) == 0
    merged = json.loads(capsys.readouterr().out)
    assert merged["rows"] == whole.written and sum(merged["per_shard"]) == whole.written
    for name in ("manifest.csv", "extraction.json"):
        assert (tmp_path / "three" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    assert _tree(tmp_path / "three") == _tree(tmp_path / "one")


def test_merge_refuses_duplicates_other_settings_and_missing_patches(slide, tmp_path):
    kwargs = dict(annotations=[slide["xml"]], levels=(0,), **FAST)
    for index in (0, 1):
        wsi.extract_patches(slide["slide"], tmp_path, num_shards=2, shard_index=index, **kwargs)
    first, second = (tmp_path / f"manifest.shard-{i}-of-2.csv" for i in (0, 1))
    original = second.read_text()
    second.write_text(original + first.read_text().splitlines()[1] + "\n")
    with pytest.raises(ValueError, match="listed by shards 0 and 1"):
        wsi.merge_manifests(tmp_path)
    second.write_text(original)
    with pytest.raises(ValueError, match="not 3"):
        wsi.merge_manifests(tmp_path, num_shards=3)
    victim = tmp_path / wsi.read_manifest(first)[0]["path"]
    victim.unlink()
    with pytest.raises(FileNotFoundError, match="1 patch file"):
        wsi.merge_manifests(tmp_path)
    wsi.extract_patches(slide["slide"], tmp_path, num_shards=2, shard_index=0, **kwargs)  # resumes: rewrites it
    assert victim.exists() and wsi.merge_manifests(tmp_path)["num_shards"] == 2
    settings = tmp_path / "extraction.shard-1-of-2.json"
    settings.write_text(settings.read_text().replace('"seed": 0', '"seed": 5'))
    with pytest.raises(ValueError, match="other settings"):
        wsi.merge_manifests(tmp_path)


@pytest.mark.parametrize("kwargs, name", [({"num_shards": 0}, "num_shards"), ({"num_shards": 2, "shard_index": 2},
                                                                                "shard_index")])
def test_bad_shard_arguments_are_named(slide, tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=f"Received: {name}="):
        wsi.extract_patches(slide["slide"], tmp_path / "out", **FAST, **kwargs)
    assert not (tmp_path / "out").exists()
