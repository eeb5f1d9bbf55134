"""One place that resolves a GAN run's settings: defaults <- family <- preset <- the caller.

``resolve_config(family, preset=None, **overrides)`` knows every factory argument of the family's
models and every training number, rejects anything else (a misspelt ``generator_filter=32`` is an
error, not silently dropped), and returns the dict that ``train_gan`` builds and trains from and
that the run's ``config.json`` stores under ``"settings"``. The Keras way: the resolved config is
the truth, there are no partial copies.
"""

import copy
import inspect

from ganaug.models.presets import NON_ARGUMENT_KEYS, get_preset

#: Training numbers every family understands, with the defaults of Radford et al. (DCGAN).
TRAINING_DEFAULTS = {
    "latent_distribution": "normal",
    "batch_size": 64,
    "epochs": None,
    "generator_learning_rate": 2e-4,
    "discriminator_learning_rate": 2e-4,
    "adam_beta_1": 0.5,
    "adam_beta_2": 0.999,
    "loss": "non_saturating",
    "generator_steps": 1,
    "discriminator_steps": 1,
    "label_smoothing": 0.0,
    "instance_noise_stddev": 0.0,
    "ema_decay": None,
    "diffaugment": None,
    "fake_labels": None,
}

#: StyleGAN2 (Karras et al. 2020; StyleGAN2-ADA's auto configuration): Adam (0, 0.99) at 0.002,
#: EMA half-life 10k images at batch 32, lazy R1 every 16 D steps with ``r1_gamma="auto"`` =
#: ``0.0002 * image_size**2 / batch_size`` (the presets state a number), style mixing 0.9,
#: ``w_avg`` decay 0.995. The last four are options of ``objectives.StyleGANObjective``.
_STYLEGAN_TRAINING_DEFAULTS = {
    "batch_size": 32,
    "generator_learning_rate": 0.002,
    "discriminator_learning_rate": 0.002,
    "adam_beta_1": 0.0,
    "adam_beta_2": 0.99,
    "adam_epsilon": 1e-8,
    "ema_decay": 0.5 ** (32 / 10_000),
    "r1_gamma": "auto",
    "r1_interval": 16,
    "style_mixing_probability": 0.9,
    "w_avg_decay": 0.995,
}

#: LeCam regularisation (Tseng et al. 2021; ``objectives.Objective``), off by default: a training
#: number of the families whose objective takes it.
_LECAM_DEFAULTS = {"lecam_weight": 0.0, "lecam_decay": 0.99}

#: Per-family changes to ``TRAINING_DEFAULTS`` (SNGAN: Miyato et al. 2018, CIFAR setting; EMA as
#: BigGAN; DiffAugment, Zhao et al. 2020, ``"auto"``: on for data sets under 5,000 images). Keys
#: that are not in ``TRAINING_DEFAULTS`` are training numbers of that family only.
FAMILY_TRAINING_DEFAULTS = {
    "dcgan": dict(_LECAM_DEFAULTS),
    "cdcgan": dict(_LECAM_DEFAULTS),
    "acgan": dict(_LECAM_DEFAULTS),
    "sngan": {
        "loss": "hinge",
        "adam_beta_1": 0.0,
        "adam_beta_2": 0.9,
        "discriminator_steps": 5,
        "ema_decay": 0.999,
        "diffaugment": "auto",
        **_LECAM_DEFAULTS,
    },
    "stylegan": _STYLEGAN_TRAINING_DEFAULTS,
    "cstylegan": _STYLEGAN_TRAINING_DEFAULTS,
    # SHI-GAN (Falahkheirkhah et al., section 2.2): least squares, Adam 2e-4 for both networks,
    # x0.95 every 1,000 iterations; NVlabs/SPADE: beta_1 = 0, beta_2 = 0.9, feature matching 10;
    # the VGG-19 perceptual loss only from a local weights file (off by default). Batch 16:
    # assumed for CPU runs (the paper's is not stated).
    "spade": {
        "loss": "least_squares",
        "batch_size": 16,
        "adam_beta_1": 0.0,
        "adam_beta_2": 0.9,
        "learning_rate_decay": 0.95,
        "learning_rate_decay_steps": 1000,
        "feature_matching_weight": 10.0,
        "perceptual_weight": 10.0,
        "vgg_weights": None,
    },
}

#: Keys that describe the images and the latent space (they select the models' shapes).
SHAPE_KEYS = ("image_size", "channels", "latent_dim")
SHAPE_DEFAULTS = {"image_size": 64, "channels": 3, "latent_dim": None}

#: Settings of ``GANTrainer`` that are not training numbers of a preset.
ENGINE_KEYS = ("instance_noise_decay_steps", "gradient_penalty_weight", "mixed_precision", "jit_compile")

