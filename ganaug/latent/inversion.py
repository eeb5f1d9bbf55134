"""Latent reverse search: the code z whose generated image G(z) best matches a target image.

Fernández et al. 2021 (section 3.2.1) find z by gradient descent on the root-mean-square error
between G(z) and the target; Klang & Carlberg (section 4.6) write the same problem with an L1 norm.
Here the search runs on whole batches at once: one ``tf.function`` step updates a
``(restarts * batch, latent_dim)`` variable with Adam, every row being one (image, restart) pair, so
several random restarts cost one bigger batch instead of a Python loop. The best code per image
(lowest loss over steps and restarts) is kept. The generator runs in inference mode
(``training=False``) and its weights are never touched: gradients are taken only with respect to z.

The module also holds the small helpers every latent tool uses to read a generator's contract
(``docs/architecture.md``): ``is_conditional``, ``latent_dim_of`` and ``generate_images``, all three
from ``ganaug.training.sampling`` (one sampler for the toolkit).
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from ganaug.models.prior import sample_latent, validate_distribution
from ganaug.training.sampling import generate_images, is_conditional, latent_dim_of  # noqa: F401  (the one sampler)

LOSSES = ("rmse", "l1")

_ADAM_BETA_1 = 0.9
_ADAM_BETA_2 = 0.999
_ADAM_EPSILON = 1e-8
_SQRT_GUARD = 1e-12
_STEPS_PER_CALL = 25  # steps run inside one tf.function call between progress-bar updates



def generator_image_shape(generator):
    """Returns ``(height, width, channels)`` of the generator's images."""
    return tuple(int(d) for d in generator.outputs[0].shape[1:])


def check_generator(generator):
    """Returns ``generator`` if it is a keras.Model with one or two inputs, else raises TypeError."""
    if not isinstance(generator, keras.Model):
        raise TypeError(
            f"`generator` must be a keras.Model. Received: generator={type(generator).__name__}"
        )
    if len(generator.inputs) not in (1, 2):
        raise TypeError(
            "`generator` must take `latent` or `[latent, label]`. "
            f"Received: generator with {len(generator.inputs)} inputs"
        )
    return generator


def check_codes(codes, latent_dim=None, *, name="codes"):
    """Returns ``codes`` as a float32 ``(N, latent_dim)`` array, or raises ValueError naming ``name``."""
    codes = np.asarray(codes, dtype=np.float32)
    if codes.ndim != 2 or (latent_dim is not None and codes.shape[1] != latent_dim):
        expected = f"(N, {latent_dim})" if latent_dim is not None else "(N, latent_dim)"
        raise ValueError(f"`{name}` must have shape {expected}. Received: {name}.shape={codes.shape}")
    if not np.all(np.isfinite(codes)):
        raise ValueError(f"`{name}` must be finite. Received: {name} with NaN or inf values")
    return codes


def check_labels(generator, labels, num_samples, *, name="labels"):
    """Returns int32 labels ``(num_samples,)`` for a conditional generator, None for an unconditional one.

    A single integer is broadcast to every sample.

    Raises:
        ValueError: if a conditional generator gets no labels, an unconditional one gets labels,
            or the labels have the wrong length or negative values.
    """
    if not is_conditional(generator):
        if labels is not None:
            raise ValueError(
                f"The generator is unconditional (one input); `{name}` must be None. "
                f"Received: {name}={_short(labels)}"
            )
        return None
    if labels is None:
        raise ValueError(
            f"The generator is conditional ([latent, label] inputs); `{name}` are required. "
            f"Received: {name}=None"
        )
    labels = np.asarray(labels)
    if labels.ndim == 0:
        labels = np.full((num_samples,), labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"`{name}` must be integer class indices. Received: {name}.dtype={labels.dtype}")
    labels = labels.reshape(-1).astype(np.int32)
    if labels.shape[0] != num_samples:
        raise ValueError(
            f"`{name}` must have one label per sample ({num_samples}). Received: {name}.shape={labels.shape}"
        )
    if labels.size and labels.min() < 0:
        raise ValueError(f"`{name}` must be non-negative. Received: {name} with minimum {labels.min()}")
    return labels


