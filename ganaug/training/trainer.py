"""One training engine for DCGAN, conditional DCGAN, SNGAN, AC-GAN and StyleGAN2, on one device or many.

The step is a custom loop (``fit()`` with a custom ``train_step`` fails under
``MirroredStrategy`` here): models and optimisers live in the strategy's scope, batches come from
``distribute_datasets_from_function`` / ``experimental_distribute_dataset``, ``strategy.run(step)``
runs inside a ``tf.function`` and per-example losses are averaged over the *global* batch
(``tf.nn.compute_average_loss``), so N replicas take the same step as one device on the same
global batch. Stabilisers from the papers are options: one-sided label smoothing and instance
noise (Fernández et al. 2021), ``generator_steps`` generator updates per discriminator update
(Fernández: 2) or ``discriminator_steps`` discriminator updates per generator update (Miyato et
al. 2018: 5), separate Adam optimisers (Klang & Carlberg: 1e-5; Radford et al.: 2e-4,
beta_1 = 0.5), an exponential moving average of the generator, DiffAugment (Zhao et al. 2020),
mixed precision and XLA. What differs between families (what the discriminator sees, its loss,
the generator's loss) is one ``ganaug.training.objectives.Objective`` per family; the step is generic
(StyleGAN2's style mixing, per-layer noise, lazy R1 and ``w_avg`` are hooks of its objective).

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
import warnings

import keras
import numpy as np
import tensorflow as tf

from ganaug._checks import check_bool, check_int, check_number
from ganaug.models.prior import RNG_ALG as _RNG_ALG
from ganaug.models.spec import GeneratorSpec
from ganaug.models.prior import stateless_latents, validate_distribution
from ganaug import runs
from ganaug.runs import create_run_dir, fault_point, model_path, save_model_atomic, update_metrics, write_config
from ganaug.training import checkpointing, distribute, losses
from ganaug.training.objectives import FAMILIES, OBJECTIVES, infer_family
from ganaug.training.data import TrainingData
from ganaug.training.diffaugment import diff_augment, parse_policy
from ganaug.training import precision
from ganaug.training.ema import check_ema_decay, ema_copy, update_ema, warmed_up_decay
from ganaug.training.run_logging import RunLogger, data_counts, read_history
from ganaug.training.sampling import generate_images, sample_grid_inputs

# Named slots of the per-step seeds (one column each of ``tf.random.Generator.make_seeds``).
# A discriminator update uses DISCRIMINATOR_SEEDS; each generator update the next GENERATOR_SEEDS.
#: How a conditional family draws its fakes' classes (``GANTrainer(fake_labels=...)``).
FAKE_LABELS = ("data", "uniform")

DISCRIMINATOR_SEEDS = ("latent", "fake_label", "real_noise", "fake_noise", "penalty", "real_augment", "fake_augment")
GENERATOR_SEEDS = ("latent", "fake_label", "noise", "augment")


def _slots(seeds, names, offset=0):
    """Returns ``{name: seed}`` for the columns ``offset, offset + 1, ...`` of a ``(2, n)`` seed tensor."""
    return {name: seeds[:, offset + index] for index, name in enumerate(names)}


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
        family: one of ``FAMILIES`` (``"dcgan"``, ``"cdcgan"``, ``"sngan"``, ``"acgan"``,
            ``"stylegan"``, ``"cstylegan"``); inferred from the models if None (a projection
            discriminator reads as ``"cdcgan"``, which has the same objective).
        loss: the adversarial loss, one of ``losses.LOSSES`` (``"non_saturating"``: the papers').
        generator_optimizer: a ``keras.optimizers.Optimizer`` or a zero-argument callable returning
            one; default Adam(2e-4, beta_1=0.5) (Radford et al.). Pass callables under a
            multi-device strategy.
        discriminator_optimizer: as ``generator_optimizer``.
        generator_steps: generator updates per discriminator update (Fernández et al.: 2).
        discriminator_steps: discriminator updates per generator update (SNGAN, Miyato et al. 2018:
            5 at 32 px). A training step is one discriminator update on one batch; the generator
            is updated after every ``discriminator_steps``-th step (and the EMA with it).
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
        fake_labels: how a conditional family draws the classes of its fakes: ``"data"`` with the
            training labels' class frequencies, so that the label alone tells the discriminator
            nothing about realness (BigGAN, Brock et al. 2019, samples y from the data
            distribution); ``"uniform"``: every class equally often; None (default): the family's
            (``Objective.fake_labels``: ``"data"`` for the label-aware discriminators of cDCGAN,
            SNGAN and conditional StyleGAN, ``"uniform"`` for AC-GAN, as Klang & Carlberg). With uniform fakes on
            imbalanced data (the embedded set has 338 neutrophils and 16 basophils) a projection
            discriminator learns "rare label -> fake" and "frequent label -> real" from the label
            alone, and the frequent classes' fakes pass with no pressure on the image. When the
            frequencies cannot be known up front (a ``tf.data.Dataset``), ``"data"`` falls back to
            uniform with a warning.
        mixed_precision: ``False`` (float32), ``True`` / ``"float16"`` (build the models from
            builders under ``"mixed_float16"`` and wrap both optimisers in
            ``keras.optimizers.LossScaleOptimizer``), ``"bfloat16"`` (``"mixed_bfloat16"``, no
            loss scaling) or ``"auto"`` (bfloat16 where the hardware computes it natively, else
            float32; ``ganaug.training.precision``). The run's saved models are float32 copies.
        jit_compile: compile the per-replica step with XLA. The run is reproducible from its seed,
            but XLA turns the seeds into other noise than the plain step does, so it does not
            repeat a ``jit_compile=False`` run draw for draw (``ganaug.models.prior.RNG_ALG``).
        strategy: ``"auto"``, ``"default"``, ``"mirrored"``, ``"multiworker"`` or a strategy.
        seed: seed of all training randomness (noise, data order, sample grid).
        objective_options: settings of the family's objective (its ``options``), e.g. for
            ``"stylegan"``: ``r1_gamma``, ``r1_interval``, ``style_mixing_probability``,
            ``w_avg_decay`` (``ganaug.training.objectives.StyleGANObjective``).

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
        discriminator_steps=1,
        label_smoothing=0.0,
        instance_noise=0.0,
        instance_noise_decay_steps=None,
        diffaugment=None,
        ema_decay=None,
        latent_distribution="normal",
        gradient_penalty_weight=10.0,
        num_classes=None,
        fake_labels=None,
        mixed_precision=False,
        jit_compile=False,
        strategy="auto",
        seed=0,
        objective_options=None,
    ):
        self.loss = losses.check_loss_name(loss)
        self.label_smoothing = losses.check_label_smoothing(label_smoothing, loss)
        self.generator_steps = check_int(generator_steps, "generator_steps", 1)
        self.discriminator_steps = check_int(discriminator_steps, "discriminator_steps", 1)
        if self.generator_steps > 1 and self.discriminator_steps > 1:
            raise ValueError(
                "Use either several generator steps or several discriminator steps, not both. Received: "
                f"generator_steps={generator_steps}, discriminator_steps={discriminator_steps}"
            )
        self.instance_noise = check_number(instance_noise, "instance_noise")
        if instance_noise_decay_steps is not None:
            instance_noise_decay_steps = check_int(instance_noise_decay_steps, "instance_noise_decay_steps", 1)
        self.instance_noise_decay_steps = instance_noise_decay_steps
        self.diffaugment = parse_policy(diffaugment)
        self.ema_decay = check_ema_decay(ema_decay)
        self.latent_distribution = validate_distribution(latent_distribution)
        if fake_labels is not None and fake_labels not in FAKE_LABELS:
            raise ValueError(f"`fake_labels` must be one of {FAKE_LABELS} or None. Received: fake_labels={fake_labels!r}")
        self.fake_labels = fake_labels  # None: the objective's, resolved once the family is known
        self.fake_label_probabilities = None  # set by fit from the data when fake_labels="data"
        self.gradient_penalty_weight = check_number(gradient_penalty_weight, "gradient_penalty_weight")
        mixed_precision = precision.check_precision(mixed_precision)
        jit_compile = check_bool(jit_compile, "jit_compile")
        if family is not None and family not in FAMILIES:
            raise ValueError(f"`family` must be one of {FAMILIES} or None. Received: family={family!r}")
        self.mixed_precision = mixed_precision
        self.precision_policy = precision.precision_policy(mixed_precision)  # None: float32
        self.jit_compile = jit_compile
        self.seed = check_int(seed, "seed", 0)
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
            if not OBJECTIVES[self.family].matches(self.generator, self.discriminator):
                raise ValueError(
                    f"`family` does not match the models ({infer_family(self.generator, self.discriminator)!r}). "
                    f"Received: family={family!r}"
                )
            objective = OBJECTIVES[self.family]
            unknown = sorted(set(objective_options or {}) - set(objective.options))
            if unknown:
                raise ValueError(
                    f"Unknown objective option(s) for family={self.family!r} (known: {list(objective.options)}). "
                    f"Received: {unknown}"
                )
            self.objective = objective(loss=self.loss, label_smoothing=self.label_smoothing, **(objective_options or {}))
            if self.fake_labels is None:
                self.fake_labels = self.objective.fake_labels
            self.objective.build(self.generator, self.discriminator)
            self.generator_optimizer = self._build_optimizer(generator_optimizer, "generator_optimizer")
            self.discriminator_optimizer = self._build_optimizer(discriminator_optimizer, "discriminator_optimizer")
            self.generator_optimizer.build(self.generator.trainable_variables)
            self.discriminator_optimizer.build(self.discriminator.trainable_variables)
            self.ema_generator = ema_copy(self.generator) if self.ema_decay else None
        spec = GeneratorSpec.of(self.generator)
        self.latent_dim, self.image_shape = spec.latent_dim, spec.image_shape
        self.num_classes = self._find_num_classes(num_classes)
        # Outside the strategy's scope: used only in cross-replica context to hand out step seeds.
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.rng = tf.random.Generator.from_seed(self.seed)
        self._train_functions = {}
        self._generator_metrics = None
        self._training_data = None

    @property
    def _loss_scaling(self):
        return precision.needs_loss_scaling(self.precision_policy)

    # ----------------------------------------------------------------------------- construction
    def _build_models(self, generator, discriminator):
        policy = keras.config.dtype_policy()
        if self.precision_policy:
            keras.config.set_dtype_policy(self.precision_policy)
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
        if self._loss_scaling and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    def _find_num_classes(self, num_classes):
        if self.family == "dcgan":
            return None
        if self.family == "acgan":
            return int(self.discriminator.outputs[1].shape[-1])
        if num_classes is not None:
            return check_int(num_classes, "num_classes", 2)
        return _layer_num_classes(self.generator) or _layer_num_classes(self.discriminator)

    @property
    def conditional(self):
        return self.objective.conditional

    @property
    def seeds_per_step(self):
        """Seeds drawn for a step with a generator update (a discriminator-only step draws fewer)."""
        return len(DISCRIMINATOR_SEEDS) + len(GENERATOR_SEEDS) * self.generator_steps

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

    def _replica_step(self, images, labels, seeds, step, with_generator=True, regularise=False):
        """One discriminator update (plus the objective's regulariser if ``regularise``) and, if
        ``with_generator``, ``generator_steps`` generator updates."""
        batch = _ReplicaBatch(tf.shape(images)[0])
        batch.real = (tf.cast(images, tf.float32), tf.cast(labels, tf.int32))  # for paired objectives (SPADE)
        metrics = self._discriminator_update(
            batch, tf.cast(images, tf.float32), tf.cast(labels, tf.int32), _slots(seeds, DISCRIMINATOR_SEEDS), step,
            regularise,
        )
        if with_generator:
            for index in range(self.generator_steps):
                offset = len(DISCRIMINATOR_SEEDS) + len(GENERATOR_SEEDS) * index
                metrics.update(self._generator_update(batch, _slots(seeds, GENERATOR_SEEDS, offset), step))
        return metrics

    def _discriminator_update(self, batch, images, labels, seeds, step, regularise=False):
        z = self._latents(batch, seeds["latent"])
        y_fake = self._fake_labels(batch, seeds["fake_label"])
        fake_images = self._generate(batch, z, y_fake, seeds["latent"])
        noise_stddev = self.instance_noise_stddev(step)
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            real_inputs = self._discriminator_view(batch, images, seeds["real_noise"], seeds["real_augment"], noise_stddev)
            fake_inputs = self._discriminator_view(batch, fake_images, seeds["fake_noise"], seeds["fake_augment"], noise_stddev)
            real = self.objective.discriminate(self.discriminator, real_inputs, labels)
            fake = self.objective.discriminate(self.discriminator, fake_inputs, y_fake)
            per_example = self.objective.discriminator_loss(real, fake, labels, y_fake)
            if self.loss == "wasserstein" and self.gradient_penalty_weight:
                factors = batch.local(tf.random.stateless_uniform(batch.global_shape(), seeds["penalty"], alg=_RNG_ALG))

                def critic(inputs):
                    return self.objective.discriminate(self.discriminator, inputs, labels)[0]

                per_example += self.gradient_penalty_weight * losses.gradient_penalty(
                    critic, real_inputs, fake_inputs, factors
                )
            loss = batch.average(per_example) + _regularisation(self.discriminator)
            minimised = loss
            if regularise:  # e.g. StyleGAN2's lazy R1: minimised, left out of the logged d_loss
                penalty = self.objective.discriminator_regularisation(self.discriminator, real_inputs, labels)
                minimised = loss + batch.average(penalty)
            lecam = self.objective.logit_regularisation(real, fake)
            if lecam is not None:  # LeCam (Tseng et al. 2021): minimised, left out of the logged d_loss
                minimised = minimised + batch.average(lecam)
            objective = self._scaled(self.discriminator_optimizer, minimised)
        self._apply(self.discriminator_optimizer, tape.gradient(objective, variables), variables)
        metrics = {"d_loss": loss, "d_real": batch.mean(tf.sigmoid(real[0])), "d_fake": batch.mean(tf.sigmoid(fake[0]))}
        metrics.update({k: v / batch.global_size_float for k, v in self.objective.metrics(real, None, labels, None).items()})
        return metrics

    def _generator_update(self, batch, seeds, step):
        z = self._latents(batch, seeds["latent"])
        y_fake = self._fake_labels(batch, seeds["fake_label"])
        noise_stddev = self.instance_noise_stddev(step)
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            fake_images = self._generate(batch, z, y_fake, seeds["latent"])
            fake_inputs = self._discriminator_view(batch, fake_images, seeds["noise"], seeds["augment"], noise_stddev)
            fake = self.objective.discriminate(self.discriminator, fake_inputs, y_fake)
            per_example = self.objective.generator_loss(fake, y_fake)
            extra = self.objective.generator_regularisation(self.discriminator, batch, fake_inputs, fake, y_fake)
            if extra is not None:  # e.g. SPADE's feature matching
                per_example = per_example + extra
            loss = batch.average(per_example) + _regularisation(self.generator)
            objective = self._scaled(self.generator_optimizer, loss)
        self._apply(self.generator_optimizer, tape.gradient(objective, variables), variables)
        self.objective.after_generator_update(self.generator, z, y_fake)
        metrics = {"g_loss": loss}
        metrics.update({k: v / batch.global_size_float for k, v in self.objective.metrics(None, fake, None, y_fake).items()})
        return metrics

    def _latents(self, batch, seed):
        return batch.local(stateless_latents(tf.stack([batch.global_size, self.latent_dim]), seed, self.latent_distribution))

    def _fake_labels(self, batch, seed):
        if self.objective.paired:  # SPADE: the fakes are drawn for the real batch's masks
            return batch.real[1]
        if not self.conditional:
            return tf.zeros([batch.size], tf.int32)
        if self.fake_label_probabilities is None:
            values = tf.random.stateless_uniform(
                batch.global_shape(), seed, minval=0, maxval=self.num_classes, dtype=tf.int32, alg=_RNG_ALG
            )
        else:
            # Inverse CDF of the class frequencies (the same draw on every replica and device).
            cumulative = tf.constant(np.cumsum(self.fake_label_probabilities)[:-1], tf.float32)
            uniform = tf.random.stateless_uniform(batch.global_shape(), seed, alg=_RNG_ALG)
            values = tf.searchsorted(cumulative, uniform, side="right", out_type=tf.int32)
        return batch.local(values)

    def _set_fake_label_probabilities(self, training_data):
        """Fixes the fakes' class frequencies from the data (``fake_labels="data"``) before tracing."""
        probabilities = None
        if self.conditional and not self.objective.paired and self.fake_labels == "data":
            probabilities = training_data.class_frequencies(self.num_classes)
            if probabilities is None:
                warnings.warn(
                    "fake_labels='data': the class frequencies of this data cannot be read up front "
                    f"({training_data.description}); the fakes' classes are drawn uniformly.",
                    stacklevel=3,
                )
            elif np.any(probabilities == 0):
                missing = np.flatnonzero(probabilities == 0).tolist()
                raise ValueError(
                    f"fake_labels='data': classes {missing} have no training images, so the generator "
                    "would never be trained for them; pass fake_labels='uniform' to train them anyway. "
                    f"Received: class frequencies {np.round(probabilities, 4).tolist()}"
                )
        if probabilities is not None:
            probabilities = np.asarray(probabilities, np.float64)
        changed = (probabilities is None) != (self.fake_label_probabilities is None) or (
            probabilities is not None and not np.array_equal(probabilities, self.fake_label_probabilities)
        )
        if changed:
            self.fake_label_probabilities = probabilities
            self._train_functions = {}

    def _generate(self, batch, latents, labels, seed):
        images = self.objective.generate(
            self.generator, latents, labels, seed=seed, batch=batch, draw_latents=lambda s: self._latents(batch, s)
        )
        return tf.cast(images, tf.float32)

    def _discriminator_view(self, batch, images, noise_seed, augment_seed, noise_stddev):
        """What the discriminator sees of a batch: plus instance noise, through DiffAugment."""
        images = tf.cast(images, tf.float32)
        if self.instance_noise:
            shape = tf.concat([batch.global_shape(), tf.shape(images)[1:]], 0)
            images = images + noise_stddev * batch.local(tf.random.stateless_normal(shape, noise_seed, alg=_RNG_ALG))
        if self.diffaugment:
            images = diff_augment(
                images, policy=self.diffaugment, seed=augment_seed, batch_offset=batch.offset,
                global_batch_size=batch.global_size,
            )
        return images

    def _apply(self, optimizer, gradients, variables):
        context = tf.distribute.get_replica_context()
        if self._loss_scaling and context is not None and context.num_replicas_in_sync > 1:
            # Keras's LossScaleOptimizer checks for inf/NaN in this replica's gradients only, before
            # they are summed across replicas: an overflow on another replica would be applied.
            # Averaging first lets every replica see the same gradients (the optimiser's own
            # sum of N identical means is the sum of the replicas' gradients, as without this).
            gradients = context.all_reduce(tf.distribute.ReduceOp.MEAN, gradients)
        optimizer.apply(gradients, variables)

    def _scaled(self, optimizer, loss):
        # Mixed precision: the loss is scaled while the tape records, so that backpropagation runs
        # on scaled values (no float16 underflow); LossScaleOptimizer.apply unscales.
        return optimizer.scale_loss(loss) if self._loss_scaling else loss

    def _make_train_function(self, with_generator, regularise=False):
        replica_step = self._replica_step
        if self.jit_compile:
            replica_step = tf.function(replica_step, jit_compile=True)
        strategy = self.strategy
        num_seeds = self.seeds_per_step if with_generator else len(DISCRIMINATOR_SEEDS)

        @tf.function
        def train_function(iterator):
            images, labels = next(iterator)
            seeds = self.rng.make_seeds(num_seeds)
            step = self.step.read_value()
            per_replica = strategy.run(replica_step, args=(images, labels, seeds, step, with_generator, regularise))
            metrics = {
                name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                for name, value in per_replica.items()
            }
            if with_generator and self.ema_generator is not None:
                generator_updates = step // self.discriminator_steps
                with strategy.scope():
                    update_ema(self.ema_generator, self.generator, warmed_up_decay(self.ema_decay, generator_updates))
            self.step.assign_add(1)
            return metrics

        return train_function

    def train_step(self, iterator):
        """Runs one discriminator update, then the generator updates when their turn has come.

        The generator is updated (``generator_steps`` times) after every ``discriminator_steps``-th
        discriminator update; metrics of a discriminator-only step repeat the last generator
        values (NaN before the first generator update).

        Args:
            iterator: an iterator over distributed ``(images, labels)`` batches.

        Returns:
            dict of scalar tensors: ``d_loss``, ``g_loss``, ``d_real`` and ``d_fake`` (mean
            ``sigmoid`` of the realness logits), and for AC-GAN the class accuracies.
        """
        step = int(self.step.numpy())
        with_generator = self.discriminator_steps == 1 or (step + 1) % self.discriminator_steps == 0
        interval = self.objective.regularisation_interval
        regularise = bool(interval) and step % interval == 0
        if (with_generator, regularise) not in self._train_functions:
            self._train_functions[with_generator, regularise] = self._make_train_function(with_generator, regularise)
        metrics = self._train_functions[with_generator, regularise](iterator)
        names = ("g_loss", *self.objective.generator_metrics)
        if with_generator:
            self._generator_metrics = {k: metrics[k] for k in names}
            return metrics
        if self._generator_metrics is None:
            self._generator_metrics = {k: tf.constant(float("nan")) for k in names}
        return {**self._generator_metrics, **metrics}

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
        objects.update(self.objective.checkpoint_objects())
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
        overwrite=False,
        config=None,
        verbose=1,
    ):
        """Trains on ``data`` and returns the history.

        A run directory that already holds a run (checkpoints, models, history or metrics) is never
        replaced silently: pass ``resume`` to continue it or ``overwrite`` to replace it
        (``ganaug.runs.prepare_run_dir``). A resume continues only the same run: settings that
        define it (family, image size, channels, latent size and prior, classes, seed, loss,
        model options; ``ganaug.runs.IDENTITY_SETTINGS``) must be unchanged, while schedule
        settings (steps, batch size, learning rates, ...) may change and are recorded in
        ``config.json``'s ``settings_history``; the new learning rates take effect (a checkpoint
        would otherwise restore the old ones).

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
            resume: False (a new run); True: continue from the newest complete checkpoint in
                ``run_dir`` (an error if there is none, or if ``steps`` is below the step it is
                at); ``"or_start"``: resume when there is a checkpoint, else start the run.
            overwrite: replace a run already in ``run_dir`` (its files are removed first).
            config: extra entries for ``config.json`` (e.g. the preset and model arguments).
            verbose: 1 shows a progress bar with the current losses, 0 is silent.

        Returns:
            dict ``name -> list`` with ``step``, ``d_loss``, ``g_loss``, ``d_real``, ``d_fake``
            (and class accuracies for AC-GAN), one entry per logged step.

        Raises:
            ValueError: for bad arguments, missing class information for a conditional model,
                data whose image shape does not match the generator, a resume with changed model
                settings or fewer steps than the run has already taken.
            FileExistsError: for a run in ``run_dir`` and neither ``resume`` nor ``overwrite``.
            FileNotFoundError: for ``resume=True`` and no usable checkpoint.
            PermissionError: if ``run_dir`` cannot be written.
        """
        if (epochs is None) == (steps is None):
            raise ValueError(f"Pass exactly one of `epochs` and `steps`. Received: epochs={epochs!r}, steps={steps!r}")
        for name, value in (("sample_every", sample_every), ("checkpoint_every", checkpoint_every)):
            check_int(value, name, 0)
        log_every = check_int(log_every, "log_every", 1)
        if verbose not in (0, 1, 2):
            raise ValueError(f"`verbose` must be 0, 1 or 2. Received: verbose={verbose!r}")
        if resume not in (False, True, "or_start"):
            raise ValueError(f"`resume` must be False, True or 'or_start'. Received: resume={resume!r}")
        overwrite = check_bool(overwrite, "overwrite")
        if (resume or overwrite) and run_dir is None:
            raise ValueError(f"`resume`/`overwrite` need a `run_dir`. Received: run_dir=None, resume={resume!r}")
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
        self._set_fake_label_probabilities(training_data)
        if steps is None:
            epochs = check_int(epochs, "epochs", 1)
            if not training_data.steps_per_epoch:
                raise ValueError(f"The data's length is unknown; pass `steps=` instead. Received: epochs={epochs}")
            total_steps = epochs * training_data.steps_per_epoch
        else:
            total_steps = check_int(steps, "steps", 1)

        chief = distribute.is_chief()
        state = None  # what the run directory held (chief only)
        if run_dir is not None:
            if chief:  # refuses to replace a run, checks writability, removes killed writers' leftovers
                run_dir, state = runs.prepare_run_dir(run_dir, resume=resume, overwrite=overwrite)
            else:
                run_dir = create_run_dir(run_dir)
        run_config = self._config(training_data, total_steps, config, sample_every, checkpoint_every)
        previous = state["config"] if state is not None and resume else None
        if previous:  # before anything is restored: TensorFlow's shape errors never show
            runs.check_resumable(run_dir, previous, run_config)
        checkpoint = self.checkpoint()
        manager = None
        if run_dir is not None:
            directory = os.path.join(run_dir, "checkpoints")
            if not chief:  # every worker saves (collectives); only the chief's files are kept
                directory = tempfile.mkdtemp(prefix=f"ganaug-worker{distribute.worker_index()}-")
            manager = checkpointing.checkpoint_manager(checkpoint, directory, max_to_keep=max_checkpoints)
            if chief:
                checkpointing.remove_orphans(manager)
        restored = None
        if resume:
            restored, manager, previous = self._restore(checkpoint, manager, run_dir, state, resume, previous,
                                                        max_checkpoints)
        start_step = int(self.step.numpy())
        if start_step > total_steps:
            where = f" in {run_dir}" if run_dir is not None else ""
            raise ValueError(
                f"Cannot train to step {total_steps}: the run{where} is already at step {start_step}, and a "
                f"checkpoint or model written now would be mislabelled. Ask for more steps than {start_step}. "
                f"Received: steps={total_steps}"
            )
        if restored and chief and start_step == total_steps and runs.is_finished(run_dir, total_steps):
            if verbose:
                print(f"Run {run_dir} is already complete at step {total_steps}: nothing to do.")
            return read_history(run_dir, total_steps)
        logger = RunLogger(run_dir, enabled=chief)
        if restored:
            logger.load_history(start_step)
            if verbose:
                print(f"Resumed from {restored} at step {start_step}")
        if run_dir is not None and chief:
            run_config = runs.resumed_config(previous, run_config, from_step=start_step)
            fault_point("config.write")
            write_config(run_dir, run_config)

        grid_latents, grid_labels = sample_grid_inputs(
            latent_dim=self.latent_dim,
            latent_distribution=self.latent_distribution,
            num_classes=self.num_classes if self.conditional else None,
            seed=self.seed,
        )
        grid_latents, grid_labels = self.objective.sample_grid(grid_latents, grid_labels, training_data)
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
                checkpointing.save(manager, step)
                logger.write_history()
        elapsed = time.perf_counter() - started
        if run_dir is not None:
            if manager is not None and (not manager.latest_checkpoint or not manager.latest_checkpoint.endswith(f"-{total_steps}")):
                checkpointing.save(manager, total_steps)
            self._write_samples(logger, total_steps, grid_latents, grid_labels)
            logger.write_history()
            self._save_models(run_dir, chief)
            if chief:
                final = {f"final_{n}": v[-1] for n, v in logger.history.items() if n != "step" and v}
                final.update(steps=total_steps, train_seconds=elapsed)
                final.update(data_counts(training_data.reader, (state or {}).get("metrics")))
                fault_point("metrics.write")
                update_metrics(run_dir, final)
            if not chief:
                shutil.rmtree(manager.directory, ignore_errors=True)
        logger.close()
        return logger.history

    def _write_samples(self, logger, step, latents, labels):
        if not logger.enabled:
            return
        images = self.objective.sample_images(self.trained_generator(), latents, labels)
        if images is None:
            images = generate_images(
                self.trained_generator(), len(latents), labels=labels, latents=latents,
                latent_distribution=self.latent_distribution, seed=self.seed,
            )
        logger.log_samples(step, images, num_columns=8)

    def _restore(self, checkpoint, manager, run_dir, state, resume, previous, max_checkpoints):
        """Restores the newest usable checkpoint; returns ``(prefix or None, manager, previous config)``.

        The learning rates the caller asked for are kept (a checkpoint holds the old ones). With no
        usable checkpoint: ``resume=True`` is an error; ``"or_start"`` starts the run afresh unless
        it has finished work (models, metrics) that a new start would replace.
        """
        optimizers = (self.generator_optimizer, self.discriminator_optimizer)
        learning_rates = [_settable_learning_rate(optimizer) for optimizer in optimizers]
        restored = checkpointing.restore_latest(checkpoint, manager)
        if restored is not None:
            for optimizer, value in zip(optimizers, learning_rates):
                if value is not None:
                    getattr(optimizer, "inner_optimizer", optimizer).learning_rate = value
            return restored, manager, previous
        if state is None:  # a non-chief worker: it follows the chief
            return None, manager, previous
        if state["checkpoint_steps"] and resume is True:
            found = ", ".join(f"ckpt-{step}" for step in state["checkpoint_steps"])
            raise FileNotFoundError(
                f"Cannot resume {run_dir}: no usable checkpoint ({found}: incomplete or unreadable); pass "
                "resume='or_start' (--resume-or-start) to start the run again, or overwrite=True (--overwrite)."
            )
        if state["models"] or state["metrics"] is not None:
            raise FileExistsError(
                f"Cannot resume {run_dir}: it has {runs.describe_run(state)} but no usable checkpoint, so "
                "a new start would replace its models; pass overwrite=True (--overwrite) for that."
            )
        runs.remove_run_files(run_dir)  # nothing usable: start the run there
        create_run_dir(run_dir)
        manager = checkpointing.checkpoint_manager(checkpoint, manager.directory, max_to_keep=max_checkpoints)
        return None, manager, None

    def _save_models(self, run_dir, chief):
        target = run_dir if chief else tempfile.mkdtemp(prefix="ganaug-worker-models-")
        for role, model in (("generator", self.trained_generator()), ("discriminator", self.discriminator)):
            fault_point("model.save")
            save_model_atomic(precision.float32_copy(model), model_path(target, role))  # never truncated
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
                "discriminator_steps": self.discriminator_steps,
                "label_smoothing": self.label_smoothing,
                "instance_noise": self.instance_noise,
                "instance_noise_decay_steps": self.instance_noise_decay_steps,
                "diffaugment": list(self.diffaugment) or None,
                "fake_labels": self.fake_labels if self.conditional and not self.objective.paired else None,
                "fake_label_probabilities": (
                    None if self.fake_label_probabilities is None else self.fake_label_probabilities.tolist()
                ),
                "ema_decay": self.ema_decay,
                "generator_is_ema": self.ema_decay is not None,
                "gradient_penalty_weight": self.gradient_penalty_weight if self.loss == "wasserstein" else None,
                "generator_optimizer": _optimizer_config(self.generator_optimizer),
                "discriminator_optimizer": _optimizer_config(self.discriminator_optimizer),
                "mixed_precision": self.mixed_precision,
                "precision_policy": self.precision_policy or "float32",
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


