"""One training engine for DCGAN, conditional DCGAN and AC-GAN, on one device or many.

The step is a custom loop (SPEC.md section 6: ``fit()`` with a custom ``train_step`` fails under
``MirroredStrategy`` here): models and optimisers live in the strategy's scope, batches come from
``distribute_datasets_from_function`` / ``experimental_distribute_dataset``, ``strategy.run(step)``
runs inside a ``tf.function`` and per-example losses are averaged over the *global* batch
(``tf.nn.compute_average_loss``), so N replicas take the same step as one device on the same
global batch. Stabilisers from the papers are options: one-sided label smoothing and instance
noise (Fernández et al. 2021), ``generator_steps`` generator updates per discriminator update
(Fernández: 2), separate Adam optimisers (Klang & Carlberg: 1e-5; Radford et al.: 2e-4,
beta_1 = 0.5), an exponential moving average of the generator, DiffAugment (Zhao et al. 2020),
mixed precision and XLA.

All noise of a step (latent codes, fake labels, instance noise, augmentation, WGAN-GP factors) is
drawn by stateless ops from seeds that one ``tf.random.Generator`` (seeded from ``seed``, saved in
every checkpoint) hands out per step, and is drawn for the global batch and sliced per replica.

Batch-norm caveat: under ``MirroredStrategy`` a ``BatchNormalization`` layer normalises with the
statistics of its replica's part of the batch, so a batch-norm model does not take exactly the
single-device step (use ``SyncBatchNormalization`` for that); models without batch norm do.
"""

import numbers
import os
import shutil
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from ganaug.models.prior import RNG_ALG as _RNG_ALG
from ganaug.models.prior import stateless_latents, validate_distribution
from ganaug.runs import create_run_dir, model_path, update_metrics, write_config
from ganaug.training import checkpointing, distribute, losses
from ganaug.training.data import TrainingData
from ganaug.training.diffaugment import diff_augment, parse_policy
from ganaug.training.ema import check_ema_decay, ema_copy, update_ema
from ganaug.training.run_logging import RunLogger
from ganaug.training.sampling import generate_images, sample_grid_inputs

FAMILIES = ("dcgan", "cdcgan", "acgan")
_SEEDS_PER_D_STEP = 7
_SEEDS_PER_G_STEP = 4


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


def _check_number(value, name, minimum=0.0):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < minimum:
        raise ValueError(f"`{name}` must be a number >= {minimum}. Received: {name}={value!r}")
    return float(value)


def infer_family(generator, discriminator):
    """Returns ``"dcgan"``, ``"cdcgan"`` or ``"acgan"`` read from the models' inputs and outputs.

    Raises:
        ValueError: if the inputs/outputs match no family.
    """
    generator_inputs = len(generator.inputs)
    discriminator_inputs = len(discriminator.inputs)
    discriminator_outputs = len(discriminator.outputs)
    if generator_inputs == 2 and discriminator_outputs == 2 and discriminator_inputs == 1:
        return "acgan"
    if generator_inputs == 2 and discriminator_inputs == 2 and discriminator_outputs == 1:
        return "cdcgan"
    if generator_inputs == 1 and discriminator_inputs == 1 and discriminator_outputs == 1:
        return "dcgan"
    raise ValueError(
        "The models match no GAN family (dcgan: 1 generator input, 1 discriminator input/output; "
        "cdcgan: 2 and 2 inputs; acgan: 2 generator inputs, 2 discriminator outputs). Received: "
        f"generator inputs={generator_inputs}, discriminator inputs={discriminator_inputs}, "
        f"discriminator outputs={discriminator_outputs}"
    )


def _layer_num_classes(model):
    for layer in model._flatten_layers(include_self=False):
        value = getattr(layer, "num_classes", None)
        if isinstance(value, numbers.Integral):
            return int(value)
    return None


