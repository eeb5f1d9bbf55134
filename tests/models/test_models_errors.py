"""Bad arguments raise errors that name the argument and the value."""

import pytest

from ganaug import models

G = models.build_dcgan_generator
D = models.build_dcgan_discriminator


@pytest.mark.parametrize("factory,kwargs,error,message", [
    (G, dict(image_size=48), ValueError, "power of two.*Received: image_size=48"),
    (D, dict(image_size=8), ValueError, "between 16 and 512.*Received: image_size=8"),
    (G, dict(image_size=1024), ValueError, "Received: image_size=1024"),
    (D, dict(image_size=32.0), TypeError, r"Received: image_size=32\.0"),
    (G, dict(channels=2), ValueError, "1 or 3.*Received: channels=2"),
    (D, dict(channels=4), ValueError, "Received: channels=4"),
    (G, dict(latent_dim=0), ValueError, "Received: latent_dim=0"),
    (G, dict(generator_filters=-1), ValueError, "Received: generator_filters=-1"),
    (D, dict(discriminator_filters=0), ValueError, "Received: discriminator_filters=0"),
    (D, dict(discriminator_batch_norm="first"), ValueError, "Received: discriminator_batch_norm='first'"),
    (D, dict(discriminator_dropout=1.5), ValueError, r"Received: discriminator_dropout=1\.5"),
    (G, dict(generator_activation="relu6x"), ValueError, "Received: generator_activation='relu6x'"),
    (G, dict(generator_batch_norm="yes"), TypeError, "Received: generator_batch_norm='yes'"),
    (G, dict(strides=3), ValueError, "Received: strides=3"),
    (G, dict(preset="radford2016"), ValueError, "Unknown preset.*Received: preset='radford2016'"),
    (D, dict(preset=42), TypeError, "Received: preset=42"),
    (models.build_encoder, dict(latent_dim=0), ValueError, "Received: latent_dim=0"),
    (models.build_encoder, dict(image_size=100), ValueError, "Received: image_size=100"),
])
def test_bad_gan_arguments(factory, kwargs, error, message):
    with pytest.raises(error, match=message):
        factory(**kwargs)


@pytest.mark.parametrize("factory", [models.build_cdcgan_generator, models.build_cdcgan_discriminator])
@pytest.mark.parametrize("num_classes,error", [(1, ValueError), (0, ValueError), (2.5, TypeError)])
def test_bad_num_classes(factory, num_classes, error):
    with pytest.raises(error, match=f"Received: num_classes={num_classes}"):
        factory(num_classes=num_classes, image_size=16)


def test_unknown_preset_lists_known_presets():
    with pytest.raises(ValueError, match="fernandez2021.*klang_carlberg2020.*Received: preset='dcgan'"):
        models.get_preset("dcgan")


@pytest.mark.parametrize("layer,kwargs,message", [
    (models.OneHot, dict(num_classes=1), "Received: num_classes=1"),
    (models.LabelFeatureMaps, dict(num_classes=0), "Received: num_classes=0"),
    (models.RepeatChannels, dict(repeats=0), "Received: repeats=0"),
])
def test_bad_layer_arguments(layer, kwargs, message):
    with pytest.raises(ValueError, match=message):
        layer(**kwargs)


def test_one_bool_check_for_factories_trainer_and_readers():
    import numpy as np

    from data_readers.checks import check_bool as readers_check_bool
    from ganaug._checks import check_bool
    from ganaug.models import _validation
    from ganaug.training import GANTrainer

    assert check_bool is readers_check_bool is _validation.check_bool
    assert check_bool(np.bool_(True), "flag") is True  # a numpy bool (e.g. from a mask) is a bool
    for bad in (1, 0, "yes", None):
        with pytest.raises(TypeError, match=f"`flag` must be True or False. Received: flag={bad!r}"):
            check_bool(bad, "flag")
    with pytest.raises(TypeError, match="Received: use_encoder=1"):
        models.build_spade_generator(3, image_size=16, use_encoder=1)
    with pytest.raises(TypeError, match="Received: jit_compile='no'"):
        GANTrainer(G(image_size=16), D(image_size=16), jit_compile="no")
