"""Differentiable augmentation of the discriminator's inputs (DiffAugment, Zhao et al. 2020).

The same random transformations are applied to real and generated images before the
discriminator, and gradients flow through them to the generator. Policies: ``"color"``
(brightness, saturation, contrast), ``"translation"`` (shift by up to 1/8 of the size, zero-padded)
and ``"cutout"`` (a zeroed square of half the size). Randomness comes from stateless TensorFlow ops
driven by a ``seed`` tensor, so a step is reproducible; parameters are drawn for the *global* batch
and sliced at ``batch_offset``, so a batch split over replicas is augmented exactly as on one
device.
"""

import tensorflow as tf

from ganaug.models.prior import RNG_ALG as _RNG_ALG

POLICIES = ("color", "translation", "cutout")


def parse_policy(policy):
    """Returns ``policy`` as a tuple of names from ``POLICIES``.

    Args:
        policy: None, a comma-separated string (``"color,translation,cutout"``) or a sequence.

    Returns:
        A tuple (empty for None).

    Raises:
        ValueError: if a name is unknown.
    """
    if policy is None:
        return ()
    names = policy.split(",") if isinstance(policy, str) else list(policy)
    names = tuple(name.strip() for name in names if name.strip())
    for name in names:
        if name not in POLICIES:
            raise ValueError(f"`diffaugment` must name policies among {POLICIES}. Received: diffaugment={policy!r}")
    return names


def _slice(values, batch_offset, batch_size):
    return values[batch_offset : batch_offset + batch_size]


def _uniform(shape, seed, index):
    return tf.random.stateless_uniform(
        shape, seed=tf.random.experimental.stateless_fold_in(seed, index), alg=_RNG_ALG
    )


def diff_augment(images, *, policy=POLICIES, seed, batch_offset=0, global_batch_size=None):
    """Returns ``images`` transformed by the differentiable augmentations of ``policy``.

    Args:
        images: ``(n, H, W, C)`` float batch in [-1, 1] (this replica's part of the global batch).
        policy: names from ``POLICIES`` (or a comma-separated string).
        seed: int ``(2,)`` seed tensor for the stateless random ops.
        batch_offset: index of ``images[0]`` in the global batch.
        global_batch_size: size of the global batch (defaults to ``n``).

    Returns:
        The augmented batch, same shape and dtype.
    """
    policy = parse_policy(policy)
    images = tf.convert_to_tensor(images)
    dtype = images.dtype
    x = tf.cast(images, tf.float32)
    local = tf.shape(x)[0]
    total = local if global_batch_size is None else tf.cast(global_batch_size, tf.int32)
    offset = tf.cast(batch_offset, tf.int32)
    seed = tf.cast(seed, tf.int64)
    for index, name in enumerate(policy):
        stage_seed = tf.random.experimental.stateless_fold_in(seed, index)
        if name == "color":
            x = _color(x, stage_seed, offset, local, total)
        elif name == "translation":
            x = _translation(x, stage_seed, offset, local, total)
        else:
            x = _cutout(x, stage_seed, offset, local, total)
    return tf.cast(x, dtype)


def _color(x, seed, offset, local, total):
    brightness = _slice(_uniform([total, 1, 1, 1], seed, 0) - 0.5, offset, local)
    x = x + brightness
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    saturation = _slice(_uniform([total, 1, 1, 1], seed, 1) * 2.0, offset, local)
    x = (x - mean) * saturation + mean
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    contrast = _slice(_uniform([total, 1, 1, 1], seed, 2) + 0.5, offset, local)
    return (x - mean) * contrast + mean


def _translation(x, seed, offset, local, total, ratio=0.125):
    height, width = tf.shape(x)[1], tf.shape(x)[2]
    shift_h = tf.cast(tf.cast(height, tf.float32) * ratio + 0.5, tf.int32)
    shift_w = tf.cast(tf.cast(width, tf.float32) * ratio + 0.5, tf.int32)

    def draw(shift, index):
        values = _uniform([total], seed, index) * tf.cast(2 * shift + 1, tf.float32)
        return _slice(tf.cast(tf.floor(values), tf.int32) - shift, offset, local)

    dy, dx = draw(shift_h, 0), draw(shift_w, 1)
    rows = tf.range(height)[None, :] + dy[:, None]  # (n, H): source row of each output row
    cols = tf.range(width)[None, :] + dx[:, None]
    row_valid = tf.cast((rows >= 0) & (rows < height), x.dtype)
    col_valid = tf.cast((cols >= 0) & (cols < width), x.dtype)
    x = tf.gather(x, tf.clip_by_value(rows, 0, height - 1), axis=1, batch_dims=1)
    x = tf.gather(x, tf.clip_by_value(cols, 0, width - 1), axis=2, batch_dims=1)
    return x * row_valid[:, :, None, None] * col_valid[:, None, :, None]


def _cutout(x, seed, offset, local, total, ratio=0.5):
    height, width = tf.shape(x)[1], tf.shape(x)[2]
    size_h = tf.cast(tf.cast(height, tf.float32) * ratio + 0.5, tf.int32)
    size_w = tf.cast(tf.cast(width, tf.float32) * ratio + 0.5, tf.int32)
    top = _slice(tf.cast(_uniform([total], seed, 0) * tf.cast(height, tf.float32), tf.int32), offset, local)
    left = _slice(tf.cast(_uniform([total], seed, 1) * tf.cast(width, tf.float32), tf.int32), offset, local)
    rows = tf.range(height)[None, :] - (top[:, None] - size_h // 2)
    cols = tf.range(width)[None, :] - (left[:, None] - size_w // 2)
    inside_rows = (rows >= 0) & (rows < size_h)
    inside_cols = (cols >= 0) & (cols < size_w)
    inside = inside_rows[:, :, None] & inside_cols[:, None, :]
    return x * (1.0 - tf.cast(inside, x.dtype))[..., None]
