"""Image-to-latent encoder factory (Klang & Carlberg, "image-to-latent network", figure 26).

The thesis adopts the discriminator's architecture and changes its output from a scalar to a
100-dimensional vector; it is trained against a frozen generator (L1 between x and G(E(x))). Saboo
et al. train an encoder with an added cyclic loss on codes (``ganaug.latent.train_w_encoder``; the
L1-only cyclic mode of ``ganaug.latent.train_encoder`` is a simplified form).
"""

import keras

from ganaug.models import _validation as check
from ganaug.models.dcgan import _initializer, discriminator_arguments, discriminator_trunk
from ganaug.models.presets import resolve_arguments


def build_encoder(
    *,
    latent_dim=None,
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
    name="encoder",
):
    """Builds an image-to-latent encoder: image -> latent code (linear).

    The trunk is the discriminator's (same ``discriminator_*`` arguments, same presets, same size
    rules; its flattened output is the layer ``"trunk_features"``), followed by a linear
    ``Dense(latent_dim)`` named ``"latent_code"`` (Klang & Carlberg).

    Args:
        latent_dim: length of the code, equal to the generator's (default: the preset's, else 100).
        preset, image_size, channels, kernel_size, strides, max_blocks, discriminator_filters,
        discriminator_activation, discriminator_negative_slope, discriminator_batch_norm,
        discriminator_dropout: as in ``build_dcgan_discriminator``.
        seed: integer seed of the weight initialisers.
        name: model name.

    Returns:
        Functional ``keras.Model`` ``image (N, S, S, C) -> code (N, latent_dim)`` float32.

    Raises:
        ValueError: for a bad argument value or an unknown preset.
        TypeError: for a wrongly typed argument.
    """
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
    if latent_dim is None:
        latent_dim = resolve_arguments(preset, {}, {"latent_dim": 100})["latent_dim"]
    latent_dim = check.check_integer(latent_dim, "latent_dim", minimum=1)
    size, channels = arguments["image_size"], arguments["channels"]
    image = keras.Input(shape=(size, size, channels), name="image")
    features = discriminator_trunk(image, arguments, seed=seed)
    code = keras.layers.Dense(latent_dim, kernel_initializer=_initializer(seed, 300), name="latent_code")(features)
    return keras.Model(image, code, name=name)