_NOT_MODEL_ARGUMENTS = ("num_classes", "num_labels", "name", "preset", "seed", "generator", "discriminator") + SHAPE_KEYS


def model_factories(family):
    """Returns the factory functions whose arguments are the family's model settings.

    Raises:
        ValueError: for an unknown family.
    """
    from ganaug import models

    factories = {
        "dcgan": (models.build_dcgan_generator, models.build_dcgan_discriminator),
        "cdcgan": (models.build_cdcgan_generator, models.build_cdcgan_discriminator),
        "acgan": (models.build_acgan,),
    }
    if hasattr(models, "build_sngan_generator"):
        factories["sngan"] = (models.build_sngan_generator, models.build_projection_discriminator)
    if hasattr(models, "build_stylegan_generator"):
        factories["stylegan"] = factories["cstylegan"] = (
            models.build_stylegan_generator, models.build_stylegan_discriminator,
        )
    if hasattr(models, "build_spade_generator"):
        factories["spade"] = (models.build_spade_generator, models.build_multiscale_discriminator)
    if family not in factories:
        raise ValueError(f"`family` must be one of {tuple(factories)}. Received: family={family!r}")
    return factories[family]


def model_keys(family):
    """Returns the sorted model settings the family's factories accept."""
    keys = set()
    for factory in model_factories(family):
        keys.update(
            name for name, parameter in inspect.signature(factory).parameters.items()
            if name not in _NOT_MODEL_ARGUMENTS and parameter.kind is not inspect.Parameter.VAR_KEYWORD
        )
    return sorted(keys)


def resolve_config(family, preset=None, **overrides):
    """Returns the resolved settings of a GAN run.

    Precedence: ``TRAINING_DEFAULTS`` and the factories' own defaults < ``FAMILY_TRAINING_DEFAULTS``
    < the preset (its model arguments and its ``"training"`` numbers) < ``overrides``. A None
    override means "not given".

    Args:
        family: ``"dcgan"``, ``"cdcgan"``, ``"sngan"``, ``"acgan"``, ``"stylegan"`` or ``"cstylegan"``.
        preset: None or a preset name (``ganaug.models.presets.PRESETS``).
        **overrides: any shape key (``image_size``, ``channels``, ``latent_dim``), training number
            (``TRAINING_DEFAULTS``), engine option (``ENGINE_KEYS``) or model argument of the
            family's factories (``model_keys(family)``).

    Returns:
        dict ``{"family", "preset", "image_size", "channels", "latent_dim", "model": {...},
        "training": {...}, "engine": {...}}``; ``model`` holds the preset's and the caller's model
        arguments (the factories fill in the rest).

    Raises:
        ValueError: for an unknown family, preset or setting (naming it).
    """
    known_models = model_keys(family)
    known_training = dict(TRAINING_DEFAULTS, **FAMILY_TRAINING_DEFAULTS.get(family, {}))
    settings = {
        "family": family,
        "preset": preset,
        **SHAPE_DEFAULTS,
        "model": {},
        "training": dict(known_training),
        "engine": {},
    }
    if preset is not None:
        values = get_preset(preset)
        for key, value in values.items():
            if key in NON_ARGUMENT_KEYS:
                continue
            if key in SHAPE_KEYS:
                settings[key] = value
            elif key in known_models:
                settings["model"][key] = value
        training = values.get("training", {})
        settings["training"].update({k: v for k, v in training.items() if k in known_training})
    unknown = []
    for key, value in overrides.items():
        if value is None:
            continue
        if key in SHAPE_KEYS:
            settings[key] = value
        elif key in known_training:
            settings["training"][key] = value
        elif key in ENGINE_KEYS:
            settings["engine"][key] = value
        elif key in known_models:
            settings["model"][key] = value
        else:
            unknown.append(f"{key}={value!r}")
    if unknown:
        raise ValueError(
            f"Unknown setting(s) for family={family!r}: known are the shape keys {list(SHAPE_KEYS)}, the "
            f"training numbers {sorted(known_training)}, the engine options {list(ENGINE_KEYS)} and the "
            f"model arguments {known_models}. Received: {', '.join(unknown)}"
        )
    return copy.deepcopy(settings)


def factory_arguments(factory, settings, **fixed):
    """Returns the keyword arguments of ``factory`` from resolved ``settings`` plus ``fixed`` ones.

    A preset's model arguments feed both networks; each factory gets the ones it declares.
    """
    accepted = inspect.signature(factory).parameters
    values = dict(settings["model"])
    values.update({k: settings[k] for k in SHAPE_KEYS if settings[k] is not None})
    values.update(fixed)
    return {k: v for k, v in values.items() if k in accepted}
