"""``train_gan``: build the paper's models from the factories, train them, write the run.

The models are built *inside* the trainer's strategy scope (the trainer receives builders), so the
same call trains on one CPU, several GPUs or several machines. Every setting goes through
``ganaug.training.config.resolve_config`` (defaults <- family <- preset <- caller; unknown settings
are an error) and the resolved settings are written to the run's ``config.json``.
"""

import os

import keras

from ganaug.runs import load_run_model, read_config
from ganaug.training import distribute
from ganaug.training.config import ENGINE_KEYS, factory_arguments, model_factories, resolve_config
from ganaug.training.objectives import OBJECTIVES
from ganaug.training.stylegan_losses import r1_gamma_heuristic
from ganaug.training.trainer import FAMILIES, GANTrainer

#: DiffAugment policy switched on by ``diffaugment="auto"`` (Zhao et al. 2020) for small data sets.
AUTO_DIFFAUGMENT = "color,translation,cutout"
AUTO_DIFFAUGMENT_MAX_IMAGES = 5000


def _reader(path, *, image_size, channels, batch_size, seed, balanced=False):
    from data_readers.image_reader import ImageReader

    if not os.path.isdir(path):
        raise FileNotFoundError(f"Training data folder not found: {path}")
    return ImageReader.from_folder(
        path, image_size=image_size, channels=channels, batch_size=batch_size, seed=seed,
        shuffle=True, drop_remainder=True, balanced=balanced,
        num_shards=distribute.num_workers(), shard_index=distribute.worker_index(),
    )