def _seed_states(model):
    """The state variables of the layers' Keras seed generators (dropout), for checkpoints."""
    states = []
    for layer in model._flatten_layers(include_self=True):
        generator = getattr(layer, "seed_generator", None)
        state = getattr(generator, "state", None)
        if state is not None:
            states.append(state.value)
    return states


class GANTrainer:
    """Trains a generator/discriminator pair (DCGAN, cDCGAN or AC-GAN) with a custom loop.

    Args:
        generator: a generator ``keras.Model``, or a zero-argument callable building one (needed for
            a multi-device strategy: models must be built in the strategy's scope, so pass builders
            there); or, with ``discriminator=None``, a callable returning ``(generator,
            discriminator)`` (e.g. a frozen AC-GAN from ``build_acgan``).
        discriminator: a discriminator ``keras.Model`` or a zero-argument callable building one.
        family: ``"dcgan"``, ``"cdcgan"`` or ``"acgan"``; inferred from the inputs/outputs if None.
        loss: the adversarial loss, one of ``losses.LOSSES`` (``"non_saturating"``: the papers').
        generator_optimizer: a ``keras.optimizers.Optimizer`` or a zero-argument callable returning
            one; default Adam(2e-4, beta_1=0.5) (Radford et al.). Pass callables under a
            multi-device strategy.
        discriminator_optimizer: as ``generator_optimizer``.
        generator_steps: generator updates per discriminator update (Fernández et al.: 2).
        label_smoothing: one-sided smoothing: real targets ``1 - label_smoothing``.
        instance_noise: stddev of Gaussian noise added to every discriminator input.
        instance_noise_decay_steps: if set, the stddev decays linearly to 0 over this many steps.
        diffaugment: None or DiffAugment policies (``"color,translation,cutout"``).
        ema_decay: None, or the decay of an exponential moving average of the generator's weights;
            the average is what ``generator`` returns after training and what is saved.
        latent_distribution: the prior of z: ``"normal"`` or ``"uniform"`` (Fernández et al.).
        gradient_penalty_weight: weight of the WGAN-GP penalty (``loss="wasserstein"`` only).
        num_classes: number of classes of a conditional model; read from the models or the data
            when None.
        mixed_precision: build the models (from builders) under ``"mixed_float16"`` and wrap both
            optimisers in ``keras.optimizers.LossScaleOptimizer``.
        jit_compile: compile the per-replica step with XLA. The run is reproducible from its seed,
            but XLA turns the seeds into other noise than the plain step does, so it does not
            repeat a ``jit_compile=False`` run draw for draw (``ganaug.models.prior.RNG_ALG``).
        strategy: ``"auto"``, ``"default"``, ``"mirrored"``, ``"multiworker"`` or a strategy.
        seed: seed of all training randomness (noise, data order, sample grid).

    Raises:
        ValueError: for invalid options or models that match no family.
        TypeError: for models/optimisers of the wrong type.
    """

    def __init__(
        self,
        generator,
        discriminator=None,
        *,
        family=None,
        loss="non_saturating",
        generator_optimizer=None,
        discriminator_optimizer=None,
        generator_steps=1,
        label_smoothing=0.0,
        instance_noise=0.0,
        instance_noise_decay_steps=None,
        diffaugment=None,
        ema_decay=None,
        latent_distribution="normal",
        gradient_penalty_weight=10.0,
        num_classes=None,
        mixed_precision=False,
        jit_compile=False,
        strategy="auto",
        seed=0,
    ):
        self.loss = losses.check_loss_name(loss)
        self.label_smoothing = losses.check_label_smoothing(label_smoothing, loss)
        self.generator_steps = _check_int(generator_steps, "generator_steps", 1)
        self.instance_noise = _check_number(instance_noise, "instance_noise")
        if instance_noise_decay_steps is not None:
            instance_noise_decay_steps = _check_int(instance_noise_decay_steps, "instance_noise_decay_steps", 1)
        self.instance_noise_decay_steps = instance_noise_decay_steps
        self.diffaugment = parse_policy(diffaugment)
        self.ema_decay = check_ema_decay(ema_decay)
        self.latent_distribution = validate_distribution(latent_distribution)
        self.gradient_penalty_weight = _check_number(gradient_penalty_weight, "gradient_penalty_weight")
        if not isinstance(mixed_precision, bool):
            raise TypeError(f"`mixed_precision` must be True or False. Received: mixed_precision={mixed_precision!r}")
        if not isinstance(jit_compile, bool):
            raise TypeError(f"`jit_compile` must be True or False. Received: jit_compile={jit_compile!r}")
        if family is not None and family not in FAMILIES:
            raise ValueError(f"`family` must be one of {FAMILIES} or None. Received: family={family!r}")
        self.mixed_precision = mixed_precision
        self.jit_compile = jit_compile
        self.seed = _check_int(seed, "seed", 0)
        self.strategy = distribute.resolve_strategy(strategy)

        with self.strategy.scope():
            self.generator, self.discriminator = self._build_models(generator, discriminator)
            if not distribute.variables_in_scope(self.strategy, self.generator.weights + self.discriminator.weights):
                raise ValueError(
                    "Under a multi-device strategy the models must be built in its scope: pass "
                    "zero-argument builder callables instead of built models. Received: models built "
                    f"outside {distribute.strategy_name(self.strategy)}'s scope"
                )
            self.family = family or infer_family(self.generator, self.discriminator)
            if self.family != infer_family(self.generator, self.discriminator):
                raise ValueError(
                    f"`family` does not match the models ({infer_family(self.generator, self.discriminator)!r}). "
                    f"Received: family={family!r}"
                )
            self.generator_optimizer = self._build_optimizer(generator_optimizer, "generator_optimizer")
            self.discriminator_optimizer = self._build_optimizer(discriminator_optimizer, "discriminator_optimizer")
            self.generator_optimizer.build(self.generator.trainable_variables)
            self.discriminator_optimizer.build(self.discriminator.trainable_variables)
            self.ema_generator = ema_copy(self.generator) if self.ema_decay else None
        self.latent_dim = int(self.generator.inputs[0].shape[-1])
        self.image_shape = tuple(int(d) for d in self.generator.outputs[0].shape[1:])
        self.num_classes = self._find_num_classes(num_classes)
        # Outside the strategy's scope: used only in cross-replica context to hand out step seeds.
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.rng = tf.random.Generator.from_seed(self.seed)
        self._train_function = None
        self._training_data = None

    # ----------------------------------------------------------------------------- construction
    def _build_models(self, generator, discriminator):
        policy = keras.config.dtype_policy()
        if self.mixed_precision:
            keras.config.set_dtype_policy("mixed_float16")
        try:
            if discriminator is None:
                if not callable(generator) or isinstance(generator, keras.Model):
                    raise TypeError(
                        "With `discriminator=None`, `generator` must be a callable returning "
                        f"(generator, discriminator). Received: generator={generator!r}"
                    )
                models = generator()
                if not (isinstance(models, (tuple, list)) and len(models) == 2):
                    raise TypeError(
                        "The builder must return (generator, discriminator). "
                        f"Received: {type(models).__name__}"
                    )
                generator, discriminator = models
            else:
                generator = generator if isinstance(generator, keras.Model) else self._call_builder(generator, "generator")
                discriminator = (
                    discriminator
                    if isinstance(discriminator, keras.Model)
                    else self._call_builder(discriminator, "discriminator")
                )
        finally:
            keras.config.set_dtype_policy(policy)
        for model, name in ((generator, "generator"), (discriminator, "discriminator")):
            if not isinstance(model, keras.Model):
                raise TypeError(f"`{name}` must be a keras.Model or a builder. Received: {name}={model!r}")
        return generator, discriminator

    @staticmethod
    def _call_builder(builder, name):
        if not callable(builder):
            raise TypeError(f"`{name}` must be a keras.Model or a zero-argument callable. Received: {name}={builder!r}")
        return builder()

    def _build_optimizer(self, optimizer, name):
        if optimizer is None:
            optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
        elif not isinstance(optimizer, keras.optimizers.Optimizer):
            if not callable(optimizer):
                raise TypeError(
                    f"`{name}` must be a keras optimizer or a zero-argument callable. Received: {name}={optimizer!r}"
                )
            optimizer = optimizer()
        if self.mixed_precision and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    def _find_num_classes(self, num_classes):
        if self.family == "dcgan":
            return None
        if self.family == "acgan":
            return int(self.discriminator.outputs[1].shape[-1])
        if num_classes is not None:
            return _check_int(num_classes, "num_classes", 2)
        return _layer_num_classes(self.generator) or _layer_num_classes(self.discriminator)

    @property
    def conditional(self):
        return self.family in ("cdcgan", "acgan")

    @property
    def seeds_per_step(self):
        return _SEEDS_PER_D_STEP + _SEEDS_PER_G_STEP * self.generator_steps

    def trained_generator(self):
        """Returns the generator to use after training (the EMA copy when ``ema_decay`` is set)."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    # ----------------------------------------------------------------------------- the step
    def instance_noise_stddev(self, step):
        """Returns the instance-noise stddev at ``step`` (linear decay to 0 when scheduled)."""
        if not self.instance_noise_decay_steps:
            return tf.constant(self.instance_noise, tf.float32)
        fraction = tf.cast(step, tf.float32) / float(self.instance_noise_decay_steps)
        return self.instance_noise * tf.maximum(0.0, 1.0 - fraction)

    def _replica_step(self, images, labels, seeds, step):
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync
        replica = context.replica_id_in_sync_group
        local = tf.shape(images)[0]
        if replicas == 1:  # nothing to exchange (a collective here costs a little on every step)
            global_size, offset = local, tf.constant(0)
        else:
            sizes = context.all_reduce(
                tf.distribute.ReduceOp.SUM, tf.one_hot(replica, replicas) * tf.cast(local, tf.float32)
            )
            global_size = tf.cast(tf.reduce_sum(sizes), tf.int32)
            offset = tf.cast(
                tf.reduce_sum(sizes * tf.cast(tf.range(replicas) < replica, tf.float32)), tf.int32
            )
        images = tf.cast(images, tf.float32)
        labels = tf.cast(labels, tf.int32)
        noise_stddev = self.instance_noise_stddev(step)

        def local_slice(values):
            return values[offset : offset + local]

        def latents(seed):
            shape = tf.stack([global_size, self.latent_dim])
            return local_slice(stateless_latents(shape, seed, self.latent_distribution))

        def fake_labels(seed):
            if not self.conditional:
                return tf.zeros([local], tf.int32)
            values = tf.random.stateless_uniform(
                tf.reshape(global_size, [1]), seed, minval=0, maxval=self.num_classes, dtype=tf.int32,
                alg=_RNG_ALG,
            )
            return local_slice(values)

        def discriminator_inputs(batch, seed_noise, seed_augment):
            batch = tf.cast(batch, tf.float32)
            if self.instance_noise:
                shape = tf.concat([tf.reshape(global_size, [1]), tf.shape(batch)[1:]], 0)
                batch = batch + noise_stddev * local_slice(tf.random.stateless_normal(shape, seed_noise, alg=_RNG_ALG))
            if self.diffaugment:
                batch = diff_augment(
                    batch, policy=self.diffaugment, seed=seed_augment, batch_offset=offset, global_batch_size=global_size
                )
            return batch

        def generate(z, y):
            inputs = [z, y] if self.conditional else z
            return tf.cast(self.generator(inputs, training=True), tf.float32)

        def discriminate(batch, y):
            outputs = self.discriminator([batch, y] if self.family == "cdcgan" else batch, training=True)
            if self.family == "acgan":
                return tf.cast(outputs[0], tf.float32), tf.cast(outputs[1], tf.float32)
            return tf.cast(outputs, tf.float32), None

        def average(per_example):
            return tf.nn.compute_average_loss(per_example, global_batch_size=global_size)

        def regularisation(model):
            if not model.losses:
                return 0.0
            return tf.nn.scale_regularization_loss(tf.add_n([tf.cast(l, tf.float32) for l in model.losses]))

        def objective(optimizer, loss):
            # Mixed precision: the loss is scaled while the tape records, so that backpropagation
            # runs on scaled values (no float16 underflow); LossScaleOptimizer.apply unscales.
            return optimizer.scale_loss(loss) if self.mixed_precision else loss

        def apply(optimizer, tape, objective_value, variables):
            optimizer.apply(tape.gradient(objective_value, variables), variables)

        # ---- discriminator update
        z = latents(seeds[:, 0])
        y_fake = fake_labels(seeds[:, 1])
        fake = generate(z, y_fake)
        d_variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            real_inputs = discriminator_inputs(images, seeds[:, 2], seeds[:, 5])
            fake_inputs = discriminator_inputs(fake, seeds[:, 3], seeds[:, 6])
            real_logits, real_classes = discriminate(real_inputs, labels)
            fake_logits, fake_classes = discriminate(fake_inputs, y_fake)
            if self.family == "acgan":
                per_example = losses.acgan_discriminator_loss(
                    real_logits, fake_logits, real_classes, fake_classes, labels, y_fake,
                    loss=self.loss, label_smoothing=self.label_smoothing,
                )
            else:
                per_example = losses.discriminator_loss(
                    real_logits, fake_logits, loss=self.loss, label_smoothing=self.label_smoothing
                )
            if self.loss == "wasserstein" and self.gradient_penalty_weight:
                factors = local_slice(tf.random.stateless_uniform(tf.reshape(global_size, [1]), seeds[:, 4], alg=_RNG_ALG))

                def critic(batch):
                    return discriminate(batch, labels)[0]

                per_example += self.gradient_penalty_weight * losses.gradient_penalty(
                    critic, real_inputs, fake_inputs, factors
                )
            d_loss = average(per_example) + regularisation(self.discriminator)
            d_objective = objective(self.discriminator_optimizer, d_loss)
        apply(self.discriminator_optimizer, tape, d_objective, d_variables)
        metrics = {
            "d_loss": d_loss,
            "d_real": tf.reduce_sum(tf.sigmoid(real_logits)) / tf.cast(global_size, tf.float32),
            "d_fake": tf.reduce_sum(tf.sigmoid(fake_logits)) / tf.cast(global_size, tf.float32),
        }
        if self.family == "acgan":
            metrics["real_class_accuracy"] = _accuracy_sum(real_classes, labels) / tf.cast(global_size, tf.float32)

        # ---- generator updates
        g_variables = self.generator.trainable_variables
        for index in range(self.generator_steps):
            base = _SEEDS_PER_D_STEP + _SEEDS_PER_G_STEP * index
            z = latents(seeds[:, base])
            y_fake = fake_labels(seeds[:, base + 1])
            with tf.GradientTape() as tape:
                fake = generate(z, y_fake)
                fake_logits, fake_classes = discriminate(
                    discriminator_inputs(fake, seeds[:, base + 2], seeds[:, base + 3]), y_fake
                )
                if self.family == "acgan":
                    per_example = losses.acgan_generator_loss(fake_logits, fake_classes, y_fake, loss=self.loss)
                else:
                    per_example = losses.generator_loss(fake_logits, loss=self.loss)
                g_loss = average(per_example) + regularisation(self.generator)
                g_objective = objective(self.generator_optimizer, g_loss)
            apply(self.generator_optimizer, tape, g_objective, g_variables)
        metrics["g_loss"] = g_loss
        if self.family == "acgan":
            metrics["fake_class_accuracy"] = _accuracy_sum(fake_classes, y_fake) / tf.cast(global_size, tf.float32)
        return metrics

    def _make_train_function(self):
        replica_step = self._replica_step
        if self.jit_compile:
            replica_step = tf.function(replica_step, jit_compile=True)
        strategy = self.strategy

        @tf.function
        def train_function(iterator):
            images, labels = next(iterator)
            seeds = self.rng.make_seeds(self.seeds_per_step)
            step = self.step.read_value()
            per_replica = strategy.run(replica_step, args=(images, labels, seeds, step))
            metrics = {
                name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                for name, value in per_replica.items()
            }
            if self.ema_generator is not None:
                with strategy.scope():
                    update_ema(self.ema_generator, self.generator, self.ema_decay)
            self.step.assign_add(1)
            return metrics

        return train_function

    def train_step(self, iterator):
        """Runs one discriminator update and ``generator_steps`` generator updates.

        Args:
            iterator: an iterator over distributed ``(images, labels)`` batches.

        Returns:
            dict of scalar tensors: ``d_loss``, ``g_loss``, ``d_real`` and ``d_fake`` (mean
            ``sigmoid`` of the realness logits), and for AC-GAN the class accuracies.
        """
        if self._train_function is None:
            self._train_function = self._make_train_function()
        return self._train_function(iterator)

    # ----------------------------------------------------------------------------- checkpoints
    def checkpoint(self):
        """Returns a ``tf.train.Checkpoint`` of everything a resumed run needs."""
        objects = dict(
            generator=self.generator,
            discriminator=self.discriminator,
            generator_optimizer=self.generator_optimizer,
            discriminator_optimizer=self.discriminator_optimizer,
            step=self.step,
            rng=self.rng,
            seed_states=_seed_states(self.generator) + _seed_states(self.discriminator),
        )
        if self.ema_generator is not None:
            objects["ema_generator"] = self.ema_generator
        return tf.train.Checkpoint(**objects)

    # ----------------------------------------------------------------------------- fit
    def fit(
        self,
        data,
        *,
        batch_size=64,
        epochs=None,
        steps=None,
        run_dir=None,
        sample_every=500,
        checkpoint_every=500,
        log_every=10,
        max_checkpoints=3,
        resume=False,
        config=None,
        verbose=1,
    ):
        """Trains on ``data`` and returns the history.

        Args:
            data: ``(images, labels)`` numpy arrays (labels may be None for DCGAN), a
                ``tf.data.Dataset`` of ``(images, labels)`` batches, or an ImageReader.
            batch_size: global batch size for numpy arrays (readers and datasets bring their own).
            epochs: passes over the data (needs a data set of known length); or
            steps: total number of discriminator steps (a resumed run continues up to it).
            run_dir: the run directory (``config.json``, ``checkpoints/``, ``samples/``, ``logs/``,
                ``history.json``, ``loss_curves.png``, ``generator.keras``, ``discriminator.keras``);
                None keeps everything in memory.
            sample_every: write a fixed-z sample grid every this many steps (0: only at the end).
            checkpoint_every: write a checkpoint every this many steps (0: only at the end).
            log_every: record losses (history, TensorBoard, progress bar) every this many steps.
            max_checkpoints: checkpoints kept.
            resume: continue from the newest complete checkpoint in ``run_dir``.
            config: extra entries for ``config.json`` (e.g. the preset and model arguments).
            verbose: 1 shows a progress bar with the current losses, 0 is silent.

        Returns:
            dict ``name -> list`` with ``step``, ``d_loss``, ``g_loss``, ``d_real``, ``d_fake``
            (and class accuracies for AC-GAN), one entry per logged step.

        Raises:
            ValueError: for bad arguments, missing class information for a conditional model or
                data whose image shape does not match the generator.
        """
        if (epochs is None) == (steps is None):
            raise ValueError(f"Pass exactly one of `epochs` and `steps`. Received: epochs={epochs!r}, steps={steps!r}")
        for name, value in (("sample_every", sample_every), ("checkpoint_every", checkpoint_every)):
            _check_int(value, name, 0)
        log_every = _check_int(log_every, "log_every", 1)
        if verbose not in (0, 1, 2):
            raise ValueError(f"`verbose` must be 0, 1 or 2. Received: verbose={verbose!r}")
        if resume and run_dir is None:
            raise ValueError("`resume=True` needs a `run_dir`. Received: run_dir=None")
        training_data = self._training_data
        if training_data is None or not training_data.same_arrays(data, batch_size):
            # (a later fit on the same, unchanged arrays reuses the traced input pipeline)
            training_data = self._training_data = TrainingData(data, batch_size=batch_size, seed=self.seed)
        if training_data.image_shape and None not in training_data.image_shape:
            if tuple(training_data.image_shape) != self.image_shape:
                raise ValueError(
                    f"The data's images {tuple(training_data.image_shape)} do not match the generator's "
                    f"output {self.image_shape}. Received: data image shape={tuple(training_data.image_shape)}"
                )
        if self.conditional and self.num_classes is None:
            self.num_classes = training_data.num_classes
            if self.num_classes is None:
                raise ValueError("Cannot tell the number of classes: pass `num_classes=` to GANTrainer. Received: num_classes=None")
        if steps is None:
            epochs = _check_int(epochs, "epochs", 1)
            if not training_data.steps_per_epoch:
                raise ValueError(f"The data's length is unknown; pass `steps=` instead. Received: epochs={epochs}")
            total_steps = epochs * training_data.steps_per_epoch
        else:
            total_steps = _check_int(steps, "steps", 1)

        chief = distribute.is_chief()
        if run_dir is not None:
            run_dir = create_run_dir(run_dir)
        checkpoint = self.checkpoint()
        manager = None
        if run_dir is not None:
            directory = os.path.join(run_dir, "checkpoints")
            if not chief:  # every worker saves (collectives); only the chief's files are kept
                directory = tempfile.mkdtemp(prefix=f"ganaug-worker{distribute.worker_index()}-")
            manager = checkpointing.checkpoint_manager(checkpoint, directory, max_to_keep=max_checkpoints)
        logger = RunLogger(run_dir, enabled=chief)
        if resume:
            restored = checkpointing.restore_latest(checkpoint, manager)
            logger.load_history(int(self.step.numpy()))
            if verbose and restored:
                print(f"Resumed from {restored} at step {int(self.step.numpy())}")
        start_step = int(self.step.numpy())
        if run_dir is not None and chief:
            write_config(run_dir, self._config(training_data, total_steps, config, sample_every, checkpoint_every))

        grid_latents, grid_labels = sample_grid_inputs(
            latent_dim=self.latent_dim,
            latent_distribution=self.latent_distribution,
            num_classes=self.num_classes if self.conditional else None,
            seed=self.seed,
        )
        iterator = iter(training_data.distributed(self.strategy, start_step=start_step))
        progress = keras.utils.Progbar(total_steps, verbose=verbose, unit_name="step") if verbose else None
        if progress is not None and start_step:
            progress.update(start_step)
        started = time.perf_counter()
        metrics = None
        for step in range(start_step + 1, total_steps + 1):
            metrics = self.train_step(iterator)
            if step % log_every == 0 or step == total_steps:
                values = {name: float(value) for name, value in metrics.items()}
                values["noise_stddev"] = float(self.instance_noise_stddev(step - 1))
                values["generator_learning_rate"] = float(_learning_rate(self.generator_optimizer))
                values["discriminator_learning_rate"] = float(_learning_rate(self.discriminator_optimizer))
                logger.log_scalars(step, values)
                if progress is not None:
                    progress.update(step, [(n, values[n]) for n in metrics], finalize=step == total_steps)
            if run_dir is not None and sample_every and step % sample_every == 0:
                self._write_samples(logger, step, grid_latents, grid_labels)
            if manager is not None and checkpoint_every and step % checkpoint_every == 0:
                manager.save(checkpoint_number=step)
                logger.write_history()
        elapsed = time.perf_counter() - started
        if run_dir is not None:
            if manager is not None and (not manager.latest_checkpoint or not manager.latest_checkpoint.endswith(f"-{total_steps}")):
                manager.save(checkpoint_number=total_steps)
            self._write_samples(logger, total_steps, grid_latents, grid_labels)
            logger.write_history()
            self._save_models(run_dir, chief)
            if chief:
                final = {f"final_{n}": v[-1] for n, v in logger.history.items() if n != "step" and v}
                final.update(steps=total_steps, train_seconds=elapsed)
                update_metrics(run_dir, final)
            if not chief:
                shutil.rmtree(manager.directory, ignore_errors=True)
        logger.close()
        return logger.history

    def _write_samples(self, logger, step, latents, labels):
        if not logger.enabled:
            return
        images = generate_images(
            self.trained_generator(), len(latents), labels=labels, latents=latents,
            latent_distribution=self.latent_distribution, seed=self.seed,
        )
        logger.log_samples(step, images, num_columns=8)

    def _save_models(self, run_dir, chief):
        target = run_dir if chief else tempfile.mkdtemp(prefix="ganaug-worker-models-")
        self.trained_generator().save(model_path(target, "generator"))
        self.discriminator.save(model_path(target, "discriminator"))
        if not chief:
            shutil.rmtree(target, ignore_errors=True)

    def _config(self, training_data, total_steps, extra, sample_every, checkpoint_every):
        class_names = training_data.class_names
        if self.conditional and class_names is None:
            class_names = [str(i) for i in range(self.num_classes)]
        config = {
            "family": self.family,
            "image_size": self.image_shape[0],
            "channels": self.image_shape[-1],
            "latent_dim": self.latent_dim,
            "latent_distribution": self.latent_distribution,
            "class_names": class_names if self.conditional else training_data.class_names,
            "num_classes": self.num_classes if self.conditional else training_data.num_classes,
            "seed": self.seed,
            "data": str(training_data.description),
            "options": {
                "loss": self.loss,
                "steps": total_steps,
                "batch_size": training_data.batch_size,
                "generator_steps": self.generator_steps,
                "label_smoothing": self.label_smoothing,
                "instance_noise": self.instance_noise,
                "instance_noise_decay_steps": self.instance_noise_decay_steps,
                "diffaugment": list(self.diffaugment) or None,
                "ema_decay": self.ema_decay,
                "generator_is_ema": self.ema_decay is not None,
                "gradient_penalty_weight": self.gradient_penalty_weight if self.loss == "wasserstein" else None,
                "generator_optimizer": _optimizer_config(self.generator_optimizer),
                "discriminator_optimizer": _optimizer_config(self.discriminator_optimizer),
                "mixed_precision": self.mixed_precision,
                "jit_compile": self.jit_compile,
                "strategy": distribute.strategy_name(self.strategy),
                "num_replicas": self.strategy.num_replicas_in_sync,
                "sample_every": sample_every,
                "checkpoint_every": checkpoint_every,
            },
        }
        if extra:
            config.update(extra)
        return config


def _accuracy_sum(class_logits, labels):
    predicted = tf.argmax(class_logits, axis=-1, output_type=tf.int32)
    return tf.reduce_sum(tf.cast(tf.equal(predicted, labels), tf.float32))


def _learning_rate(optimizer):
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return np.asarray(keras.ops.convert_to_numpy(inner.learning_rate))


def _optimizer_config(optimizer):
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    config = {"class_name": type(inner).__name__}
    for key in ("learning_rate", "beta_1", "beta_2"):
        if hasattr(inner, key):
            value = getattr(inner, key)
            config[key] = float(keras.ops.convert_to_numpy(value)) if not isinstance(value, float) else value
    return config
