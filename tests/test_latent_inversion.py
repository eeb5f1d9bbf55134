"""Reverse search, the image-to-latent encoder and reconstruction quality (ganaug.latent)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganaug.latent import (
    encode,
    generate_images,
    invert_images,
    reconstruct,
    reconstruction_quality,
    train_encoder,
)
from ganaug.models import build_encoder, sample_latent
from ganaug.models.layers import OneHot

LATENT_DIM = 4


def tiny_generator(*, latent_dim=LATENT_DIM, num_classes=None, seed=0):
    """A 16 px generator whose images clearly depend on z (glorot weights, tanh everywhere)."""
    init = keras.initializers.GlorotUniform(seed=seed)
    latent = keras.Input((latent_dim,), name="latent")
    inputs, features = [latent], latent
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        features = keras.layers.Concatenate()([latent, OneHot(num_classes, name="label_one_hot")(label)])
    x = keras.layers.Dense(4 * 4 * 8, activation="tanh", kernel_initializer=init)(features)
    x = keras.layers.Reshape((4, 4, 8))(x)
    x = keras.layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="tanh", kernel_initializer=init)(x)
    x = keras.layers.Conv2DTranspose(3, 3, strides=2, padding="same", activation="tanh", kernel_initializer=init)(x)
    return keras.Model(inputs if num_classes else latent, x, name="tiny_generator")


@pytest.fixture
def generator():
    return tiny_generator()


def test_reverse_search_recovers_generated_images_and_error_falls_with_steps(generator):
    codes = sample_latent(6, LATENT_DIM, seed=1)
    images = generate_images(generator, codes)
    weights_before = [w.copy() for w in generator.get_weights()]
    short = invert_images(generator, images, steps=5, restarts=2, batch_size=4, verbose=0)
    long = invert_images(generator, images, steps=200, restarts=2, batch_size=4, verbose=0)
    # Shapes and types of the result.
    assert long.codes.shape == (6, LATENT_DIM) and long.codes.dtype == np.float32
    assert long.reconstructions.shape == images.shape
    assert long.errors.shape == (6,) and long.restart_errors.shape == (6, 2)
    assert long.loss_history.shape == (200,)
    # The search lowers its loss and more steps give lower errors.
    assert long.loss_history[-1] < 0.2 * long.loss_history[0]
    assert long.errors.mean() < 0.5 * short.errors.mean()
    # Generated images (known z) are recovered with a low error.
    assert long.errors.max() < 0.02
    assert reconstruction_quality(images, long.reconstructions)["mean_psnr"] > 35.0
    # The errors are the RMSE of the returned reconstructions, best restart per image.
    rmse = np.sqrt(np.mean((long.reconstructions - images) ** 2, axis=(1, 2, 3)))
    np.testing.assert_allclose(long.errors, rmse, atol=1e-4)
    np.testing.assert_allclose(long.errors, long.restart_errors.min(axis=1), rtol=1e-6)
    # The generator's weights are untouched.
    for before, after in zip(weights_before, generator.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_reverse_search_is_seeded_clips_uniform_prior_and_uses_initial_codes(generator):
    codes = sample_latent(3, LATENT_DIM, distribution="uniform", seed=2)
    images = generate_images(generator, codes)
    first = invert_images(generator, images, steps=20, latent_distribution="uniform", learning_rate=0.5, verbose=0, loss="l1")
    second = invert_images(generator, images, steps=20, latent_distribution="uniform", learning_rate=0.5, verbose=0, loss="l1")
    np.testing.assert_array_equal(first.codes, second.codes)
    assert np.abs(first.codes).max() <= 1.0  # clipped to the uniform prior's support
    np.testing.assert_allclose(first.errors, np.mean(np.abs(first.reconstructions - images), axis=(1, 2, 3)), atol=1e-5)
    # steps=0 evaluates the initial codes as they are: the true codes give a zero error.
    exact = invert_images(generator, images, steps=0, initial_codes=codes, verbose=0, latent_distribution="uniform")
    np.testing.assert_allclose(exact.codes, codes, atol=1e-6)
    assert exact.errors.max() < 1e-5


def test_reverse_search_conditional_generator_needs_labels():
    generator = tiny_generator(num_classes=3)
    codes = sample_latent(2, LATENT_DIM, seed=3)
    labels = np.array([0, 2], np.int32)
    images = generate_images(generator, codes, labels)
    result = invert_images(generator, images, labels, steps=40, verbose=0)
    assert result.codes.shape == (2, LATENT_DIM)
    np.testing.assert_array_equal(result.labels, labels)
    assert result.loss_history[-1] < result.loss_history[0]
    with pytest.raises(ValueError, match="labels=None"):
        invert_images(generator, images, steps=1, verbose=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"steps": -1}, "steps=-1"),
        ({"restarts": 0}, "restarts=0"),
        ({"learning_rate": 0}, "learning_rate=0"),
        ({"loss": "l2"}, "loss='l2'"),
        ({"latent_distribution": "cauchy"}, "latent_distribution='cauchy'"),
        ({"clip_to_prior": True}, "clip_to_prior=True"),
        ({"initial_codes": np.zeros((2, 3))}, r"initial_codes.shape=\(2, 3\)"),
        ({"batch_size": 0}, "batch_size=0"),
    ],
)
def test_reverse_search_bad_arguments_name_themselves(generator, kwargs, match):
    images = np.zeros((2, 16, 16, 3), np.float32)
    with pytest.raises(ValueError, match=match):
        invert_images(generator, images, verbose=0, **kwargs)


def test_reverse_search_rejects_images_and_labels_that_do_not_fit(generator):
    with pytest.raises(ValueError, match=r"images.shape=\(2, 8, 8, 3\)"):
        invert_images(generator, np.zeros((2, 8, 8, 3), np.float32), verbose=0)
    with pytest.raises(ValueError, match="images.dtype=uint8"):
        invert_images(generator, np.zeros((2, 16, 16, 3), np.uint8), verbose=0)
    with pytest.raises(ValueError, match="labels="):
        invert_images(generator, np.zeros((2, 16, 16, 3), np.float32), labels=[0, 1], verbose=0)
    with pytest.raises(TypeError, match="generator=str"):
        invert_images("generator", np.zeros((2, 16, 16, 3), np.float32), verbose=0)


def test_quality_matches_hand_computed_values():
    images = np.zeros((2, 16, 16, 3), np.float32)
    reconstructions = images.copy()
    reconstructions[0] += 0.1  # MSE 0.01 -> PSNR 10 log10(4 / 0.01)
    reconstructions[1] = images[1]
    quality = reconstruction_quality(images, reconstructions)
    np.testing.assert_allclose(quality["mse"], [0.01, 0.0], atol=1e-7)
    np.testing.assert_allclose(quality["psnr"][0], 10 * np.log10(4.0 / 0.01), rtol=1e-4)
    assert np.isinf(quality["psnr"][1])
    np.testing.assert_allclose(quality["ssim"][1], 1.0, atol=1e-6)
    assert quality["ssim"][0] < 1.0
    np.testing.assert_allclose(quality["mean_mse"], 0.005, atol=1e-7)
    with pytest.raises(ValueError, match="reconstructions.shape"):
        reconstruction_quality(images, images[:1])


def test_encoder_training_lowers_its_loss_and_generator_stays_frozen():
    generator = tiny_generator()
    images = generate_images(generator, sample_latent(48, LATENT_DIM, seed=4))
    encoder = build_encoder(image_size=16, channels=3, latent_dim=LATENT_DIM, discriminator_filters=8, discriminator_batch_norm="none", seed=0)
    weights_before = [w.copy() for w in generator.get_weights()]
    before = np.mean(np.abs(reconstruct(generator, encoder, images) - images))
    result = train_encoder(
        generator, images, encoder=encoder, steps=40, learning_rate=3e-3, batch_size=16, verbose=0
    )
    after = np.mean(np.abs(reconstruct(generator, result.encoder, images) - images))
    assert result.encoder is encoder
    assert len(result.history["image_loss"]) == 40
    assert np.mean(result.history["image_loss"][-5:]) < np.mean(result.history["image_loss"][:5])
    assert after < 0.8 * before
    for w_before, w_after in zip(weights_before, generator.get_weights()):
        np.testing.assert_array_equal(w_before, w_after)
    codes = encode(result.encoder, images, batch_size=7)
    assert codes.shape == (48, LATENT_DIM) and codes.dtype == np.float32
    # Encoder codes seed the reverse search: a few steps improve on the encoder alone.
    refined = invert_images(generator, images[:8], steps=30, initial_codes=codes[:8], verbose=0)
    encoder_rmse = np.sqrt(np.mean((generate_images(generator, codes[:8]) - images[:8]) ** 2, axis=(1, 2, 3)))
    assert refined.errors.mean() < encoder_rmse.mean()


def test_cyclic_encoder_training_on_a_labelled_dataset_lowers_the_code_loss():
    generator = tiny_generator(num_classes=2)
    labels = np.tile(np.array([0, 1], np.int32), 16)
    images = generate_images(generator, sample_latent(32, LATENT_DIM, seed=5), labels)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(16)
    result = train_encoder(
        generator, dataset, mode="cyclic", epochs=12, learning_rate=3e-3,
        encoder=build_encoder(image_size=16, channels=3, latent_dim=LATENT_DIM, discriminator_filters=8, discriminator_batch_norm="none", seed=0),
        verbose=0,
    )
    history = result.history
    assert len(history["step"]) == 24  # 12 epochs of 2 batches
    assert set(history) == {"step", "image_loss", "code_loss", "synthetic_image_loss"}
    assert np.mean(history["code_loss"][-4:]) < np.mean(history["code_loss"][:4])
    assert np.mean(history["image_loss"][-4:]) < np.mean(history["image_loss"][:4])


def test_train_encoder_builds_a_matching_encoder_and_checks_arguments(generator):
    images = np.zeros((4, 16, 16, 3), np.float32)
    result = train_encoder(generator, images, steps=1, batch_size=4, verbose=0)
    assert tuple(result.encoder.inputs[0].shape[1:]) == (16, 16, 3)
    assert result.encoder.outputs[0].shape[-1] == LATENT_DIM
    with pytest.raises(ValueError, match="mode='gan'"):
        train_encoder(generator, images, mode="gan", verbose=0)
    with pytest.raises(ValueError, match="steps=0"):
        train_encoder(generator, images, steps=0, verbose=0)
    with pytest.raises(TypeError, match="data=list"):
        train_encoder(generator, [1, 2], encoder=result.encoder, verbose=0)
    wrong = build_encoder(image_size=16, channels=3, latent_dim=7, discriminator_filters=8)
    with pytest.raises(ValueError, match="encoder"):
        train_encoder(generator, images, encoder=wrong, verbose=0)
    with pytest.raises(ValueError, match="labels=None"):
        train_encoder(tiny_generator(num_classes=2), images, encoder=result.encoder, verbose=0)