def train_gan(
    family,
    data,
    *,
    run_dir,
    preset=None,
    image_size=None,
    channels=None,
    latent_dim=None,
    batch_size=None,
    epochs=None,
    steps=None,
    base_run=None,
    generator_learning_rate=None,
    discriminator_learning_rate=None,
    generator_steps=None,
    discriminator_steps=None,
    label_smoothing=None,
    instance_noise=None,
    latent_distribution=None,
    loss=None,
    ema_decay=None,
    diffaugment=None,
    model_options=None,
    balanced_classes=False,
    strategy="auto",
    resume=False,
    overwrite=False,
    sample_every=500,
    checkpoint_every=500,
    seed=0,
    verbose=1,
    **options,
):
    """Trains a DCGAN, cDCGAN, SNGAN, AC-GAN or StyleGAN2 and writes its run directory.

    Args:
        family: ``"dcgan"``, ``"cdcgan"``, ``"sngan"``, ``"acgan"``, ``"stylegan"`` or
            ``"cstylegan"`` (conditional StyleGAN2).
        data: a folder-per-class image folder (read with ``ImageReader.from_folder``), an
            ImageReader, a ``tf.data.Dataset`` of ``(images, labels)`` or ``(images, labels)`` arrays.
        run_dir: where the run is written.
        preset: a preset name (``ganaug.models.presets.PRESETS``: ``"fernandez2021"``,
            ``"klang_carlberg2020"``, ``"miyato2018"``, ...) or None; gives the model arguments and
            the training numbers; explicit arguments override it.
        image_size, channels, latent_dim: the images and the latent size (preset's, else 64 px RGB
            and the factory's latent size). AC-GAN takes them from ``base_run``.
        batch_size: global batch size (preset's when None).
        epochs: passes over the data (the preset's ``epochs`` when neither is given); or
        steps: total discriminator steps.
        base_run: AC-GAN only: the run of the trained vanilla DCGAN whose generator and
            discriminator are frozen (Klang & Carlberg) via ``build_acgan``.
        generator_learning_rate, discriminator_learning_rate, generator_steps, discriminator_steps,
            label_smoothing, instance_noise (the stddev), latent_distribution, loss, ema_decay,
            diffaugment: override the family's and preset's training numbers. ``diffaugment="auto"``
            (SNGAN's default) uses ``AUTO_DIFFAUGMENT`` for data sets under 5,000 images.
        model_options: model arguments of the family's factories (``config.model_keys(family)``,
            e.g. ``generator_filters``; for ``"acgan"`` those of ``build_acgan``, e.g.
            ``mapping_output_activation``). An unknown key is an error.
        balanced_classes: with a data folder, draw the real batches class-balanced (every class
            equally often, rare ones repeated: ``ImageReader(balanced=True)``); the fakes' classes
            (``fake_labels="data"``) then follow the batches and are uniform too. Recorded in the
            run's config. For an ImageReader, build it with ``balanced=True`` instead.
        strategy: see ``GANTrainer``.
        resume: continue the run in ``run_dir`` from its newest checkpoint (True; an error if there
            is none or if model settings changed) or ``"or_start"`` (start it when there is no
            checkpoint); see ``GANTrainer.fit``.
        overwrite: replace a run already in ``run_dir`` (without it, or ``resume``, an existing
            run is an error).
        sample_every: steps between sample grids (``samples/step_XXXXXX.png``).
        checkpoint_every: steps between checkpoints.
        seed: seed of the weights' initialisation and of training.
        verbose: 0 silences the progress bar.
        **options: engine options of ``GANTrainer`` (``config.ENGINE_KEYS``: ``mixed_precision``,
            ``jit_compile``, ``instance_noise_decay_steps``, ``gradient_penalty_weight``) or
            further training numbers (``adam_beta_1``, ``adam_beta_2``, ``fake_labels``
            (``"data"``: the fakes' classes follow the training labels' frequencies; ``"uniform"``;
            None: the family's, see ``GANTrainer``); StyleGAN: ``r1_gamma``
            (``"auto"``: ``0.0002 * image_size**2 / batch_size``), ``r1_interval``,
            ``style_mixing_probability``, ``w_avg_decay``, ``adam_epsilon``).

    Returns:
        The history dict of ``GANTrainer.fit``.

    Raises:
        ValueError: for an unknown family or setting, or ``base_run`` missing for / given to the
            wrong family.
        FileNotFoundError: if the data folder or the base run does not exist.
    """
    if family not in FAMILIES:
        raise ValueError(f"`family` must be one of {FAMILIES}. Received: family={family!r}")
    if not isinstance(balanced_classes, bool):
        raise TypeError(f"`balanced_classes` must be a bool. Received: balanced_classes={balanced_classes!r}")
    if balanced_classes and not isinstance(data, (str, os.PathLike)):
        raise ValueError(
            "`balanced_classes=True` reads a data folder; for an ImageReader build it with balanced=True. "
            f"Received: data of type {type(data).__name__}"
        )
    if (family == "acgan") != (base_run is not None):
        raise ValueError(
            "`base_run` (the trained DCGAN to freeze) is required for, and only for, family='acgan'. "
            f"Received: family={family!r}, base_run={base_run!r}"
        )
    overlap = sorted(set(model_options or {}) & set(options))
    if overlap:
        raise ValueError(f"Settings given twice (in `model_options` and as keywords). Received: {overlap}")
    settings = resolve_config(
        family, preset,
        image_size=image_size, channels=channels, latent_dim=latent_dim, batch_size=batch_size, epochs=epochs,
        generator_learning_rate=generator_learning_rate, discriminator_learning_rate=discriminator_learning_rate,
        generator_steps=generator_steps, discriminator_steps=discriminator_steps, label_smoothing=label_smoothing,
        instance_noise_stddev=instance_noise, latent_distribution=latent_distribution, loss=loss,
        ema_decay=ema_decay, diffaugment=diffaugment, **(model_options or {}), **options,
    )
    training = settings["training"]
    base_config = None
    if family == "acgan":
        base_config = read_config(base_run)
        for key, value in (("image_size", image_size), ("channels", channels)):
            if value is not None and value != base_config[key]:
                raise ValueError(
                    f"family='acgan' trains at its base run's {key} ({base_config[key]}, from {base_run}); "
                    f"leave `{key}` unset or pass {base_config[key]}. Received: {key}={value!r}"
                )
        settings["image_size"], settings["channels"] = base_config["image_size"], base_config["channels"]
        training["latent_distribution"] = latent_distribution or base_config["latent_distribution"]
    region_names = None
    if family == "spade":  # (image, mask) pairs: the masks are the labels (SHI-GAN)
        data, data_description, region_names = _paired_data(data, image_size=settings["image_size"], seed=seed)
    elif isinstance(data, (str, os.PathLike)):
        data_description = os.path.abspath(os.fspath(data))
        data = _reader(data_description, image_size=settings["image_size"], channels=settings["channels"],
                       batch_size=training["batch_size"], seed=seed, balanced=balanced_classes)
    else:
        data_description = None
    num_classes = getattr(data, "num_classes", None)
    if region_names is not None:
        num_classes = len(region_names)
    elif num_classes is None and isinstance(data, (tuple, list)) and data[1] is not None:
        num_classes = int(max(data[1])) + 1
    conditional = OBJECTIVES[family].conditional
    if conditional and not num_classes:
        raise ValueError(f"family={family!r} needs labelled data. Received: data without class labels")
    if training.get("r1_gamma") == "auto":
        training["r1_gamma"] = r1_gamma_heuristic(settings["image_size"], training["batch_size"])
    if training["diffaugment"] == "auto":
        size = _data_size(data)
        training["diffaugment"] = AUTO_DIFFAUGMENT if size is not None and size < AUTO_DIFFAUGMENT_MAX_IMAGES else None
    if steps is not None:
        training["epochs"] = None
    if epochs is None and steps is None:
        epochs = training["epochs"]
        if epochs is None:
            raise ValueError(
                f"Pass `epochs` or `steps` (preset {preset!r} states no epochs). Received: epochs=None, steps=None"
            )

    def build_models():
        if family == "acgan":
            base_generator = load_run_model(base_run, "generator")
            base_discriminator = load_run_model(base_run, "discriminator")
            (build_acgan,) = model_factories(family)
            return build_acgan(base_generator, base_discriminator, num_classes, seed=seed, **settings["model"])
        fixed = dict(preset=preset, seed=seed)
        if conditional:
            fixed["num_classes"] = fixed["num_labels"] = num_classes  # (SPADE's factories take num_labels)
        return tuple(factory(**factory_arguments(factory, settings, **fixed)) for factory in model_factories(family))

    def optimizer(learning_rate):
        epsilon = {"epsilon": training["adam_epsilon"]} if "adam_epsilon" in training else {}
        if training.get("learning_rate_decay"):  # SHI-GAN: x0.95 every 1,000 iterations
            learning_rate = keras.optimizers.schedules.ExponentialDecay(
                learning_rate, training["learning_rate_decay_steps"], training["learning_rate_decay"], staircase=True
            )
        return lambda: keras.optimizers.Adam(
            learning_rate, beta_1=training["adam_beta_1"], beta_2=training["adam_beta_2"], **epsilon
        )

    trainer = GANTrainer(
        build_models,
        family=family,
        loss=training["loss"],
        generator_optimizer=optimizer(training["generator_learning_rate"]),
        discriminator_optimizer=optimizer(training["discriminator_learning_rate"]),
        generator_steps=training["generator_steps"],
        discriminator_steps=training["discriminator_steps"],
        label_smoothing=training["label_smoothing"],
        instance_noise=training["instance_noise_stddev"],
        latent_distribution=training["latent_distribution"],
        diffaugment=training["diffaugment"],
        ema_decay=training["ema_decay"],
        num_classes=num_classes,
        fake_labels=training["fake_labels"],
        strategy=strategy,
        seed=seed,
        objective_options={k: training[k] for k in OBJECTIVES[family].options},
        **{k: v for k, v in settings["engine"].items() if k in ENGINE_KEYS},
    )
    extra = {
        "preset": preset,
        "model_options": settings["model"],
        "training": training,
        "settings": settings,
        "base_run": os.path.abspath(os.fspath(base_run)) if base_run is not None else None,
    }
    if data_description:
        extra["data"] = data_description
    extra["balanced_classes"] = bool(getattr(data, "balanced", False))
    if region_names is not None:
        extra["region_names"] = list(region_names)
        extra["class_names"] = list(region_names)
    if base_config is not None:
        extra["class_names"] = getattr(data, "class_names", None) or [str(i) for i in range(num_classes)]
    return trainer.fit(
        data, batch_size=training["batch_size"], epochs=epochs, steps=steps, run_dir=run_dir,
        resume=resume, overwrite=overwrite, config=extra, verbose=verbose, sample_every=sample_every,
        checkpoint_every=checkpoint_every,
    )


