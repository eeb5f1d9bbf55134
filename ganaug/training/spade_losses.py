"""Losses of semantic-map synthesis (SHI-GAN; Park et al. 2019; pix2pixHD), per example.

The multi-scale discriminator (``ganaug.models.spade.build_multiscale_discriminator``) returns, per
scale, intermediate feature maps and patch logits. SHI-GAN (Falahkheirkhah et al., section 2.2)
trains with the least-squares GAN loss (Mao et al. 2017) and an L1 perceptual loss; NVlabs/SPADE
adds discriminator feature matching (pix2pixHD, weight 10). Every function returns one value per
example (mean over the patches / feature elements, mean over the scales), so the trainer averages
over the global batch as for every family.
"""

import tensorflow as tf

ADVERSARIAL_LOSSES = ("least_squares", "hinge")


def check_adversarial_loss(loss):
    """Returns ``loss`` if it is one of ``ADVERSARIAL_LOSSES``; raises otherwise."""
    if loss not in ADVERSARIAL_LOSSES:
        raise ValueError(f"`loss` must be one of {ADVERSARIAL_LOSSES} for SPADE. Received: loss={loss!r}")
    return loss


def _per_example_mean(x):
    x = tf.cast(x, tf.float32)
    return tf.reduce_mean(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


def split_outputs(outputs):
    """Returns ``(logits per scale, features per scale)`` of the multi-scale discriminator's output."""
    return [scale[-1] for scale in outputs], [list(scale[:-1]) for scale in outputs]


def discriminator_loss(real_logits, fake_logits, *, loss="least_squares"):
    """Per-example discriminator loss, averaged over scales.

    least squares: ``mean (D(x) - 1)^2 + mean D(G(m))^2``; hinge: ``mean relu(1 - D(x)) +
    mean relu(1 + D(G(m)))`` (NVlabs' option).

    Args:
        real_logits, fake_logits: lists (one per scale) of patch logits ``(N, h, w, 1)``.
        loss: ``"least_squares"`` (SHI-GAN) or ``"hinge"``.

    Returns:
        float32 ``(N,)``.
    """
    check_adversarial_loss(loss)
    total = 0.0
    for real, fake in zip(real_logits, fake_logits):
        real, fake = tf.cast(real, tf.float32), tf.cast(fake, tf.float32)
        if loss == "least_squares":
            total += _per_example_mean(tf.square(real - 1.0)) + _per_example_mean(tf.square(fake))
        else:
            total += _per_example_mean(tf.nn.relu(1.0 - real)) + _per_example_mean(tf.nn.relu(1.0 + fake))
    return total / len(real_logits)


def generator_loss(fake_logits, *, loss="least_squares"):
    """Per-example generator loss, averaged over scales: ``mean (D(G(m)) - 1)^2`` or ``-mean D(G(m))``."""
    check_adversarial_loss(loss)
    total = 0.0
    for fake in fake_logits:
        fake = tf.cast(fake, tf.float32)
        total += _per_example_mean(tf.square(fake - 1.0)) if loss == "least_squares" else -_per_example_mean(fake)
    return total / len(fake_logits)


def feature_matching_loss(real_features, fake_features):
    """Per-example discriminator feature matching (pix2pixHD): ``sum_layers mean |D_l(x) - D_l(G(m))|``,
    averaged over scales; the real features are constants (NVlabs detaches them).

    Args:
        real_features, fake_features: lists (one per scale) of lists of feature maps.

    Returns:
        float32 ``(N,)`` (unweighted; NVlabs multiplies by ``lambda_feat`` = 10).
    """
    total = 0.0
    for real_scale, fake_scale in zip(real_features, fake_features):
        for real, fake in zip(real_scale, fake_scale):
            total += _per_example_mean(tf.abs(tf.stop_gradient(tf.cast(real, tf.float32)) - tf.cast(fake, tf.float32)))
    return total / len(real_features)


#: NVlabs/SPADE VGGLoss: the relu1_1 ... relu5_1 features, weights 1/32 ... 1.
VGG_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
VGG_LAYER_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)


def build_vgg_features(weights_path, *, image_size):
    """Returns a VGG-19 feature model (``VGG_LAYERS``) with weights from a local file; never downloads.

    Args:
        weights_path: a Keras VGG-19 weights file without top (e.g.
            ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` copied by hand).
        image_size: the side of the images.

    Raises:
        FileNotFoundError: if the file does not exist.
    """
    import os

    import keras

    if not os.path.isfile(os.fspath(weights_path)):
        raise FileNotFoundError(f"VGG-19 weights file not found (it is never downloaded): {weights_path}")
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(image_size, image_size, 3))
    vgg.load_weights(os.fspath(weights_path))
    vgg.trainable = False
    return keras.Model(vgg.inputs, [vgg.get_layer(name).output for name in VGG_LAYERS], name="vgg19_features")


def perceptual_loss(vgg_features, real_images, fake_images):
    """Per-example L1 on VGG-19 features (SHI-GAN's perceptual loss; NVlabs VGGLoss weights).

    Images in [-1, 1] are converted to VGG's input (BGR, ImageNet means subtracted).
    """
    import keras

    def prepare(images):
        return keras.applications.vgg19.preprocess_input((tf.cast(images, tf.float32) + 1.0) * 127.5)

    real = vgg_features(prepare(real_images), training=False)
    fake = vgg_features(prepare(fake_images), training=False)
    total = 0.0
    for weight, r, f in zip(VGG_LAYER_WEIGHTS, real, fake):
        total += weight * _per_example_mean(tf.abs(tf.stop_gradient(r) - f))
    return total
