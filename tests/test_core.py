"""The package's own plumbing: backend check, latent prior, run directories, figures."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ganaug import figures, runs
from ganaug.models.prior import sample_latent


def test_import_with_other_backend_names_the_fix(tmp_path):
    env = dict(os.environ, KERAS_BACKEND="jax")
    result = subprocess.run(
        [sys.executable, "-c", "import ganaug"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "KERAS_BACKEND=tensorflow" in result.stderr
    assert "'jax'" in result.stderr


def test_import_reads_keras_json(tmp_path):
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "torch"}))
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["KERAS_HOME"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", "import ganaug"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "'torch'" in result.stderr


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_sample_latent_shapes_ranges_and_seeds(distribution):
    codes = sample_latent(4000, 8, distribution=distribution, seed=3)
    assert codes.shape == (4000, 8) and codes.dtype == np.float32
    np.testing.assert_array_equal(codes, sample_latent(4000, 8, distribution=distribution, seed=3))
    assert not np.array_equal(codes, sample_latent(4000, 8, distribution=distribution, seed=4))
    if distribution == "uniform":
        assert codes.min() >= -1.0 and codes.max() <= 1.0
        np.testing.assert_allclose(codes.var(), 1.0 / 3.0, atol=0.02)
    else:
        np.testing.assert_allclose(codes.std(), 1.0, atol=0.02)


@pytest.mark.parametrize(
    "kwargs, name",
    [({"num_samples": -1}, "num_samples"), ({"latent_dim": 0}, "latent_dim"),
     ({"distribution": "cauchy"}, "latent_distribution")],
)
def test_sample_latent_rejects_bad_arguments(kwargs, name):
    arguments = {"num_samples": 2, "latent_dim": 3}
    distribution = kwargs.pop("distribution", "normal")
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=name):
        sample_latent(arguments["num_samples"], arguments["latent_dim"], distribution=distribution)


def test_run_directory_round_trip(tmp_path):
    run = runs.create_run_dir(tmp_path / "run")
    for sub in runs.SUBDIRECTORIES:
        assert os.path.isdir(os.path.join(run, sub))
    config = {"family": "dcgan", "image_size": 32, "class_names": ["a", "b"], "seed": np.int64(3)}
    runs.write_config(run, config)
    assert runs.read_config(run) == {"family": "dcgan", "image_size": 32, "class_names": ["a", "b"], "seed": 3}
    runs.update_metrics(run, {"fid": 1.5})
    assert runs.update_metrics(run, {"kid": np.float32(0.25)}) == {"fid": 1.5, "kid": 0.25}
    assert not [name for name in os.listdir(run) if name.startswith(".tmp-")]
    with pytest.raises(FileNotFoundError, match="generator"):
        runs.load_run_model(run, "generator")
    with pytest.raises(FileNotFoundError, match="config.json"):
        runs.read_config(tmp_path / "missing")
    with pytest.raises(FileExistsError):
        runs.create_run_dir(run, exist_ok=False)


def test_image_grid_layout_and_values():
    images = np.stack([np.full((4, 5, 3), value, np.float32) for value in (-1.0, 0.0, 1.0)])
    grid = figures.image_grid(images, num_columns=2, padding=1)
    assert grid.shape == (2 * 5 + 1, 2 * 6 + 1, 3) and grid.dtype == np.uint8
    assert (grid[1:5, 1:6] == 0).all()          # -1 -> 0
    assert (grid[1:5, 7:12] == 128).all()       # 0 -> 127.5 rounds to 128
    assert (grid[6:10, 1:6] == 255).all()       # 1 -> 255
    assert (grid[6:10, 7:12] == 255).all()      # empty cell = padding
    gray = figures.image_grid(np.zeros((2, 3, 3, 1), np.uint8))
    assert gray.shape[-1] == 3
    with pytest.raises(ValueError, match="images.shape"):
        figures.image_grid(np.zeros((2, 3, 3, 2)))


def test_png_and_gif_files_are_written_and_readable(tmp_path):
    import cv2
    from PIL import Image

    images = np.random.default_rng(0).uniform(-1, 1, (6, 8, 8, 3)).astype(np.float32)
    path = figures.save_image_grid(tmp_path / "grid.png", images, num_columns=3, padding=0)
    written = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(written, figures.image_grid(images, num_columns=3, padding=0))
    gif = figures.save_gif(tmp_path / "strip.gif", images)
    assert Image.open(gif).n_frames == 6


def test_figures_build_and_save(tmp_path):
    images = np.zeros((2, 3, 8, 8, 3), np.float32)
    figure = figures.labelled_grid_figure(images, row_labels=["a", "b"], column_labels=["x", "y", "z"])
    figures.save_figure(figure, tmp_path / "labelled.png")
    assert (tmp_path / "labelled.png").stat().st_size > 0
    with pytest.raises(ValueError, match="row_labels"):
        figures.labelled_grid_figure(images, row_labels=["a"])
    curves = figures.loss_curves_figure({"step": [1, 2, 3], "d_loss": [1.0, 0.5, 0.2]}, smoothing=0.5)
    figures.save_figure(curves, tmp_path / "curves.png")
    with pytest.raises(ValueError, match="smoothing"):
        figures.loss_curves_figure({"a": [1.0]}, smoothing=1.0)


def test_cli_help_lists_commands():
    result = subprocess.run(
        [sys.executable, "-m", "ganaug.cli", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "ganaug" in result.stdout
