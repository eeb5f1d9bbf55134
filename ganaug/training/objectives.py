"""What each GAN family's discriminator sees and what each network minimises.

The training step (``ganaug.training.trainer``) is generic: it draws latent codes and fake labels,
runs the generator, prepares the discriminator's inputs (instance noise, DiffAugment) and applies
the optimisers. What differs between families is three things, and only those live here (the
"override one thing" shape of pytorch-grad-cam, applied to training; NVlabs/SPADE keeps its losses
apart from its networks the same way):

* ``discriminate``: how the discriminator is called and how its outputs split into a realness
  logit and (for AC-GAN) class logits;
* ``discriminator_loss`` / ``generator_loss``: the per-example losses;
* ``metrics``: extra per-step diagnostics (AC-GAN's class accuracies).

A family whose training has more parts (StyleGAN2: style mixing, per-layer noise, lazy R1,
``w_avg`` tracking) overrides a few hooks that do nothing for the others: ``build`` (once, after
the models exist), ``generate`` (how the fakes are made), ``discriminator_regularisation`` with
``regularisation_interval`` (a penalty added on every interval-th discriminator step; the trainer
decides in Python which steps, so the other steps' graphs carry none of it) and
``after_generator_update``. ``options`` names the training settings the objective takes.

A new family is one file of model factories plus, if its signature is new, one ``Objective``
subclass registered in ``OBJECTIVES``.
"""

import threading

import keras
import tensorflow as tf

from ganaug.models import stylegan
from ganaug.models.prior import RNG_ALG
from ganaug._checks import check_int, check_number
from ganaug.training import losses
from ganaug.training.stylegan_losses import r1_penalty, r1_regularization


