"""Sampling images from a trained generator."""

import numpy as np

from ganaug._checks import check_int
from ganaug.models.prior import sample_latent, validate_distribution
from ganaug.models.spec import GeneratorSpec


def is_conditional(generator):
    """Returns True if ``generator`` takes ``[latent, label]`` (``GeneratorSpec.of(generator).conditional``)."""
    return GeneratorSpec.of(generator).conditional


def latent_dim_of(generator):
    """Returns the latent size of ``generator`` (``GeneratorSpec.of(generator).latent_dim``)."""
    return GeneratorSpec.of(generator).latent_dim


def generate_images(
    generator,
    num_images=None,
    labels=None,
    *,
    latent_distribution="normal",
    latents=None,
    seed=0,
    batch_size=64,
):
    """Returns images of a generator, ``G(z [, y])`` in inference mode, batch by batch (float32 in [-1, 1], NHWC).

    The one sampling function of the toolkit. Two ways to call it:

    - from the prior: ``generate_images(generator, 16, latent_distribution="uniform", seed=0)``
      draws ``num_images`` codes (``ganaug.models.prior.sample_latent``);
    - from given codes: ``generate_images(generator, codes, labels)`` (or ``latents=codes``), as
      the latent tools do (Fernández et al. 2021's reverse search, arithmetic, interpolation).

    Args:
        generator: a generator ``keras.Model`` (``ganaug.models.spec.GeneratorSpec``).
        num_images: how many images (an int >= 1); or the latent codes, an ``(N, latent_dim)``
            array (then ``latents`` must be None; N may be 0).
        labels: for a conditional generator: one int class index per image, or a single int for
            all (required; classes are never guessed); None for an unconditional generator.
        latent_distribution: the run's prior (``"normal"`` or ``"uniform"``) when codes are drawn.
        latents: optional ``(num_images, latent_dim)`` codes to use instead of sampling.
        seed: seed of the latent codes; the same seed gives the same images.
        batch_size: images per forward pass.

    Returns:
        float32 array ``(N, H, W, C)``.

    Raises:
        ValueError: for a bad count, codes of the wrong shape or not finite, a bad batch size,
            missing or bad labels, or labels given to an unconditional generator.
    """
    spec = GeneratorSpec.of(generator)
    if np.ndim(num_images) > 0:  # the codes themselves
        if latents is not None:
            raise ValueError(
                "Pass the codes either as the second argument or as `latents`, not both. "
                f"Received: num_images of type {type(num_images).__name__} and latents"
            )
        latents, num_images = num_images, None
    if latents is not None:
        latents = _check_latents(latents, spec.latent_dim, num_images)
        num_images = len(latents)
    else:
        num_images = check_int(num_images, "num_images")
    batch_size = check_int(batch_size, "batch_size")
    validate_distribution(latent_distribution)
    labels = _check_labels(spec, labels, num_images)
    if num_images == 0:
        return np.zeros((0, *spec.image_shape), dtype=np.float32)
    if latents is None:
        latents = sample_latent(num_images, spec.latent_dim, distribution=latent_distribution, seed=seed)
    outputs = []
    for start in range(0, num_images, batch_size):
        stop = min(start + batch_size, num_images)
        inputs = [latents[start:stop], labels[start:stop]] if spec.conditional else latents[start:stop]
        outputs.append(np.asarray(generator(inputs, training=False), dtype=np.float32))
    return np.concatenate(outputs, axis=0)


def _check_latents(latents, latent_dim, num_images):
    latents = np.asarray(latents, np.float32)
    expected = (num_images if num_images is not None else "N", latent_dim)
    if latents.ndim != 2 or latents.shape[1] != latent_dim or (num_images is not None and len(latents) != num_images):
        raise ValueError(
            f"`latents` must have shape ({expected[0]}, {latent_dim}). Received: latents.shape={latents.shape}"
        )
    if not np.all(np.isfinite(latents)):
        raise ValueError("`latents` must be finite. Received: latents with NaN or inf values")
    return latents


def _check_labels(spec, labels, num_images):
    if not spec.conditional:
        if labels is not None:
            raise ValueError(
                f"The generator is unconditional; it takes no labels. Received: labels={_short(labels)}"
            )
        return None
    if labels is None:
        raise ValueError("A conditional generator needs `labels`. Received: labels=None")
    labels = np.asarray(labels)
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"`labels` must be integer class indices. Received: labels.dtype={labels.dtype}")
    labels = labels.astype(np.int32).reshape(-1)
    if labels.size == 1:
        labels = np.full(num_images, labels[0], np.int32)
    if labels.size != num_images or (labels.size and labels.min() < 0):
        raise ValueError(
            f"`labels` must be one non-negative class index per image ({num_images}). "
            f"Received: labels={_short(labels.tolist())}"
        )
    return labels


def _short(value):
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


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
