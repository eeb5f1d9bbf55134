"""AC-GAN on a frozen pre-trained DCGAN (Klang & Carlberg, section 4.5)."""

import numpy as np
import pytest

import keras
import tensorflow as tf

from ganaug import models

SIZE, LATENT_DIM, NUM_CLASSES = 16, 8, 3


@pytest.fixture
def pretrained():
    generator = models.build_dcgan_generator(
        preset="fernandez2021", image_size=SIZE, latent_dim=LATENT_DIM, generator_filters=8, seed=1
    )
    discriminator = models.build_dcgan_discriminator(
        preset="fernandez2021", image_size=SIZE, discriminator_filters=4, seed=2
    )
    return generator, discriminator


def _values(variables):
    return {v.path: v.numpy() for v in variables}


def test_acgan_freezes_backbone_and_trains_new_layers(pretrained, rng):
    generator, discriminator = pretrained
    conditional_generator, acgan_discriminator = models.build_acgan(
        generator, discriminator, NUM_CLASSES, seed=3
    )
    # Trainable weights by hand (thesis: 3 dense layers of 100 units on each side).
    # Mapping: (z 8 + one-hot 3) -> 100 -> 100 -> latent_dim 8.
    assert sum(int(np.prod(v.shape)) for v in conditional_generator.trainable_variables) == (
        (8 + 3) * 100 + 100 + 100 * 100 + 100 + 100 * 8 + 8
    )
    # Trunk of a 16 px discriminator with 4 filters: two blocks -> 4x4x8 = 128 features.
    features = 4 * 4 * 8
    realness = features + 1
    auxiliary = features * 100 + 100 + 2 * (100 * 100 + 100) + 100 * NUM_CLASSES + NUM_CLASSES
    assert sum(int(np.prod(v.shape)) for v in acgan_discriminator.trainable_variables) == realness + auxiliary
    assert len(conditional_generator.trainable_variables) == 6
    assert len(acgan_discriminator.trainable_variables) == 10
    # The realness head starts from the pre-trained weights.
    for a, b in zip(acgan_discriminator.get_layer("realness_logit").get_weights(),
                    discriminator.get_layer("realness_logit").get_weights()):
        np.testing.assert_array_equal(a, b)

    frozen_generator = conditional_generator.get_layer("frozen_generator")
    frozen_trunk = acgan_discriminator.get_layer("frozen_trunk")
    frozen_before = _values(frozen_generator.weights) | _values(frozen_trunk.weights)
    assert any("moving_mean" in path for path in frozen_before)
    generator_trainable_before = _values(conditional_generator.trainable_variables)
    discriminator_trainable_before = _values(acgan_discriminator.trainable_variables)

    generator_optimizer = keras.optimizers.Adam(2e-3)
    discriminator_optimizer = keras.optimizers.Adam(2e-3)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    cce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for step in range(3):
        z = rng.standard_normal((8, LATENT_DIM)).astype("float32")
        labels = rng.integers(0, NUM_CLASSES, 8).astype("int32")
        real = rng.uniform(-1, 1, (8, SIZE, SIZE, 3)).astype("float32")
        with tf.GradientTape(persistent=True) as tape:
            fake = conditional_generator([z, labels], training=True)
            real_logit, real_classes = acgan_discriminator(real, training=True)
            fake_logit, fake_classes = acgan_discriminator(fake, training=True)
            discriminator_loss = (
                bce(tf.ones_like(real_logit), real_logit) + bce(tf.zeros_like(fake_logit), fake_logit)
                + cce(labels, real_classes) + cce(labels, fake_classes)
            )
            generator_loss = bce(tf.ones_like(fake_logit), fake_logit) + cce(labels, fake_classes)
        discriminator_optimizer.apply_gradients(zip(
            tape.gradient(discriminator_loss, acgan_discriminator.trainable_variables),
            acgan_discriminator.trainable_variables,
        ))
        generator_optimizer.apply_gradients(zip(
            tape.gradient(generator_loss, conditional_generator.trainable_variables),
            conditional_generator.trainable_variables,
        ))
        del tape

    frozen_after = _values(frozen_generator.weights) | _values(frozen_trunk.weights)
    assert frozen_after.keys() == frozen_before.keys()
    for path, before in frozen_before.items():
        assert np.array_equal(frozen_after[path], before), f"frozen {path} changed"
    for model, before in ((conditional_generator, generator_trainable_before),
                          (acgan_discriminator, discriminator_trainable_before)):
        for variable in model.trainable_variables:
            assert not np.array_equal(variable.numpy(), before[variable.path]), f"{variable.path} did not change"
    changed_layers = {v.path.split("/")[0] for v in acgan_discriminator.trainable_variables}
    assert {"realness_logit", "class_logits", "classifier_dense_1"} <= changed_layers

    # The pre-trained models passed in were copied, not modified.
    assert generator.trainable and discriminator.trainable
    assert all(layer.trainable for layer in generator.layers + discriminator.layers)


def test_frozen_batch_norm_runs_in_inference_mode(pretrained, rng):
    generator, discriminator = pretrained
    conditional_generator, acgan_discriminator = models.build_acgan(generator, discriminator, NUM_CLASSES)
    z = rng.standard_normal((6, LATENT_DIM)).astype("float32")
    labels = np.array([0, 1, 2, 0, 1, 2], "int32")
    alone = conditional_generator([z[:2], labels[:2]], training=True).numpy()
    in_batch = conditional_generator([z, labels], training=True).numpy()
    np.testing.assert_allclose(alone, in_batch[:2], rtol=1e-5, atol=1e-6)

    features = keras.Model(acgan_discriminator.input, acgan_discriminator.get_layer("trunk_features").output)
    images = rng.uniform(-1, 1, (6, SIZE, SIZE, 3)).astype("float32")
    np.testing.assert_allclose(
        features(images[:2], training=True).numpy(), features(images, training=True).numpy()[:2],
        rtol=1e-5, atol=1e-6,
    )
    # The frozen generator computes what the pre-trained generator computes in inference mode.
    code = keras.Model(conditional_generator.input, conditional_generator.get_layer("mapping_dense_3").output)
    mapped = code([z, labels]).numpy()
    assert mapped.shape == (6, LATENT_DIM) and np.all(mapped >= 0)  # ReLU, as in the thesis
    np.testing.assert_allclose(in_batch, generator(mapped, training=False).numpy(), rtol=1e-5, atol=1e-6)


def test_acgan_rejects_bad_backbones(pretrained):
    generator, discriminator = pretrained
    no_trunk = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Flatten(), keras.layers.Dense(1)],
                                name="plain_discriminator")
    with pytest.raises(ValueError, match="trunk_features.*Received: discriminator='plain_discriminator'"):
        models.build_acgan(generator, no_trunk, NUM_CLASSES)
    with pytest.raises(ValueError, match=r"Received: num_classes=1"):
        models.build_acgan(generator, discriminator, 1)
    with pytest.raises(ValueError, match=r"latent_dim=8. Received: mapping_units=\(100, 100, 100\)"):
        models.build_acgan(generator, discriminator, NUM_CLASSES, mapping_units=(100, 100, 100))
    with pytest.raises(TypeError, match="Received: generator="):
        models.build_acgan("generator.keras", discriminator, NUM_CLASSES)
    conditional = models.build_cdcgan_discriminator(num_classes=2, image_size=SIZE, discriminator_filters=2)
    with pytest.raises(ValueError, match="Received: discriminator='cdcgan_discriminator'"):
        models.build_acgan(generator, conditional, NUM_CLASSES)
