"""GAN losses as small pure functions of logits.

Every function takes *logits* (pre-sigmoid realness scores, pre-softmax class scores) and returns a
**per-example** loss vector of shape ``(N,)``, so that the trainer can average it over the *global*
batch under ``tf.distribute`` (``tf.nn.compute_average_loss``). ``tf.reduce_mean`` of the result is
the usual scalar loss.

References:
    - Goodfellow et al. 2014, "Generative Adversarial Nets": minimax and non-saturating losses.
    - Fernández et al. 2021, eq. 4 (non-saturating cross-entropy, the papers' choice) with one-sided
      label smoothing on real labels (Salimans et al. 2016).
    - Mao et al. 2017, "Least Squares GANs".
    - Lim & Ye 2017 / Miyato et al. 2018: hinge loss.
    - Gulrajani et al. 2017, "Improved Training of Wasserstein GANs" (WGAN-GP).
    - Odena et al. 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs" (AC-GAN).
"""

import numbers

import tensorflow as tf

LOSSES = ("non_saturating", "minimax", "least_squares", "hinge", "wasserstein")
# Losses whose real targets are probabilities, so that one-sided label smoothing means something.
SMOOTHABLE_LOSSES = ("non_saturating", "minimax", "least_squares")


def check_loss_name(loss):
    """Returns ``loss`` if it names a known adversarial loss; raises ValueError otherwise."""
    if loss not in LOSSES:
        raise ValueError(f"`loss` must be one of {LOSSES}. Received: loss={loss!r}")
    return loss


def check_label_smoothing(label_smoothing, loss="non_saturating"):
    """Returns ``label_smoothing`` as a float in [0, 1); raises if invalid or not usable with ``loss``."""
    if (
        isinstance(label_smoothing, bool)
        or not isinstance(label_smoothing, numbers.Real)
        or not 0.0 <= label_smoothing < 1.0
    ):
        raise ValueError(
            f"`label_smoothing` must be a number in [0, 1). Received: label_smoothing={label_smoothing!r}"
        )
    if label_smoothing and loss not in SMOOTHABLE_LOSSES:
        raise ValueError(
            f"`label_smoothing` only applies to the losses {SMOOTHABLE_LOSSES}, not to {loss!r}. "
            f"Received: label_smoothing={label_smoothing!r}"
        )
    return float(label_smoothing)


def _flat(logits):
    logits = tf.convert_to_tensor(logits)
    if not logits.dtype.is_floating:
        logits = tf.cast(logits, tf.float32)
    return tf.reshape(tf.cast(logits, tf.float32), [tf.shape(logits)[0], -1])


def _bce(logits, target):
    """Per-example sigmoid cross-entropy against a constant target, averaged over extra dims."""
    logits = _flat(logits)
    labels = tf.fill(tf.shape(logits), tf.cast(target, tf.float32))
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits), axis=1)


def non_saturating_discriminator_loss(real_logits, fake_logits, *, label_smoothing=0.0):
    """Returns the discriminator's cross-entropy, ``-log D(x) - log(1 - D(G(z)))`` per example.

    With one-sided label smoothing ``s`` the real targets are ``1 - s`` (fakes stay 0), as in
    Fernández et al. 2021 (following Salimans et al. 2016).

    Args:
        real_logits: ``(N, 1)`` (or ``(N,)``) logits of real images.
        fake_logits: logits of generated images, same batch size.
        label_smoothing: ``s`` in [0, 1).

    Returns:
        float32 ``(N,)``.
    """
    label_smoothing = check_label_smoothing(label_smoothing)
    return _bce(real_logits, 1.0 - label_smoothing) + _bce(fake_logits, 0.0)


def non_saturating_generator_loss(fake_logits):
    """Returns the non-saturating generator loss ``-log D(G(z))`` per example (Fernández eq. 4).

    Args:
        fake_logits: ``(N, 1)`` logits of generated images.

    Returns:
        float32 ``(N,)``.
    """
    return _bce(fake_logits, 1.0)


def minimax_discriminator_loss(real_logits, fake_logits, *, label_smoothing=0.0):
    """Returns the minimax discriminator loss; identical to the non-saturating one (Goodfellow 2014)."""
    return non_saturating_discriminator_loss(real_logits, fake_logits, label_smoothing=label_smoothing)


def minimax_generator_loss(fake_logits):
    """Returns the original minimax generator loss ``log(1 - D(G(z)))`` per example (Goodfellow 2014).

    Minimising it saturates when the discriminator is confident; kept for comparison.

    Args:
        fake_logits: ``(N, 1)`` logits of generated images.

    Returns:
        float32 ``(N,)`` (negative values).
    """
    return -_bce(fake_logits, 0.0)