class Objective:
    """An unconditional GAN (DCGAN, Radford et al.; Fernández et al. 2021): ``D(x) -> logit``.

    Every family built on this class (``dcgan``, ``cdcgan``, ``sngan``, ``acgan``) can add the
    LeCam regulariser to its discriminator (Tseng et al. 2021, for GANs under limited data):
    ``lecam_weight * [relu(D(x) - alpha_F)^2 + relu(alpha_R - D(G(z)))^2]`` on the realness
    logits, where ``alpha_R`` / ``alpha_F`` are moving averages (decay ``lecam_decay``) of the
    discriminator's mean output on the real and on the generated images of each discriminator step
    (``losses.lecam_regularization``). The averages are updated before the term is computed, as in
    the authors' code; the first step sets them to that step's means (the authors track the
    current batch for their first ``ema_start`` = 1,000 iterations, then decay 0.99). Under
    ``tf.distribute`` the averages are replicas' means (equal shares of the global batch, so the
    global mean). They are saved in the run's checkpoints. Like StyleGAN2's R1 the term is
    minimised but left out of the logged ``d_loss``.

    Args:
        loss: the adversarial loss, one of ``losses.LOSSES``.
        label_smoothing: one-sided smoothing of the real targets.
        lecam_weight: weight of the LeCam regulariser (>= 0; 0, the default, switches it off;
            the authors use 0.3 for BigGAN on CIFAR-10 with DiffAugment).
        lecam_decay: decay of its moving averages, in [0, 1) (0.99, the authors').
    """

    conditional = False
    #: (generator inputs, discriminator inputs, discriminator outputs) of the family's models
    signature = (1, 1, 1)
    #: how the fakes' classes are drawn by default (``GANTrainer(fake_labels=...)``): ``"data"``, so
    #: that a discriminator that sees the label cannot tell fakes by their class frequencies
    fake_labels = "data"
    #: True when ``matches`` also checks the models' layers: such families are inferred first.
    recognised_by_layers = False
    #: training settings (``config.FAMILY_TRAINING_DEFAULTS``) passed to the constructor
    options = ("lecam_weight", "lecam_decay")
    #: a discriminator step ``s`` (0-based) adds ``discriminator_regularisation`` when
    #: ``s % regularisation_interval == 0``; None: never
    regularisation_interval = None
    #: names of the extra metrics ``metrics`` returns for the fakes of a generator update
    generator_metrics = ()
    #: True when the fakes are conditioned on the real batch's labels (SPADE: its masks) instead
    #: of labels drawn at random
    paired = False

    def __init__(self, *, loss="non_saturating", label_smoothing=0.0, lecam_weight=0.0, lecam_decay=0.99):
        self.loss = loss
        self.label_smoothing = label_smoothing
        self.lecam_weight = check_number(lecam_weight, "lecam_weight")
        self.lecam_decay = check_number(lecam_decay, "lecam_decay", maximum=1.0 - 1e-12)
        self._lecam = None

    @classmethod
    def matches(cls, generator, discriminator):
        """Returns True if the models have this objective's numbers of inputs and outputs."""
        return (len(generator.inputs), len(discriminator.inputs), len(discriminator.outputs)) == cls.signature

    def build(self, generator, discriminator):
        """Called once by the trainer, in its strategy's scope, after the models are built."""
        if self.lecam_weight > 0:
            self._lecam = {
                name: tf.Variable(0.0, trainable=False, name=f"lecam_{name}", aggregation=aggregation)
                for name, aggregation in (
                    ("real_average", tf.VariableAggregation.MEAN),
                    ("fake_average", tf.VariableAggregation.MEAN),
                    ("updates", tf.VariableAggregation.ONLY_FIRST_REPLICA),
                )
            }

    def checkpoint_objects(self):
        """Returns ``{name: trackable}`` of the objective's state for the run's checkpoints (may be empty)."""
        return {} if self._lecam is None else {"lecam": tf.train.Checkpoint(**self._lecam)}

    def logit_regularisation(self, real, fake):
        """Per-example term added to the discriminator's objective on every step (LeCam), or None.

        Args:
            real, fake: the ``discriminate`` outputs of this replica's real and generated images.
        """
        if not self.lecam_weight:
            return None
        if self._lecam is None:
            raise ValueError("Call `build(generator, discriminator)` before training with `lecam_weight` > 0. "
                             "Received: an unbuilt objective")
        state = self._lecam
        decay = tf.where(state["updates"] > 0, self.lecam_decay, 0.0)
        for name, logits in (("real_average", real[0]), ("fake_average", fake[0])):
            mean = tf.reduce_mean(tf.stop_gradient(tf.cast(logits, tf.float32)))
            state[name].assign(decay * state[name] + (1.0 - decay) * mean)
        state["updates"].assign_add(1.0)
        return self.lecam_weight * losses.lecam_regularization(
            real[0], fake[0], state["real_average"].read_value(), state["fake_average"].read_value()
        )

    def generator_inputs(self, latents, labels):
        return [latents, labels] if self.conditional else latents

    def generate(self, generator, latents, labels, *, seed, batch, draw_latents):
        """Returns the fakes of a training step, ``G(z [, y])`` in training mode.

        Args:
            generator: the generator being trained.
            latents: this replica's codes; labels: its fake labels (zeros when unconditional).
            seed: a ``(2,)`` stateless seed the family may use for its own randomness.
            batch: this replica's part of the global batch (``trainer._ReplicaBatch``).
            draw_latents: ``draw_latents(seed)`` returns more codes from the prior for this
                replica's rows of the global batch.
        """
        return generator(self.generator_inputs(latents, labels), training=True)

    def discriminator_regularisation(self, discriminator, real_inputs, labels):
        """Per-example penalty added to the discriminator's objective on regularised steps."""
        return None

    def after_generator_update(self, generator, latents, labels):
        """Called (replica context) after each generator update with that update's codes and labels."""
        # A body of only a docstring makes AutoGraph emit an empty ``with`` block and warn.
        return None

    def generator_regularisation(self, discriminator, batch, fake_images, fake, fake_labels):
        """Per-example terms added to the generator's loss (SPADE: feature matching), or None.

        Args:
            discriminator: the discriminator.
            batch: this replica's ``trainer._ReplicaBatch``; ``batch.real`` is its real
                ``(images, labels)``.
            fake_images: the fakes as the discriminator saw them; fake: their ``discriminate``
                output; fake_labels: their labels.
        """
        return None

    def sample_grid(self, latents, labels, training_data):
        """Returns the ``(latents, labels)`` of the training sample grid (default: unchanged)."""
        return latents, labels

    def sample_images(self, generator, latents, labels):
        """Returns the grid images for ``sample_grid``'s inputs, or None for ``generate_images``."""
        return None

    def discriminate(self, discriminator, images, labels):
        """Returns ``(realness logits, class logits or None)`` as float32."""
        return tf.cast(discriminator(images, training=True), tf.float32), None

    def discriminator_loss(self, real, fake, labels, fake_labels):
        """Per-example discriminator loss from the ``discriminate`` outputs of real and fake."""
        return losses.discriminator_loss(real[0], fake[0], loss=self.loss, label_smoothing=self.label_smoothing)

    def generator_loss(self, fake, fake_labels):
        """Per-example generator loss from the ``discriminate`` output of the fakes."""
        return losses.generator_loss(fake[0], loss=self.loss)

    def metrics(self, real, fake, labels, fake_labels):
        """Extra diagnostics: name -> per-replica *sum* over the batch (divided by the global size)."""
        return {}


