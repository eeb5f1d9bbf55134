"""``train_gan``: build the paper's models from the factories, train them, write the run.

The models are built *inside* the trainer's strategy scope (the trainer receives builders), so the
same call trains on one CPU, several GPUs or several machines.
"""

import os

import keras

from ganaug.models.presets import get_preset
from ganaug.runs import load_run_model, read_config
from ganaug.training import distribute
from ganaug.training.trainer import FAMILIES, GANTrainer

TRAINING_DEFAULTS = {
    "latent_distribution": "normal",
    "batch_size": 64,
    "generator_learning_rate": 2e-4,
    "discriminator_learning_rate": 2e-4,
    "adam_beta_1": 0.5,
    "generator_steps": 1,
    "label_smoothing": 0.0,
    "instance_noise_stddev": 0.0,
}


def training_settings(preset=None, **overrides):
    """Returns the training numbers of ``preset`` (its ``training`` dict) with ``overrides`` applied.

    Keys: those of ``TRAINING_DEFAULTS``; a None override keeps the preset's value.
    """
    settings = dict(TRAINING_DEFAULTS)
    if preset is not None:
        settings.update({k: v for k, v in get_preset(preset)["training"].items() if k in TRAINING_DEFAULTS and v is not None})
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return settings


def _reader(path, *, image_size, channels, batch_size, seed):
    from data_readers.image_reader import ImageReader

    if not os.path.isdir(path):
        raise FileNotFoundError(f"Training data folder not found: {path}")
    return ImageReader.from_folder(
        path, image_size=image_size, channels=channels, batch_size=batch_size, seed=seed,
        shuffle=True, drop_remainder=True,
        num_shards=distribute.num_workers(), shard_index=distribute.worker_index(),
    )


