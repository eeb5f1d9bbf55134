"""One contract test for every model factory and preset (in the style of keras' applications_test).

Each case builds a tiny model (16 px, few filters) and checks output shapes and dtypes, a `.keras`
save/load round trip and a get_config/from_config round trip with identical inference outputs, and
that one optimiser step changes every trainable weight while frozen weights stay identical.
"""

import numpy as np
import pytest

import keras
import tensorflow as tf

from ganaug import models

SIZE = 16
LATENT_DIM = 8
NUM_CLASSES = 3
BATCH = 4
PRESETS = ["fernandez2021", "klang_carlberg2020"]  # the defaults are fernandez2021's structure
SMALL = dict(image_size=SIZE)
SMALL_G = dict(SMALL, latent_dim=LATENT_DIM, generator_filters=8)
SMALL_D = dict(SMALL, discriminator_filters=4)


def _acgan(preset):
    generator = models.build_dcgan_generator(preset=preset, seed=1, **SMALL_G)
    discriminator = models.build_dcgan_discriminator(preset=preset, seed=2, **SMALL_D)
    return models.build_acgan(generator, discriminator, NUM_CLASSES, dense_units=(6, 6, 6), seed=3)


FACTORIES = {
    "dcgan_generator": lambda p: models.build_dcgan_generator(preset=p, seed=0, **SMALL_G),
    "dcgan_discriminator": lambda p: models.build_dcgan_discriminator(preset=p, seed=0, **SMALL_D),
    "cdcgan_generator": lambda p: models.build_cdcgan_generator(
        num_classes=NUM_CLASSES, preset=p, seed=0, **SMALL_G
    ),
    "cdcgan_discriminator": lambda p: models.build_cdcgan_discriminator(
        num_classes=NUM_CLASSES, preset=p, seed=0, **SMALL_D
    ),
    "encoder": lambda p: models.build_encoder(preset=p, latent_dim=LATENT_DIM, seed=0, **SMALL_D),
    "acgan_generator": lambda p: _acgan(p)[0],
    "acgan_discriminator": lambda p: _acgan(p)[1],
    "small_cnn_classifier": lambda p: models.build_classifier(
        "small_cnn", num_classes=NUM_CLASSES, image_size=SIZE, small_cnn_filters=(4, 8), seed=0
    ),
}

CASES = [
    (factory, preset)
    for factory in FACTORIES
    for preset in (PRESETS if factory != "small_cnn_classifier" else [None])
]


def _inputs(factory, rng):
    latent = rng.standard_normal((BATCH, LATENT_DIM)).astype("float32")
    labels = np.array([0, 1, 2, 1], dtype="int32")
    images = rng.uniform(-1, 1, (BATCH, SIZE, SIZE, 3)).astype("float32")
    if factory in ("dcgan_generator",):
        return latent
    if factory in ("cdcgan_generator", "acgan_generator"):
        return [latent, labels]
    if factory == "cdcgan_discriminator":
        return [images, labels]
    return images


def _expected_shapes(factory):
    return {
        "dcgan_generator": [(BATCH, SIZE, SIZE, 3)],
        "cdcgan_generator": [(BATCH, SIZE, SIZE, 3)],
        "acgan_generator": [(BATCH, SIZE, SIZE, 3)],
        "dcgan_discriminator": [(BATCH, 1)],
        "cdcgan_discriminator": [(BATCH, 1)],
        "encoder": [(BATCH, LATENT_DIM)],
        "acgan_discriminator": [(BATCH, 1), (BATCH, NUM_CLASSES)],
        "small_cnn_classifier": [(BATCH, NUM_CLASSES)],
    }[factory]


