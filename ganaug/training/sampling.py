"""Sampling images from a trained generator."""

import numpy as np

from ganaug.models.prior import sample_latent, validate_distribution


def is_conditional(generator):
    """Returns True if ``generator`` takes ``[latent, label]`` (two inputs, docs/architecture.md)."""
    return len(generator.inputs) == 2


def latent_dim_of(generator):
    """Returns the latent size read from the generator's first input shape."""
    return int(generator.inputs[0].shape[-1])


def generate_images(
    generator,
    num_images,
    *,
    labels=None,
    latent_distribution="normal",
    latents=None,
    seed=0,
    batch_size=64,
):
    """Returns ``num_images`` images generated from the prior (float32 in [-1, 1], NHWC).

    Args:
        generator: a generator ``keras.Model`` (``latent -> image`` or ``[latent, label] -> image``).
        num_images: how many images.
        labels: for a conditional generator: one int per image, or a single int for all (default:
            classes ``0, 1, ...`` in turn is not guessed; a conditional generator requires labels).
        latent_distribution: the run's prior (``"normal"`` or ``"uniform"``).
        latents: optional ``(num_images, latent_dim)`` codes to use instead of sampling.
        seed: seed of the latent codes; the same seed gives the same images.
        batch_size: images per forward pass.

    Returns:
        float32 array ``(num_images, S, S, C)``.

    Raises:
        ValueError: for a bad count, batch size or labels, or labels given to an unconditional
            generator.
    """
    if isinstance(num_images, bool) or not isinstance(num_images, (int, np.integer)) or num_images < 1:
        raise ValueError(f"`num_images` must be a positive integer. Received: num_images={num_images!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}")
    validate_distribution(latent_distribution)
    conditional = is_conditional(generator)
    if conditional:
        if labels is None:
            raise ValueError("A conditional generator needs `labels`. Received: labels=None")
        labels = np.asarray(labels, dtype=np.int32).reshape(-1)
        if labels.size == 1:
            labels = np.full(num_images, labels[0], np.int32)
        if labels.size != num_images or labels.min() < 0:
            raise ValueError(
                f"`labels` must be one non-negative class index per image ({num_images}). "
                f"Received: labels={labels.tolist()}"
            )
    elif labels is not None:
        raise ValueError(f"The generator is unconditional; it takes no labels. Received: labels={labels!r}")
    latent_dim = latent_dim_of(generator)
    if latents is None:
        latents = sample_latent(num_images, latent_dim, distribution=latent_distribution, seed=seed)
    latents = np.asarray(latents, np.float32)
    if latents.shape != (num_images, latent_dim):
        raise ValueError(
            f"`latents` must have shape ({num_images}, {latent_dim}). Received: latents.shape={latents.shape}"
        )
    outputs = []
    for start in range(0, num_images, batch_size):
        stop = min(start + batch_size, num_images)
        inputs = [latents[start:stop], labels[start:stop]] if conditional else latents[start:stop]
        outputs.append(np.asarray(generator(inputs, training=False), dtype=np.float32))
    return np.concatenate(outputs, axis=0)


def sample_grid_inputs(*, latent_dim, latent_distribution, num_classes=None, columns=8, seed=0):
    """Returns the fixed ``(latents, labels)`` of a training sample grid.

    Unconditional: ``columns * columns`` codes, labels None. Conditional: one row per class, the
    same ``columns`` codes in every row (so a column shows one code across the classes).
    """
    if num_classes:
        codes = sample_latent(columns, latent_dim, distribution=latent_distribution, seed=seed)
        latents = np.tile(codes, (num_classes, 1))
        labels = np.repeat(np.arange(num_classes, dtype=np.int32), columns)
        return latents, labels
    return sample_latent(columns * columns, latent_dim, distribution=latent_distribution, seed=seed), None