class ConditionalObjective(Objective):
    """A discriminator that takes the label: ``D([x, y]) -> logit``.

    Fernández et al. 2021's cDCGAN (label as constant feature maps at the first convolution) and
    the projection discriminator of SNGAN (Miyato & Koyama 2018: ``psi(phi(x)) + <e_y, phi(x)>``)
    share this signature and objective; they differ in their networks and default loss.
    """

    conditional = True
    signature = (2, 2, 1)

    def discriminate(self, discriminator, images, labels):
        return tf.cast(discriminator([images, labels], training=True), tf.float32), None


class AuxiliaryClassifierObjective(Objective):
    """AC-GAN (Odena et al. 2017; Klang & Carlberg): ``D(x) -> [logit, class logits]``.

    The discriminator maximises L_S + L_C, the generator L_C - L_S (``losses.acgan_*``).
    """

    conditional = True
    signature = (2, 1, 2)
    # The discriminator does not see the label; the thesis draws the classes uniformly. With the
    # data's frequencies the demo's AC-GAN fell from TRTS fidelity 0.46 to 0.16 (rare classes get
    # few generator updates through a mapping network on a frozen generator).
    fake_labels = "uniform"
    generator_metrics = ("fake_class_accuracy",)

    def discriminate(self, discriminator, images, labels):
        outputs = discriminator(images, training=True)
        return tf.cast(outputs[0], tf.float32), tf.cast(outputs[1], tf.float32)

    def discriminator_loss(self, real, fake, labels, fake_labels):
        return losses.acgan_discriminator_loss(
            real[0], fake[0], real[1], fake[1], labels, fake_labels,
            loss=self.loss, label_smoothing=self.label_smoothing,
        )

    def generator_loss(self, fake, fake_labels):
        return losses.acgan_generator_loss(fake[0], fake[1], fake_labels, loss=self.loss)

    def metrics(self, real, fake, labels, fake_labels):
        result = {}
        if real is not None:
            result["real_class_accuracy"] = _correct(real[1], labels)
        if fake is not None:
            result["fake_class_accuracy"] = _correct(fake[1], fake_labels)
        return result