def _outputs(model, inputs):
    outputs = model(inputs, training=False)
    return [np.asarray(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def _frozen_variables(model):
    """Variables of layers (or nested models) whose `trainable` is False."""
    frozen = []
    for layer in model.layers:
        if not layer.trainable:
            frozen.extend(layer.weights)
    return frozen


@pytest.mark.parametrize("factory,preset", CASES, ids=[f"{f}-{p}" for f, p in CASES])
def test_factory_contract(factory, preset, rng, tmp_path):
    model = FACTORIES[factory](preset)
    assert isinstance(model, keras.Model) and model.name
    inputs = _inputs(factory, rng)

    outputs = _outputs(model, inputs)
    assert [o.shape for o in outputs] == _expected_shapes(factory)
    assert all(o.dtype == np.float32 for o in outputs)
    if factory.endswith("generator"):
        assert np.all(np.abs(outputs[0]) <= 1.0)
    if factory == "small_cnn_classifier":
        np.testing.assert_allclose(outputs[0].sum(axis=1), 1.0, rtol=1e-5)

    # .keras save/load round trip, identical inference outputs.
    path = tmp_path / f"{factory}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    for a, b in zip(outputs, _outputs(reloaded, inputs)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    # get_config / from_config round trip (architecture), then same weights -> same outputs.
    rebuilt = keras.Model.from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    for a, b in zip(outputs, _outputs(rebuilt, inputs)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    # One optimiser step changes every trainable weight, leaves frozen ones identical.
    trainable_before = [v.numpy() for v in model.trainable_variables]
    frozen = _frozen_variables(model)
    frozen_before = [v.numpy() for v in frozen]
    optimizer = keras.optimizers.Adam(learning_rate=1e-2)
    with tf.GradientTape() as tape:
        result = model(inputs, training=True)
        result = result if isinstance(result, (list, tuple)) else [result]
        loss = sum(tf.reduce_mean(tf.square(r - 0.3)) for r in result)
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    assert model.trainable_variables
    for variable, before in zip(model.trainable_variables, trainable_before):
        assert not np.array_equal(variable.numpy(), before), f"{variable.path} did not change"
    if factory.startswith("acgan"):
        assert frozen, "the AC-GAN must have frozen sub-models"
    for variable, before in zip(frozen, frozen_before):
        assert np.array_equal(variable.numpy(), before), f"frozen {variable.path} changed"


@pytest.mark.parametrize("layer_class,args", [
    (models.OneHot, dict(num_classes=4)),
    (models.LabelFeatureMaps, dict(num_classes=4)),
    (models.RepeatChannels, dict(repeats=3)),
])
def test_custom_layer_config_round_trip(layer_class, args):
    layer = layer_class(name="custom", **args)
    config = layer.get_config()
    for key, value in args.items():
        assert config[key] == value
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(clone) is layer_class and clone.get_config() == config


def test_custom_layers_compute_hand_values():
    labels = np.array([2, 0], dtype="int32")
    np.testing.assert_array_equal(models.OneHot(3)(labels), [[0, 0, 1], [1, 0, 0]])
    features = np.zeros((2, 3, 5, 7), dtype="float32")
    maps = np.asarray(models.LabelFeatureMaps(3)([features, labels]))
    assert maps.shape == (2, 3, 5, 3) and maps.dtype == np.float32
    np.testing.assert_array_equal(maps[0, :, :, 2], np.ones((3, 5)))
    np.testing.assert_array_equal(maps[0, :, :, :2], np.zeros((3, 5, 2)))
    np.testing.assert_array_equal(maps[1, :, :, 0], np.ones((3, 5)))
    gray = np.arange(8, dtype="float32").reshape(1, 2, 2, 2)[..., :1]
    rgb = np.asarray(models.RepeatChannels(3)(gray))
    assert rgb.shape == (1, 2, 2, 3)
    np.testing.assert_array_equal(rgb[..., 1], gray[..., 0])


def test_same_seed_same_weights():
    first = models.build_dcgan_generator(seed=7, **SMALL_G)
    second = models.build_dcgan_generator(seed=7, **SMALL_G)
    third = models.build_dcgan_generator(seed=8, **SMALL_G)
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.get_weights()[0], third.get_weights()[0])


def test_cdcgan_label_changes_output_and_enters_after_first_convolution(rng):
    discriminator = models.build_cdcgan_discriminator(num_classes=NUM_CLASSES, seed=0, **SMALL_D)
    concat = discriminator.get_layer("label_concat")
    # The label maps join the first block's output (8x8, 4 filters + 3 label maps), not the image.
    assert tuple(concat.output.shape) == (None, SIZE // 2, SIZE // 2, 4 + NUM_CLASSES)
    assert discriminator.get_layer("down_block_2_conv").input.shape[-1] == 4 + NUM_CLASSES
    images = rng.uniform(-1, 1, (2, SIZE, SIZE, 3)).astype("float32")
    same = np.concatenate([images[:1], images[:1]])
    logits = np.asarray(discriminator([same, np.array([0, 2], "int32")], training=False))
    assert not np.allclose(logits[0], logits[1])

    generator = models.build_cdcgan_generator(num_classes=NUM_CLASSES, seed=0, **SMALL_G)
    assert generator.get_layer("latent_label_concat").output.shape[-1] == LATENT_DIM + NUM_CLASSES
    z = np.repeat(rng.standard_normal((1, LATENT_DIM)).astype("float32"), 2, axis=0)
    images = np.asarray(generator([z, np.array([0, 1], "int32")], training=False))
    assert not np.allclose(images[0], images[1])
