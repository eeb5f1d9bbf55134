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


def write_generated_pairs(generator, masks, out_dir, *, per_mask=1, seed=0, region_names=None, source_paths=None,
                          overwrite=False):
    """Generates ``per_mask`` images per mask and writes them as a paired data set.

    Layout (readable by ``data_readers.masks.PairedReader``): ``image_<i>.png``,
    ``masks/mask_<i>.png`` (the input mask, one-channel label indices), ``manifest.csv`` with
    ``path, mask, source_mask, seed, style`` and ``dataset.json`` with the ``region_names``.

    Args:
        generator: a trained ``build_spade_generator`` model.
        masks: integer label maps ``(N, S, S)``.
        out_dir: the folder to write (must be empty or missing unless ``overwrite``).
        per_mask: styles (codes) per mask.
        seed: seed of the codes.
        region_names: names of the labels (``"0", "1", ...`` when None).
        source_paths: optional path of each input mask, recorded in the manifest.
        overwrite: replace the files of an earlier call.

    Returns:
        The number of images written.

    Raises:
        FileExistsError: if ``out_dir`` is not empty and ``overwrite`` is False.
    """
    import csv
    import json
    import os

    from data_readers.synthetic import write_png

    if os.path.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        raise FileExistsError(f"Output folder is not empty (pass --overwrite to replace it): {out_dir}")
    images, repeated = generate_from_masks(generator, masks, per_mask=per_mask, seed=seed)
    if overwrite and os.path.isdir(out_dir):  # the files of an earlier call, and only those
        import shutil

        shutil.rmtree(os.path.join(out_dir, "masks"), ignore_errors=True)
        for name in os.listdir(out_dir):
            if (name.startswith("image_") and name.endswith(".png")) or name in ("manifest.csv", "dataset.json"):
                os.remove(os.path.join(out_dir, name))
    os.makedirs(os.path.join(out_dir, "masks"), exist_ok=True)
    pixels = np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)
    rows = []
    for index, (image, mask) in enumerate(zip(pixels, repeated)):
        name, mask_name = f"image_{index:05d}.png", f"masks/mask_{index:05d}.png"
        write_png(os.path.join(out_dir, name), image)
        write_png(os.path.join(out_dir, *mask_name.split("/")), mask.astype(np.uint8))
        source = source_paths[index // per_mask] if source_paths is not None else ""
        rows.append([name, mask_name, source, seed, index % per_mask])
    with open(os.path.join(out_dir, "manifest.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "mask", "source_mask", "seed", "style"])
        writer.writerows(rows)
    num_labels = int(spade_decoder_of(generator).get_layer("mask_one_hot").num_labels)
    names = list(region_names) if region_names else [str(i) for i in range(num_labels)]
    with open(os.path.join(out_dir, "dataset.json"), "w") as handle:
        json.dump({"name": "SPADE-generated pairs", "region_names": names, "num_images": len(rows),
                   "per_mask": per_mask, "seed": seed}, handle, indent=2)
    return len(rows)


def triplet_grid(generator, masks, real_images, *, num_labels, per_mask=3, seed=0):
    """Returns a ``uint8`` mosaic: per row a coloured mask, ``per_mask`` images generated from it, the real image.

    Args:
        generator: a trained ``build_spade_generator`` model.
        masks: ``(R, S, S)`` label maps; real_images: their real images, float32 [-1, 1].
        num_labels: labels (for the palette).
        per_mask: generated styles per row.
        seed: seed of the codes.
    """
    generated, _ = generate_from_masks(generator, masks, per_mask=per_mask, seed=seed)
    size = masks.shape[1]
    gap = 2
    columns = 2 + per_mask
    mosaic = np.full((len(masks) * (size + gap) + gap, columns * (size + gap) + gap, 3), 255, np.uint8)
    to_uint8 = lambda x: np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype(np.uint8)  # noqa: E731
    for row, mask in enumerate(masks):
        tiles = [colour_masks(mask, num_labels)] + [to_uint8(g) for g in generated[row * per_mask:(row + 1) * per_mask]]
        tiles.append(to_uint8(real_images[row]))
        top = gap + row * (size + gap)
        for column, tile in enumerate(tiles):
            left = gap + column * (size + gap)
            mosaic[top:top + size, left:left + size] = tile
    return mosaic