def train_gan(
    family,
    data,
    *,
    run_dir,
    preset=None,
    image_size=64,
    channels=3,
    latent_dim=None,
    batch_size=None,
    epochs=None,
    steps=None,
    base_run=None,
    generator_learning_rate=None,
    discriminator_learning_rate=None,
    generator_steps=None,
    label_smoothing=None,
    instance_noise=None,
    latent_distribution=None,
    model_options=None,
    strategy="auto",
    resume=False,
    sample_every=500,
    checkpoint_every=500,
    seed=0,
    verbose=1,
    **trainer_options,
):
    """Trains a DCGAN, cDCGAN or AC-GAN and writes its run directory.

    Args:
        family: ``"dcgan"``, ``"cdcgan"`` or ``"acgan"``.
        data: a folder-per-class image folder (read with ``ImageReader.from_folder``), an
            ImageReader, a ``tf.data.Dataset`` of ``(images, labels)`` or ``(images, labels)`` arrays.
        run_dir: where the run is written.
        preset: ``"fernandez2021"``, ``"klang_carlberg2020"`` or None; gives the model arguments and
            the training numbers (batch size, learning rates, Adam beta_1, generator steps, label
            smoothing, instance noise, latent prior); explicit arguments override it.
        image_size: image side in pixels (the presets describe 256).
        channels: 1 or 3.
        latent_dim: latent size (preset/factory default when None).
        batch_size: global batch size (preset's when None).
        epochs: passes over the data; or
        steps: total discriminator steps.
        base_run: AC-GAN only: the run of the trained vanilla DCGAN whose generator and
            discriminator are frozen (Klang & Carlberg) via ``build_acgan``.
        generator_learning_rate, discriminator_learning_rate, generator_steps, label_smoothing,
            instance_noise, latent_distribution: override the preset's training numbers.
        model_options: extra keyword arguments for the model factories (e.g. ``generator_filters``;
            for ``"acgan"`` those of ``build_acgan``, e.g. ``mapping_output_activation``).
        strategy: see ``GANTrainer``.
        resume: continue from the newest checkpoint of ``run_dir``.
        sample_every: steps between sample grids (``samples/step_XXXXXX.png``).
        checkpoint_every: steps between checkpoints.
        seed: seed of the weights' initialisation and of training.
        verbose: 0 silences the progress bar.
        **trainer_options: further ``GANTrainer`` options (``loss``, ``ema_decay``, ``diffaugment``,
            ``mixed_precision``, ``jit_compile``, ...).

    Returns:
        The history dict of ``GANTrainer.fit``.

    Raises:
        ValueError: for an unknown family, or ``base_run`` missing for / given to the wrong family.
        FileNotFoundError: if the data folder or the base run does not exist.
    """
    if family not in FAMILIES:
        raise ValueError(f"`family` must be one of {FAMILIES}. Received: family={family!r}")
    if (family == "acgan") != (base_run is not None):
        raise ValueError(
            "`base_run` (the trained DCGAN to freeze) is required for, and only for, family='acgan'. "
            f"Received: family={family!r}, base_run={base_run!r}"
        )
    settings = training_settings(
        preset,
        batch_size=batch_size,
        generator_learning_rate=generator_learning_rate,
        discriminator_learning_rate=discriminator_learning_rate,
        generator_steps=generator_steps,
        label_smoothing=label_smoothing,
        instance_noise_stddev=instance_noise,
        latent_distribution=latent_distribution,
    )
    base_config = None
    if family == "acgan":
        base_config = read_config(base_run)
        image_size, channels = base_config["image_size"], base_config["channels"]
        settings["latent_distribution"] = latent_distribution or base_config["latent_distribution"]
    if isinstance(data, (str, os.PathLike)):
        data_description = os.path.abspath(os.fspath(data))
        data = _reader(data_description, image_size=image_size, channels=channels,
                       batch_size=settings["batch_size"], seed=seed)
    else:
        data_description = None
    num_classes = getattr(data, "num_classes", None)
    if num_classes is None and isinstance(data, (tuple, list)) and data[1] is not None:
        num_classes = int(max(data[1])) + 1
    if family != "dcgan" and not num_classes:
        raise ValueError(f"family={family!r} needs labelled data. Received: data without class labels")

    model_options = dict(model_options or {})
    shape_options = dict(preset=preset, image_size=image_size, channels=channels, seed=seed)
    generator_options = dict(shape_options, latent_dim=latent_dim, **model_options)
    generator_options = {k: v for k, v in generator_options.items() if v is not None}

    def build_models():
        from ganaug import models

        if family == "dcgan":
            return (_call_with_known(models.build_dcgan_generator, generator_options),
                    _call_with_known(models.build_dcgan_discriminator, generator_options))
        if family == "cdcgan":
            options = dict(generator_options, num_classes=num_classes)
            return (_call_with_known(models.build_cdcgan_generator, options),
                    _call_with_known(models.build_cdcgan_discriminator, options))
        base_generator = load_run_model(base_run, "generator")
        base_discriminator = load_run_model(base_run, "discriminator")
        return models.build_acgan(base_generator, base_discriminator, num_classes, seed=seed, **model_options)

    def optimizer(learning_rate):
        return lambda: keras.optimizers.Adam(learning_rate, beta_1=settings["adam_beta_1"])

    trainer = GANTrainer(
        build_models,
        family=family,
        generator_optimizer=optimizer(settings["generator_learning_rate"]),
        discriminator_optimizer=optimizer(settings["discriminator_learning_rate"]),
        generator_steps=settings["generator_steps"],
        label_smoothing=settings["label_smoothing"],
        instance_noise=settings["instance_noise_stddev"],
        latent_distribution=settings["latent_distribution"],
        num_classes=num_classes,
        strategy=strategy,
        seed=seed,
        **trainer_options,
    )
    extra = {
        "preset": preset,
        "model_options": model_options,
        "training": settings,
        "base_run": os.path.abspath(os.fspath(base_run)) if base_run is not None else None,
    }
    if data_description:
        extra["data"] = data_description
    if base_config is not None:
        extra["class_names"] = getattr(data, "class_names", None) or [str(i) for i in range(num_classes)]
    return trainer.fit(
        data, batch_size=settings["batch_size"], epochs=epochs, steps=steps, run_dir=run_dir,
        resume=resume, config=extra, verbose=verbose, sample_every=sample_every,
        checkpoint_every=checkpoint_every,
    )


def _call_with_known(factory, options):
    """Calls ``factory`` with the entries of ``options`` it accepts (a preset feeds both networks)."""
    import inspect

    accepted = inspect.signature(factory).parameters
    return factory(**{k: v for k, v in options.items() if k in accepted})