def least_squares_discriminator_loss(real_logits, fake_logits, *, label_smoothing=0.0):
    """Returns the LSGAN discriminator loss ``0.5 (D(x) - (1 - s))^2 + 0.5 D(G(z))^2`` (Mao et al. 2017).

    The raw discriminator output (the logit) is the least-squares score.

    Args:
        real_logits: ``(N, 1)`` outputs on real images.
        fake_logits: outputs on generated images.
        label_smoothing: one-sided smoothing ``s`` of the real target.

    Returns:
        float32 ``(N,)``.
    """
    label_smoothing = check_label_smoothing(label_smoothing, "least_squares")
    real = _flat(real_logits)
    fake = _flat(fake_logits)
    return 0.5 * tf.reduce_mean(tf.square(real - (1.0 - label_smoothing)), axis=1) + 0.5 * tf.reduce_mean(
        tf.square(fake), axis=1
    )


def least_squares_generator_loss(fake_logits):
    """Returns the LSGAN generator loss ``0.5 (D(G(z)) - 1)^2`` per example (Mao et al. 2017)."""
    return 0.5 * tf.reduce_mean(tf.square(_flat(fake_logits) - 1.0), axis=1)


def hinge_discriminator_loss(real_logits, fake_logits):
    """Returns the hinge discriminator loss ``relu(1 - D(x)) + relu(1 + D(G(z)))`` per example."""
    return tf.reduce_mean(tf.nn.relu(1.0 - _flat(real_logits)), axis=1) + tf.reduce_mean(
        tf.nn.relu(1.0 + _flat(fake_logits)), axis=1
    )


def hinge_generator_loss(fake_logits):
    """Returns the hinge generator loss ``-D(G(z))`` per example."""
    return -tf.reduce_mean(_flat(fake_logits), axis=1)


def wasserstein_discriminator_loss(real_logits, fake_logits):
    """Returns the WGAN critic loss ``D(G(z)) - D(x)`` per example (add ``gradient_penalty``)."""
    return tf.reduce_mean(_flat(fake_logits), axis=1) - tf.reduce_mean(_flat(real_logits), axis=1)


def wasserstein_generator_loss(fake_logits):
    """Returns the WGAN generator loss ``-D(G(z))`` per example."""
    return -tf.reduce_mean(_flat(fake_logits), axis=1)


def lecam_regularization(real_logits, fake_logits, real_average, fake_average):
    """Returns the LeCam regulariser per example (Tseng et al. 2021, eq. 3).

    ``relu(D(x) - alpha_F)^2 + relu(alpha_R - D(G(z)))^2``, where ``alpha_R`` and ``alpha_F`` are
    moving averages of the discriminator's outputs on real and on generated images. It keeps real
    logits from running above the fakes' average and fake logits from falling below the reals'
    average, which bounds how far an overfitting discriminator can push the two apart under
    limited data. The averages enter as constants (no gradient).

    Args:
        real_logits: ``(N, ...)`` discriminator outputs on real images.
        fake_logits: ``(N, ...)`` outputs on generated images (same ``N``).
        real_average: scalar moving average of the real outputs (``alpha_R``).
        fake_average: scalar moving average of the fake outputs (``alpha_F``).

    Returns:
        float32 ``(N,)``.
    """
    real_average = tf.stop_gradient(tf.cast(real_average, tf.float32))
    fake_average = tf.stop_gradient(tf.cast(fake_average, tf.float32))
    return tf.reduce_mean(tf.square(tf.nn.relu(_flat(real_logits) - fake_average)), axis=1) + tf.reduce_mean(
        tf.square(tf.nn.relu(real_average - _flat(fake_logits))), axis=1
    )


def interpolated_images(real_images, fake_images, interpolation):
    """Returns ``a * real + (1 - a) * fake`` with one factor ``a`` per example (Gulrajani et al. 2017).

    Args:
        real_images: ``(N, H, W, C)``.
        fake_images: same shape.
        interpolation: ``(N,)`` factors, drawn **uniformly** in [0, 1] by the caller (keras-io's
            ``wgan_gp.py`` wrongly draws them from a normal distribution).

    Returns:
        The interpolated batch, same shape as ``real_images``.
    """
    real_images = tf.convert_to_tensor(real_images)
    fake_images = tf.cast(tf.convert_to_tensor(fake_images), real_images.dtype)
    shape = tf.concat([tf.shape(real_images)[:1], tf.ones([tf.rank(real_images) - 1], tf.int32)], 0)
    factors = tf.reshape(tf.cast(interpolation, real_images.dtype), shape)
    return factors * real_images + (1.0 - factors) * fake_images