class StyleGANObjective(Objective):
    """StyleGAN2 (Karras et al. 2020): ``D(x) -> logit`` with a mapping network and a synthesis network.

    * The loss is the non-saturating one (``softplus``), as every family's default.
    * Fakes: ``w = mapping(z)`` broadcast to W+ (training ignores the truncation, as the official
      code); with probability ``style_mixing_probability`` a step mixes styles: the rows from a
      crossover drawn uniformly in [1, num_ws) on come from ``mapping(z2)`` of a second code.
      One crossover per global batch (the official code draws one per GPU batch); z2 is drawn
      for the global batch and sliced per replica like every draw of the engine.
    * Per-layer noise: the synthesis network is called through a view of the same layers (same
      weights) in which every noise layer in ``"random"`` mode receives N(0, 1) noise drawn from
      the step's seed for the global batch and sliced per replica, so a run is a function of its
      seed, resumes draw for draw, and N replicas draw what one device draws. Noise layers in
      ``"const"`` or ``"none"`` mode keep their mode (read once, when the trainer is built).
    * Lazy R1 (Mescheder et al. 2018; Karras et al. 2020): ``r1_gamma / 2 * ||grad_x D(x)||^2 *
      r1_interval`` on the real images as the discriminator sees them (after instance noise and
      DiffAugment, when those are on), added to the discriminator's objective on discriminator
      steps 0, ``r1_interval``, 2 ``r1_interval``, ... The logged ``d_loss`` leaves it out.
    * ``w_avg`` moves towards the batch mean of ``mapping(z)`` of each generator update
      (``update_w_avg``, decay ``w_avg_decay``); the EMA generator averages it with its weights.

    Simplified with respect to the official code: R1 joins the discriminator's main update on its
    steps (one Adam update; the official code makes a separate regularisation update, hence its
    Adam correction ``stylegan_losses.lazy_regularization_adam``, which therefore does not apply
    here); no path-length regularisation; the EMA's ``w_avg`` is averaged, not copied.

    Args:
        loss: the adversarial loss (``"non_saturating"``, the paper's).
        label_smoothing: one-sided smoothing of the real targets (0 in StyleGAN2).
        r1_gamma: R1 weight (>= 0; 0 switches R1 off). Default 0.01, StyleGAN2-ADA's CIFAR-10
            (32 px) configuration; ``train_gan`` uses the preset's or the auto-config heuristic
            ``0.0002 * image_size**2 / batch_size``.
        r1_interval: discriminator steps between R1 evaluations (16).
        style_mixing_probability: probability that a step mixes styles (0.9).
        w_avg_decay: decay of the ``w_avg`` moving average (0.995).
    """

    recognised_by_layers = True
    options = ("r1_gamma", "r1_interval", "style_mixing_probability", "w_avg_decay")

    def __init__(
        self, *, loss="non_saturating", label_smoothing=0.0, r1_gamma=0.01, r1_interval=16,
        style_mixing_probability=0.9, w_avg_decay=0.995,
    ):
        super().__init__(loss=loss, label_smoothing=label_smoothing)
        self.r1_gamma = check_number(r1_gamma, "r1_gamma")
        self.style_mixing_probability = check_number(style_mixing_probability, "style_mixing_probability",
                                                     maximum=1.0)
        self.w_avg_decay = check_number(w_avg_decay, "w_avg_decay", maximum=1.0 - 1e-12)
        self.r1_interval = check_int(r1_interval, "r1_interval")
        self.regularisation_interval = self.r1_interval if self.r1_gamma > 0 else None
        self._synthesis = None
        self._noise_context = threading.local()  # (seed, batch) of the replica calling the synthesis

    @classmethod
    def matches(cls, generator, discriminator):
        """Returns True for models of this signature whose generator has a ``Truncation`` layer."""
        numbers_match = (len(generator.inputs), len(discriminator.inputs), len(discriminator.outputs)) == cls.signature
        return numbers_match and any(isinstance(layer, stylegan.Truncation) for layer in generator.layers)

    def build(self, generator, discriminator):
        self._synthesis = _step_noise_view(stylegan.synthesis_of(generator), self._noise_context)

    def styles(self, generator, latents, labels, *, seed, draw_latents):
        """Returns the W+ codes ``(N, num_ws, w_dim)`` of a step's fakes, style-mixed or not.

        Args:
            generator: a ``build_stylegan_generator`` model.
            latents, labels: this replica's codes and labels (labels ignored when unconditional).
            seed: the ``(2,)`` stateless seed of the step's mixing (z2 and crossover).
            draw_latents: ``draw_latents(seed)`` returns this replica's rows of a global draw.
        """
        mapping = stylegan.mapping_of(generator)
        num_ws = int(stylegan.synthesis_of(generator).inputs[0].shape[1])
        ws = stylegan.broadcast_w(mapping(self.generator_inputs(latents, labels), training=True), num_ws)
        if not self.style_mixing_probability:
            return ws
        second = mapping(self.generator_inputs(draw_latents(_fold(seed, 1)), labels), training=True)
        return stylegan.mix_styles(ws, second, self._crossover(_fold(seed, 2), num_ws))

    def _crossover(self, seed, num_ws):
        cut_seed, draw_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2, alg=RNG_ALG))
        cut = tf.random.stateless_uniform([], cut_seed, minval=1, maxval=num_ws, dtype=tf.int32, alg=RNG_ALG)
        draw = tf.random.stateless_uniform([], draw_seed, alg=RNG_ALG)
        return tf.where(draw < self.style_mixing_probability, cut, tf.constant(num_ws, tf.int32))

    def generate(self, generator, latents, labels, *, seed, batch, draw_latents):
        if self._synthesis is None:
            raise ValueError("Call `build(generator, discriminator)` before `generate`. Received: an unbuilt objective")
        ws = self.styles(generator, latents, labels, seed=seed, draw_latents=draw_latents)
        self._noise_context.value = (_fold(seed, 3), batch)
        return self._synthesis(ws, training=True)

    def discriminator_regularisation(self, discriminator, real_inputs, labels):
        penalty = r1_penalty(discriminator, real_inputs, labels if self.conditional else None)
        return r1_regularization(penalty, self.r1_gamma, self.r1_interval)

    def after_generator_update(self, generator, latents, labels):
        w = stylegan.mapping_of(generator)(self.generator_inputs(latents, labels), training=False)
        stylegan.update_w_avg(generator, w, self.w_avg_decay)


