"""SPADE (SHI-GAN) models and training in the one engine: formula, scales, gradients, save/load, replicas."""

import numpy as np
import pytest
import tensorflow as tf
import keras

from ganaug.models.spade import (
    SPADE,
    build_multiscale_discriminator,
    build_spade_generator,
    spade_decoder_of,
    spade_encoder_of,
)
from ganaug.training import GANTrainer
from ganaug.training import spade_losses

NUM_LABELS = 3
SIZE = 16


def _masks(count=8, seed=0):
    """Blocky label maps: a random label per 4 x 4 cell."""
    rng = np.random.default_rng(seed)
    return np.kron(rng.integers(0, NUM_LABELS, (count, SIZE // 4, SIZE // 4)), np.ones((4, 4), np.int64)).astype(np.int32)


def _pairs(count=8, seed=0):
    masks = _masks(count, seed)
    colours = np.array([[0.8, 0.7, 0.7], [-0.2, -0.6, 0.3], [0.1, 0.4, -0.5]], np.float32)
    rng = np.random.default_rng(seed + 1)
    images = colours[masks] + 0.05 * rng.normal(size=(count, SIZE, SIZE, 3)).astype(np.float32)
    return np.clip(images, -1, 1).astype(np.float32), masks


def _generator(use_encoder=False):
    return build_spade_generator(NUM_LABELS, image_size=SIZE, latent_dim=8, generator_filters=2, hidden_filters=4,
                                 use_encoder=use_encoder, encoder_filters=4, seed=3)


def _discriminator():
    return build_multiscale_discriminator(NUM_LABELS, image_size=SIZE, num_scales=2, num_layers=2,
                                          discriminator_filters=4)


def _trainer(strategy="default", use_encoder=False, seed=0):
    return GANTrainer(lambda: _generator(use_encoder), _discriminator, family="spade", loss="least_squares",
                      generator_optimizer=lambda: keras.optimizers.Adam(1e-3, beta_1=0.0, beta_2=0.9),
                      discriminator_optimizer=lambda: keras.optimizers.Adam(1e-3, beta_1=0.0, beta_2=0.9),
                      strategy=strategy, seed=seed)


def test_spade_output_equals_the_formula_on_a_hand_built_case():
    # x: one 2 x 2 map of 1 channel; m: 2 labels. 1 x 1 kernels, no spectral norm: everything by hand.
    x = np.array([[[[1.0], [3.0]], [[-1.0], [5.0]]]], np.float32)
    labels = np.array([[0, 1], [1, 1]])
    m = np.eye(2, dtype=np.float32)[labels][None]
    layer = SPADE(hidden_filters=2, kernel_size=1, spectral_norm=False, epsilon=1e-5)
    layer([x, m])
    w_shared = np.array([[[[1.0, -1.0], [0.5, 2.0]]]], np.float32)  # (1, 1, 2 labels, 2 hidden)
    b_shared = np.array([0.1, 0.2], np.float32)
    w_gamma, b_gamma = np.array([[[[0.3], [-0.4]]]], np.float32), np.array([0.05], np.float32)
    w_beta, b_beta = np.array([[[[-0.2], [0.6]]]], np.float32), np.array([-0.1], np.float32)
    layer.shared.set_weights([w_shared, b_shared])
    layer.gamma.set_weights([w_gamma, b_gamma])
    layer.beta.set_weights([w_beta, b_beta])

    hidden = np.maximum(m[0] @ w_shared[0, 0] + b_shared, 0.0)  # (2, 2, 2)
    gamma = hidden @ w_gamma[0, 0] + b_gamma
    beta = hidden @ w_beta[0, 0] + b_beta
    values = x[0]
    x_hat = (values - values.mean()) / np.sqrt(values.var() + 1e-5)
    expected = x_hat * (1.0 + gamma) + beta
    np.testing.assert_allclose(np.asarray(layer([x, m]))[0], expected, rtol=1e-5, atol=1e-6)
    # (1 + gamma), not gamma (keras-io's GauGAN): zero gamma and beta weights give the plain norm
    layer.gamma.set_weights([np.zeros_like(w_gamma), np.zeros_like(b_gamma)])
    layer.beta.set_weights([np.zeros_like(w_beta), np.zeros_like(b_beta)])
    np.testing.assert_allclose(np.asarray(layer([x, m]))[0], x_hat, rtol=1e-5, atol=1e-6)


def test_discriminator_returns_features_at_every_scale():
    discriminator = _discriminator()
    images, masks = _pairs(2)
    outputs = discriminator([images, masks])
    assert len(outputs) == 2 and all(len(scale) == 3 for scale in outputs)
    # scale 0 sees 16 px: stride 2 then stride 1 (NLayerDiscriminator), logits (8, 8, 1); scale 1 sees 8 px
    assert [tuple(f.shape) for f in outputs[0]] == [(2, 8, 8, 4), (2, 8, 8, 8), (2, 8, 8, 1)]
    assert [tuple(f.shape) for f in outputs[1]] == [(2, 4, 4, 4), (2, 4, 4, 8), (2, 4, 4, 1)]
    logits, features = spade_losses.split_outputs(outputs)
    assert len(logits) == 2 and [len(f) for f in features] == [2, 2]


def test_generator_shapes_and_bad_arguments():
    generator = _generator()
    images = generator([np.zeros((2, 8), np.float32), _masks(2)])
    assert images.shape == (2, SIZE, SIZE, 3) and np.abs(np.asarray(images)).max() <= 1.0
    with pytest.raises(ValueError, match="Received: num_labels=1"):
        build_spade_generator(1, image_size=SIZE)
    with pytest.raises(ValueError, match="Received: image_size=24"):
        build_spade_generator(3, image_size=24)
    with pytest.raises(ValueError, match="num_scales=3, num_layers=4"):
        build_multiscale_discriminator(3, image_size=16, num_scales=3, num_layers=4)


def test_losses_against_hand_computed_values():
    real = [tf.constant(np.full((2, 2, 2, 1), 0.5, np.float32)), tf.constant(np.ones((2, 1, 1, 1), np.float32))]
    fake = [tf.constant(np.full((2, 2, 2, 1), -1.0, np.float32)), tf.constant(np.zeros((2, 1, 1, 1), np.float32))]
    # least squares: scale 0: (0.5-1)^2 + 1 = 1.25; scale 1: 0 + 0 = 0 -> mean 0.625
    np.testing.assert_allclose(spade_losses.discriminator_loss(real, fake), [0.625, 0.625])
    # generator: scale 0 (-1-1)^2 = 4, scale 1 (0-1)^2 = 1 -> 2.5
    np.testing.assert_allclose(spade_losses.generator_loss(fake), [2.5, 2.5])
    # hinge: scale 0 relu(0.5) + relu(0) = 0.5; scale 1: 0 + 1 -> 0.75
    np.testing.assert_allclose(spade_losses.discriminator_loss(real, fake, loss="hinge"), [0.75, 0.75])
    features_real = [[tf.ones((2, 2, 2, 3))], [tf.zeros((2, 1, 1, 2))]]
    features_fake = [[tf.zeros((2, 2, 2, 3))], [tf.fill((2, 1, 1, 2), 3.0)]]
    np.testing.assert_allclose(spade_losses.feature_matching_loss(features_real, features_fake), [2.0, 2.0])


@pytest.fixture(scope="module")
def one_step():
    """A one-device trainer with the style encoder, its trainable weights before, and one step's history."""
    trainer = _trainer(use_encoder=True)
    variables = trainer.generator.trainable_variables + trainer.discriminator.trainable_variables
    before = [v.numpy().copy() for v in variables]
    initial = [w.numpy().copy() for w in trainer.generator.weights + trainer.discriminator.weights]
    history = trainer.fit(_pairs(8), batch_size=8, steps=1, verbose=0)
    return trainer, variables, before, history, initial


def test_every_trainable_weight_of_generator_encoder_and_discriminator_gets_a_gradient(one_step):
    # keras-io#796: GauGAN's encoder ran outside the generator's tape and never trained. One Adam
    # step moves a weight iff its gradient is non-zero. (Biases right before a parameter-free norm,
    # whose gradient is zero in exact arithmetic, are left out of the models for this reason.)
    trainer, variables, before, history, _ = one_step
    encoder = spade_encoder_of(trainer.generator)
    assert encoder is not None and encoder.trainable_weights
    assert {id(v) for v in encoder.trainable_variables} <= {id(v) for v in variables}
    assert np.isfinite(history["g_loss"][0]) and np.isfinite(history["d_loss"][0])
    frozen = [v.path for v, b in zip(variables, before) if np.array_equal(v.numpy(), b)]
    assert frozen == []
    # the KL term is part of the generator's losses of a call (inside the tape)
    trainer.generator([np.zeros((2, 8), np.float32), _masks(2), _pairs(2)[0]], training=True)
    assert len(trainer.generator.losses) == 1 and float(trainer.generator.losses[0]) > 0


def test_keras_round_trip(tmp_path):
    generator = _generator(use_encoder=True)
    discriminator = _discriminator()
    images, masks = _pairs(2)
    noise = np.random.default_rng(0).normal(size=(2, 8)).astype(np.float32)
    generator.save(tmp_path / "g.keras")
    discriminator.save(tmp_path / "d.keras")
    g2 = keras.saving.load_model(tmp_path / "g.keras")
    d2 = keras.saving.load_model(tmp_path / "d.keras")
    np.testing.assert_allclose(g2([noise, masks, images]), generator([noise, masks, images]), rtol=1e-5, atol=1e-6)
    for a, b in zip(tf.nest.flatten(d2([images, masks])), tf.nest.flatten(discriminator([images, masks]))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    decoder = spade_decoder_of(g2)
    assert decoder.name == "spade_decoder" and len(decoder.inputs) == 2


@pytest.mark.skipif(len(tf.config.list_logical_devices("CPU")) < 2, reason="needs 2 logical CPU devices")
def test_mirrored_spade_step_equals_single_device_step(one_step):
    # Parameter-free instance norm (no batch statistics), losses averaged over the global batch,
    # the KL term scaled per replica: the 2-replica step is the one-device step up to summation order.
    data = _pairs(8)
    single = one_step[0]
    mirrored = _trainer("mirrored", use_encoder=True)
    assert mirrored.strategy.num_replicas_in_sync == 2
    # Both from the same starting weights (earlier tests and clear_session between the two builds
    # move Keras' global seed state).
    weights = mirrored.generator.weights + mirrored.discriminator.weights
    for weight, value in zip(weights, one_step[4]):
        weight.assign(value)
    mirrored.fit(data, batch_size=8, steps=1, verbose=0)
    trainable = {id(w) for w in mirrored.generator.trainable_weights + mirrored.discriminator.trainable_weights}
    compared = 0
    for a, b in zip(single.generator.weights + single.discriminator.weights, weights):
        if id(b) in trainable:
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)
            compared += 1
    assert compared == len(trainable)
    # Not compared: the spectral-norm singular-vector estimates (non-trainable). The style
    # encoder's first one came out different after the mirrored step (measured: unit vectors 0.1
    # apart), which is not understood yet; the trainable weights agree.
