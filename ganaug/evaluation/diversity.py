"""Diversity and mode collapse, class by class.

A collapsed generator draws (nearly) the same image for many latent codes; Klang & Carlberg's
AC-GAN collapsed on class 0 of the CellaVision data. Per class, ganaug compares the mean pairwise
feature distance of generated samples with that of real samples of the class (ratio 1: as diverse
as the real data; ratio 0: one image), and counts near-duplicate generated pairs: pairs closer
than a low quantile of the real samples' nearest-neighbour distances. A class whose ratio falls
below ``collapse_threshold`` (0.5) is flagged as collapsed.
"""

import numpy as np

from ganaug.evaluation.distribution import _check_features


def _subsample(features, max_samples, rng):
    if len(features) > max_samples:
        return features[rng.choice(len(features), max_samples, replace=False)]
    return features


def mean_pairwise_distance(features, *, max_samples=2000, seed=0):
    """Returns the mean Euclidean distance over all pairs of rows (a random subset above ``max_samples``).

    Raises:
        ValueError: for fewer than 2 rows.
    """
    from scipy.spatial.distance import pdist

    features = _check_features(features, "features")
    if len(features) < 2:
        raise ValueError(f"`features` needs at least 2 rows. Received: features.shape={features.shape}")
    features = _subsample(features, max_samples, np.random.default_rng(seed))
    return float(pdist(features).mean())


def nearest_neighbour_distances(features):
    """Returns, for every row, the distance to its nearest other row (float64 ``(N,)``)."""
    from sklearn.neighbors import NearestNeighbors

    features = _check_features(features, "features")
    if len(features) < 2:
        raise ValueError(f"`features` needs at least 2 rows. Received: features.shape={features.shape}")
    distances, _ = NearestNeighbors(n_neighbors=2).fit(features).kneighbors(features)
    return distances[:, 1]


def diversity_report(
    real_features,
    generated_features,
    *,
    real_labels=None,
    generated_labels=None,
    class_names=None,
    collapse_threshold=0.5,
    duplicate_quantile=0.05,
    max_samples=2000,
    seed=0,
):
    """Returns per-class diversity ratios, near-duplicate fractions and collapse flags.

    Args:
        real_features: ``(N, d)`` features of real images.
        generated_features: ``(M, d)`` features of generated images (same space).
        real_labels, generated_labels: int ``(N,)`` and ``(M,)`` classes; both None for one group
            called ``"all"`` (unconditional generator).
        class_names: names used as keys (default: the class index as a string).
        collapse_threshold: a class with ``diversity_ratio < collapse_threshold`` is collapsed.
        duplicate_quantile: generated pairs closer than this quantile of the real class's
            nearest-neighbour distances count as near-duplicates (by construction about this
            fraction of real samples have such a close neighbour).
        max_samples: per class, at most this many rows enter the pairwise computations.
        seed: seed of the subsampling.

    Returns:
        dict with ``classes``: ``{name: {diversity_ratio, generated_mean_distance,
        real_mean_distance, near_duplicate_fraction, duplicate_threshold, num_real, num_generated,
        collapsed}}`` (classes with fewer than 2 real or generated samples are skipped and listed
        under ``skipped``), ``collapsed_classes`` (list of names) and ``collapse_threshold``.

    Raises:
        ValueError: for bad thresholds or only one of the two label arrays.
    """
    from scipy.spatial.distance import pdist

    if not 0.0 < collapse_threshold <= 1.0:
        raise ValueError(f"`collapse_threshold` must be in (0, 1]. Received: collapse_threshold={collapse_threshold}")
    if not 0.0 < duplicate_quantile < 1.0:
        raise ValueError(f"`duplicate_quantile` must be in (0, 1). Received: duplicate_quantile={duplicate_quantile}")
    if (real_labels is None) != (generated_labels is None):
        raise ValueError(
            "Give both `real_labels` and `generated_labels` or neither. "
            f"Received: real_labels is None={real_labels is None}, generated_labels is None={generated_labels is None}"
        )
    real_features = _check_features(real_features, "real_features")
    generated_features = _check_features(generated_features, "generated_features")
    if real_labels is None:
        groups = {"all": (real_features, generated_features)}
    else:
        real_labels = np.asarray(real_labels).reshape(-1)
        generated_labels = np.asarray(generated_labels).reshape(-1)
        classes = np.union1d(real_labels, generated_labels).astype(int)
        if class_names is not None:
            classes = np.arange(len(class_names))
        names = [str(c) if class_names is None else str(class_names[c]) for c in classes]
        groups = {
            name: (real_features[real_labels == c], generated_features[generated_labels == c])
            for name, c in zip(names, classes)
        }
    rng = np.random.default_rng(seed)
    report, skipped = {}, []
    for name, (real, generated) in groups.items():
        if len(real) < 2 or len(generated) < 2:
            skipped.append(name)
            continue
        real = _subsample(real, max_samples, rng)
        generated = _subsample(generated, max_samples, rng)
        real_mean = float(pdist(real).mean())
        generated_pairs = pdist(generated)
        generated_mean = float(generated_pairs.mean())
        threshold = float(np.quantile(nearest_neighbour_distances(real), duplicate_quantile))
        ratio = generated_mean / real_mean if real_mean > 0 else float("inf")
        report[name] = {
            "diversity_ratio": ratio,
            "generated_mean_distance": generated_mean,
            "real_mean_distance": real_mean,
            "near_duplicate_fraction": float(np.mean(generated_pairs <= threshold)),
            "duplicate_threshold": threshold,
            "num_real": int(len(real)),
            "num_generated": int(len(generated)),
            "collapsed": bool(ratio < collapse_threshold),
        }
    return {
        "classes": report,
        "collapsed_classes": [name for name, entry in report.items() if entry["collapsed"]],
        "skipped": skipped,
        "collapse_threshold": float(collapse_threshold),
    }
