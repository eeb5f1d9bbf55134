"""The training engine: a short run moves both networks, stays finite and writes its run."""

import json
import os

import keras
import numpy as np
import pytest

from _gan_test_models import tiny_discriminator, tiny_generator, tiny_images, weights_of
from ganaug.training import GANTrainer, generate_images, infer_family
from ganaug.training.diffaugment import diff_augment


def test_short_run_moves_both_networks_and_writes_the_run(tmp_path):
    trainer = GANTrainer(
        tiny_generator, tiny_discriminator, strategy="default", generator_steps=2,
        label_smoothing=0.1, instance_noise=0.1, instance_noise_decay_steps=4,
        diffaugment="color,translation,cutout", ema_decay=0.5, latent_distribution="uniform", seed=3,
    )
    generator_before = weights_of(trainer.generator)
    discriminator_before = weights_of(trainer.discriminator)
    history = trainer.fit(
        (tiny_images(), None), batch_size=8, steps=6, run_dir=tmp_path / "run",
        sample_every=3, checkpoint_every=3, log_every=2, verbose=0,
    )
    assert history["step"] == [2, 4, 6]
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert np.all(np.isfinite(history[name])), name
    assert 0.0 < min(history["d_real"]) and max(history["d_real"]) < 1.0
    np.testing.assert_allclose(history["noise_stddev"], [0.1 * 0.75, 0.1 * 0.25, 0.0], rtol=1e-5, atol=1e-7)
    assert any(np.abs(a - b).max() > 0 for a, b in zip(generator_before, weights_of(trainer.generator)))
    assert any(np.abs(a - b).max() > 0 for a, b in zip(discriminator_before, weights_of(trainer.discriminator)))
    # two generator updates per discriminator update, one optimizer step each
    assert int(trainer.generator_optimizer.iterations) == 12
    assert int(trainer.discriminator_optimizer.iterations) == 6

    run = tmp_path / "run"
    config = json.loads((run / "config.json").read_text())
    assert config["family"] == "dcgan" and config["image_size"] == 16 and config["latent_dim"] == 8
    assert config["latent_distribution"] == "uniform" and config["options"]["generator_is_ema"] is True
    assert sorted(os.listdir(run / "samples")) == ["step_000003.png", "step_000006.png"]
    assert (run / "loss_curves.png").is_file() and (run / "history.json").is_file()
    assert any(name.startswith("events") for name in os.listdir(run / "logs"))
    saved = keras.saving.load_model(run / "generator.keras")
    z = np.zeros((2, 8), np.float32)
    # the saved generator is the EMA copy
    np.testing.assert_allclose(saved(z, training=False), trainer.ema_generator(z, training=False), atol=1e-6)
    images = generate_images(saved, 5, latent_distribution="uniform", seed=1, batch_size=2)
    assert images.shape == (5, 16, 16, 3) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    # the same seed draws the same latents whatever the batch size; the forward pass of another
    # batch size may round differently in the last bit (oneDNN picks kernels by shape)
    np.testing.assert_allclose(images, generate_images(saved, 5, latent_distribution="uniform", seed=1),
                               rtol=0, atol=1e-6)


def test_family_is_inferred_from_inputs_and_outputs():
    generator, discriminator = tiny_generator(), tiny_discriminator()
    assert infer_family(generator, discriminator) == "dcgan"
    latent, label = keras.Input((8,)), keras.Input((), dtype="int32")
    conditional = keras.Model([latent, label], generator(latent))
    image = keras.Input((16, 16, 3))
    two_headed = keras.Model(image, [discriminator(image), keras.layers.Dense(3)(keras.layers.Flatten()(image))])
    assert infer_family(conditional, two_headed) == "acgan"
    with pytest.raises(ValueError, match="Received: generator inputs=2"):
        infer_family(conditional, discriminator)


