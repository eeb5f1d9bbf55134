"""An encoder into StyleGAN's W space trained as Saboo et al., against a frozen generator.

Saboo et al. ("Towards disease-aware image editing of chest X-rays") map real X-rays to W codes
with an encoder E trained with a cyclic loss; every iteration makes two encoder updates:

1. **synthetic**: ``w = mapping(z)`` for z from the prior, ``x = G(w)``; the loss is
   ``code_weight * |w - E(x)|_1`` plus the image loss between ``x`` and ``G(E(x))`` (L2 and
   1 - SSIM) plus a content loss on the *generator's* features of ``w`` and ``E(x)``;
2. **real**: a batch of real images x; the loss is the image loss between ``x`` and ``G(E(x))``
   (L2 and 1 - SSIM) plus a content loss on the *encoder's* features of ``x`` and ``G(E(x))``
   (or, with ``real_content="discriminator"``, a frozen discriminator's).

The generator (mapping and synthesis) runs with ``training=False``, its noise fixed to the constant
maps stored in the model (``w_inversion.fixed_noise``), and is in no optimiser: its weights stay
bit-identical. Once trained, ``encode(encoder, images)`` gives W codes that ``synthesize`` renders
and that can start ``invert_images_w(..., initial_codes=...)``.

What is simplified or chosen here (the paper does not fix it, or needs weights we cannot
download): the generator's content features are the activations after the second convolution at
half the image size (``"b{S/2}_1_act"`` of the synthesis network; ``generator_feature_layer``);
the encoder's are its ``"trunk_features"`` (the flattened output of its convolutional trunk).
Both are compared after L2 normalisation per example (so the encoder cannot lower its own content
loss by shrinking its features), as mean squared differences. The encoder is
``ganaug.models.build_encoder`` (the DCGAN discriminator's trunk) with a linear W output. Loss
weights default to 1 and the learning rate to 1e-4 (assumed).
"""

import keras
import numpy as np
import tensorflow as tf

from ganaug.latent.encoder_training import EncoderTrainingResult, _record_step, _training_batches
from ganaug.latent.inversion import check_positive_integer, check_positive_number, generator_image_shape
from ganaug.latent.w_inversion import _check_stylegan, fixed_noise, num_ws_of, w_dim_of
from ganaug.models.prior import sample_latent, validate_distribution

REAL_CONTENT = ("encoder", "discriminator")
_HISTORY = (
    "code_loss", "synthetic_l2", "synthetic_ssim", "synthetic_content",
    "real_l2", "real_ssim", "real_content",
)


def _check_weight(value, name):
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"`{name}` must be a finite number >= 0. Received: {name}={value!r}")
    return value


def _feature_model(model, layer_name, argument):
    try:
        layer = model.get_layer(layer_name)
    except ValueError:
        raise ValueError(
            f"`{argument}` has no layer {layer_name!r} to take content features from. Received: {argument}={model.name!r}"
        ) from None
    return keras.Model(model.inputs, [layer.output, model.outputs[0]], name=f"{model.name}_with_features")


def _normalised(features):
    flat = tf.reshape(tf.cast(features, tf.float32), [tf.shape(features)[0], -1])
    return tf.math.l2_normalize(flat, axis=1)


def _content(features_a, features_b):
    return tf.reduce_mean(tf.reduce_sum(tf.square(_normalised(features_a) - _normalised(features_b)), axis=1))


def _ssim_loss(images, reconstructions, filter_size):
    ssim = tf.image.ssim(images, reconstructions, max_val=2.0, filter_size=filter_size)
    return 1.0 - tf.reduce_mean(ssim)