class ConditionalStyleGANObjective(StyleGANObjective):
    """Conditional StyleGAN2 (StyleGAN2-ADA): label embedded into the mapping network, projection discriminator."""

    conditional = True
    signature = (2, 2, 1)

    def discriminate(self, discriminator, images, labels):
        return tf.cast(discriminator([images, labels], training=True), tf.float32), None


class SPADEObjective(Objective):
    """Semantic-map synthesis (SHI-GAN, Falahkheirkhah et al.; SPADE, Park et al. 2019).

    The data's labels are integer masks ``(N, H, W)``; the fakes of a step are ``G(z, m)`` for the
    real batch's masks (``paired``), the discriminator sees ``[image, mask]`` and returns features
    per scale (``build_multiscale_discriminator``). Losses (``spade_losses``): least squares
    (SHI-GAN; hinge optional) averaged over scales; the generator also minimises
    ``feature_matching_weight`` x discriminator feature matching (NVlabs: 10) and, when a local
    VGG-19 weights file is given, ``perceptual_weight`` x the VGG L1 loss (SHI-GAN's perceptual
    loss; never downloaded, off by default). With a style encoder (``use_encoder=True``) the
    generator is called on ``[noise, mask, real image]`` inside the generator's tape, so the
    encoder and its KL term train with it (keras-io#796).

    Args:
        loss: ``"least_squares"`` or ``"hinge"``.
        label_smoothing: must be 0 (not used by these losses).
        feature_matching_weight: >= 0.
        perceptual_weight: >= 0; used only with ``vgg_weights``.
        vgg_weights: None or the path of a local Keras VGG-19 (no top) weights file.
    """

    conditional = True
    paired = True
    recognised_by_layers = True
    signature = None
    options = ("feature_matching_weight", "perceptual_weight", "vgg_weights")

    def __init__(self, *, loss="least_squares", label_smoothing=0.0, feature_matching_weight=10.0,
                 perceptual_weight=10.0, vgg_weights=None):
        from ganaug.training import spade_losses

        super().__init__(loss=spade_losses.check_adversarial_loss(loss), label_smoothing=label_smoothing)
        if label_smoothing:
            raise ValueError(f"SPADE's losses take no label smoothing. Received: label_smoothing={label_smoothing!r}")
        self.feature_matching_weight = check_number(feature_matching_weight, "feature_matching_weight")
        self.perceptual_weight = check_number(perceptual_weight, "perceptual_weight")
        self.vgg_weights = vgg_weights
        self._losses = spade_losses
        self._vgg = None

    @classmethod
    def matches(cls, generator, discriminator):
        from ganaug.models.spade import is_spade_generator

        return is_spade_generator(generator) and len(discriminator.inputs) == 2

    def build(self, generator, discriminator):
        if self.vgg_weights is not None and self.perceptual_weight:
            size = int(generator.outputs[0].shape[1])
            self._vgg = self._losses.build_vgg_features(self.vgg_weights, image_size=size)

    def generator_inputs(self, latents, labels, images=None):
        return [latents, labels] if images is None else [latents, labels, images]

    def generate(self, generator, latents, labels, *, seed, batch, draw_latents):
        images = batch.real[0] if len(generator.inputs) == 3 else None
        return generator(self.generator_inputs(latents, labels, images), training=True)

    def discriminate(self, discriminator, images, labels):
        outputs = discriminator([images, labels], training=True)
        logits, _ = self._losses.split_outputs(outputs)
        mean_logit = tf.add_n([self._losses._per_example_mean(l) for l in logits]) / len(logits)
        return mean_logit, outputs

    def discriminator_loss(self, real, fake, labels, fake_labels):
        real_logits, _ = self._losses.split_outputs(real[1])
        fake_logits, _ = self._losses.split_outputs(fake[1])
        return self._losses.discriminator_loss(real_logits, fake_logits, loss=self.loss)

    def generator_loss(self, fake, fake_labels):
        return self._losses.generator_loss(self._losses.split_outputs(fake[1])[0], loss=self.loss)

    def generator_regularisation(self, discriminator, batch, fake_images, fake, fake_labels):
        real_images, masks = batch.real
        total = None
        if self.feature_matching_weight:
            real = discriminator([real_images, masks], training=True)
            matching = self._losses.feature_matching_loss(
                self._losses.split_outputs(real)[1], self._losses.split_outputs(fake[1])[1]
            )
            total = self.feature_matching_weight * matching
        if self._vgg is not None:
            perceptual = self.perceptual_weight * self._losses.perceptual_loss(self._vgg, real_images, fake_images)
            total = perceptual if total is None else total + perceptual
        return total

    def sample_grid(self, latents, labels, training_data):
        """Eight masks of the data (rows) times eight codes (columns)."""
        import numpy as np

        masks, images = _first_pairs(training_data, 8)
        rows = len(masks)
        codes = latents[:8]
        return np.tile(codes, (rows, 1)), (np.repeat(masks, len(codes), axis=0), np.repeat(images, len(codes), axis=0))

    def sample_images(self, generator, latents, labels):
        import numpy as np

        masks, images = labels
        inputs = [latents, masks] + ([images] if len(generator.inputs) == 3 else [])
        return np.asarray(generator(inputs, training=False), np.float32)