def gradient_penalty(critic, real_images, fake_images, interpolation, *, epsilon=1e-12):
    """Returns the WGAN-GP penalty ``(||grad_x D(x_hat)||_2 - 1)^2`` per example (Gulrajani et al. 2017).

    The norm is computed as ``sqrt(sum(g^2) + epsilon)``, so the penalty and its gradient stay
    finite where the critic's gradient is exactly zero (an unguarded ``sqrt`` gives NaN there).

    Args:
        critic: a callable ``images -> logits`` (wrap a conditional discriminator in a lambda that
            binds the labels).
        real_images: ``(N, H, W, C)``.
        fake_images: same shape.
        interpolation: ``(N,)`` uniform factors in [0, 1].
        epsilon: the guard inside the square root.

    Returns:
        float32 ``(N,)``; multiply by the penalty weight (10 in the paper).
    """
    mixed = interpolated_images(real_images, fake_images, interpolation)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        scores = tf.reduce_sum(tf.cast(critic(mixed), tf.float32))
    gradients = tf.cast(tape.gradient(scores, mixed), tf.float32)
    gradients = tf.reshape(gradients, [tf.shape(gradients)[0], -1])
    norms = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=1) + epsilon)
    return tf.square(norms - 1.0)


def class_loss(class_logits, labels):
    """Returns the sparse softmax cross-entropy ``-log P(C = c | X)`` per example (Odena et al. 2017).

    Args:
        class_logits: ``(N, K)`` class logits.
        labels: ``(N,)`` integer class indices.

    Returns:
        float32 ``(N,)``.
    """
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=tf.cast(class_logits, tf.float32)
    )


def discriminator_loss(real_logits, fake_logits, *, loss="non_saturating", label_smoothing=0.0):
    """Returns the per-example discriminator loss named by ``loss``.

    Args:
        real_logits: logits of real images.
        fake_logits: logits of generated images.
        loss: one of ``LOSSES``. For ``"wasserstein"`` add ``gradient_penalty`` separately.
        label_smoothing: one-sided smoothing of the real targets (cross-entropy and least-squares
            losses only).

    Returns:
        float32 ``(N,)``.

    Raises:
        ValueError: for an unknown ``loss`` or smoothing with a loss that has no targets.
    """
    check_loss_name(loss)
    check_label_smoothing(label_smoothing, loss)
    if loss in ("non_saturating", "minimax"):
        return non_saturating_discriminator_loss(real_logits, fake_logits, label_smoothing=label_smoothing)
    if loss == "least_squares":
        return least_squares_discriminator_loss(real_logits, fake_logits, label_smoothing=label_smoothing)
    if loss == "hinge":
        return hinge_discriminator_loss(real_logits, fake_logits)
    return wasserstein_discriminator_loss(real_logits, fake_logits)


def generator_loss(fake_logits, *, loss="non_saturating"):
    """Returns the per-example generator loss named by ``loss`` (one of ``LOSSES``)."""
    check_loss_name(loss)
    return {
        "non_saturating": non_saturating_generator_loss,
        "minimax": minimax_generator_loss,
        "least_squares": least_squares_generator_loss,
        "hinge": hinge_generator_loss,
        "wasserstein": wasserstein_generator_loss,
    }[loss](fake_logits)


def acgan_discriminator_loss(
    real_logits,
    fake_logits,
    real_class_logits,
    fake_class_logits,
    real_labels,
    fake_labels,
    *,
    loss="non_saturating",
    label_smoothing=0.0,
):
    """Returns the AC-GAN discriminator loss ``-(L_S + L_C)`` per example (Odena et al. 2017).

    ``L_S`` is the log-likelihood of the correct source (real/fake), ``L_C`` that of the correct
    class on real *and* generated images; the discriminator maximises ``L_S + L_C``.

    Args:
        real_logits: ``(N, 1)`` realness logits of real images.
        fake_logits: realness logits of generated images.
        real_class_logits: ``(N, K)`` class logits of real images.
        fake_class_logits: ``(N, K)`` class logits of generated images.
        real_labels: ``(N,)`` classes of the real images.
        fake_labels: ``(N,)`` classes the images were generated for.
        loss: the adversarial (source) loss, one of ``LOSSES``.
        label_smoothing: one-sided smoothing of the real source targets.

    Returns:
        float32 ``(N,)``.
    """
    source = discriminator_loss(real_logits, fake_logits, loss=loss, label_smoothing=label_smoothing)
    return source + class_loss(real_class_logits, real_labels) + class_loss(fake_class_logits, fake_labels)


def acgan_generator_loss(fake_logits, fake_class_logits, fake_labels, *, loss="non_saturating"):
    """Returns the AC-GAN generator loss per example (Odena et al. 2017).

    The generator maximises ``L_C - L_S``: it minimises the class cross-entropy of its images plus
    its adversarial loss (non-saturating form by default).

    Args:
        fake_logits: ``(N, 1)`` realness logits of generated images.
        fake_class_logits: ``(N, K)`` class logits of generated images.
        fake_labels: ``(N,)`` classes the images were generated for.
        loss: the adversarial loss, one of ``LOSSES``.

    Returns:
        float32 ``(N,)``.
    """
    return generator_loss(fake_logits, loss=loss) + class_loss(fake_class_logits, fake_labels)