def test_bad_options_name_the_argument():
    with pytest.raises(ValueError, match="Received: generator_steps=0"):
        GANTrainer(tiny_generator, tiny_discriminator, generator_steps=0, strategy="default")
    with pytest.raises(ValueError, match="Received: loss='bce'"):
        GANTrainer(tiny_generator, tiny_discriminator, loss="bce", strategy="default")
    with pytest.raises(ValueError, match="Received: diffaugment='flip'"):
        GANTrainer(tiny_generator, tiny_discriminator, diffaugment="flip", strategy="default")
    with pytest.raises(ValueError, match="Received: strategy='tpu'"):
        GANTrainer(tiny_generator, tiny_discriminator, strategy="tpu")
    trainer = GANTrainer(tiny_generator, tiny_discriminator, strategy="default")
    with pytest.raises(ValueError, match="Received: epochs=None, steps=None"):
        trainer.fit((tiny_images(8), None), batch_size=4)
    with pytest.raises(ValueError, match="Received: data image shape"):
        trainer.fit((np.zeros((8, 32, 32, 3), np.float32), None), batch_size=4, steps=1)


def test_diffaugment_is_seeded_and_splits_like_the_global_batch():
    images = tiny_images(6)
    seed = np.array([1, 2], np.int64)
    whole = diff_augment(images, seed=seed).numpy()
    np.testing.assert_array_equal(whole, diff_augment(images, seed=seed).numpy())
    assert np.abs(whole - images).max() > 0.1
    second_half = diff_augment(images[3:], seed=seed, batch_offset=3, global_batch_size=6).numpy()
    np.testing.assert_allclose(second_half, whole[3:], atol=1e-6)


def test_mixed_precision_computes_in_float16_with_float32_weights_and_loss_scaling():
    trainer = GANTrainer(tiny_generator, tiny_discriminator, strategy="default", mixed_precision=True, seed=0)
    for model in (trainer.generator, trainer.discriminator):
        assert model.layers[-1].dtype_policy.name == "mixed_float16"
        assert {w.dtype for w in model.weights} == {"float32"}  # master weights stay float32
    for optimizer in (trainer.generator_optimizer, trainer.discriminator_optimizer):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    generator_before = weights_of(trainer.generator)
    history = trainer.fit((tiny_images(), None), batch_size=8, steps=3, log_every=1, verbose=0)
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert np.all(np.isfinite(history[name])), name
    assert any(np.abs(a - b).max() > 0 for a, b in zip(generator_before, weights_of(trainer.generator)))
    # both optimisers applied their (unscaled, finite) gradients on every step
    assert int(trainer.generator_optimizer.iterations) == 3
    assert int(trainer.discriminator_optimizer.iterations) == 3


def test_xla_training_is_reproducible_and_computes_the_same_discriminator():
    def train(jit_compile):
        trainer = GANTrainer(tiny_generator, tiny_discriminator, strategy="default", jit_compile=jit_compile, seed=4)
        history = trainer.fit((tiny_images(), None), batch_size=8, steps=3, log_every=1, verbose=0)
        return history, weights_of(trainer.generator) + weights_of(trainer.discriminator)

    initial = weights_of(tiny_generator()) + weights_of(tiny_discriminator())
    plain_history, _ = train(False)
    xla_history, xla_weights = train(True)
    again_history, again_weights = train(True)
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert np.all(np.isfinite(xla_history[name])), name
    assert all(np.abs(a - b).max() > 0 for a, b in zip(initial, xla_weights) if a.size > 1)
    # XLA runs are reproducible from the seed ...
    np.testing.assert_allclose(again_history["d_loss"], xla_history["d_loss"], rtol=1e-6)
    for first, second in zip(xla_weights, again_weights):
        np.testing.assert_allclose(second, first, rtol=1e-6, atol=1e-7)
    # ... and the compiled step computes what the plain one does: D(x) on the first real batch
    # depends on no random draw (XLA maps a seed to other noise, prior.RNG_ALG) and agrees.
    np.testing.assert_allclose(xla_history["d_real"][0], plain_history["d_real"][0], rtol=1e-5)