def _first_pairs(training_data, count):
    """The first ``count`` (masks, images) of the training data, as numpy arrays."""
    import numpy as np

    if training_data.images is not None:
        return training_data.labels[:count], training_data.images[:count]
    dataset = training_data.dataset if training_data.dataset is not None else training_data.reader.as_tf_dataset()
    images, masks = next(iter(dataset))[:2]
    return np.asarray(masks)[:count], np.asarray(images, np.float32)[:count]


def _fold(seed, data):
    return tf.random.experimental.stateless_fold_in(seed, data, alg=RNG_ALG)


class _StepNoise(keras.layers.Layer):
    """N(0, 1) noise ``(N, H, W, 1)`` for a noise layer: drawn for the global batch, sliced per replica.

    Reads ``(seed, batch)`` from the objective's thread-local context (each replica sets its own
    right before calling the synthesis view); ``index`` tells the noise layers apart.
    """

    def __init__(self, context, index, **kwargs):
        super().__init__(**kwargs)
        self.context = context
        self.index = index

    def call(self, x):
        seed, batch = self.context.value
        shape = tf.concat([batch.global_shape(), tf.shape(x)[1:3], [1]], 0)
        noise = tf.random.stateless_normal(shape, _fold(seed, self.index), alg=RNG_ALG)
        return tf.cast(batch.local(noise), x.dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], 1)


def _step_noise_view(synthesis, context):
    """The synthesis network's layers (same weights) with step noise fed to its random noise layers."""
    index = [0]

    def call(layer, *args, **kwargs):
        if isinstance(layer, stylegan.NoiseInjection) and layer.noise_mode == "random" and len(args) == 1:
            index[0] += 1
            noise = _StepNoise(context, index[0], name=f"{layer.name}_step_noise")(args[0])
            return layer([args[0], noise], **kwargs)
        return layer(*args, **kwargs)

    return keras.models.clone_model(synthesis, clone_function=lambda layer: layer, call_function=call)


#: family -> objective class; families sharing a signature share an objective.
OBJECTIVES = {
    "dcgan": Objective,
    "cdcgan": ConditionalObjective,
    "sngan": ConditionalObjective,
    "acgan": AuxiliaryClassifierObjective,
    "stylegan": StyleGANObjective,
    "cstylegan": ConditionalStyleGANObjective,
    "spade": SPADEObjective,
}
FAMILIES = tuple(OBJECTIVES)


def infer_family(generator, discriminator):
    """Returns the first family whose models have these numbers of inputs and outputs.

    ``"cdcgan"`` and ``"sngan"`` share a signature; a projection discriminator is reported as
    ``"cdcgan"`` (pass ``family="sngan"`` to say which). A ``build_stylegan_generator`` model is
    ``"stylegan"`` (``"cstylegan"`` when conditional).

    Raises:
        ValueError: if the inputs/outputs match no family.
    """
    # StyleGAN models also have DCGAN's numbers of inputs and outputs: families that look at the
    # layers are tried first.
    for family, objective in sorted(OBJECTIVES.items(), key=lambda item: not item[1].recognised_by_layers):
        if objective.matches(generator, discriminator):
            return family
    raise ValueError(
        "The models match no GAN family (dcgan: 1 generator input, 1 discriminator input/output; "
        "cdcgan/sngan: 2 and 2 inputs; acgan: 2 generator inputs, 2 discriminator outputs; stylegan / "
        "cstylegan: as dcgan / cdcgan, with a mapping network and a Truncation layer). Received: "
        f"generator inputs={len(generator.inputs)}, discriminator inputs={len(discriminator.inputs)}, "
        f"discriminator outputs={len(discriminator.outputs)}"
    )


def _correct(class_logits, labels):
    predicted = tf.argmax(class_logits, axis=-1, output_type=tf.int32)
    return tf.reduce_sum(tf.cast(tf.equal(predicted, labels), tf.float32))
