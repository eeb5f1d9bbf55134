"""DCGAN generator and discriminator factories (Radford et al. 2016 as used by Fernández et al. 2021
and Klang & Carlberg).

Generator: ``latent (N, latent_dim)`` -> dense ``projection`` reshaped to ``base x base x
projection_filters`` -> ``num_blocks`` stride-2 transposed convolutions (``up_block_<i>_conv``), the
hidden ones followed by optional batch norm, the activation and optional dropout, the last one with
``channels`` filters and the output activation (``tanh``, layer ``"images"``).

Discriminator: ``image (N, S, S, C)`` -> ``num_blocks`` stride-2 convolutions (``down_block_<i>_conv``)
each followed by optional batch norm (``"none"``, ``"all"`` or ``"all_but_first"``), the activation
and optional dropout -> ``Flatten`` named ``"trunk_features"`` -> ``Dense(1)`` named
``"realness_logit"`` (a logit: the loss applies the sigmoid).

The number of blocks follows from the image size (``min(max_blocks, log2(image_size) - 2)``); filters
halve per generator block starting from ``generator_filters`` and double per discriminator block
starting from ``discriminator_filters``. See ``ganaug.models.presets`` for the paper settings.
"""

import keras

from ganaug.models import _validation as check
from ganaug.models.presets import resolve_arguments

SHARED_DEFAULTS = {
    "image_size": 64,
    "channels": 3,
    "kernel_size": 5,
    "strides": 2,
    "max_blocks": 4,
}

GENERATOR_DEFAULTS = {
    **SHARED_DEFAULTS,
    "latent_dim": 100,
    "projection_filters": None,
    "generator_filters": 256,
    "generator_activation": "relu",
    "generator_negative_slope": 0.2,
    "generator_batch_norm": True,
    "generator_dropout": 0.0,
    "generator_output_activation": "tanh",
}

DISCRIMINATOR_DEFAULTS = {
    **SHARED_DEFAULTS,
    "discriminator_filters": 64,
    "discriminator_activation": "leaky_relu",
    "discriminator_negative_slope": 0.2,
    "discriminator_batch_norm": "all_but_first",
    "discriminator_dropout": 0.0,
}

BATCH_NORM_PLACEMENTS = ("none", "all", "all_but_first")

#: Standard deviation of the DCGAN weight initialisation (Radford et al. 2016).
INIT_STDDEV = 0.02


def _check_shared(arguments):
    arguments["image_size"] = check.check_image_size(arguments["image_size"])
    arguments["channels"] = check.check_channels(arguments["channels"])
    arguments["kernel_size"] = check.check_integer(arguments["kernel_size"], "kernel_size", minimum=1)
    arguments["strides"] = check.check_strides(arguments["strides"])
    arguments["max_blocks"] = check.check_integer(arguments["max_blocks"], "max_blocks", minimum=1)
    return arguments


def generator_arguments(preset, explicit):
    """Returns the validated generator arguments (defaults < preset < explicit).

    Raises:
        ValueError, TypeError: for a bad argument, naming it.
    """
    arguments = _check_shared(resolve_arguments(preset, explicit, GENERATOR_DEFAULTS))
    arguments["latent_dim"] = check.check_integer(arguments["latent_dim"], "latent_dim", minimum=1)
    arguments["generator_filters"] = check.check_integer(
        arguments["generator_filters"], "generator_filters", minimum=1
    )
    if arguments["projection_filters"] is None:
        arguments["projection_filters"] = 2 * arguments["generator_filters"]
    arguments["projection_filters"] = check.check_integer(
        arguments["projection_filters"], "projection_filters", minimum=1
    )
    check.check_activation(arguments["generator_activation"], "generator_activation")
    check.check_activation(arguments["generator_output_activation"], "generator_output_activation")
    arguments["generator_negative_slope"] = check.check_non_negative(
        arguments["generator_negative_slope"], "generator_negative_slope"
    )
    check.check_bool(arguments["generator_batch_norm"], "generator_batch_norm")
    arguments["generator_dropout"] = check.check_rate(arguments["generator_dropout"], "generator_dropout")
    return arguments


def discriminator_arguments(preset, explicit):
    """Returns the validated discriminator (and encoder trunk) arguments.

    Raises:
        ValueError, TypeError: for a bad argument, naming it.
    """
    arguments = _check_shared(resolve_arguments(preset, explicit, DISCRIMINATOR_DEFAULTS))
    arguments["discriminator_filters"] = check.check_integer(
        arguments["discriminator_filters"], "discriminator_filters", minimum=1
    )
    check.check_activation(arguments["discriminator_activation"], "discriminator_activation")
    arguments["discriminator_negative_slope"] = check.check_non_negative(
        arguments["discriminator_negative_slope"], "discriminator_negative_slope"
    )
    check.check_choice(
        arguments["discriminator_batch_norm"], "discriminator_batch_norm", BATCH_NORM_PLACEMENTS
    )
    arguments["discriminator_dropout"] = check.check_rate(
        arguments["discriminator_dropout"], "discriminator_dropout"
    )
    return arguments


