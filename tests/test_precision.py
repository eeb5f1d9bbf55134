"""Mixed precision: the policies a run computes in, bfloat16 without loss scaling, float32 saved models."""

import keras
import numpy as np
import pytest

from ganaug import runs
from ganaug.training import GANTrainer, precision


def tiny_generator():
    latent = keras.Input((8,))
    x = keras.layers.Dense(4 * 4 * 8)(latent)
    x = keras.layers.Reshape((4, 4, 8))(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same")(x)
    return keras.Model(latent, keras.layers.Activation("tanh")(x), name="g")


def tiny_discriminator():
    image = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same")(image)
    x = keras.layers.LeakyReLU(0.2)(x)
    return keras.Model(image, keras.layers.Dense(1)(keras.layers.Flatten()(x)), name="d")


def tiny_images(n=16):
    return np.random.default_rng(0).uniform(-1, 1, (n, 8, 8, 3)).astype(np.float32)


@pytest.mark.parametrize(
    "value, policy", [(False, None), (True, "mixed_float16"), ("float16", "mixed_float16"), ("bfloat16", "mixed_bfloat16")]
)
def test_precision_policy_names(value, policy):
    assert precision.precision_policy(value) == policy
    assert precision.needs_loss_scaling(policy) == (policy == "mixed_float16")


def test_auto_follows_the_hardware(monkeypatch):
    monkeypatch.setattr(precision, "fast_bfloat16", lambda: True)
    assert precision.precision_policy("auto") == "mixed_bfloat16"
    monkeypatch.setattr(precision, "fast_bfloat16", lambda: False)
    assert precision.precision_policy("auto") is None


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f amx_bf16 amx_tile\nbogomips\t: 1\n")
    assert "amx_bf16" in precision.cpu_flags(str(path))
    assert precision.cpu_flags(str(tmp_path / "missing")) == ()


@pytest.mark.parametrize("value", ["bf16", "float64", 1, None])
def test_bad_precision_names_itself(value):
    with pytest.raises((TypeError, ValueError), match="mixed_precision"):
        GANTrainer(tiny_generator, tiny_discriminator, strategy="default", mixed_precision=value)


def test_bfloat16_trains_without_loss_scaling_and_saves_float32_models(tmp_path):
    trainer = GANTrainer(tiny_generator, tiny_discriminator, strategy="default", mixed_precision="bfloat16",
                         ema_decay=0.9, seed=0)
    for model in (trainer.generator, trainer.discriminator):
        assert model.layers[-1].dtype_policy.name == "mixed_bfloat16"
        assert {w.dtype for w in model.weights} == {"float32"}  # master weights stay float32
    for optimizer in (trainer.generator_optimizer, trainer.discriminator_optimizer):
        assert not isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert keras.config.dtype_policy().name == "float32"
    before = [w.copy() for w in trainer.generator.get_weights()]
    history = trainer.fit((tiny_images(), None), batch_size=8, steps=3, log_every=1, verbose=0, run_dir=str(tmp_path / "run"))
    for name in ("d_loss", "g_loss"):
        assert np.all(np.isfinite(history[name])), name
    assert any(np.abs(a - b).max() > 0 for a, b in zip(before, trainer.generator.get_weights()))
    saved = runs.load_run_model(str(tmp_path / "run"), "generator")
    assert {layer.dtype_policy.name for layer in saved._flatten_layers()} == {"float32"}
    latent = np.random.default_rng(1).standard_normal((4, 8)).astype(np.float32)
    trained = trainer.trained_generator()
    np.testing.assert_allclose(
        np.asarray(saved(latent, training=False)), np.asarray(trained(latent, training=False), np.float32), atol=0.03
    )  # the same weights; the trained copy rounds its activations to bfloat16 (8 bits of mantissa)
    for got, want in zip(saved.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(got, want)
    config = runs.read_config(str(tmp_path / "run"))
    assert config["options"]["precision_policy"] == "mixed_bfloat16"


def test_float32_copy_keeps_a_float32_model():
    model = tiny_generator()
    assert precision.float32_copy(model) is model