def check_images(generator, images, *, name="images"):
    """Returns ``images`` as a float32 array shaped like the generator's output, or raises ValueError."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    expected = generator_image_shape(generator)
    if images.ndim != 4 or tuple(images.shape[1:]) != expected:
        raise ValueError(
            f"`{name}` must have shape (N, {', '.join(map(str, expected))}) like the generator's output. "
            f"Received: {name}.shape={images.shape}"
        )
    if images.shape[0] == 0:
        raise ValueError(f"`{name}` is empty. Received: {name}.shape={images.shape}")
    if images.dtype == np.uint8:
        raise ValueError(
            f"`{name}` must be float in [-1, 1] (convert with (p - 127.5) / 127.5). "
            f"Received: {name}.dtype=uint8"
        )
    return images.astype(np.float32)


def check_positive_integer(value, name, *, minimum=1):
    """Returns ``value`` as int if it is an integer >= ``minimum``, else raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


def check_positive_number(value, name):
    """Returns ``value`` as float if it is a number > 0, else raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not value > 0:
        raise ValueError(f"`{name}` must be a number > 0. Received: {name}={value!r}")
    return float(value)


def _short(value):
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def _generator_inputs(generator, codes, labels):
    return [codes, labels] if labels is not None else codes


@dataclasses.dataclass
class InversionResult:
    """What ``invert_images`` found.

    Attributes:
        codes: float32 ``(N, latent_dim)``, the best code of each image.
        errors: float32 ``(N,)``, the loss (``rmse`` or ``l1``, on the [-1, 1] scale) of each best code.
        reconstructions: float32 ``(N, H, W, C)``, ``G(codes)``.
        loss_history: float32 ``(steps,)``, the loss averaged over images and restarts at each step
            (before that step's update).
        restart_errors: float32 ``(N, restarts)``, the best loss each restart reached.
        best_restart: int ``(N,)``, which restart gave each image's code (0 is ``initial_codes``
            when given).
        labels: the int32 labels used (conditional generators) or None.
        loss: the loss name.
    """

    codes: np.ndarray
    errors: np.ndarray
    reconstructions: np.ndarray
    loss_history: np.ndarray
    restart_errors: np.ndarray
    best_restart: np.ndarray
    labels: np.ndarray = None
    loss: str = "rmse"


def _per_row_loss(generated, targets, loss):
    axes = list(range(1, len(generated.shape)))
    if loss == "l1":
        return tf.reduce_mean(tf.abs(generated - targets), axis=axes)
    # Guarded sqrt: the gradient of sqrt is infinite at 0 (an exact match).
    return tf.sqrt(tf.reduce_mean(tf.square(generated - targets), axis=axes) + _SQRT_GUARD)


class _BatchSearch:
    """The batched Adam search on one ``(restarts * batch, latent_dim)`` variable (one trace)."""

    def __init__(self, generator, num_rows, latent_dim, *, learning_rate, loss, clip):
        self.generator = generator
        self.loss = loss
        self.clip = clip
        self.learning_rate = learning_rate
        zeros = tf.zeros((num_rows, latent_dim), tf.float32)
        self.codes = tf.Variable(zeros, trainable=False, name="codes")
        self.first_moment = tf.Variable(zeros, trainable=False)
        self.second_moment = tf.Variable(zeros, trainable=False)
        self.iteration = tf.Variable(0.0, trainable=False)
        self.best_codes = tf.Variable(zeros, trainable=False)
        self.best_loss = tf.Variable(tf.fill((num_rows,), np.inf), trainable=False)
        self.run = tf.function(self._run, reduce_retracing=True)
        self.evaluate = tf.function(self._evaluate, reduce_retracing=True)

    def reset(self, start_codes):
        self.codes.assign(start_codes)
        self.first_moment.assign(tf.zeros_like(self.first_moment))
        self.second_moment.assign(tf.zeros_like(self.second_moment))
        self.iteration.assign(0.0)
        self.best_codes.assign(start_codes)
        self.best_loss.assign(tf.fill(tf.shape(self.best_loss), np.inf))

    def _generate(self, codes, labels):
        return self.generator(_generator_inputs(self.generator, codes, labels), training=False)

    def _keep_best(self, per_row):
        improved = per_row < self.best_loss
        self.best_loss.assign(tf.where(improved, per_row, self.best_loss))
        self.best_codes.assign(tf.where(improved[:, None], self.codes, self.best_codes))

    def _step(self, targets, labels):
        with tf.GradientTape() as tape:
            tape.watch(self.codes)
            per_row = _per_row_loss(self._generate(self.codes, labels), targets, self.loss)
            total = tf.reduce_sum(per_row)
        gradient = tape.gradient(total, self.codes)
        self._keep_best(per_row)
        self.iteration.assign_add(1.0)
        self.first_moment.assign(_ADAM_BETA_1 * self.first_moment + (1 - _ADAM_BETA_1) * gradient)
        self.second_moment.assign(
            _ADAM_BETA_2 * self.second_moment + (1 - _ADAM_BETA_2) * tf.square(gradient)
        )
        first = self.first_moment / (1 - tf.pow(_ADAM_BETA_1, self.iteration))
        second = self.second_moment / (1 - tf.pow(_ADAM_BETA_2, self.iteration))
        self.codes.assign_sub(self.learning_rate * first / (tf.sqrt(second) + _ADAM_EPSILON))
        if self.clip:
            self.codes.assign(tf.clip_by_value(self.codes, -1.0, 1.0))
        return per_row

    def _run(self, targets, labels, num_steps):
        """Runs ``num_steps`` steps in one call; returns the per-row losses ``(num_steps, rows)``."""
        losses = tf.TensorArray(tf.float32, size=num_steps)
        for index in tf.range(num_steps):
            losses = losses.write(index, self._step(targets, labels))
        return losses.stack()

    def _evaluate(self, targets, labels):
        per_row = _per_row_loss(self._generate(self.codes, labels), targets, self.loss)
        self._keep_best(per_row)
        return per_row


def invert_images(
    generator,
    images,
    labels=None,
    *,
    steps=500,
    learning_rate=0.05,
    loss="rmse",
    restarts=1,
    latent_distribution="normal",
    clip_to_prior=None,
    initial_codes=None,
    batch_size=64,
    seed=0,
    verbose=1,
):
    """Finds latent codes whose generated images reproduce ``images`` (latent reverse search).

    Method of Fernández et al. 2021, section 3.2.1 (gradient descent on the RMSE between G(z) and the
    image); Klang & Carlberg, section 4.6, state the same problem with an L1 norm. Adam updates all
    ``restarts * batch`` codes of a batch in one step; each restart starts from a different draw of
    the prior (restart 0 from ``initial_codes`` when given, e.g. an encoder's output, so a few
    steps refine it). The best code per image over all steps and restarts is returned.

    Args:
        generator: a generator (``latent`` or ``[latent, label]`` -> images in [-1, 1]). It runs
            with ``training=False``; its weights are not changed.
        images: float32 ``(N, H, W, C)`` targets in [-1, 1], shaped like the generator's output.
        labels: int ``(N,)`` (or one int) class labels for a conditional generator, else None.
        steps: Adam steps per batch (>= 0; 0 only evaluates the starting codes).
        learning_rate: Adam step size on z.
        loss: ``"rmse"`` (Fernández et al.) or ``"l1"`` (mean absolute error, Klang & Carlberg).
        restarts: random starts per image (>= 1); the best one is kept.
        latent_distribution: the generator's prior, ``"normal"`` or ``"uniform"``; random starts
            are drawn from it.
        clip_to_prior: clip codes to the prior's support [-1, 1] after every step. None means clip
            for the uniform prior and not for the normal one (whose support is unbounded).
        initial_codes: optional float32 ``(N, latent_dim)`` starting codes for restart 0.
        batch_size: images per batch (each batch optimises ``restarts * batch_size`` codes).
        seed: seed of the random starts; the same seed gives the same result.
        verbose: 0 silent, 1 progress bar, 2 one line per batch.

    Returns:
        An ``InversionResult`` (codes, errors, reconstructions, loss_history, restart_errors,
        best_restart, labels, loss).

    Raises:
        TypeError: if ``generator`` is not a keras.Model with one or two inputs.
        ValueError: for images/labels/initial codes of the wrong shape, an unknown ``loss`` or
            ``latent_distribution``, ``clip_to_prior=True`` with the normal prior, or non-positive
            ``steps``/``restarts``/``learning_rate``/``batch_size``.
    """
    check_generator(generator)
    images = check_images(generator, images)
    num_images = len(images)
    latent_dim = latent_dim_of(generator)
    labels = check_labels(generator, labels, num_images)
    steps = check_positive_integer(steps, "steps", minimum=0)
    restarts = check_positive_integer(restarts, "restarts")
    batch_size = check_positive_integer(batch_size, "batch_size")
    learning_rate = check_positive_number(learning_rate, "learning_rate")
    if loss not in LOSSES:
        raise ValueError(f"`loss` must be one of {LOSSES}. Received: loss={loss!r}")
    validate_distribution(latent_distribution)
    if clip_to_prior is None:
        clip = latent_distribution == "uniform"
    elif clip_to_prior and latent_distribution == "normal":
        raise ValueError(
            "The normal prior has unbounded support, there is nothing to clip to; use "
            "clip_to_prior=None or False. Received: clip_to_prior=True"
        )
    else:
        clip = bool(clip_to_prior)
    if initial_codes is not None:
        initial_codes = check_codes(initial_codes, latent_dim, name="initial_codes")
        if len(initial_codes) != num_images:
            raise ValueError(
                f"`initial_codes` must have one code per image ({num_images}). "
                f"Received: initial_codes.shape={initial_codes.shape}"
            )
    if verbose not in (0, 1, 2):
        raise ValueError(f"`verbose` must be 0, 1 or 2. Received: verbose={verbose!r}")

    starts = sample_latent(
        restarts * num_images, latent_dim, distribution=latent_distribution, seed=seed
    ).reshape(restarts, num_images, latent_dim)
    if initial_codes is not None:
        starts[0] = np.clip(initial_codes, -1.0, 1.0) if clip else initial_codes

    chunk = min(batch_size, num_images)
    search = _BatchSearch(
        generator, restarts * chunk, latent_dim, learning_rate=learning_rate, loss=loss, clip=clip
    )
    num_chunks = -(-num_images // chunk)
    progress = keras.utils.Progbar(num_chunks * max(steps, 1), verbose=verbose, stateful_metrics=["loss"])
    history_sum = np.zeros((steps,), dtype=np.float64)
    best_codes = np.zeros((restarts, num_images, latent_dim), dtype=np.float32)
    best_losses = np.zeros((restarts, num_images), dtype=np.float32)

    for chunk_index, begin in enumerate(range(0, num_images, chunk)):
        end = min(begin + chunk, num_images)
        real = end - begin
        pad = chunk - real
        chunk_targets = np.concatenate([images[begin:end], np.repeat(images[begin:begin + 1], pad, 0)])
        targets = tf.constant(np.tile(chunk_targets, (restarts, 1, 1, 1)))
        chunk_labels = None
        if labels is not None:
            padded = np.concatenate([labels[begin:end], np.repeat(labels[begin:begin + 1], pad)])
            chunk_labels = tf.constant(np.tile(padded, restarts))
        chunk_starts = np.zeros((restarts, chunk, latent_dim), dtype=np.float32)
        chunk_starts[:, :real] = starts[:, begin:end]
        search.reset(chunk_starts.reshape(restarts * chunk, latent_dim))
        done = 0
        while done < steps:
            block = min(_STEPS_PER_CALL, steps - done)
            losses = search.run(targets, chunk_labels, tf.constant(block)).numpy()
            losses = losses.reshape(block, restarts, chunk)[:, :, :real]
            history_sum[done : done + block] += losses.mean(axis=1).sum(axis=1)
            done += block
            progress.update(chunk_index * steps + done, values=[("loss", float(losses[-1].mean()))])
        search.evaluate(targets, chunk_labels)
        best_codes[:, begin:end] = search.best_codes.numpy().reshape(restarts, chunk, latent_dim)[:, :real]
        best_losses[:, begin:end] = search.best_loss.numpy().reshape(restarts, chunk)[:, :real]
        if steps == 0:
            progress.update(chunk_index + 1)

    best_restart = np.argmin(best_losses, axis=0)
    codes = best_codes[best_restart, np.arange(num_images)]
    errors = best_losses[best_restart, np.arange(num_images)]
    reconstructions = generate_images(generator, codes, labels, batch_size=batch_size)
    return InversionResult(
        codes=codes.astype(np.float32),
        errors=errors.astype(np.float32),
        reconstructions=reconstructions,
        loss_history=(history_sum / num_images).astype(np.float32),
        restart_errors=best_losses.T.copy(),
        best_restart=best_restart,
        labels=labels,
        loss=loss,
    )
