"""Synthetic images written as a data set: folder per class plus a manifest of their provenance.

Three ways to make images of a given class:

- ``"conditional"``: sample z from the prior and run a conditional generator (cDCGAN, Fernández
  et al. 2021; AC-GAN on a frozen backbone, Klang & Carlberg) with the class label;
- ``"perturbation"``: encode a real image of the class and decode a perturbed code,
  ``G(E(x) + eps)``, ``eps ~ N(0, sigma^2 I)`` (Klang & Carlberg, eq. 42; sigma^2 = 0.04);
- ``"interpolation"``: encode two real images of the class and decode a point between their codes,
  ``G(l * E(x1) + (1 - l) * E(x2))`` (Fernández et al. 2021, sec. 3.2.4, eq. 5:
  ``z = l * z1 + (1 - l) * z2``, ``l`` in [0, 1]); the paper interpolates to show a path, not to
  augment, so ``l ~ U[0.25, 0.75]`` (a point well inside the pair, not a near-copy of either end)
  is this toolkit's choice.

The images land in ``out_dir/<class_name>/<method>_<index>.png`` with ``out_dir/manifest.csv``
(``path,label,method,generator,seed,latent_index,source_a,source_b,weight``) and the latent codes
in ``out_dir/latents.npy`` (row ``latent_index``), so every image can be inspected, traced back
and regenerated; the same streaming reader reads them back (``ImageReader.from_csv``).
"""

import csv
import json
import os
import shutil

import numpy as np

from data_readers.decode import to_uint8, write_image
from data_readers.image_reader import read_images
from ganaug.latent.encoder_training import encode
from ganaug.models.spec import GeneratorSpec
from ganaug.training.sampling import generate_images
from ganaug.latent.perturbation import perturb
from ganaug.models.prior import sample_latent, validate_distribution

SYNTHESIS_METHODS = ("conditional", "perturbation", "interpolation")
MANIFEST_COLUMNS = (
    "path", "label", "method", "generator", "seed", "latent_index", "source_a", "source_b", "weight",
)


