"""Issue 21: nothing silently wrong. Each numbered case of the issue, reproduced, with the new behaviour:
refused with a message naming the cause, or done right, and nothing lost.

The kill -9 sweep over checkpointing and model saving is in test_reliability_faults.py.
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

from _slides import build_test_slide
from data_readers import wsi
from data_readers.image_reader import ImageReader
from data_readers.synthetic import make_blood_cell_dataset
from ganaug import runs
from ganaug.cli import error_summary, main

TINY = ["--image-size", "16", "--batch-size", "8", "--latent-dim", "8",
        "--model-option", "generator_filters=8", "--model-option", "discriminator_filters=4",
        "--model-option", "kernel_size=3", "--checkpoint-every", "4", "--sample-every", "0",
        "--strategy", "default", "--quiet"]
FAST_WSI = {"patch_size": 256, "mask_downsample": 8.0, "verbose": 0}


def train(data, out, *extra, family="dcgan"):
    return main(["train", family, "--data", str(data), "--out", str(out), *TINY, *extra])


def error_line(capsys, command="train"):
    """The one line a failed command printed (and that there was one, without a traceback)."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(f"ganaug {command}: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def files(directory):
    """``relative path -> bytes`` of every file under ``directory``."""
    found = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, directory)] = handle.read()
    return found


def finished_files(run):
    """The files of a finished run that must survive a refused command byte for byte."""
    keep = ("generator.keras", "discriminator.keras", "metrics.json", "history.json", "config.json")
    return {k: v for k, v in files(run).items() if k in keep or k.startswith("checkpoints")}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "cells"
    make_blood_cell_dataset(out, image_size=16, counts={"neutrophil": 12, "lymphocyte": 12}, seed=0, verbose=0)
    return out


@pytest.fixture(scope="module")
def finished_run(data_dir, tmp_path_factory):
    """A finished 8-step DCGAN run (checkpoints 4 and 8); copy it before changing it."""
    run = tmp_path_factory.mktemp("runs") / "base"
    assert train(data_dir, run, "--steps", "8") == 0
    return run


