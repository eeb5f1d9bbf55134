"""Training and applying a segmenter (SHI-GAN, Falahkheirkhah et al., section 2.6).

Softmax cross-entropy, Adam with the learning rate multiplied by 0.95 every 1,000 iterations (the
paper: from 1e-4 over 100,000 iterations; here 1e-3 by default, assumed for runs of a few hundred
steps), random horizontal/vertical flips of image and mask together (the paper crops at random).
"""

import numbers

import keras
import numpy as np
import tensorflow as tf

from ganaug.segmentation.models import build_segmentation_model


def _check_pairs(images, masks):
    images = np.asarray(images, np.float32)
    masks = np.asarray(masks)
    if images.ndim != 4 or masks.shape != images.shape[:3]:
        raise ValueError(
            f"images must be (N, H, W, C) and masks (N, H, W). Received: images.shape={images.shape}, masks.shape={masks.shape}"
        )
    return images, masks.astype(np.int32)


def train_segmenter(
    images, masks, *, num_labels, architecture="unet_small", steps=300, batch_size=16, learning_rate=1e-3,
    learning_rate_decay=0.95, decay_steps=1000, filters=16, flips=True, seed=0, verbose=0,
):
    """Trains ``build_segmentation_model(architecture, num_labels, image_size)`` on image/mask pairs.

    Args:
        images: float32 ``(N, S, S, C)`` in [-1, 1]; masks: integer ``(N, S, S)`` label maps.
        num_labels: number of classes.
        architecture: see ``build_segmentation_model``.
        steps: optimizer steps.
        batch_size: pairs per step.
        learning_rate, learning_rate_decay, decay_steps: Adam's schedule (staircase decay).
        filters: width of the network.
        flips: random flips of image and mask together.
        seed: seed of the weights and of the data order.
        verbose: Keras ``fit`` verbosity.

    Returns:
        The trained ``keras.Model`` (logits).

    Raises:
        ValueError: for bad arguments.
    """
    images, masks = _check_pairs(images, masks)
    for name, value in (("steps", steps), ("batch_size", batch_size), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < (0 if name == "seed" else 1):
            raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    keras.utils.set_random_seed(seed)
    model = build_segmentation_model(architecture, num_labels, images.shape[1], channels=images.shape[-1], filters=filters)
    schedule = keras.optimizers.schedules.ExponentialDecay(learning_rate, decay_steps, learning_rate_decay, staircase=True)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    dataset = tf.data.Dataset.from_tensor_slices((images, masks)).shuffle(len(images), seed=seed).repeat()

    def flip(image, mask):
        draw = tf.random.stateless_uniform([2], seed=tf.stack([tf.cast(seed, tf.int64), tf.cast(tf.reduce_sum(mask), tf.int64)]))
        mask = mask[..., None]
        if flips:
            image = tf.where(draw[0] < 0.5, tf.reverse(image, [1]), image)
            mask = tf.where(draw[0] < 0.5, tf.reverse(mask, [1]), mask)
            image = tf.where(draw[1] < 0.5, tf.reverse(image, [0]), image)
            mask = tf.where(draw[1] < 0.5, tf.reverse(mask, [0]), mask)
        return image, mask[..., 0]

    dataset = dataset.map(flip).batch(batch_size, drop_remainder=True).prefetch(2)
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=verbose)
    return model


def predict_masks(model, images, *, batch_size=64):
    """Returns the predicted label maps ``(N, S, S)`` int32 (argmax of the logits, inference mode)."""
    images = np.asarray(images, np.float32)
    outputs = []
    for start in range(0, len(images), batch_size):
        logits = model(images[start : start + batch_size], training=False)
        outputs.append(np.argmax(np.asarray(logits), axis=-1).astype(np.int32))
    return np.concatenate(outputs)