def synthesize_dataset(
    out_dir,
    budget,
    *,
    generator,
    class_names,
    method="conditional",
    encoder=None,
    real_paths=None,
    real_labels=None,
    latent_distribution="normal",
    sigma=0.2,
    generator_name=None,
    batch_size=64,
    seed=0,
    overwrite=False,
    verbose=1,
):
    """Generates ``budget[k]`` images of every class ``k`` and writes them as a data set.

    Args:
        out_dir: output folder (must be empty or absent unless ``overwrite``).
        budget: list of ints, images per class index (see ``synthesis_budget``).
        generator: a generator per ``docs/architecture.md``. ``"conditional"`` needs a conditional
            one; the other methods accept either (a conditional generator then gets the class).
        class_names: names of the class indices.
        method: ``"conditional"``, ``"perturbation"`` or ``"interpolation"``.
        encoder: the image-to-latent encoder (required for perturbation and interpolation).
        real_paths: image files of the real training data (perturbation, interpolation). Only the
            images picked as sources are read.
        real_labels: their class indices.
        latent_distribution: the generator's prior (conditional method).
        sigma: standard deviation of the perturbation (thesis: sqrt(0.04) = 0.2).
        generator_name: recorded in the manifest (e.g. the run directory).
        batch_size: images per forward pass.
        seed: the same seed gives the same images.
        overwrite: replace an existing ``out_dir``.
        verbose: 0 silent, 1 a progress bar.

    Returns:
        dict with ``manifest`` (path of manifest.csv), ``counts`` (per class), ``method`` and
        ``out_dir``.

    Raises:
        ValueError: for an unknown method, a budget of the wrong length, a class with a budget
            but no real source image, or a missing encoder/labels.
        FileExistsError: if ``out_dir`` holds files and ``overwrite`` is False.
    """
    from tqdm.auto import tqdm

    if method not in SYNTHESIS_METHODS:
        raise ValueError(f"`method` must be one of {SYNTHESIS_METHODS}. Received: method={method!r}")
    class_names = [str(name) for name in class_names]
    budget = [int(b) for b in budget]
    if len(budget) != len(class_names) or min(budget, default=0) < 0:
        raise ValueError(
            f"`budget` must give a non-negative count for each of the {len(class_names)} classes. "
            f"Received: budget={budget}"
        )
    validate_distribution(latent_distribution)
    spec = GeneratorSpec.of(generator)
    if method == "conditional" and not spec.conditional:
        raise ValueError(
            "method='conditional' needs a conditional generator ([latent, label] inputs). "
            f"Received: generator={generator.name} with {len(generator.inputs)} input"
        )
    sources = None
    if method != "conditional":
        if encoder is None:
            raise ValueError(f"method={method!r} needs an `encoder`. Received: encoder=None")
        if real_paths is None or real_labels is None:
            raise ValueError(f"method={method!r} needs `real_paths` and `real_labels`. Received: None")
        real_labels = np.asarray(real_labels, dtype=np.int64)
        sources = {k: np.flatnonzero(real_labels == k) for k in range(len(class_names))}
        for k, count in enumerate(budget):
            needed = 2 if method == "interpolation" else 1
            if count and len(sources[k]) < needed:
                raise ValueError(
                    f"Class {class_names[k]!r} needs at least {needed} real image(s) for "
                    f"method={method!r}. Received: {len(sources[k])} real image(s)"
                )
    out_dir = os.path.abspath(os.fspath(out_dir))
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        if not overwrite:
            raise FileExistsError(f"Output folder is not empty (pass overwrite=True): {out_dir}")
        shutil.rmtree(out_dir)
    os.makedirs(out_dir, exist_ok=True)

    latent_dim, image_shape = spec.latent_dim, spec.image_shape
    rng = np.random.default_rng(seed)
    rows, all_codes = [], []
    progress = tqdm(total=sum(budget), desc=f"synthesising ({method})", disable=not verbose, unit="img")
    for k, count in enumerate(budget):
        if count == 0:
            continue
        os.makedirs(os.path.join(out_dir, class_names[k]), exist_ok=True)
        for start in range(0, count, batch_size):
            n = min(batch_size, count - start)
            batch_seed = int(rng.integers(0, 2**31 - 1))
            source_a = source_b = np.full(n, -1)
            weights = np.full(n, np.nan)
            if method == "conditional":
                codes = sample_latent(n, latent_dim, distribution=latent_distribution, seed=batch_seed)
            else:
                batch_rng = np.random.default_rng(batch_seed)
                source_a = batch_rng.choice(sources[k], size=n, replace=len(sources[k]) < n)
                images_a = _read_sources(real_paths, source_a, image_shape)
                codes_a = encode(encoder, images_a, batch_size=batch_size)
                if method == "perturbation":
                    codes = perturb(codes_a, sigma=sigma, num_per_code=1, seed=batch_seed)
                else:
                    source_b = np.array([batch_rng.choice(sources[k][sources[k] != a]) for a in source_a])
                    codes_b = encode(encoder, _read_sources(real_paths, source_b, image_shape), batch_size=batch_size)
                    weights = batch_rng.uniform(0.25, 0.75, size=n)
                    codes = (weights[:, None] * codes_a + (1 - weights[:, None]) * codes_b).astype(np.float32)
            labels = np.full(n, k, np.int32) if spec.conditional else None
            images = to_uint8(generate_images(generator, codes, labels, batch_size=batch_size))
            for i in range(n):
                index = start + i
                relative = f"{class_names[k]}/{method}_{index:06d}.png"
                write_image(os.path.join(out_dir, relative), images[i])
                rows.append(
                    {
                        "path": relative,
                        "label": class_names[k],
                        "method": method,
                        "generator": generator_name or generator.name,
                        "seed": batch_seed,
                        "latent_index": len(all_codes) + i,
                        "source_a": _source_name(real_paths, source_a[i]),
                        "source_b": _source_name(real_paths, source_b[i]),
                        "weight": "" if np.isnan(weights[i]) else f"{weights[i]:.6f}",
                    }
                )
            all_codes.extend(codes)
            progress.update(n)
    progress.close()
    np.save(os.path.join(out_dir, "latents.npy"), np.asarray(all_codes, np.float32).reshape(-1, latent_dim))
    manifest = os.path.join(out_dir, "manifest.csv")
    with open(manifest, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    summary = {
        "out_dir": out_dir,
        "manifest": manifest,
        "method": method,
        "class_names": class_names,
        "counts": budget,
        "generator": generator_name or generator.name,
        "seed": seed,
        "sigma": sigma if method == "perturbation" else None,
    }
    with open(os.path.join(out_dir, "synthesis.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return summary


def synthesis_sources(manifest):
    """Returns the real files a synthetic data set was made from (its manifest's ``source_a``/``source_b``).

    The augmentation experiment checks them against the test part (``check_no_test_leak``): an
    image encoded from a test image and decoded (perturbation, interpolation) carries that test
    image into training.

    Args:
        manifest: path of the ``manifest.csv`` written by ``synthesize_dataset``.

    Returns:
        list of distinct source paths, in manifest order (empty for the ``"conditional"`` method).

    Raises:
        FileNotFoundError: if ``manifest`` does not exist.
    """
    manifest = os.fspath(manifest)
    if not os.path.isfile(manifest):
        raise FileNotFoundError(f"No synthesis manifest at {manifest}")
    with open(manifest, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return list(dict.fromkeys(row[column] for row in rows for column in ("source_a", "source_b") if row.get(column)))


def _read_sources(real_paths, indices, image_shape):
    height, width, channels = image_shape
    return read_images([real_paths[i] for i in indices], image_size=(height, width), channels=channels)


def _source_name(real_paths, index):
    return "" if index < 0 else os.fspath(real_paths[index])
