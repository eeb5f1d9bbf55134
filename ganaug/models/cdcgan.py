"""Conditional DCGAN factories (Fernández et al. 2021, section 3.1.2).

The generator concatenates the one-hot label to z before the projection; the discriminator
broadcasts the label to constant one-hot feature maps (``LabelFeatureMaps``) and concatenates them
to the output of its first convolution block, not to the image. Both take the label as an integer
input ``(N,)`` int32, the second input (a generator is conditional iff it has two inputs).
"""

import keras

from ganaug.models import _validation as check
from ganaug.models.dcgan import (
    _initializer,
    discriminator_arguments,
    discriminator_trunk,
    generator_arguments,
    generator_body,
)
from ganaug.models.layers import LabelFeatureMaps, OneHot


def build_cdcgan_generator(
    *,
    num_classes,
    preset=None,
    image_size=None,
    channels=None,
    latent_dim=None,
    kernel_size=None,
    strides=None,
    max_blocks=None,
    projection_filters=None,
    generator_filters=None,
    generator_activation=None,
    generator_negative_slope=None,
    generator_batch_norm=None,
    generator_dropout=None,
    generator_output_activation=None,
    seed=None,
    name="cdcgan_generator",
):
    """Builds a conditional DCGAN generator: ``[latent, label] -> image`` in [-1, 1].

    As ``build_dcgan_generator`` (same arguments, defaults and presets) with the one-hot label
    concatenated to z at the input (Fernández et al. 2021, cDCGAN).

    Args:
        num_classes: number of classes (>= 2).
        preset, image_size, channels, latent_dim, kernel_size, strides, max_blocks,
        projection_filters, generator_filters, generator_activation, generator_negative_slope,
        generator_batch_norm, generator_dropout, generator_output_activation: as in
            ``build_dcgan_generator``.
        seed: integer seed of the weight initialisers.
        name: model name.

    Returns:
        Functional ``keras.Model`` ``[latent (N, latent_dim) float32, label (N,) int32] ->
        images (N, S, S, channels)``.

    Raises:
        ValueError: for a bad argument value (e.g. ``num_classes < 2``) or an unknown preset.
        TypeError: for a wrongly typed argument.
    """
    num_classes = check.check_num_classes(num_classes)
    arguments = generator_arguments(
        preset,
        dict(
            image_size=image_size,
            channels=channels,
            latent_dim=latent_dim,
            kernel_size=kernel_size,
            strides=strides,
            max_blocks=max_blocks,
            projection_filters=projection_filters,
            generator_filters=generator_filters,
            generator_activation=generator_activation,
            generator_negative_slope=generator_negative_slope,
            generator_batch_norm=generator_batch_norm,
            generator_dropout=generator_dropout,
            generator_output_activation=generator_output_activation,
        ),
    )
    latent = keras.Input(shape=(arguments["latent_dim"],), name="latent")
    label = keras.Input(shape=(), dtype="int32", name="label")
    one_hot = OneHot(num_classes, name="label_one_hot")(label)
    conditioned = keras.layers.Concatenate(name="latent_label_concat")([latent, one_hot])
    images = generator_body(conditioned, arguments, seed=seed)
    return keras.Model([latent, label], images, name=name)


def build_cdcgan_discriminator(
    *,
    num_classes,
    preset=None,
    image_size=None,
    channels=None,
    kernel_size=None,
    strides=None,
    max_blocks=None,
    discriminator_filters=None,
    discriminator_activation=None,
    discriminator_negative_slope=None,
    discriminator_batch_norm=None,
    discriminator_dropout=None,
    seed=None,
    name="cdcgan_discriminator",
):
    """Builds a conditional DCGAN discriminator: ``[image, label] -> realness logit``.

    As ``build_dcgan_discriminator`` (same arguments, defaults and presets); the label becomes
    ``num_classes`` constant one-hot feature maps (layer ``"label_feature_maps"``) concatenated to the
    output of the first convolution block (layer ``"label_concat"``), as Fernández et al. 2021
    describe ("the concatenation is done on the first convolutional layer and not directly on the
    input layer").

    Args:
        num_classes: number of classes (>= 2).
        preset, image_size, channels, kernel_size, strides, max_blocks, discriminator_filters,
        discriminator_activation, discriminator_negative_slope, discriminator_batch_norm,
        discriminator_dropout: as in ``build_dcgan_discriminator``.
        seed: integer seed of the weight initialisers.
        name: model name.

    Returns:
        Functional ``keras.Model`` ``[image (N, S, S, C), label (N,) int32] -> logit (N, 1)`` with
        the ``"trunk_features"`` and ``"realness_logit"`` layers.

    Raises:
        ValueError: for a bad argument value or an unknown preset.
        TypeError: for a wrongly typed argument.
    """
    num_classes = check.check_num_classes(num_classes)
    arguments = discriminator_arguments(
        preset,
        dict(
            image_size=image_size,
            channels=channels,
            kernel_size=kernel_size,
            strides=strides,
            max_blocks=max_blocks,
            discriminator_filters=discriminator_filters,
            discriminator_activation=discriminator_activation,
            discriminator_negative_slope=discriminator_negative_slope,
            discriminator_batch_norm=discriminator_batch_norm,
            discriminator_dropout=discriminator_dropout,
        ),
    )
    size, channels = arguments["image_size"], arguments["channels"]
    image = keras.Input(shape=(size, size, channels), name="image")
    label = keras.Input(shape=(), dtype="int32", name="label")

    def concatenate_label(features):
        maps = LabelFeatureMaps(num_classes, name="label_feature_maps")([features, label])
        return keras.layers.Concatenate(name="label_concat")([features, maps])

    features = discriminator_trunk(image, arguments, seed=seed, after_first_block=concatenate_label)
    logit = keras.layers.Dense(1, kernel_initializer=_initializer(seed, 200), name="realness_logit")(features)
    return keras.Model([image, label], logit, name=name)