class _ReplicaBatch:
    """This replica's part of the global batch: its size, offset and the global size.

    Noise is drawn for the global batch and sliced per replica (``local``), and per-example losses
    are averaged over the global batch, so N replicas take the same step as one device.
    """

    def __init__(self, local_size):
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync
        replica = context.replica_id_in_sync_group
        self.size = local_size
        if replicas == 1:  # nothing to exchange (a collective here costs a little on every step)
            self.global_size, self.offset = local_size, tf.constant(0)
        else:
            sizes = context.all_reduce(
                tf.distribute.ReduceOp.SUM, tf.one_hot(replica, replicas) * tf.cast(local_size, tf.float32)
            )
            self.global_size = tf.cast(tf.reduce_sum(sizes), tf.int32)
            self.offset = tf.cast(tf.reduce_sum(sizes * tf.cast(tf.range(replicas) < replica, tf.float32)), tf.int32)
        self.global_size_float = tf.cast(self.global_size, tf.float32)

    def global_shape(self):
        return tf.reshape(self.global_size, [1])

    def local(self, values):
        return values[self.offset : self.offset + self.size]

    def average(self, per_example):
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_size)

    def mean(self, values):
        """This replica's share of the global mean (summed over replicas gives the mean)."""
        return tf.reduce_sum(values) / self.global_size_float


def _regularisation(model):
    if not model.losses:
        return 0.0
    return tf.nn.scale_regularization_loss(tf.add_n([tf.cast(loss, tf.float32) for loss in model.losses]))


def _settable_learning_rate(optimizer):
    """The optimizer's learning rate as a number, or None when it is a schedule."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if not isinstance(getattr(inner, "_learning_rate", None), keras.Variable):
        return None
    return float(keras.ops.convert_to_numpy(inner.learning_rate))


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
