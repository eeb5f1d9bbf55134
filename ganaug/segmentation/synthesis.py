"""Images from masks with a trained SPADE generator (SHI-GAN, Falahkheirkhah et al.).

Every generated image comes with its label map: the mask it was generated from. Several styles per
mask come from several codes z (SHI-GAN's multi-modal synthesis); ``style_walk`` interpolates z at a
fixed mask (the paper's latent interpolation figure).
"""

import numbers

import numpy as np

from ganaug.models.prior import sample_latent
from ganaug.models.spade import spade_decoder_of


def generate_from_masks(generator, masks, *, per_mask=1, seed=0, batch_size=32, latents=None):
    """Returns ``per_mask`` generated images per mask, codes drawn from N(0, I).

    Args:
        generator: a ``build_spade_generator`` model (with or without its encoder: the decoder is used).
        masks: integer label maps ``(N, S, S)``.
        per_mask: images per mask (different codes).
        seed: seed of the codes; the same seed gives the same images.
        batch_size: images per forward pass.
        latents: optional codes ``(N * per_mask, latent_dim)`` instead of drawing them.

    Returns:
        ``(images float32 (N * per_mask, S, S, C) in [-1, 1], masks (N * per_mask, S, S) int32)``,
        mask ``i`` repeated ``per_mask`` times in a row.

    Raises:
        ValueError: for bad arguments.
    """
    if isinstance(per_mask, bool) or not isinstance(per_mask, numbers.Integral) or per_mask < 1:
        raise ValueError(f"`per_mask` must be a positive integer. Received: per_mask={per_mask!r}")
    decoder = spade_decoder_of(generator)
    size = int(decoder.inputs[1].shape[1])
    masks = np.asarray(masks).astype(np.int32)
    if masks.ndim != 3 or masks.shape[1:] != (size, size):
        raise ValueError(f"masks must be (N, {size}, {size}). Received: masks.shape={masks.shape}")
    masks = np.repeat(masks, per_mask, axis=0)
    latent_dim = int(decoder.inputs[0].shape[-1])
    if latents is None:
        latents = sample_latent(len(masks), latent_dim, seed=seed)
    latents = np.asarray(latents, np.float32)
    if latents.shape != (len(masks), latent_dim):
        raise ValueError(f"latents must be ({len(masks)}, {latent_dim}). Received: latents.shape={latents.shape}")
    images = [
        np.asarray(decoder([latents[i : i + batch_size], masks[i : i + batch_size]], training=False), np.float32)
        for i in range(0, len(masks), batch_size)
    ]
    return np.concatenate(images), masks


def style_walk(generator, mask, *, steps=8, seed=0):
    """Returns images of ``z = (1 - t) z1 + t z2`` for ``steps`` values of ``t`` in [0, 1] at a fixed mask.

    Args:
        generator: a ``build_spade_generator`` model.
        mask: one integer label map ``(S, S)``.
        steps: points on the path (>= 2).
        seed: seed of ``z1``, ``z2``.

    Returns:
        float32 ``(steps, S, S, C)``.
    """
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 2:
        raise ValueError(f"`steps` must be an integer >= 2. Received: steps={steps!r}")
    decoder = spade_decoder_of(generator)
    ends = sample_latent(2, int(decoder.inputs[0].shape[-1]), seed=seed)
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    latents = (1.0 - t) * ends[0] + t * ends[1]
    return generate_from_masks(generator, np.asarray(mask)[None], per_mask=steps, latents=latents)[0]


def colour_masks(masks, num_labels):
    """Returns ``uint8`` RGB pictures of label maps (a fixed palette) for figures."""
    palette = np.array(
        [[245, 240, 235], [220, 120, 130], [120, 170, 230], [90, 40, 140], [240, 150, 40],
         [60, 160, 90], [200, 200, 60], [40, 40, 40], [150, 150, 150], [0, 120, 120]], np.uint8
    )
    if num_labels > len(palette):
        palette = np.concatenate([palette, np.random.default_rng(0).integers(0, 255, (num_labels - len(palette), 3), np.uint8)])
    return palette[np.asarray(masks).astype(np.int64)]