def train_w_encoder(
    generator,
    data,
    *,
    encoder=None,
    steps=None,
    epochs=1,
    learning_rate=1e-4,
    batch_size=32,
    code_weight=1.0,
    l2_weight=1.0,
    ssim_weight=1.0,
    content_weight=1.0,
    real_content="encoder",
    discriminator=None,
    generator_feature_layer=None,
    latent_distribution="normal",
    noise_mode="const",
    seed=0,
    verbose=1,
):
    """Trains an image -> W encoder with Saboo et al.'s alternating synthetic and real updates.

    Args:
        generator: a trained StyleGAN generator (``build_stylegan_generator``); frozen.
        data: real images: a float32 numpy array in [-1, 1], a ``tf.data.Dataset`` of image
            batches or ``(images, labels)`` batches (labels are not used: w carries the class of a
            conditional generator), or an ``ImageReader``.
        encoder: an ``image -> (N, w_dim)`` model with a ``"trunk_features"`` layer (for
            ``real_content="encoder"``); None builds ``ganaug.models.build_encoder`` at the
            generator's size with ``latent_dim=w_dim``.
        steps: iterations (each makes two encoder updates); None: ``epochs`` passes over ``data``.
        epochs: passes over ``data`` when ``steps`` is None.
        learning_rate: Adam learning rate of the encoder (1e-4, assumed).
        batch_size: batch size of numpy data and of the synthetic pass.
        code_weight: weight of ``|w - E(G(w))|_1`` (synthetic pass).
        l2_weight: weight of the mean squared image error (both passes).
        ssim_weight: weight of ``1 - SSIM`` (both passes; window ``min(11, image_size)``).
        content_weight: weight of the content (feature) losses (both passes).
        real_content: ``"encoder"`` (Saboo: the encoder's features of x and G(E(x))) or
            ``"discriminator"`` (a frozen discriminator's ``"trunk_features"``; pass it).
        discriminator: the frozen discriminator for ``real_content="discriminator"``.
        generator_feature_layer: layer of the synthesis network whose activations are the
            generator's content features (default ``"b{image_size // 2}_1_act"``).
        latent_distribution: the generator's prior (z of the synthetic pass).
        noise_mode: the generator's noise while training (``"const"`` or ``"none"``).
        seed: seed of the synthetic codes and of the shuffling of numpy data.
        verbose: 0 silent, 1 progress bar, 2 one line at the end.

    Returns:
        ``EncoderTrainingResult(encoder, history)``; ``history`` holds, per step, ``"step"``,
        ``"code_loss"``, ``"synthetic_l2"``, ``"synthetic_ssim"`` (1 - SSIM),
        ``"synthetic_content"``, ``"real_l2"``, ``"real_ssim"`` and ``"real_content"``.

    Raises:
        TypeError: for a bad ``encoder`` or ``data`` type.
        ValueError: for a generator that is not a StyleGAN one, an encoder that does not map the
            generator's images to W, unknown options, negative weights or bad step counts.
    """
    mapping, synthesis, _ = _check_stylegan(generator)
    if steps is not None:
        steps = check_positive_integer(steps, "steps")
    epochs = check_positive_integer(epochs, "epochs")
    learning_rate = check_positive_number(learning_rate, "learning_rate")
    batch_size = check_positive_integer(batch_size, "batch_size")
    weights = {name: _check_weight(value, name) for name, value in (
        ("code_weight", code_weight), ("l2_weight", l2_weight), ("ssim_weight", ssim_weight),
        ("content_weight", content_weight),
    )}
    if real_content not in REAL_CONTENT:
        raise ValueError(f"`real_content` must be one of {REAL_CONTENT}. Received: real_content={real_content!r}")
    if (real_content == "discriminator") != (discriminator is not None):
        raise ValueError(
            "Pass `discriminator` with, and only with, real_content='discriminator'. "
            f"Received: real_content={real_content!r}, discriminator={getattr(discriminator, 'name', None)!r}"
        )
    if noise_mode == "random":
        raise ValueError(
            "The encoder needs a deterministic generator: noise_mode='const' or 'none'. Received: noise_mode='random'"
        )
    validate_distribution(latent_distribution)
    if verbose not in (0, 1, 2):
        raise ValueError(f"`verbose` must be 0, 1 or 2. Received: verbose={verbose!r}")
    image_shape = generator_image_shape(generator)
    num_ws, w_dim = num_ws_of(generator), w_dim_of(generator)
    latent_dim = int(mapping.inputs[0].shape[-1])
    if encoder is None:
        from ganaug.models import build_encoder

        encoder = build_encoder(image_size=image_shape[0], channels=image_shape[-1], latent_dim=w_dim, seed=seed)
    if not isinstance(encoder, keras.Model):
        raise TypeError(f"`encoder` must be a keras.Model or None. Received: encoder={type(encoder).__name__}")
    if tuple(encoder.inputs[0].shape[1:]) != image_shape or tuple(encoder.outputs[0].shape[1:]) != (w_dim,):
        raise ValueError(
            f"`encoder` must map images {image_shape} to W codes ({w_dim},). Received: encoder input "
            f"{tuple(encoder.inputs[0].shape[1:])}, output {tuple(encoder.outputs[0].shape[1:])}"
        )
    layer_name = generator_feature_layer or f"b{image_shape[0] // 2}_1_act"
    synthesis_features = _feature_model(synthesis, layer_name, "generator")
    encoder_features = _feature_model(encoder, "trunk_features", "encoder")
    critic_features = None
    if discriminator is not None:
        critic_features = _feature_model(discriminator, "trunk_features", "discriminator")
    conditional = len(mapping.inputs) == 2
    num_classes = None
    if conditional:
        num_classes = next(
            int(layer.num_classes) for layer in mapping._flatten_layers(include_self=False)
            if isinstance(getattr(layer, "num_classes", None), (int, np.integer))
        )
    dataset, batches_per_epoch = _training_batches(data, None, batch_size=batch_size, conditional=False, seed=seed)
    if steps is None and dataset.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise ValueError("`data` is an infinite dataset: pass `steps`. Received: steps=None")
    filter_size = int(min(11, image_shape[0], image_shape[1]))
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    optimizer.build(encoder.trainable_variables)

    def render(w):
        return synthesis_features(tf.repeat(w[:, None, :], num_ws, axis=1), training=False)

    def image_terms(images, reconstructions):
        l2 = tf.reduce_mean(tf.square(images - reconstructions))
        return l2, _ssim_loss(images, reconstructions, filter_size)

    def apply(loss, tape):
        gradients = tape.gradient(loss, encoder.trainable_variables)
        optimizer.apply_gradients(zip(gradients, encoder.trainable_variables))

    @tf.function(reduce_retracing=True)
    def synthetic_step(latents, labels):
        inputs = [latents, labels] if conditional else latents
        w = mapping(inputs, training=False)
        features, images = render(w)
        with tf.GradientTape() as tape:
            encoded = encoder(images, training=True)
            encoded_features, reconstructions = render(encoded)
            code = tf.reduce_mean(tf.abs(w - encoded))
            l2, ssim = image_terms(images, reconstructions)
            content = _content(features, encoded_features)
            loss = (weights["code_weight"] * code + weights["l2_weight"] * l2 + weights["ssim_weight"] * ssim
                    + weights["content_weight"] * content)
        apply(loss, tape)
        return code, l2, ssim, content

    @tf.function(reduce_retracing=True)
    def real_step(images):
        images = tf.cast(images, tf.float32)
        with tf.GradientTape() as tape:
            _, reconstructions = render(encoder(images, training=True))
            l2, ssim = image_terms(images, reconstructions)
            if critic_features is not None:
                content = _content(critic_features(images, training=False)[0],
                                   critic_features(reconstructions, training=False)[0])
            else:
                content = _content(encoder_features(images, training=True)[0],
                                   encoder_features(reconstructions, training=True)[0])
            loss = weights["l2_weight"] * l2 + weights["ssim_weight"] * ssim + weights["content_weight"] * content
        apply(loss, tape)
        return l2, ssim, content

    rng = np.random.default_rng(seed)
    history = {"step": [], **{name: [] for name in _HISTORY}}
    target = steps if steps is not None else (epochs * batches_per_epoch if batches_per_epoch else None)
    progress = keras.utils.Progbar(target, verbose=verbose, stateful_metrics=list(_HISTORY))
    step = epoch = 0
    with fixed_noise(generator, noise_mode):
        while (steps is not None and step < steps) or (steps is None and epoch < epochs):
            seen = 0
            for images, _ in dataset:
                if steps is not None and step >= steps:
                    break
                seen += 1
                count = int(images.shape[0])
                latents = sample_latent(count, latent_dim, distribution=latent_distribution,
                                        seed=int(rng.integers(2**31)))
                labels = tf.constant(rng.integers(0, num_classes, count).astype(np.int32)) if conditional else None
                synthetic = synthetic_step(tf.constant(latents), labels)
                real = real_step(images)
                step += 1
                values = dict(zip(_HISTORY, [float(v) for v in (*synthetic, *real)]))
                _record_step(history, progress, step, values)
            if seen == 0:
                raise ValueError("`data` yielded no batches. Received: an empty dataset")
            epoch += 1
    return EncoderTrainingResult(encoder=encoder, history=history)
