"""The image-to-latent encoder: a network E with G(E(x)) ~ x, trained against a frozen generator.

Klang & Carlberg (section 4.6, "image-to-latent network") give E the discriminator's architecture
with a linear latent output and train it with an L1 loss between a real image x and G(E(x)), the
generator frozen, Adam with learning rate 1e-5. ``mode="cyclic"`` adds a synthetic pass in the
manner of the Cyclic Reverse Generator (Dogan & Keles 2020) that Saboo et al. build on: for z from
the prior, an L1 loss on the code |z - E(G(z))| plus an L1 image loss between G(z) and
G(E(G(z))), alternating one synthetic and one real (L1) update per iteration.

That is a simplified cyclic encoder, not Saboo et al.'s: their losses are L1 on the code plus L2 +
SSIM + a content (feature) loss on the images, with the generator's features in the synthetic pass
and the encoder's in the real one. That full loss is ``ganaug.latent.train_w_encoder`` (into
StyleGAN's W, where Saboo et al. use it); here the losses are L1 only, for any generator (DCGAN,
cDCGAN, AC-GAN) in z.

Once trained, ``encode`` maps images to codes in one forward pass (orders of magnitude faster than
reverse search) and its codes can seed ``invert_images(..., initial_codes=encode(...))``.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from ganaug.latent.inversion import (
    check_generator,
    check_images,
    check_labels,
    check_positive_integer,
    check_positive_number,
    generate_images,
    generator_image_shape,
    latent_dim_of,
    is_conditional,
)
from ganaug.models.prior import sample_latent, validate_distribution

MODES = ("image", "cyclic")


@dataclasses.dataclass
class EncoderTrainingResult:
    """The trained encoder and its loss history.

    Attributes:
        encoder: the trained ``keras.Model`` (image -> code).
        history: dict of lists, one value per step: ``"step"``, ``"image_loss"`` (L1 between real
            x and G(E(x))) and, for ``mode="cyclic"``, ``"code_loss"`` (|z - E(G(z))|) and
            ``"synthetic_image_loss"`` (L1 between G(z) and G(E(G(z)))).
    """

    encoder: keras.Model
    history: dict


def _element_parts(element):
    if isinstance(element, dict):
        images = element.get("images", element.get("image"))
        return images, element.get("labels", element.get("label"))
    if isinstance(element, (tuple, list)):
        return element[0], (element[1] if len(element) > 1 else None)
    return element, None


def _training_batches(data, labels, *, batch_size, conditional, seed):
    """Returns ``(dataset, batches_per_epoch)``: a tf.data.Dataset of ``(images, labels)`` batches."""
    batches_per_epoch = None
    if hasattr(data, "as_tf_dataset") and not isinstance(data, tf.data.Dataset):
        if hasattr(data, "__len__"):
            batches_per_epoch = len(data)
        data = data.as_tf_dataset()
    if isinstance(data, tf.data.Dataset):
        if labels is not None:
            raise ValueError(
                "`labels` are only used with a numpy array of images; a dataset carries its own "
                f"labels. Received: labels={type(labels).__name__}"
            )
        spec_images, spec_labels = _element_parts(data.element_spec)
        if spec_images.shape.rank == 3:
            data = data.batch(batch_size)
        elif spec_images.shape.rank != 4:
            raise ValueError(
                "`data` must yield image batches (N, H, W, C) or (images, labels). "
                f"Received: data.element_spec={data.element_spec}"
            )
        if conditional and spec_labels is None:
            raise ValueError(
                "The generator is conditional: `data` must yield (images, labels). "
                f"Received: data.element_spec={data.element_spec}"
            )

        def to_pair(*element):
            images, batch_labels = _element_parts(element[0] if len(element) == 1 else element)
            images = tf.cast(images, tf.float32)
            if batch_labels is None or not conditional:
                batch_labels = tf.zeros((tf.shape(images)[0],), tf.int32)
            return images, tf.cast(tf.reshape(batch_labels, (-1,)), tf.int32)

        data = data.map(to_pair)
        if batches_per_epoch is not None:
            data = data.take(batches_per_epoch)
        return data, batches_per_epoch
    if isinstance(data, np.ndarray):
        images = data.astype(np.float32)
        if conditional:
            if labels is None:
                raise ValueError(
                    "The generator is conditional: pass `labels` with a numpy array of images. "
                    "Received: labels=None"
                )
            labels = np.asarray(labels).reshape(-1).astype(np.int32)
            if len(labels) != len(images):
                raise ValueError(
                    f"`labels` must have one label per image ({len(images)}). Received: labels.shape={labels.shape}"
                )
        else:
            labels = np.zeros((len(images),), np.int32)
        dataset = tf.data.Dataset.from_tensor_slices((images, labels))
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size), -(-len(images) // batch_size)
    raise TypeError(
        "`data` must be a tf.data.Dataset, a numpy array of images or an ImageReader. "
        f"Received: data={type(data).__name__}"
    )


def _default_encoder(generator):
    from ganaug.models import build_encoder

    height, _, channels = generator_image_shape(generator)
    return build_encoder(image_size=height, channels=channels, latent_dim=latent_dim_of(generator))


def train_encoder(
    generator,
    data,
    labels=None,
    *,
    encoder=None,
    mode="image",
    steps=None,
    epochs=1,
    learning_rate=1e-5,
    batch_size=32,
    latent_distribution="normal",
    code_loss_weight=1.0,
    seed=0,
    verbose=1,
):
    """Trains an image-to-latent encoder E so that G(E(x)) reproduces x, the generator frozen.

    ``mode="image"`` is Klang & Carlberg's image-to-latent network: L1 between x and G(E(x)), Adam
    with learning rate 1e-5 (the thesis's value; raise it for short runs). ``mode="cyclic"`` is a
    simplified cyclic training after the Cyclic Reverse Generator (Dogan & Keles 2020): every
    iteration first makes a synthetic update with ``code_loss_weight * |z - E(G(z))| + |G(z) -
    G(E(G(z)))|`` (z drawn from the prior), then the real-image L1 update. L1 terms only: Saboo et
    al.'s L2 + SSIM + content losses are in ``train_w_encoder`` (StyleGAN, W space). For a conditional generator the encoder maps an image to z only and the
    image's label is used in G(E(x), y); the synthetic pass uses the batch's labels, shuffled.

    Args:
        generator: the trained generator; run with ``training=False`` and never updated.
        data: a tf.data.Dataset of image batches or of ``(images, labels)`` batches (unbatched
            elements are batched with ``batch_size``), a float32 numpy array of images in [-1, 1],
            or an ``ImageReader`` (its ``as_tf_dataset()``, ``len(reader)`` batches per epoch).
        labels: int labels for a numpy ``data`` (conditional generators only).
        encoder: the model to train (image -> ``(N, latent_dim)``); None builds one with
            ``ganaug.models.build_encoder`` matching the generator's image size, channels and
            latent_dim.
        mode: ``"image"`` or ``"cyclic"``.
        steps: number of iterations; when None, ``epochs`` passes over ``data``.
        epochs: passes over ``data`` when ``steps`` is None.
        learning_rate: Adam learning rate (thesis: 1e-5).
        batch_size: batch size for numpy data and for the synthetic pass.
        latent_distribution: the generator's prior (for the synthetic pass).
        code_loss_weight: weight of the code loss in the synthetic pass.
        seed: seed for shuffling numpy data and the synthetic codes.
        verbose: 0 silent, 1 progress bar, 2 one line at the end.

    Returns:
        ``EncoderTrainingResult(encoder, history)``.

    Raises:
        TypeError: for a bad ``generator``, ``encoder`` or ``data`` type.
        ValueError: for an unknown ``mode``/``latent_distribution``, bad step counts or rates, an
            encoder whose input/output does not match the generator, or missing labels.
    """
    check_generator(generator)
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
    if steps is not None:
        steps = check_positive_integer(steps, "steps")
    epochs = check_positive_integer(epochs, "epochs")
    learning_rate = check_positive_number(learning_rate, "learning_rate")
    batch_size = check_positive_integer(batch_size, "batch_size")
    code_loss_weight = float(code_loss_weight)
    if code_loss_weight < 0:
        raise ValueError(f"`code_loss_weight` must be >= 0. Received: code_loss_weight={code_loss_weight}")
    validate_distribution(latent_distribution)
    if verbose not in (0, 1, 2):
        raise ValueError(f"`verbose` must be 0, 1 or 2. Received: verbose={verbose!r}")
    latent_dim = latent_dim_of(generator)
    image_shape = generator_image_shape(generator)
    if encoder is None:
        encoder = _default_encoder(generator)
    if not isinstance(encoder, keras.Model):
        raise TypeError(f"`encoder` must be a keras.Model or None. Received: encoder={type(encoder).__name__}")
    if tuple(encoder.inputs[0].shape[1:]) != image_shape or encoder.outputs[0].shape[-1] != latent_dim:
        raise ValueError(
            f"`encoder` must map images {image_shape} to codes of length {latent_dim}. Received: "
            f"encoder input {tuple(encoder.inputs[0].shape[1:])}, output {tuple(encoder.outputs[0].shape[1:])}"
        )
    conditional = is_conditional(generator)
    dataset, batches_per_epoch = _training_batches(
        data, labels, batch_size=batch_size, conditional=conditional, seed=seed
    )
    if steps is None and dataset.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise ValueError("`data` is an infinite dataset: pass `steps`. Received: steps=None")

    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    optimizer.build(encoder.trainable_variables)

    def generate(codes, batch_labels):
        inputs = [codes, batch_labels] if conditional else codes
        return generator(inputs, training=False)

    def apply(loss, tape):
        gradients = tape.gradient(loss, encoder.trainable_variables)
        optimizer.apply_gradients(zip(gradients, encoder.trainable_variables))

    @tf.function(reduce_retracing=True)
    def real_step(images, batch_labels):
        with tf.GradientTape() as tape:
            reconstructions = generate(encoder(images, training=True), batch_labels)
            loss = tf.reduce_mean(tf.abs(images - reconstructions))
        apply(loss, tape)
        return loss

    @tf.function(reduce_retracing=True)
    def synthetic_step(codes, batch_labels):
        synthetic = tf.stop_gradient(generate(codes, batch_labels))
        with tf.GradientTape() as tape:
            encoded = encoder(synthetic, training=True)
            code_loss = tf.reduce_mean(tf.abs(codes - encoded))
            image_loss = tf.reduce_mean(tf.abs(synthetic - generate(encoded, batch_labels)))
            loss = code_loss_weight * code_loss + image_loss
        apply(loss, tape)
        return code_loss, image_loss

    rng = np.random.default_rng(seed)
    history = {"step": [], "image_loss": []}
    if mode == "cyclic":
        history.update({"code_loss": [], "synthetic_image_loss": []})
    target = steps if steps is not None else (epochs * batches_per_epoch if batches_per_epoch else None)
    progress = keras.utils.Progbar(target, verbose=verbose, stateful_metrics=list(history))
    step = 0
    epoch = 0
    while (steps is not None and step < steps) or (steps is None and epoch < epochs):
        seen = 0
        for images, batch_labels in dataset:
            if steps is not None and step >= steps:
                break
            seen += 1
            values = {}
            if mode == "cyclic":
                count = int(images.shape[0])
                codes = sample_latent(
                    count, latent_dim, distribution=latent_distribution, seed=int(rng.integers(2**31))
                )
                synthetic_labels = tf.constant(rng.permutation(batch_labels.numpy()))
                code_loss, synthetic_image_loss = synthetic_step(tf.constant(codes), synthetic_labels)
                values["code_loss"] = float(code_loss)
                values["synthetic_image_loss"] = float(synthetic_image_loss)
            values["image_loss"] = float(real_step(images, batch_labels))
            step += 1
            _record_step(history, progress, step, values)
        if seen == 0:
            raise ValueError("`data` yielded no batches. Received: an empty dataset")
        epoch += 1
    return EncoderTrainingResult(encoder=encoder, history=history)


def _record_step(history, progress, step, values):
    """Appends one training step's ``values`` to ``history`` and to the progress bar."""
    history["step"].append(step)
    for name, value in values.items():
        history[name].append(value)
    progress.update(step, values=list(values.items()))


def encode(encoder, images, *, batch_size=64):
    """Returns the encoder's codes for ``images`` (one forward pass per batch, inference mode).

    Args:
        encoder: an image -> code ``keras.Model`` (e.g. from ``train_encoder``).
        images: float32 ``(N, H, W, C)`` in [-1, 1].
        batch_size: images per forward pass.

    Returns:
        float32 ``(N, latent_dim)`` codes.

    Raises:
        TypeError: if ``encoder`` is not a keras.Model.
        ValueError: for images that do not match the encoder's input or a bad ``batch_size``.
    """
    if not isinstance(encoder, keras.Model):
        raise TypeError(f"`encoder` must be a keras.Model. Received: encoder={type(encoder).__name__}")
    batch_size = check_positive_integer(batch_size, "batch_size")
    images = np.asarray(images, dtype=np.float32)
    expected = tuple(encoder.inputs[0].shape[1:])
    if images.ndim != 4 or tuple(images.shape[1:]) != expected:
        raise ValueError(
            f"`images` must have shape (N, {', '.join(map(str, expected))}) like the encoder's input. "
            f"Received: images.shape={images.shape}"
        )
    codes = [
        keras.ops.convert_to_numpy(encoder(images[start : start + batch_size], training=False))
        for start in range(0, len(images), batch_size)
    ]
    if not codes:
        return np.zeros((0, int(encoder.outputs[0].shape[-1])), np.float32)
    return np.concatenate(codes).astype(np.float32)


def reconstruct(generator, encoder, images, labels=None, *, batch_size=64):
    """Returns ``G(E(images))`` (``G(E(x), y)`` for a conditional generator).

    Args:
        generator: the generator.
        encoder: the image -> code model.
        images: float32 ``(N, H, W, C)`` in [-1, 1].
        labels: int labels for a conditional generator, else None.
        batch_size: images per forward pass.

    Returns:
        float32 ``(N, H, W, C)`` reconstructions in [-1, 1].

    Raises:
        ValueError: as ``encode`` and ``generate_images``.
    """
    check_generator(generator)
    images = check_images(generator, images)
    labels = check_labels(generator, labels, len(images))
    codes = encode(encoder, images, batch_size=batch_size)
    return generate_images(generator, codes, labels, batch_size=batch_size)
