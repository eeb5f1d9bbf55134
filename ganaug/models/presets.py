"""Paper configurations of the GAN networks, as plain dicts of factory arguments.

A preset is a flat dict whose keys are keyword arguments of the model factories
(``build_dcgan_generator``, ``build_dcgan_discriminator``, the conditional variants and
``build_encoder``); each factory reads the keys it knows and explicit keyword arguments override
the preset's values, e.g. ``build_dcgan_generator(preset="fernandez2021", image_size=32,
generator_filters=32)``. Two extra keys are not factory arguments:

* ``"training"``: the paper's training numbers, read by the trainer (``latent_distribution``,
  ``batch_size``, learning rates, ``adam_beta_1``, ``epochs``, ``generator_steps`` per discriminator
  step, ``label_smoothing`` (one-sided, subtracted from the real target), ``instance_noise_stddev``)
  plus ``"assumed"``: the keys whose values the paper does not state, with the value we chose.
* ``"reference"``: where the numbers come from.

Both presets describe 256x256x3 images and reproduce the papers' layer structure exactly at that
size. At smaller sizes the factories use fewer stride-2 blocks (``min(max_blocks, log2(size) - 2)``,
so the smallest feature map stays 4x4) and ``generator_filters`` / ``discriminator_filters`` scale the
width (every layer's filters follow from the first one by halving / doubling).
"""

import copy

PRESETS = {
    "fernandez2021": {
        "reference": (
            "Fernández et al. 2021, 'Medical image editing in the latent space of GANs', "
            "section 3.1.1 (DCGAN after Radford et al. with half the filters)"
        ),
        "image_size": 256,
        "channels": 3,
        "latent_dim": 100,
        "kernel_size": 5,
        "strides": 2,
        "max_blocks": 4,
        # Generator: projection of z to 16x16x512 (None = twice generator_filters, so scaling
        # generator_filters scales it too), then transposed convolutions 256-128-64-3.
        "projection_filters": None,
        "generator_filters": 256,
        "generator_activation": "relu",
        "generator_negative_slope": 0.2,
        "generator_batch_norm": True,
        "generator_dropout": 0.0,
        "generator_output_activation": "tanh",
        # Discriminator: convolutions 64-128-256-512, batch norm after each but the first,
        # LeakyReLU(0.2), Flatten, Dense(1) logit.
        "discriminator_filters": 64,
        "discriminator_activation": "leaky_relu",
        "discriminator_negative_slope": 0.2,
        "discriminator_batch_norm": "all_but_first",
        "discriminator_dropout": 0.0,
        "training": {
            "latent_distribution": "uniform",
            "batch_size": 64,
            "generator_learning_rate": 2e-4,
            "discriminator_learning_rate": 2e-4,
            "adam_beta_1": 0.5,
            "epochs": None,
            "generator_steps": 2,
            "label_smoothing": 0.1,
            "instance_noise_stddev": 0.1,
            "assumed": {
                "generator_learning_rate": "not stated; Radford et al.'s Adam 2e-4 (the paper keeps "
                "Radford's setup except the listed differences)",
                "discriminator_learning_rate": "as generator_learning_rate",
                "adam_beta_1": "not stated; Radford et al.'s 0.5",
                "epochs": "not stated in the paper (None: the trainer's own default applies)",
                "label_smoothing": "used but its value is not stated; 0.1 (real target 0.9)",
                "instance_noise_stddev": "used but its value is not stated; 0.1",
            },
        },
    },
    "klang_carlberg2020": {
        "reference": (
            "Klang & Carlberg, 'Blood Cell Data Augmentation using Deep Learning Methods' "
            "(CellaVision master thesis), section 4.3, Table 1, appendix figures 22-23"
        ),
        "image_size": 256,
        "channels": 3,
        "latent_dim": 100,
        "kernel_size": 5,
        "strides": 2,
        "max_blocks": 5,
        # Generator: projection of z to 8x8x2048 (twice the first convolution, the DCGAN pattern),
        # then transposed convolutions with Depth_G = 1024 filters first, halving: 1024-512-256-128-3.
        "projection_filters": None,
        "generator_filters": 1024,
        "generator_activation": "leaky_relu",
        "generator_negative_slope": 0.3,
        "generator_batch_norm": True,
        "generator_dropout": 0.0,
        "generator_output_activation": "tanh",
        # Discriminator: Depth_D = 64 filters first, doubling: 64-128-256-512-1024, LeakyReLU and
        # dropout after every convolution, no batch norm, Flatten, Dense(1) logit.
        "discriminator_filters": 64,
        "discriminator_activation": "leaky_relu",
        "discriminator_negative_slope": 0.3,
        "discriminator_batch_norm": "none",
        "discriminator_dropout": 0.3,
        "training": {
            "latent_distribution": "normal",
            "batch_size": 20,
            "generator_learning_rate": 1e-5,
            "discriminator_learning_rate": 1e-5,
            "adam_beta_1": 0.9,
            "epochs": 75,
            "generator_steps": 1,
            "label_smoothing": 0.0,
            "instance_noise_stddev": 0.0,
            "assumed": {
                "adam_beta_1": "not stated; Keras' Adam default 0.9",
                "generator_negative_slope": "not stated; Keras' LeakyReLU default 0.3 (the thesis's "
                "own definition in section 3 uses 0.01)",
                "discriminator_dropout": "not stated; 0.3 (TensorFlow DCGAN tutorial the layout follows)",
                "max_blocks": "figures 22-23 are not in the text; 5 blocks mirror Radford et al. "
                "(8x8 smallest map at 256 px)",
            },
        },
    },
}

#: Keys of a preset that are not factory arguments.
NON_ARGUMENT_KEYS = ("training", "reference")


def get_preset(name):
    """Returns a deep copy of the named paper preset.

    Args:
        name: ``"fernandez2021"`` or ``"klang_carlberg2020"``.

    Returns:
        dict of factory arguments plus the ``"training"`` and ``"reference"`` entries; changing it
        does not change ``PRESETS``.

    Raises:
        ValueError: for an unknown name.
    """
    if not isinstance(name, str) or name not in PRESETS:
        raise ValueError(f"Unknown preset. Known presets: {sorted(PRESETS)}. Received: preset={name!r}")
    return copy.deepcopy(PRESETS[name])


def resolve_arguments(preset, explicit, defaults):
    """Returns the arguments a factory builds with: defaults < preset < explicit arguments.

    Args:
        preset: ``None``, a preset name or a preset dict.
        explicit: dict of the keyword arguments the caller passed (``None`` values are "not given").
        defaults: dict of the factory's defaults; only these keys are read from the preset.

    Returns:
        dict with one value per key of ``defaults``.

    Raises:
        ValueError: for an unknown preset name.
        TypeError: if ``preset`` is neither ``None``, a string nor a dict.
    """
    if preset is None:
        preset_values = {}
    elif isinstance(preset, str):
        preset_values = get_preset(preset)
    elif isinstance(preset, dict):
        preset_values = copy.deepcopy(preset)
    else:
        raise TypeError(
            f"`preset` must be None, a preset name or a dict of arguments. Received: preset={preset!r}"
        )
    arguments = dict(defaults)
    arguments.update({k: v for k, v in preset_values.items() if k in defaults})
    arguments.update({k: v for k, v in explicit.items() if v is not None})
    return arguments
