"""The presets reproduce the papers' networks at 256 px and scale down for small images.

Numbers checked (the papers in docs/models.md): Fernández et al. 2021 — projection to 16x16x512, transposed
convolutions 5x5/2 with 256-128-64-3 filters, BN + ReLU after each but the last (tanh, no BN);
discriminator convolutions 5x5/2 with 64-128-256-512 filters, BN after each but the first,
LeakyReLU(0.2), Flatten, Dense(1). Klang & Carlberg — Depth_G = 1024, Depth_D = 64, kernel 5, stride
2, BN on every generator layer but the output, LeakyReLU in both networks, tanh output, dropout after
every discriminator layer but the output, logit output.
"""

import pytest

import keras

from ganaug import models


def _layers(model, layer_class):
    return [layer for layer in model.layers if type(layer) is layer_class]


def _chain(model):
    """Layer class names in order, without the input layer."""
    return [type(layer).__name__ for layer in model.layers[1:]]


def _check_convolutions(convolutions, filters):
    assert [layer.filters for layer in convolutions] == filters
    assert all(layer.kernel_size == (5, 5) for layer in convolutions)
    assert all(layer.strides == (2, 2) for layer in convolutions)
    assert all(layer.padding == "same" for layer in convolutions)


def test_fernandez2021_generator_at_256():
    generator = models.build_dcgan_generator(preset="fernandez2021")
    assert tuple(generator.input.shape) == (None, 100)
    assert tuple(generator.output.shape) == (None, 256, 256, 3)
    assert generator.get_layer("projection").units == 16 * 16 * 512
    assert tuple(generator.get_layer("projection_reshape").output.shape) == (None, 16, 16, 512)
    _check_convolutions(_layers(generator, keras.layers.Conv2DTranspose), [256, 128, 64, 3])
    assert _chain(generator) == (
        ["Dense", "Reshape", "BatchNormalization", "Activation"]
        + ["Conv2DTranspose", "BatchNormalization", "Activation"] * 3
        + ["Conv2DTranspose", "Activation"]
    )
    hidden = [layer for layer in generator.layers if layer.name.endswith("_act")]
    assert len(hidden) == 4 and all(layer.activation.__name__ == "relu" for layer in hidden)
    assert generator.get_layer("images").activation.__name__ == "tanh"
    assert not _layers(generator, keras.layers.Dropout)
    names = [layer.name for layer in generator.layers]
    assert "up_block_1_conv" in names and "up_block_3_bn" in names and "up_block_4_bn" not in names


def test_fernandez2021_discriminator_at_256():
    discriminator = models.build_dcgan_discriminator(preset="fernandez2021")
    assert tuple(discriminator.input.shape) == (None, 256, 256, 3)
    assert tuple(discriminator.output.shape) == (None, 1)
    _check_convolutions(_layers(discriminator, keras.layers.Conv2D), [64, 128, 256, 512])
    assert _chain(discriminator) == (
        ["Conv2D", "LeakyReLU"] + ["Conv2D", "BatchNormalization", "LeakyReLU"] * 3 + ["Flatten", "Dense"]
    )
    assert all(layer.negative_slope == pytest.approx(0.2) for layer in _layers(discriminator, keras.layers.LeakyReLU))
    assert "down_block_1_bn" not in [layer.name for layer in discriminator.layers]
    assert discriminator.get_layer("down_block_2_bn") is not None
    assert tuple(discriminator.get_layer("trunk_features").output.shape) == (None, 16 * 16 * 512)
    head = discriminator.get_layer("realness_logit")
    assert head.units == 1 and head.activation.__name__ == "linear"
    assert not _layers(discriminator, keras.layers.Dropout)


def test_klang_carlberg2020_discriminator_at_256():
    discriminator = models.build_dcgan_discriminator(preset="klang_carlberg2020")
    assert tuple(discriminator.output.shape) == (None, 1)
    _check_convolutions(_layers(discriminator, keras.layers.Conv2D), [64, 128, 256, 512, 1024])
    assert _chain(discriminator) == ["Conv2D", "LeakyReLU", "Dropout"] * 5 + ["Flatten", "Dense"]
    assert not _layers(discriminator, keras.layers.BatchNormalization)
    assert discriminator.get_layer("realness_logit").activation.__name__ == "linear"


