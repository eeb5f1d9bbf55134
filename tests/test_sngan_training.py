"""SNGAN in the one training engine: discriminator steps, hinge loss, distribution, resume, CLI, config."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from ganaug.models import build_projection_discriminator, build_sngan_generator
from ganaug.training import GANTrainer, train_gan
from ganaug.training.config import resolve_config

NUM_CLASSES = 3


def _generator():
    return build_sngan_generator(NUM_CLASSES, image_size=16, latent_dim=8, generator_filters=8, seed=1)


def _discriminator():
    return build_projection_discriminator(NUM_CLASSES, image_size=16, discriminator_filters=8, seed=2)


def _data(count=24, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, count).astype(np.int32)
    images = np.tanh(rng.normal(size=(count, 16, 16, 3)) + labels[:, None, None, None] - 1).astype(np.float32)
    return images, labels


def _weights(model):
    return [w.numpy().copy() for w in model.trainable_weights]


def test_generator_updates_after_every_kth_discriminator_step():
    trainer = GANTrainer(_generator(), _discriminator(), family="sngan", loss="hinge", discriminator_steps=3, seed=0)
    data = _data()
    before_g, before_d = _weights(trainer.generator), _weights(trainer.discriminator)
    trainer.fit(data, batch_size=8, steps=2, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before_g, _weights(trainer.generator)))
    assert not all(np.array_equal(a, b) for a, b in zip(before_d, _weights(trainer.discriminator)))
    history = trainer.fit(data, batch_size=8, steps=3, verbose=0)
    assert not all(np.array_equal(a, b) for a, b in zip(before_g, _weights(trainer.generator)))
    assert np.isfinite(history["g_loss"][-1]) and np.isfinite(history["d_loss"][-1])


def test_every_weight_moves_and_losses_are_hinge():
    trainer = GANTrainer(_generator(), _discriminator(), family="sngan", loss="hinge", seed=0)
    before = _weights(trainer.generator) + _weights(trainer.discriminator)
    history = trainer.fit(_data(), batch_size=8, steps=2, log_every=1, verbose=0)
    after = _weights(trainer.generator) + _weights(trainer.discriminator)
    unchanged = [w.name for w, a, b in zip(trainer.generator.trainable_weights + trainer.discriminator.trainable_weights,
                                           before, after) if np.array_equal(a, b)]
    assert not unchanged
    assert history["d_loss"][0] >= 0  # hinge (values against hand-computed ones: test_losses.py)


def test_family_must_match_the_models():
    from ganaug.models import build_dcgan_discriminator, build_dcgan_generator

    with pytest.raises(ValueError, match="family"):
        GANTrainer(build_dcgan_generator(image_size=16, latent_dim=8, generator_filters=8),
                   build_dcgan_discriminator(image_size=16, discriminator_filters=4), family="sngan")
    with pytest.raises(ValueError, match="discriminator_steps"):
        GANTrainer(_generator(), _discriminator(), discriminator_steps=2, generator_steps=2)


@pytest.mark.slow
@pytest.mark.skipif(len(tf.config.list_logical_devices("CPU")) < 2, reason="needs 2 logical CPU devices")
def test_mirrored_sngan_step_equals_single_device_step():
    # The generator's (conditional) batch norm normalises with each replica's half of the batch under
    # MirroredStrategy, so G's forward pass differs between the two set-ups; the discriminator has no
    # batch norm, but it sees G's fakes. Tolerance: after two steps every weight of both networks
    # agrees to 2e-3 (measured: at most 4e-4 apart; Adam's normalised steps keep the gap small).
    # LeCam is on: its moving averages are the replicas' means, i.e. the global batch's.
    def build(strategy):
        return GANTrainer(_generator, _discriminator, family="sngan", loss="hinge", discriminator_steps=2,
                          strategy=strategy, diffaugment="translation", seed=5,
                          objective_options={"lecam_weight": 0.3})

    data = _data(16)
    single = build("default")
    single.fit(data, batch_size=8, steps=2, verbose=0)
    mirrored = build("mirrored")
    assert mirrored.strategy.num_replicas_in_sync == 2
    mirrored.fit(data, batch_size=8, steps=2, verbose=0)
    for a, b in zip(_weights(single.discriminator), _weights(mirrored.discriminator)):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-3)
    for a, b in zip(_weights(single.generator), _weights(mirrored.generator)):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-3)
    for name in ("real_average", "fake_average", "updates"):
        np.testing.assert_allclose(float(mirrored.objective._lecam[name].numpy()),
                                   float(single.objective._lecam[name].numpy()), rtol=2e-3, atol=2e-3)


def test_lecam_trains_and_its_averages_resume_from_the_checkpoint(tmp_path):
    def build():
        return GANTrainer(_generator(), _discriminator(), family="sngan", loss="hinge", seed=0,
                          objective_options={"lecam_weight": 0.3, "lecam_decay": 0.9})

    data, run = _data(16), str(tmp_path / "run")
    first = build()
    history = first.fit(data, batch_size=8, steps=3, run_dir=run, checkpoint_every=1, sample_every=0, verbose=0)
    state = first.objective._lecam
    assert float(state["updates"].numpy()) == 3 and np.isfinite(history["d_loss"][-1])
    averages = (float(state["real_average"].numpy()), float(state["fake_average"].numpy()))
    assert averages[0] != 0 and averages[1] != 0
    resumed = build()
    resumed.fit(data, batch_size=8, steps=3, run_dir=run, resume=True, sample_every=0, verbose=0)
    restored = resumed.objective._lecam
    assert float(restored["updates"].numpy()) == 3
    np.testing.assert_allclose([float(restored["real_average"].numpy()), float(restored["fake_average"].numpy())],
                               averages, rtol=1e-6)
    with pytest.raises(ValueError, match="lecam_weight"):
        resolve_config("stylegan", lecam_weight=0.3)  # its objective takes no LeCam term
    assert resolve_config("sngan", lecam_weight=0.3)["training"]["lecam_weight"] == 0.3


def test_resolve_config_rejects_unknown_settings_and_applies_presets():
    with pytest.raises(ValueError, match=r"Received: generator_filter=32"):
        resolve_config("dcgan", "fernandez2021", generator_filter=32)
    settings = resolve_config("sngan", "sngan_cpu", image_size=16, batch_size=8)
    assert settings["training"]["loss"] == "hinge" and settings["training"]["discriminator_steps"] == 1
    assert settings["training"]["batch_size"] == 8 and settings["image_size"] == 16
    assert settings["model"]["generator_filters"] == 64
    assert resolve_config("dcgan", "fernandez2021")["image_size"] == 256  # the preset's, not a default
    with pytest.raises(ValueError, match="generator_filter"):
        train_gan("dcgan", _data(), run_dir=None, steps=1, model_options={"generator_filter": 32})


def test_a_presets_epochs_take_effect(tmp_path):
    images, _ = _data(20)
    history = train_gan(
        "dcgan", (images, None), run_dir=str(tmp_path / "run"), preset="klang_carlberg2020", image_size=16,
        latent_dim=8, model_options={"generator_filters": 8, "discriminator_filters": 4, "max_blocks": 2},
        checkpoint_every=0, sample_every=0, verbose=0,
    )
    config = json.load(open(tmp_path / "run" / "config.json"))
    assert config["options"]["steps"] == 75  # 75 epochs (the thesis's) x 1 batch of 20
    assert history["step"][-1] == 75
    assert config["settings"]["training"]["epochs"] == 75


def _cli(*args, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", "ganaug.cli", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_cli_trains_resumes_and_generates_per_label(tmp_path):
    from data_readers.synthetic import make_blood_cell_dataset

    data = tmp_path / "data"
    make_blood_cell_dataset(data, image_size=16, counts={"lymphocyte": 16, "neutrophil": 16}, verbose=0)
    common = ["train", "sngan", "--data", str(data), "--out", str(tmp_path / "run"), "--preset", "sngan_cpu",
              "--image-size", "16", "--batch-size", "8", "--model-option", "generator_filters=8",
              "--model-option", "discriminator_filters=8", "--checkpoint-every", "2", "--sample-every", "0", "--quiet"]
    first = _cli(*common, "--steps", "2", "--balanced-classes", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert json.load(open(tmp_path / "run" / "config.json"))["balanced_classes"] is True
    resumed = _cli(*common, "--steps", "4", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    config = json.load(open(tmp_path / "run" / "config.json"))
    assert config["family"] == "sngan" and config["options"]["discriminator_steps"] == 1
    assert config["options"]["loss"] == "hinge" and config["options"]["ema_decay"] == 0.999
    assert config["options"]["diffaugment"]  # auto: on for a data set under 5,000 images
    history = json.load(open(tmp_path / "run" / "history.json"))
    assert history["step"][-1] == 4
    out = tmp_path / "generated"
    generated = _cli("generate", "--run", str(tmp_path / "run"), "--n", "4", "--label", "1",
                     "--out", str(out), cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr[-2000:]
    manifest = (out / "manifest.csv").read_text().splitlines()
    assert len(manifest) == 5 and all(line.split(",")[2] == "neutrophil" for line in manifest[1:])
    compared = _cli("evaluate", "--runs", str(tmp_path / "run"), "--data", str(data), "--epochs", "1",
                    "--out", str(tmp_path / "comparison"), "--quiet", cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr[-2000:]
    assert "Selected: " in compared.stdout and "real held-out (reference)" in compared.stdout
    assert json.load(open(tmp_path / "comparison" / "results.json"))["selected"] == "run"
    misspelt = _cli(*common[:-1], "--model-option", "generator_filter=8", "--steps", "1", cwd=tmp_path)
    assert misspelt.returncode != 0 and "generator_filter" in (misspelt.stderr + misspelt.stdout)