@pytest.fixture
def run_copy(finished_run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(finished_run, target)
    return target


@pytest.fixture(scope="module")
def slide(tmp_path_factory):
    return build_test_slide(tmp_path_factory.mktemp("slides"))


def _rows(out_dir):
    with open(os.path.join(out_dir, "manifest.csv"), newline="") as handle:
        return list(csv.DictReader(handle))


# ------------------------------------------------------------------------------- 1. wrong labels
def test_case01_unknown_annotation_group_is_an_error_listing_the_groups_and_the_mapping(slide, tmp_path, capsys):
    tumour = tmp_path / "slide_a.xml"
    tumour.write_text(slide["xml"].read_text().replace('PartOfGroup="_0"', 'PartOfGroup="Tumour"'))
    out = tmp_path / "out"
    with pytest.raises(ValueError) as error:
        wsi.extract_patches(slide["slide"], out, annotations=[tumour], levels=(0,), balance=False, **FAST_WSI)
    message = str(error.value)
    assert "'Tumour' (1 annotation)" in message and "groups in the file: 'Tumour', '_2'" in message
    assert "--group-label Tumour=tumor" in message and "--ignore-group Tumour" in message
    assert not out.exists()  # before: every patch inside the tumour was written as normal

    base = ["extract-patches", str(slide["slide"]), "--annotations", str(tumour), "--levels", "0",
            "--mask-downsample", "8", "--no-balance", "--quiet"]
    assert main([*base, "--out", str(tmp_path / "x")]) == 2
    assert "map to no label" in error_line(capsys, "extract-patches")
    assert main([*base, "--out", str(tmp_path / "mapped"), "--group-label", "Tumour=tumor"]) == 0
    assert sum(row["label"] == "tumor" for row in _rows(tmp_path / "mapped")) == 6  # as with group _0
    assert main([*base, "--out", str(tmp_path / "ignored"), "--ignore-group", "Tumour"]) == 0
    assert not [row for row in _rows(tmp_path / "ignored") if row["label"] == "tumor"]  # explicitly ignored
    assert main([*base, "--out", str(tmp_path / "typo"), "--group-label", "Tumour=tumour"]) == 2
    assert "'tumour', which is not a region label" in error_line(capsys, "extract-patches")


# ------------------------------------------------------------------------ 2. a finished run lost
def test_case02_training_into_a_finished_run_is_refused_and_overwrite_starts_clean(data_dir, run_copy, capsys):
    before = finished_files(run_copy)
    assert train(data_dir, run_copy, "--steps", "4") == 2
    line = error_line(capsys)
    assert "already holds a run (finished at step 8" in line and "--resume" in line and "--overwrite" in line
    assert finished_files(run_copy) == before  # generator, metrics, history, checkpoints untouched
    runs.load_run_model(run_copy, "generator")  # and it still loads

    assert train(data_dir, run_copy, "--steps", "4", "--overwrite") == 0
    assert sorted(os.listdir(run_copy / "checkpoints")) == ["checkpoint", "ckpt-4.data-00000-of-00001", "ckpt-4.index"]
    assert runs.read_metrics(run_copy)["steps"] == 4 and runs.read_config(run_copy)["options"]["steps"] == 4


# ---------------------------------------------------------------------------------- 3. resumes
def test_case03_resume_without_a_usable_checkpoint_is_an_error_or_explicitly_a_start(data_dir, run_copy, tmp_path, capsys):
    missing = tmp_path / "missing"
    assert train(data_dir, missing, "--steps", "4", "--resume") == 2
    assert "--resume-or-start" in error_line(capsys) and not missing.exists()

    for name in os.listdir(run_copy / "checkpoints"):  # every checkpoint truncated (disk full)
        if ".data-" in name:
            path = run_copy / "checkpoints" / name
            path.write_bytes(path.read_bytes()[:50])
    before = finished_files(run_copy)
    assert train(data_dir, run_copy, "--steps", "12", "--resume") == 2
    assert "no usable checkpoint (ckpt-4, ckpt-8: incomplete or unreadable)" in error_line(capsys)
    assert train(data_dir, run_copy, "--steps", "12", "--resume-or-start") == 2
    assert "would replace its models" in error_line(capsys)
    assert finished_files(run_copy) == before  # before: silently restarted at 0 and replaced the models

    assert train(data_dir, missing, "--steps", "4", "--resume-or-start") == 0  # nothing to resume: starts
    assert runs.read_metrics(missing)["steps"] == 4


def test_case03_resume_to_fewer_steps_is_refused_without_a_mislabelled_checkpoint(data_dir, run_copy, capsys):
    before = finished_files(run_copy)
    assert train(data_dir, run_copy, "--steps", "4", "--resume") == 2
    assert "already at step 8" in error_line(capsys)
    assert finished_files(run_copy) == before  # before: wrote ckpt-4 holding step 8, config said 4
    assert train(data_dir, run_copy, "--steps", "8", "--resume") == 0  # already complete: nothing to do
    assert finished_files(run_copy) == before


def test_case03_changed_schedule_settings_resume_and_are_recorded(data_dir, run_copy):
    assert train(data_dir, run_copy, "--steps", "12", "--resume", "--batch-size", "4",
                 "--generator-learning-rate", "1e-3") == 0
    config = runs.read_config(run_copy)
    assert config["options"]["batch_size"] == 4 and config["options"]["steps"] == 12
    (entry,) = config["settings_history"]
    assert entry["from_step"] == 8
    assert entry["changes"]["options.batch_size"] == {"from": 8, "to": 4}
    assert entry["changes"]["options.steps"] == {"from": 8, "to": 12}
    history = json.loads((run_copy / "history.json").read_text())
    assert history["step"][-1] == 12 and history["generator_learning_rate"][-1] == pytest.approx(1e-3)
    assert runs.read_metrics(run_copy)["steps"] == 12


@pytest.mark.parametrize("change, named", [
    (("--image-size", "32"), "image_size 16 -> 32"),
    (("--model-option", "generator_filters=16", "--latent-dim", "4"), "latent_dim 8 -> 4, generator_filters 8 -> 16"),
    ((), "family 'dcgan' -> 'cdcgan'"),
])
def test_case03_changed_model_settings_are_one_line_naming_them(data_dir, run_copy, capsys, change, named):
    family = "cdcgan" if not change else "dcgan"
    before = finished_files(run_copy)
    assert train(data_dir, run_copy, "--steps", "12", "--resume", *change, family=family) == 2
    line = error_line(capsys)
    assert "Cannot resume" in line and named in line  # before: TensorFlow's raw shape error
    assert finished_files(run_copy) == before


# ----------------------------------------------------------------- 4. truncated files, leftovers
def test_case04_a_failed_model_save_never_leaves_a_truncated_model(run_copy):
    model = runs.load_run_model(run_copy, "generator")
    target = runs.model_path(run_copy, "generator")
    before = open(target, "rb").read()
    original_save = model.save

    def dying_save(path, *args, **kwargs):
        original_save(path, *args, **kwargs)
        with open(path, "r+b") as handle:  # as if killed in the middle of Keras's in-place write
            handle.truncate(100)
        raise KeyboardInterrupt

    model.save = dying_save
    with pytest.raises(KeyboardInterrupt):
        runs.save_model_atomic(model, target)
    assert open(target, "rb").read() == before
    assert not [name for name in os.listdir(run_copy) if ".tmp" in name]


def test_case04_leftovers_are_cleaned_and_a_truncated_model_is_named(data_dir, run_copy, capsys):
    (run_copy / "checkpoints" / "ckpt-12_temp").mkdir()
    (run_copy / "checkpoints" / "ckpt-12_temp" / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"x")
    (run_copy / "checkpoints" / "ckpt-11.index").write_bytes(b"partial")  # a save the index never listed
    (run_copy / "generator.tmp.keras").write_bytes(b"PK partial")
    (run_copy / ".tmp-abc.json").write_text("{")
    assert train(data_dir, run_copy, "--steps", "12", "--resume") == 0
    leftovers = [p for p in files(run_copy) if ".tmp" in p or "_temp" in p or "ckpt-11" in p]
    assert leftovers == []

    generator = run_copy / "generator.keras"
    generator.write_bytes(generator.read_bytes()[:1000])
    assert main(["generate", "--run", str(run_copy), "--n", "2", "--out", str(run_copy / "g.png")]) == 2
    assert "not a complete .keras file" in error_line(capsys, "generate")  # before: "File not found"


# ------------------------------------------------------------------ 5. conditional export labels
_LABEL_SCRIPT = """
import json, sys
import numpy as np, tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
results = {}
calls = {
    "ok": ("generate_from_latent", {"latent": np.zeros((2, 4), np.float32), "label": np.array([0, 2], np.int32)}),
    "99": ("generate_from_latent", {"latent": np.zeros((2, 4), np.float32), "label": np.array([1, 99], np.int32)}),
    "-1": ("generate_from_latent", {"latent": np.zeros((1, 4), np.float32), "label": np.array([-1], np.int32)}),
    "generate 3": ("generate", {"num_images": np.int32(2), "seed": np.int64(0), "label": np.int32(3)}),
}
for name, (signature, arguments) in calls.items():
    try:
        out = model.signatures[signature](**{k: tf.constant(v) for k, v in arguments.items()})
        results[name] = ["ok", list(out["images"].shape)]
    except tf.errors.OpError as error:
        results[name] = [type(error).__name__, error.message]
assert "ganaug" not in sys.modules
print(json.dumps(results))
"""


def test_case05_exported_conditional_generator_refuses_labels_outside_its_classes(tmp_path):
    import keras

    from ganaug import export

    latent, label = keras.Input((4,), name="latent"), keras.Input((), dtype="int32", name="label")
    one_hot = keras.layers.Lambda(lambda y: keras.ops.one_hot(y, 3))(label)  # label 99: all zeros
    x = keras.layers.Dense(4 * 4 * 3, activation="tanh")(keras.layers.Concatenate()([latent, one_hot]))
    generator = keras.Model([latent, label], keras.layers.Reshape((4, 4, 3))(x))
    path = export.export_generator(generator, tmp_path / "cgen", class_names=["a", "b", "c"])
    result = subprocess.run([sys.executable, "-c", _LABEL_SCRIPT, str(path)], capture_output=True, text=True,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["ok"] == ["ok", [2, 4, 4, 3]]
    for case in ("99", "-1", "generate 3"):
        kind, message = outcome[case]
        assert kind == "InvalidArgumentError" and "label must be a class index in [0, 3)" in message, outcome
    assert "InvalidArgumentError" in export.read_model_card(path)["label_check"]


# -------------------------------------------------------------------- 6. extraction re-runs
def test_case06_extraction_rerun_with_other_settings_refuses_or_starts_clean(slide, tmp_path, capsys):
    out = tmp_path / "patches"
    kwargs = dict(annotations=[slide["xml"]], levels=(0,), **FAST_WSI)
    first = wsi.extract_patches(slide["slide"], out, seed=0, **kwargs)
    manifest = (out / "manifest.csv").read_bytes()
    labels = [row["label"] for row in _rows(out)]
    assert labels.count("tumor") == labels.count("normal") == 6

    for change, named in (({"seed": 1}, "seed 0 -> 1"), ({"max_per_class": 2}, "max_per_class None -> 2")):
        with pytest.raises(FileExistsError, match=named):
            wsi.extract_patches(slide["slide"], out, **{"seed": 0, **kwargs, **change})
        assert (out / "manifest.csv").read_bytes() == manifest  # before: 91/91 became 91/144
    code = main(["extract-patches", str(slide["slide"]), "--out", str(out), "--annotations", str(slide["xml"]),
                 "--levels", "0", "--mask-downsample", "8", "--seed", "5", "--quiet"])
    assert code == 2 and "seed 0 -> 5" in error_line(capsys, "extract-patches")

    again = wsi.extract_patches(slide["slide"], out, seed=0, **kwargs)  # same settings: still resumes
    assert again.written == 0 and again.skipped_existing == first.written
    assert (out / "manifest.csv").read_bytes() == manifest

    clean = wsi.extract_patches(slide["slide"], out, seed=1, max_per_class=2, overwrite=True, **kwargs)
    rows = _rows(out)
    assert clean.written == 4 and sorted(r["label"] for r in rows) == ["normal", "normal", "tumor", "tumor"]
    on_disk = {p for p in files(out) if p.endswith(".png")}
    assert on_disk == {row["path"] for row in rows}  # every acknowledged patch present, nothing else


# ------------------------------------------------------- 7 and 9. mixed bit depths, skipped counts
def test_case07_09_sixteen_bit_and_unreadable_files_train_and_are_counted(data_dir, tmp_path):
    data = tmp_path / "data"
    for name in ("lymphocyte", "neutrophil"):
        (data / name).mkdir(parents=True)
        for path in sorted((data_dir / name).iterdir())[:3]:
            shutil.copy(path, data / name / path.name)
    deep = (np.arange(16 * 16 * 3, dtype=np.uint16).reshape(16, 16, 3) * 85).astype(np.uint16)
    cv2.imwrite(str(data / "neutrophil" / "zz_16bit.png"), deep)
    (data / "neutrophil" / "zz_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    run = tmp_path / "run"
    assert train(data, run, "--steps", "4", "--batch-size", "4") == 0  # before: InvalidArgumentError traceback
    metrics = runs.read_metrics(run)
    assert metrics["converted_files"] == 1 and list(metrics["converted"]) == [str(data / "neutrophil" / "zz_16bit.png")]
    assert "16-bit image converted to 8 bits" in metrics["converted"][str(data / "neutrophil" / "zz_16bit.png")]
    assert metrics["skipped_files"] == 1
    assert "corrupt" in metrics["skipped"][str(data / "neutrophil" / "zz_corrupt.png")]
    runs.load_run_model(run, "generator")


# ------------------------------------------------------------------ 8. empty classes, symlinks
def test_case08_empty_class_folder_is_an_error_unless_allowed(data_dir, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(data_dir, data)
    (data / "basophil").mkdir()
    (data / "basophil" / "notes.txt").write_text("scans in another format")
    with pytest.raises(ValueError, match=r"'basophil' .* have no image files .* allow_empty_classes=True"):
        ImageReader.from_folder(data, seed=0)
    reader = ImageReader.from_folder(data, seed=0, allow_empty_classes=True)
    assert reader.class_names == ["basophil", "lymphocyte", "neutrophil"] and len(reader.paths) == 24
    assert train(data, tmp_path / "run", "--steps", "4") == 2
    assert "'basophil'" in error_line(capsys)


def test_case08_symlinks_are_followed_once(tmp_path):
    folder = tmp_path / "data" / "cells"
    folder.mkdir(parents=True)
    for i in range(4):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((4, 4, 3), i * 40, np.uint8))
    os.symlink("..", folder / "loop")  # cells/loop -> data: a loop back into the class folder
    os.symlink(folder / "0.png", folder / "again.png")  # a second name for one file
    (tmp_path / "data" / "other").mkdir()
    os.symlink(folder, tmp_path / "data" / "other" / "link")
    reader = ImageReader.from_folder(tmp_path / "data", class_names=["cells"], seed=0)
    assert len(reader.paths) == 4  # before: 4 images read as 164 files
    unlabelled = ImageReader.from_folder(tmp_path / "data", labelled=False, seed=0)
    assert len(unlabelled.paths) == 4


# -------------------------------------------------------------------------- 9. generate --out
def test_case09_generate_into_a_folder_with_older_images_refuses_unless_overwrite(finished_run, tmp_path, capsys):
    out = tmp_path / "gen"
    assert main(["generate", "--run", str(finished_run), "--n", "6", "--out", str(out)]) == 0
    before = files(out)
    assert main(["generate", "--run", str(finished_run), "--n", "3", "--out", str(out)]) == 2
    assert "--overwrite" in error_line(capsys, "generate") and files(out) == before
    assert main(["generate", "--run", str(finished_run), "--n", "3", "--out", str(out), "--overwrite"]) == 0
    rows = _rows(out)
    assert sorted(os.listdir(out)) == sorted(["manifest.csv"] + [row["path"] for row in rows]) and len(rows) == 3
    grid = tmp_path / "grid.png"
    assert main(["generate", "--run", str(finished_run), "--n", "2", "--out", str(grid)]) == 0
    assert main(["generate", "--run", str(finished_run), "--n", "2", "--out", str(grid)]) == 2
    error_line(capsys, "generate")


# ------------------------------------------------------------------------------------- 10. umask
def test_case10_files_are_written_with_the_users_umask(slide, finished_run, tmp_path):
    from ganaug import export

    previous = os.umask(0o027)
    try:
        run = tmp_path / "run"
        runs.create_run_dir(run)
        runs.write_config(run, {"family": "dcgan"})
        runs.update_metrics(run, {"steps": 1})
        runs.write_json_atomic(run / "history.json", {"step": []})
        exported = export.export_generator(runs.load_run_model(finished_run, "generator"), tmp_path / "export")
        wsi.extract_patches(slide["slide"], tmp_path / "patches", annotations=[slide["xml"]], levels=(0,),
                            max_per_class=1, **FAST_WSI)
        assert main(["generate", "--run", str(finished_run), "--n", "2", "--out", str(tmp_path / "gen")]) == 0
    finally:
        os.umask(previous)
    for path in (run / "config.json", run / "metrics.json", run / "history.json",
                 os.path.join(exported, "model_card.json"), tmp_path / "patches" / "extraction.json",
                 tmp_path / "patches" / "manifest.csv", tmp_path / "gen" / "manifest.csv"):
        assert oct(os.stat(path).st_mode & 0o777) == oct(0o640), path  # before: 0600 whatever the umask
    assert oct(os.stat(exported).st_mode & 0o777) == oct(0o750)


# ------------------------------------------------------------------------------------ 11. smaller
def _read_only(path):
    """Makes a folder read-only for this process (root ignores modes: the immutable attribute)."""
    if os.geteuid() != 0:
        os.chmod(path, 0o555)
        return lambda: os.chmod(path, 0o755)
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("running as root on a file system without chattr +i: cannot make a read-only folder")
    return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)


def test_case11_a_read_only_run_dir_is_a_clean_error(data_dir, run_copy, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    for run, extra in ((empty, ()), (run_copy, ("--resume",))):
        before = files(run)
        restore = _read_only(run)
        try:
            assert train(data_dir, run, "--steps", "12", *extra) == 2
        finally:
            restore()
        assert "is not writable" in error_line(capsys)  # before: PermissionDeniedError traceback
        assert files(run) == before


def test_case11_no_tumour_warning_names_the_cli_flag(slide, tmp_path):
    with pytest.warns(UserWarning, match="--no-balance"):
        wsi.extract_patches(slide["slide"], tmp_path, levels=(0,), **FAST_WSI)


def test_case11_a_vertex_half_a_pixel_outside_the_slide_is_clipped(slide, tmp_path):
    edge = tmp_path / "edge.xml"
    text = slide["xml"].read_text()
    edge.write_text(text.replace('X="1310.0"', 'X="2048.5"'))  # one vertex 0.5 px past the right edge
    summary = wsi.extract_patches(slide["slide"], tmp_path / "out", annotations=[edge], levels=(0,), **FAST_WSI)
    assert summary.written > 0  # before: "lies outside the slide", nothing extracted


def test_case11_inferred_size_blames_the_odd_file(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((24, 24, 3), np.uint8))  # the outsized first image
    for name in "bcde":
        cv2.imwrite(str(tmp_path / f"{name}.png"), np.zeros((16, 16, 3), np.uint8))
    paths = sorted(str(p) for p in tmp_path.glob("*.png"))
    with pytest.raises(ValueError, match=r"Image .*a\.png \(the first image.*has size \(24, 24\), but the other images have \(16, 16\)"):
        list(ImageReader.from_paths(paths, shuffle=False, seed=0, batch_size=5))
    cv2.imwrite(str(tmp_path / "c.png"), np.zeros((20, 20, 3), np.uint8))  # now an odd one in the middle
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match=r"Image .*c\.png has size \(20, 20\), but the reader's images are \(16, 16\)"):
        list(ImageReader.from_paths(paths, shuffle=False, seed=0, batch_size=5))


def test_case11_acgan_at_another_size_than_its_base_is_refused(data_dir, finished_run, tmp_path, capsys):
    code = main(["train", "acgan", "--data", str(data_dir), "--out", str(tmp_path / "acgan"), "--base-run",
                 str(finished_run), "--image-size", "32", "--steps", "2", "--quiet"])
    assert code == 2
    assert "trains at its base run's image_size (16" in error_line(capsys)  # before: trained at 16 silently


# ----------------------------------------------------------------- every CLI failure: one line
def test_cli_failures_are_one_line_and_debug_shows_the_traceback(tmp_path, capsys):
    import tensorflow as tf

    def broken(_):
        raise ValueError("Image /data/x.png has size (20, 20), but the reader's images are (16, 16)")

    dataset = tf.data.Dataset.range(1).map(lambda i: tf.numpy_function(broken, [i], tf.int64))
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        list(dataset)
    assert error_summary(error.value) == "Image /data/x.png has size (20, 20), but the reader's images are (16, 16)"
    assert error_summary(KeyError("class_names")) == "KeyError: 'class_names'"

    @tf.function
    def checked(label):
        with tf.control_dependencies([tf.debugging.assert_less(label, 3, message="label must be in [0, 3)")]):
            return tf.identity(label)

    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        checked(tf.constant([5]))
    assert error_summary(error.value) == "label must be in [0, 3)"

    missing = ["generate", "--run", str(tmp_path / "nope"), "--out", str(tmp_path / "g.png")]
    assert main(missing) == 2
    assert "No run config found" in error_line(capsys, "generate")
    with pytest.raises(FileNotFoundError):
        main([*missing, "--debug"])
    with pytest.raises(FileNotFoundError):
        main(["--debug", *missing])
