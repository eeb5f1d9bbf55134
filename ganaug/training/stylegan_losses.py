"""StyleGAN2's regularisers and training numbers as small pure functions (Karras et al. 2020).

* ``r1_penalty``: per-example ``||grad_x D(x)||^2`` on real images (Mescheder et al. 2018).
* ``r1_regularization``: the lazy R1 term ``gamma / 2 * penalty * interval``, evaluated every
  ``interval`` discriminator steps (16 in StyleGAN2), per example.
* ``r1_gamma_heuristic``: StyleGAN2-ADA's "auto" configuration, ``0.0002 * res^2 / batch``.
* ``lazy_regularization_adam``: Adam's learning rate and betas adjusted for lazy regularisation
  (``c = interval / (interval + 1)``: ``lr * c``, ``beta ** c``), as the official code does.
* ``ema_decay_from_half_life``: the generator EMA's decay per step for a half-life in images.

The adversarial loss is the non-saturating one of ``ganaug.training.losses`` (StyleGAN2 uses
``softplus(-D(G(z)))`` for G and ``softplus(D(G(z))) + softplus(-D(x))`` for D). Every loss here is
per example, so that the trainer averages it over the global batch under ``tf.distribute``.
"""

import math
import numbers

import tensorflow as tf


def _received(name, value):
    return f"Received: {name}={value!r}"


def r1_penalty(discriminator, real_images, labels=None, *, training=True):
    """Returns the per-example R1 penalty ``||grad_x D(x)||^2`` on real images, float32 ``(N,)``.

    The gradient is that of ``sum_n D(x_n)`` with respect to the batch, as in the official code:
    with a minibatch-stddev discriminator, an image's gradient also carries its share of its
    group's other logits. Call it inside the discriminator's ``GradientTape``: the inner tape is
    recorded, so the penalty is differentiable with respect to the discriminator's weights.

    Args:
        discriminator: ``image -> logit`` model (or ``[image, label] -> logit`` with ``labels``).
        real_images: float ``(N, H, W, C)``.
        labels: int ``(N,)`` for a conditional discriminator, else None.
        training: passed to the discriminator.

    Returns:
        float32 tensor ``(N,)``.

    Raises:
        ValueError: if ``real_images`` is not a 4-d batch.
    """
    images = tf.convert_to_tensor(real_images)
    if not images.dtype.is_floating:
        images = tf.cast(images, tf.float32)
    if images.shape.rank != 4:
        raise ValueError(
            f"`real_images` must be a batch (N, H, W, C). Received: real_images.shape={tuple(images.shape)}"
        )
    with tf.GradientTape() as tape:
        tape.watch(images)
        inputs = images if labels is None else [images, tf.convert_to_tensor(labels)]
        logits = discriminator(inputs, training=training)
        total = tf.reduce_sum(tf.cast(logits, tf.float32))
    gradients = tf.cast(tape.gradient(total, images), tf.float32)
    return tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3])


def r1_regularization(penalty, gamma, interval=1):
    """Returns the lazy R1 term per example: ``gamma / 2 * penalty * interval``.

    Karras et al. 2020 evaluate R1 every ``interval`` (16) discriminator steps and multiply it by
    ``interval`` so that its average strength is unchanged.

    Args:
        penalty: ``r1_penalty`` values ``(N,)``.
        gamma: R1 weight (>= 0; 10 for FFHQ 1024, ``r1_gamma_heuristic`` in the auto config).
        interval: steps between evaluations (>= 1; 1 = every step).

    Raises:
        ValueError: for a negative ``gamma`` or a bad ``interval``.
    """
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not math.isfinite(gamma) or gamma < 0:
        raise ValueError(f"`gamma` must be a finite number >= 0. {_received('gamma', gamma)}")
    if isinstance(interval, bool) or not isinstance(interval, numbers.Integral) or interval < 1:
        raise ValueError(f"`interval` must be an integer >= 1. {_received('interval', interval)}")
    return tf.convert_to_tensor(penalty, tf.float32) * (0.5 * float(gamma) * int(interval))


def r1_gamma_heuristic(image_size, batch_size):
    """Returns StyleGAN2-ADA's auto-config R1 weight ``0.0002 * image_size^2 / batch_size``.

    Raises:
        ValueError: for sizes that are not positive integers.
    """
    for name, value in (("image_size", image_size), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"`{name}` must be an integer >= 1. {_received(name, value)}")
    return 0.0002 * image_size**2 / batch_size


def lazy_regularization_adam(learning_rate, beta_1, beta_2, interval):
    """Returns ``(learning_rate * c, beta_1 ** c, beta_2 ** c)`` with ``c = interval / (interval + 1)``.

    The official code's correction for lazy regularisation: one regularisation step every
    ``interval`` steps adds ``1 / interval`` of an optimiser step per step.

    Raises:
        ValueError: for a bad ``interval`` or negative numbers.
    """
    if isinstance(interval, bool) or not isinstance(interval, numbers.Integral) or interval < 1:
        raise ValueError(f"`interval` must be an integer >= 1. {_received('interval', interval)}")
    for name, value in (("learning_rate", learning_rate), ("beta_1", beta_1), ("beta_2", beta_2)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
            raise ValueError(f"`{name}` must be a number >= 0. {_received(name, value)}")
    ratio = interval / (interval + 1)
    return learning_rate * ratio, beta_1**ratio, beta_2**ratio


def ema_decay_from_half_life(batch_size, half_life_images):
    """Returns the per-step EMA decay ``0.5 ** (batch_size / half_life_images)``.

    StyleGAN2: half-life 10k images (``ema_kimg = 10``); the auto config ``batch * 10 / 32`` kimg.

    Raises:
        ValueError: for non-positive arguments.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"`batch_size` must be an integer >= 1. {_received('batch_size', batch_size)}")
    if isinstance(half_life_images, bool) or not isinstance(half_life_images, numbers.Real) or half_life_images <= 0:
        raise ValueError(f"`half_life_images` must be a number > 0. {_received('half_life_images', half_life_images)}")
    return 0.5 ** (batch_size / half_life_images)
