"""`ganaug invert` and `ganaug edit ...` on a tiny run directory written here."""

import csv
import json
import os

import numpy as np
import pytest

from ganaug.cli import main
from ganaug.figures import save_png
from ganaug.latent import generate_images
from ganaug.models import build_cdcgan_generator, build_dcgan_generator, sample_latent
from ganaug.runs import create_run_dir, model_path, write_config

LATENT_DIM = 4


def _make_run(root, *, conditional):
    run_dir = create_run_dir(root / ("cdcgan" if conditional else "dcgan"))
    class_names = ["normal", "tumour"] if conditional else None
    if conditional:
        generator = build_cdcgan_generator(num_classes=2, image_size=16, latent_dim=LATENT_DIM, generator_filters=8, seed=0)
    else:
        generator = build_dcgan_generator(image_size=16, latent_dim=LATENT_DIM, generator_filters=8, seed=0)
    generator.save(model_path(run_dir, "generator"))
    write_config(run_dir, {
        "family": "cdcgan" if conditional else "dcgan", "image_size": 16, "channels": 3,
        "latent_dim": LATENT_DIM, "latent_distribution": "normal", "class_names": class_names,
        "num_classes": 2 if conditional else None, "seed": 0, "data": "test",
    })
    # Images the generator can make, saved as PNG files in class folders.
    labels = np.array([0, 1, 0, 1], np.int32)
    images = generate_images(generator, sample_latent(4, LATENT_DIM, seed=1), labels if conditional else None)
    images = images / max(np.abs(images).max(), 1e-6)  # untrained generators are faint: stretch
    paths = []
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / "images" / (class_names[label] if conditional else "all")
        paths.append(save_png(str(folder / f"img{i}.png"), image))
    return run_dir, paths


def test_invert_command_writes_codes_grid_and_errors(tmp_path):
    run_dir, paths = _make_run(tmp_path, conditional=False)
    out = tmp_path / "inverted"
    code = main(["invert", "--run", run_dir, "--images", os.path.dirname(paths[0]), "--out", str(out),
                 "--steps", "5", "--restarts", "2", "--quiet"])
    assert code == 0
    codes = np.load(out / "codes.npy")
    assert codes.shape == (4, LATENT_DIM)
    assert (out / "reconstructions.png").stat().st_size > 0
    with open(out / "errors.csv") as f:
        rows = list(csv.DictReader(f))
    assert [os.path.basename(r["path"]) for r in rows] == ["img0.png", "img1.png", "img2.png", "img3.png"]
    assert all(float(r["rmse"]) >= 0 and float(r["psnr"]) > 0 for r in rows)
    summary = json.loads((out / "inversion.json").read_text())
    assert summary["steps"] == 5 and summary["restarts"] == 2
    # Edits on the same run.
    assert main(["edit", "interpolate", "--run", run_dir, "--images", paths[0], paths[1], "--out", str(tmp_path / "path"),
                 "--num-steps", "4", "--method", "slerp", "--steps", "2", "--quiet"]) == 0
    assert np.load(tmp_path / "path" / "codes.npy").shape == (4, LATENT_DIM)
    assert (tmp_path / "path" / "interpolation.gif").exists()
    assert main(["edit", "arithmetic", "--run", run_dir, "--plus", paths[0], paths[1], "--minus", paths[2],
                 "--out", str(tmp_path / "sum"), "--steps", "2", "--quiet"]) == 0
    record = json.loads((tmp_path / "sum" / "arithmetic.json").read_text())
    assert record["provenance"] == "(mean(img0, img1) - img2)"
    codes = np.load(tmp_path / "sum" / "codes.npy")
    np.testing.assert_allclose(codes[-1], codes[:2].mean(0) - codes[2], rtol=1e-5, atol=1e-6)
    assert main(["edit", "direction", "--run", run_dir, "--negative", paths[0], paths[1], "--positive", paths[2], paths[3],
                 "--images", paths[0], "--strengths", "-1", "1", "--method", "mean_difference",
                 "--out", str(tmp_path / "dir"), "--steps", "2", "--quiet"]) == 0
    assert np.load(tmp_path / "dir" / "codes.npy").shape == (2, LATENT_DIM)
    assert json.loads((tmp_path / "dir" / "direction.json").read_text())["separation"] > 0


def test_class_invert_command_reads_labels_from_folders(tmp_path):
    run_dir, paths = _make_run(tmp_path, conditional=True)
    out = tmp_path / "inverted"
    assert main(["edit", "class-invert", "--run", run_dir, "--images", str(tmp_path / "images"), "--out", str(out),
                 "--steps", "2", "--quiet"]) == 0
    # Folders sort as normal/img0, normal/img2, tumour/img1, tumour/img3: labels 0, 0, 1, 1 -> swapped.
    np.testing.assert_array_equal(np.load(out / "target_labels.npy"), [1, 1, 0, 0])
    assert (out / "class_inversion.png").exists()


def test_cli_errors_name_the_bad_input(tmp_path, capsys):
    run_dir, paths = _make_run(tmp_path, conditional=False)
    assert main(["invert", "--run", run_dir, "--images", str(tmp_path / "missing.png"), "--out", str(tmp_path / "o")]) == 2
    assert "missing.png" in capsys.readouterr().err
    assert main(["invert", "--run", run_dir, "--images", paths[0], "--out", str(tmp_path / "o"), "--steps", "-3", "--quiet"]) == 2
    assert "steps=-3" in capsys.readouterr().err
    assert main(["invert", "--run", run_dir, "--images", paths[0], "--labels", "x", "--out", str(tmp_path / "o")]) == 2
    assert "unconditional" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["edit", "interpolate", "--run", run_dir, "--images", paths[0], "--out", str(tmp_path / "o")])


def test_train_encoder_reads_an_image_reader(tmp_path):
    from data_readers.image_reader import ImageReader
    from ganaug.latent import train_encoder
    from ganaug.runs import load_run_model

    run_dir, _ = _make_run(tmp_path, conditional=True)
    reader = ImageReader.from_folder(tmp_path / "images", image_size=16, batch_size=2, seed=0)
    generator = load_run_model(run_dir, "generator")
    result = train_encoder(generator, reader, epochs=2, learning_rate=1e-3, verbose=0)
    assert len(reader) == 2
    assert result.history["step"] == [1, 2, 3, 4]  # 2 epochs of len(reader) batches
    assert all(np.isfinite(result.history["image_loss"]))