def _paired_data(data, *, image_size, seed):
    """SPADE's training pairs as ``(images float32 [-1, 1], masks int32)`` arrays, with a description
    and the region names. ``data``: a folder/manifest (``data_readers.masks.PairedReader``), a
    PairedReader, or ``(images, masks)`` arrays (region names ``"0", "1", ...``)."""
    import numpy as np

    from data_readers.masks import PairedReader

    if isinstance(data, (str, os.PathLike)):
        data = PairedReader(data, image_size=image_size, seed=seed)
    if isinstance(data, PairedReader):
        images, masks, _ = data.arrays()
        return (images, masks.astype(np.int32)), data.root, list(data.region_names)
    if isinstance(data, (tuple, list)) and len(data) == 2 and np.ndim(data[1]) == 3:
        masks = np.asarray(data[1]).astype(np.int32)
        return (np.asarray(data[0], np.float32), masks), None, [str(i) for i in range(int(masks.max()) + 1)]
    raise TypeError(
        "family='spade' trains on (image, mask) pairs: a data set folder or manifest with a `mask` column, "
        f"a data_readers.masks.PairedReader, or (images, masks (N, H, W)) arrays. Received: data={type(data).__name__}"
    )


def _data_size(data):
    """Returns the number of training images when it is known up front."""
    paths = getattr(data, "paths", None)
    if paths is not None:
        return len(paths)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return len(data[0])
    return None