def _initializer(seed, index):
    return keras.initializers.RandomNormal(
        mean=0.0, stddev=INIT_STDDEV, seed=None if seed is None else int(seed) + index
    )


def activation_layer(kind, *, negative_slope=0.2, name=None):
    """Returns a Keras layer applying the named activation (``"leaky_relu"`` uses ``negative_slope``)."""
    if kind == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=negative_slope, name=name)
    return keras.layers.Activation(kind, name=name)


def generator_body(latent, arguments, *, seed=None):
    """Returns the image tensor a DCGAN generator computes from the tensor ``latent``.

    Args:
        latent: symbolic tensor ``(N, d)`` fed to the projection (z, or z concatenated with a label).
        arguments: validated generator arguments (``generator_arguments``).
        seed: integer seed of the weight initialisers, or ``None``.

    Returns:
        Symbolic image tensor ``(N, image_size, image_size, channels)``.
    """
    num_blocks, base_size = check.block_layout(
        arguments["image_size"], arguments["max_blocks"], arguments["strides"]
    )
    batch_norm = arguments["generator_batch_norm"]
    projection_filters = arguments["projection_filters"]
    x = keras.layers.Dense(
        base_size * base_size * projection_filters,
        use_bias=not batch_norm,
        kernel_initializer=_initializer(seed, 0),
        name="projection",
    )(latent)
    x = keras.layers.Reshape((base_size, base_size, projection_filters), name="projection_reshape")(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(name="projection_bn")(x)
    x = activation_layer(
        arguments["generator_activation"],
        negative_slope=arguments["generator_negative_slope"],
        name="projection_act",
    )(x)
    if arguments["generator_dropout"] > 0:
        x = keras.layers.Dropout(arguments["generator_dropout"], name="projection_dropout")(x)
    for index in range(1, num_blocks + 1):
        last = index == num_blocks
        filters = arguments["channels"] if last else max(1, arguments["generator_filters"] // 2 ** (index - 1))
        x = keras.layers.Conv2DTranspose(
            filters,
            arguments["kernel_size"],
            strides=arguments["strides"],
            padding="same",
            use_bias=last or not batch_norm,
            kernel_initializer=_initializer(seed, index),
            name=f"up_block_{index}_conv",
        )(x)
        if last:
            break
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"up_block_{index}_bn")(x)
        x = activation_layer(
            arguments["generator_activation"],
            negative_slope=arguments["generator_negative_slope"],
            name=f"up_block_{index}_act",
        )(x)
        if arguments["generator_dropout"] > 0:
            x = keras.layers.Dropout(arguments["generator_dropout"], name=f"up_block_{index}_dropout")(x)
    return activation_layer(
        arguments["generator_output_activation"],
        negative_slope=arguments["generator_negative_slope"],
        name="images",
    )(x)


def discriminator_trunk(image, arguments, *, seed=None, after_first_block=None):
    """Returns the flattened trunk features (layer ``"trunk_features"``) computed from ``image``.

    Args:
        image: symbolic image tensor ``(N, S, S, C)``.
        arguments: validated discriminator arguments (``discriminator_arguments``).
        seed: integer seed of the weight initialisers, or ``None``.
        after_first_block: optional function applied to the output of the first block (the
            conditional discriminator concatenates its label maps there).

    Returns:
        Symbolic tensor ``(N, features)``, output of the ``Flatten`` layer named ``"trunk_features"``.
    """
    num_blocks, _ = check.block_layout(arguments["image_size"], arguments["max_blocks"], arguments["strides"])
    placement = arguments["discriminator_batch_norm"]
    x = image
    for index in range(1, num_blocks + 1):
        batch_norm = placement == "all" or (placement == "all_but_first" and index > 1)
        x = keras.layers.Conv2D(
            arguments["discriminator_filters"] * 2 ** (index - 1),
            arguments["kernel_size"],
            strides=arguments["strides"],
            padding="same",
            use_bias=not batch_norm,
            kernel_initializer=_initializer(seed, 100 + index),
            name=f"down_block_{index}_conv",
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"down_block_{index}_bn")(x)
        x = activation_layer(
            arguments["discriminator_activation"],
            negative_slope=arguments["discriminator_negative_slope"],
            name=f"down_block_{index}_act",
        )(x)
        if arguments["discriminator_dropout"] > 0:
            x = keras.layers.Dropout(
                arguments["discriminator_dropout"], name=f"down_block_{index}_dropout"
            )(x)
        if index == 1 and after_first_block is not None:
            x = after_first_block(x)
    return keras.layers.Flatten(name="trunk_features")(x)


def build_dcgan_generator(
    *,
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
    name="dcgan_generator",
):
    """Builds a DCGAN generator: latent code -> image in [-1, 1].

    Architecture of Radford et al. 2016 as used by Fernández et al. 2021 (preset ``"fernandez2021"``:
    projection to 16x16x512, transposed convolutions 5x5/2 with 256-128-64-3 filters, batch norm and
    ReLU after each but the last, tanh) and Klang & Carlberg (preset ``"klang_carlberg2020"``:
    Depth_G = 1024, batch norm on every layer but the output, LeakyReLU, tanh). Arguments left as
    ``None`` come from the preset, else from the defaults given below.

    Args:
        preset: ``None``, a preset name from ``ganaug.models.PRESETS`` or a preset dict.
        image_size: output height and width, a power of two in [16, 512] (default 64).
        channels: 1 or 3 (default 3).
        latent_dim: length of the latent code (default 100).
        kernel_size: kernel size of the transposed convolutions (default 5).
        strides: 2 or 4 (default 2).
        max_blocks: most transposed convolutions; fewer at small sizes so the projection is at
            least 4x4 (default 4).
        projection_filters: depth of the projected feature map (default ``2 * generator_filters``).
        generator_filters: filters of the first transposed convolution, halved at each next one;
            the width knob to make small, fast models (default 256).
        generator_activation: activation of the hidden layers, e.g. ``"relu"`` (default) or
            ``"leaky_relu"``.
        generator_negative_slope: slope of ``"leaky_relu"`` (default 0.2).
        generator_batch_norm: batch norm after the projection and every hidden transposed
            convolution (default True).
        generator_dropout: dropout rate after every hidden activation, 0 for none (default 0).
        generator_output_activation: activation of the output (default ``"tanh"``, images in [-1, 1]).
        seed: integer seed of the weight initialisers (same seed, same weights).
        name: model name.

    Returns:
        Functional ``keras.Model`` ``latent (N, latent_dim) -> images (N, S, S, channels)``.

    Raises:
        ValueError: for a bad argument value or an unknown preset, naming it.
        TypeError: for a wrongly typed argument.
    """
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
    images = generator_body(latent, arguments, seed=seed)
    return keras.Model(latent, images, name=name)


def build_dcgan_discriminator(
    *,
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
    name="dcgan_discriminator",
):
    """Builds a DCGAN discriminator: image -> realness logit.

    Fernández et al. 2021 (preset ``"fernandez2021"``): convolutions 5x5/2 with 64-128-256-512
    filters, batch norm after each but the first, LeakyReLU(0.2), then the output unit. Klang &
    Carlberg (preset ``"klang_carlberg2020"``): Depth_D = 64, LeakyReLU and dropout after every layer
    but the output. The output is the logit (the papers' sigmoid belongs to the loss). Arguments
    left as ``None`` come from the preset, else from the defaults below.

    Args:
        preset: ``None``, a preset name or a preset dict.
        image_size: input height and width, a power of two in [16, 512] (default 64).
        channels: 1 or 3 (default 3).
        kernel_size: kernel size of the convolutions (default 5).
        strides: 2 or 4 (default 2).
        max_blocks: most convolutions; fewer at small sizes so the last map is at least 4x4
            (default 4).
        discriminator_filters: filters of the first convolution, doubled at each next one (default 64).
        discriminator_activation: activation after each convolution (default ``"leaky_relu"``).
        discriminator_negative_slope: slope of ``"leaky_relu"`` (default 0.2).
        discriminator_batch_norm: ``"none"``, ``"all"`` or ``"all_but_first"`` (default).
        discriminator_dropout: dropout rate after every convolution block, 0 for none (default 0).
        seed: integer seed of the weight initialisers.
        name: model name.

    Returns:
        Functional ``keras.Model`` ``image (N, S, S, channels) -> realness logit (N, 1)``, with the
        flattened features in the layer ``"trunk_features"`` and the head ``Dense`` ``"realness_logit"``.

    Raises:
        ValueError: for a bad argument value or an unknown preset, naming it.
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
    size, channels = arguments["image_size"], arguments["channels"]
    image = keras.Input(shape=(size, size, channels), name="image")
    features = discriminator_trunk(image, arguments, seed=seed)
    logit = keras.layers.Dense(1, kernel_initializer=_initializer(seed, 200), name="realness_logit")(features)
    return keras.Model(image, logit, name=name)