@pytest.mark.slow
def test_klang_carlberg2020_generator_at_256():
    generator = models.build_dcgan_generator(preset="klang_carlberg2020")
    assert tuple(generator.output.shape) == (None, 256, 256, 3)
    _check_convolutions(_layers(generator, keras.layers.Conv2DTranspose), [1024, 512, 256, 128, 3])
    assert _chain(generator) == (
        ["Dense", "Reshape", "BatchNormalization", "LeakyReLU"]
        + ["Conv2DTranspose", "BatchNormalization", "LeakyReLU"] * 4
        + ["Conv2DTranspose", "Activation"]
    )
    assert generator.get_layer("images").activation.__name__ == "tanh"


@pytest.mark.parametrize("preset", ["fernandez2021", "klang_carlberg2020"])
def test_presets_scale_down_for_small_images(preset):
    generator = models.build_dcgan_generator(preset=preset, image_size=32, generator_filters=16)
    discriminator = models.build_dcgan_discriminator(preset=preset, image_size=32, discriminator_filters=8)
    # 32 px: log2(32) - 2 = 3 blocks, 4x4 smallest map; filters halve / double from the override.
    assert tuple(generator.get_layer("projection_reshape").output.shape) == (None, 4, 4, 32)
    assert [layer.filters for layer in _layers(generator, keras.layers.Conv2DTranspose)] == [16, 8, 3]
    assert [layer.filters for layer in _layers(discriminator, keras.layers.Conv2D)] == [8, 16, 32]
    assert tuple(generator.output.shape) == (None, 32, 32, 3)
    assert generator.count_params() < 100_000 and discriminator.count_params() < 20_000
    # The structure rules of the preset stay: BN / dropout placement, activations.
    klang = preset == "klang_carlberg2020"
    assert bool(_layers(discriminator, keras.layers.Dropout)) == klang
    assert len(_layers(discriminator, keras.layers.BatchNormalization)) == (0 if klang else 2)


@pytest.mark.parametrize("image_size,blocks", [(16, 2), (64, 4), (128, 4), (512, 4)])
def test_number_of_blocks_follows_image_size(image_size, blocks):
    discriminator = models.build_dcgan_discriminator(
        preset="fernandez2021", image_size=image_size, discriminator_filters=2, channels=1
    )
    assert len(_layers(discriminator, keras.layers.Conv2D)) == blocks
    assert tuple(discriminator.input.shape) == (None, image_size, image_size, 1)


def test_preset_training_numbers_and_deep_copy():
    fernandez = models.get_preset("fernandez2021")
    assert fernandez["training"]["latent_distribution"] == "uniform"
    assert fernandez["training"]["batch_size"] == 64
    assert fernandez["training"]["generator_steps"] == 2
    assert fernandez["training"]["label_smoothing"] > 0 and fernandez["training"]["instance_noise_stddev"] > 0
    klang = models.get_preset("klang_carlberg2020")
    assert klang["training"]["latent_distribution"] == "normal"
    assert klang["training"]["batch_size"] == 20 and klang["training"]["epochs"] == 75
    assert klang["training"]["generator_learning_rate"] == klang["training"]["discriminator_learning_rate"] == 1e-5
    for preset in (fernandez, klang):
        assert preset["training"]["latent_distribution"] in models.LATENT_DISTRIBUTIONS
        assert preset["latent_dim"] == 100 and preset["kernel_size"] == 5 and preset["strides"] == 2
    fernandez["training"]["batch_size"] = 1
    fernandez["generator_filters"] = 1
    assert models.PRESETS["fernandez2021"]["training"]["batch_size"] == 64
    assert models.get_preset("fernandez2021")["generator_filters"] == 256


def test_explicit_arguments_override_preset_and_preset_dicts_work():
    custom = models.get_preset("klang_carlberg2020")
    custom["discriminator_dropout"] = 0.5
    discriminator = models.build_dcgan_discriminator(preset=custom, image_size=16, discriminator_filters=2)
    assert all(layer.rate == 0.5 for layer in _layers(discriminator, keras.layers.Dropout))
    discriminator = models.build_dcgan_discriminator(
        preset="klang_carlberg2020", image_size=16, discriminator_filters=2, discriminator_dropout=0.0
    )
    assert not _layers(discriminator, keras.layers.Dropout)
    encoder = models.build_encoder(preset="klang_carlberg2020", image_size=16, discriminator_filters=2)
    assert tuple(encoder.output.shape) == (None, 100)
    assert len(_layers(encoder, keras.layers.Dropout)) == 2
    assert encoder.get_layer("latent_code").activation.__name__ == "linear"
