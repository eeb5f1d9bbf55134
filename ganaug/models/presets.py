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

Both presets describe 256x256x3 images. ``fernandez2021`` follows the layer structure the paper
states (projection to 16x16x512, four 5x5 stride-2 blocks each way). ``klang_carlberg2020`` states
what the thesis's text gives (kernel, stride, Depth_G = 1024, Depth_D = 64, batch norm, LeakyReLU,
dropout, Adam 1e-5, batch 20, 75 epochs) but not its figures 22-23: the number of blocks and the
generator's projection (8x8x2048, the DCGAN pattern of twice the first convolution) are assumed and
listed under ``"assumed"``. At smaller sizes the factories use fewer stride-2 blocks (``min(max_blocks, log2(size) - 2)``,
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
                "projection_filters": "figures 22-23 are not in the text; None: the projection of z to "
                "8x8x2048, twice Depth_G, the DCGAN pattern",
            },
        },
    },
    # SNGAN with a projection discriminator (build_sngan_generator, build_projection_discriminator).
    # Unlike the two presets above, these describe 32x32 images: the papers' CIFAR-10 setting.
    "miyato2018": {
        "reference": (
            "Miyato et al. 2018, 'Spectral Normalization for Generative Adversarial Networks'; Miyato & "
            "Koyama 2018, 'cGANs with Projection Discriminator' (CIFAR-10 ResNets; the authors' code "
            "pfnet-research/sngan_projection, configs/sn_cifar10.yml)"
        ),
        "image_size": 32,
        "channels": 3,
        "latent_dim": 128,
        # Generator: dense to 4x4x256, 3 residual up-blocks of 256 filters with class-conditional
        # batch norm, BN-ReLU-conv-tanh. Discriminator: 4 spectrally normalised residual blocks of
        # 128 filters (down, down, no-down, no-down), ReLU, global sum pooling, psi + projection.
        "generator_filters": 256,
        "discriminator_filters": 128,
        "power_iterations": 1,
        "training": {
            "latent_distribution": "normal",
            "batch_size": 64,
            "generator_learning_rate": 2e-4,
            "discriminator_learning_rate": 2e-4,
            "adam_beta_1": 0.0,
            "adam_beta_2": 0.9,
            "loss": "hinge",
            "epochs": None,
            "generator_steps": 1,
            "discriminator_steps": 5,
            "label_smoothing": 0.0,
            "instance_noise_stddev": 0.0,
            "assumed": {
                "epochs": "the papers count generator updates, not epochs: 50k at CIFAR-10 with the "
                "learning rate decayed linearly to 0 and 128 samples per generator update (the "
                "authors' config); None: the trainer's own default applies, without that decay",
            },
        },
    },
    "sngan_cpu": {
        "reference": (
            "ganaug's CPU-sized variant of 'miyato2018' (Miyato et al. 2018; Miyato & Koyama 2018): "
            "same structure, narrower networks, one discriminator step per generator step with the "
            "two time-scale learning rates of Heusel et al. 2017, DiffAugment translation only"
        ),
        "image_size": 32,
        "channels": 3,
        "latent_dim": 128,
        "generator_filters": 64,
        "discriminator_filters": 64,
        "power_iterations": 1,
        "training": {
            "latent_distribution": "normal",
            "batch_size": 64,
            "generator_learning_rate": 2e-4,
            "discriminator_learning_rate": 4e-4,
            "adam_beta_1": 0.0,
            "adam_beta_2": 0.9,
            "loss": "hinge",
            "epochs": None,
            "generator_steps": 1,
            "discriminator_steps": 1,
            "label_smoothing": 0.0,
            "instance_noise_stddev": 0.0,
            "diffaugment": "translation",
            "assumed": {
                "generator_filters": "64 instead of the paper's 256: about 1/16 of the generator's "
                "convolution cost, so a step fits a 2-core CPU",
                "discriminator_filters": "64 instead of the paper's 128: about 1/4 of the "
                "discriminator's convolution cost",
                "discriminator_steps": "1 instead of the paper's 5, with the discriminator's learning "
                "rate doubled instead (two time-scale update rule, Heusel et al. 2017): five "
                "discriminator updates take most of a CPU run's time",
                "discriminator_learning_rate": "4e-4 instead of 2e-4 (see discriminator_steps). On the "
                "embedded data set (32 px, 875 training images, 1,500 steps at widths 32/32) it raised "
                "TRTS fidelity from 0.51 to 0.66 and lowered FID from 7.6 to 5.7",
                "diffaugment": "translation only instead of the 'auto' policy color,translation,cutout "
                "(Zhao et al. 2020's choice for long runs on small data): in the same 1,500-step runs "
                "color and cutout slowed the generator down (fidelity 0.51 with them, 0.82 without)",
                "epochs": "as 'miyato2018': None, the trainer's own default applies",
            },
        },
    },
    # StyleGAN2 (build_stylegan_generator, build_stylegan_discriminator, build_stylegan_mapping,
    # build_stylegan_synthesis). Widths follow min(channel_base // resolution, channel_max).
    "karras2020": {
        "reference": (
            "Karras et al. 2020, 'Analyzing and Improving the Image Quality of StyleGAN', config F; "
            "numbers the text leaves to the code from the official NVlabs/stylegan2 (TensorFlow) "
            "configuration"
        ),
        "image_size": 256,
        "channels": 3,
        "latent_dim": 512,
        "w_dim": 512,
        "mapping_layers": 8,
        "mapping_units": 512,
        "mapping_lr_multiplier": 0.01,
        # Config F: fmap_base 32 << 10 with nf(log2(res) - 1) = 65536 / res channels, at most 512
        # (512 up to 128 px, 256 at 256 px).
        "channel_base": 65536,
        "channel_max": 512,
        "noise_mode": "random",
        "output_activation": "linear",
        "truncation_psi": 1.0,
        "truncation_cutoff": None,
        "mbstd_group_size": 4,
        "mbstd_channels": 1,
        "training": {
            "latent_distribution": "normal",
            "batch_size": 32,
            "generator_learning_rate": 0.002,
            "discriminator_learning_rate": 0.002,
            "adam_beta_1": 0.0,
            "adam_beta_2": 0.99,
            "adam_epsilon": 1e-8,
            "loss": "non_saturating",
            "r1_gamma": 10.0,
            "r1_interval": 16,
            "path_length_weight": 2.0,
            "path_length_interval": 4,
            "style_mixing_probability": 0.9,
            "w_avg_decay": 0.995,
            "ema_decay": 0.5 ** (32 / 10_000),
            "epochs": None,
            "generator_steps": 1,
            "discriminator_steps": 1,
            "label_smoothing": 0.0,
            "instance_noise_stddev": 0.0,
            "assumed": {
                "image_size": "the paper's headline setting is FFHQ at 1024 px, beyond these factories "
                "(16-256 px); 256 px is the size of its LSUN Cat / Church / Horse models, with the "
                "same config F",
                "r1_gamma": "10 is the FFHQ value; other data sets use other values (a per-data-set "
                "choice, see 'stylegan2_cpu' for the auto-config heuristic)",
                "ema_decay": "the code's EMA half-life of 10k images at batch 32: 0.5 ** (32 / 10000)",
                "r1_interval": "lazy R1 every 16 D steps; the code also scales D's Adam learning rate "
                "and betas by c = 16 / 17 (ganaug.training.stylegan_losses.lazy_regularization_adam)",
                "path_length_weight": "part of config F; ganaug does not implement path-length "
                "regularisation yet, so a trainer reading this preset skips it",
                "epochs": "the paper counts images shown (25M for FFHQ), not epochs; None: the trainer's "
                "own default applies",
            },
        },
    },
    "stylegan2_cpu": {
        "reference": (
            "ganaug's CPU-sized StyleGAN2 at 32 px after StyleGAN2-ADA's 'auto' configuration "
            "(Karras et al. 2020a/b, stylegan2-ada-pytorch train.py): 2 mapping layers, "
            "minibatch-stddev group 4, R1 gamma 0.0002 * res^2 / batch, EMA half-life batch * 10 / 32 "
            "kimg, lazy R1 every 16 steps, Adam betas (0, 0.99)"
        ),
        "image_size": 32,
        "channels": 3,
        "latent_dim": 128,
        "w_dim": 128,
        "mapping_layers": 2,
        "mapping_units": None,
        "mapping_lr_multiplier": 0.01,
        # Widths 128-128-128-64 at 4-8-16-32 px.
        "channel_base": 2048,
        "channel_max": 128,
        "noise_mode": "random",
        "output_activation": "linear",
        "truncation_psi": 1.0,
        "truncation_cutoff": None,
        "mbstd_group_size": 4,
        "mbstd_channels": 1,
        "training": {
            "latent_distribution": "normal",
            "batch_size": 32,
            "generator_learning_rate": 0.002,
            "discriminator_learning_rate": 0.002,
            "adam_beta_1": 0.0,
            "adam_beta_2": 0.99,
            "adam_epsilon": 1e-8,
            "loss": "non_saturating",
            "r1_gamma": 0.0002 * 32**2 / 32,
            "r1_interval": 16,
            "path_length_weight": 0.0,
            "path_length_interval": 4,
            "style_mixing_probability": 0.9,
            "w_avg_decay": 0.995,
            "ema_decay": 0.5 ** (32 / 10_000),
            "epochs": None,
            "generator_steps": 1,
            "discriminator_steps": 1,
            "label_smoothing": 0.0,
            "instance_noise_stddev": 0.0,
            "assumed": {
                "latent_dim": "128 instead of 512 (and w_dim likewise): CPU budget",
                "channel_base": "2048 with channel_max 128 instead of the auto config's 16384 / 512 (512 "
                "channels at every resolution of a 32 px model): about 1/16 of the convolution cost",
                "generator_learning_rate": "0.002 as the StyleGAN2 paper; the auto config uses 0.0025 "
                "below 1024 px (both networks)",
                "ema_decay": "the auto config's half-life batch * 10 / 32 kimg = 10k images at batch 32; "
                "its ramp-up (half-life limited to 5 % of the images seen) is left to the trainer",
                "path_length_weight": "the auto config uses 2 every 4 steps; not implemented in ganaug, so 0",
                "epochs": "the auto config trains 25M images; None: the trainer's own default applies",
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
