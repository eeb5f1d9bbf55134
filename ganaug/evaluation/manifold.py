"""Fidelity and diversity as separate numbers: precision/recall and density/coverage.

- Precision and recall (Kynkäänniemi et al. 2019, "Improved precision and recall metric for
  assessing generative models"): each set's manifold is the union of balls around its samples with
  radius the distance to the k-th nearest neighbour in the same set. Precision = fraction of
  generated samples inside the real manifold (fidelity); recall = fraction of real samples inside
  the generated manifold (diversity).
- Density and coverage (Naeem et al. 2020, "Reliable fidelity and diversity metrics for generative
  models"): density counts how many real balls contain each generated sample (divided by k; about
  1 when the distributions match, robust to real outliers); coverage = fraction of real samples whose
  ball contains at least one generated sample.

Distances are Euclidean in a feature space (``ganaug.evaluation.features``) and computed in
chunks (``sklearn.metrics.pairwise_distances_chunked``), so memory stays bounded.
"""

import numpy as np

from ganaug.evaluation.distribution import check_feature_pair

WORKING_MEMORY_MB = 256


def _check_k(k, *sets):
    if int(k) != k or k < 1:
        raise ValueError(f"`k` must be a positive integer. Received: k={k}")
    for name, features in sets:
        if len(features) <= k:
            raise ValueError(
                f"`{name}` needs more than k={k} rows for k-nearest-neighbour radii. "
                f"Received: {name}.shape={features.shape}"
            )
    return int(k)


def kth_neighbour_distances(features, *, k=3):
    """Returns, for every row, the distance to its k-th nearest *other* row (the manifold radius).

    Args:
        features: ``(N, d)``, N > k.
        k: which neighbour.

    Returns:
        float64 ``(N,)``.
    """
    from sklearn.metrics import pairwise_distances_chunked

    features = np.asarray(features, np.float64)
    k = _check_k(k, ("features", features))

    def reduce(chunk, start):
        # the row's own zero distance sorts first (duplicates give further zeros, which is correct)
        return np.partition(chunk, k, axis=1)[:, k]

    return np.concatenate(
        list(pairwise_distances_chunked(features, reduce_func=reduce, working_memory=WORKING_MEMORY_MB))
    )


def _ball_counts(queries, centres, radii):
    """Returns, for each query, how many balls (centres, radii) contain it."""
    from sklearn.metrics import pairwise_distances_chunked

    def reduce(chunk, start):
        return (chunk <= radii[None, :]).sum(axis=1)

    return np.concatenate(
        list(pairwise_distances_chunked(queries, centres, reduce_func=reduce, working_memory=WORKING_MEMORY_MB))
    )


def precision_recall(real_features, generated_features, *, k=3):
    """Returns the improved precision and recall of Kynkäänniemi et al. 2019.

    Args:
        real_features: ``(N, d)``.
        generated_features: ``(M, d)`` in the same feature space.
        k: neighbour defining each ball's radius (3 in the paper).

    Returns:
        dict with ``precision`` and ``recall`` in [0, 1] and ``k``.

    Raises:
        ValueError: for mismatched feature sets or sets with at most ``k`` rows.
    """
    real_features, generated_features = check_feature_pair(real_features, generated_features)
    k = _check_k(k, ("real_features", real_features), ("generated_features", generated_features))
    real_radii = kth_neighbour_distances(real_features, k=k)
    generated_radii = kth_neighbour_distances(generated_features, k=k)
    precision = float(np.mean(_ball_counts(generated_features, real_features, real_radii) > 0))
    recall = float(np.mean(_ball_counts(real_features, generated_features, generated_radii) > 0))
    return {"precision": precision, "recall": recall, "k": k}


def density_coverage(real_features, generated_features, *, k=5):
    """Returns the density and coverage of Naeem et al. 2020.

    Args:
        real_features: ``(N, d)``.
        generated_features: ``(M, d)`` in the same feature space.
        k: neighbour defining each real ball's radius (5 in the paper).

    Returns:
        dict with ``density`` (>= 0, about 1 for matching distributions), ``coverage`` in [0, 1]
        and ``k``.

    Raises:
        ValueError: for mismatched feature sets or a real set with at most ``k`` rows.
    """
    from sklearn.metrics import pairwise_distances_chunked

    real_features, generated_features = check_feature_pair(real_features, generated_features, minimum=1)
    k = _check_k(k, ("real_features", real_features))
    real_radii = kth_neighbour_distances(real_features, k=k)
    density = float(_ball_counts(generated_features, real_features, real_radii).sum() / (k * len(generated_features)))
    nearest_generated = np.concatenate(
        list(
            pairwise_distances_chunked(
                real_features, generated_features, reduce_func=lambda chunk, start: chunk.min(axis=1),
                working_memory=WORKING_MEMORY_MB,
            )
        )
    )
    coverage = float(np.mean(nearest_generated <= real_radii))
    return {"density": density, "coverage": coverage, "k": k}


def manifold_metrics(real_features, generated_features, *, precision_recall_k=3, density_coverage_k=5):
    """Returns precision, recall (k=3), density and coverage (k=5) in one dict."""
    pr = precision_recall(real_features, generated_features, k=precision_recall_k)
    dc = density_coverage(real_features, generated_features, k=density_coverage_k)
    return {
        "precision": pr["precision"],
        "recall": pr["recall"],
        "density": dc["density"],
        "coverage": dc["coverage"],
        "precision_recall_k": pr["k"],
        "density_coverage_k": dc["k"],
    }
