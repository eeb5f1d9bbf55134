"""Memorisation check: does the generator reproduce its training images?

For every generated image, the nearest real *training* image is found in a feature space and in
pixel space (L2 on images downsampled by area averaging, which ignores sub-pixel noise). The
distances are reported as a distribution and relative to the real-to-real nearest-neighbour
distance (each training image to its nearest other training image): a ratio near 0 means a
generated image is closer to a training image than training images are to each other, i.e. a
likely copy. Medical images carry patient data, so a copying generator cannot be shared either
(the motivation of Fernández et al. 2021, section 4.1.2). The closest pairs are shown in a figure.
"""

import numpy as np

from ganaug.evaluation.distribution import check_feature_pair
from ganaug.evaluation.diversity import nearest_neighbour_distances

QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5)


def downsampled_pixels(images, *, size=16):
    """Returns images resized to ``size x size`` by area averaging, flattened to ``(N, size*size*C)``.

    Args:
        images: float ``(N, H, W, C)`` in [-1, 1].
        size: target side in pixels (no resize if the images are already that small).

    Returns:
        float64 ``(N, size * size * C)``.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"`images` must have shape (N, H, W, C). Received: images.shape={images.shape}")
    if int(size) != size or size < 1:
        raise ValueError(f"`size` must be a positive integer. Received: size={size}")
    if images.shape[1] != size or images.shape[2] != size:
        import tensorflow as tf

        images = tf.image.resize(images, (int(size), int(size)), method="area").numpy()
    return images.reshape(len(images), -1).astype(np.float64)


def nearest_real(generated_features, real_features):
    """Returns ``(indices, distances)``: for every generated row its nearest real row (Euclidean)."""
    from sklearn.neighbors import NearestNeighbors

    real_features, generated_features = check_feature_pair(real_features, generated_features, minimum=1)
    distances, indices = NearestNeighbors(n_neighbors=1).fit(real_features).kneighbors(generated_features)
    return indices[:, 0], distances[:, 0]


def _space_report(generated, real, copy_ratio_threshold):
    indices, distances = nearest_real(generated, real)
    real_reference = float(np.median(nearest_neighbour_distances(real)))
    ratios = distances / real_reference if real_reference > 0 else np.full_like(distances, np.inf)
    suspected = np.flatnonzero(ratios < copy_ratio_threshold)
    return {
        "nearest_real_index": indices.astype(np.int64),
        "distance": distances,
        "ratio": ratios,
        "real_to_real_median_distance": real_reference,
        "distance_quantiles": {f"q{int(q * 100):02d}": float(np.quantile(distances, q)) for q in QUANTILES},
        "ratio_quantiles": {f"q{int(q * 100):02d}": float(np.quantile(ratios, q)) for q in QUANTILES},
        "suspected_copies": suspected.astype(np.int64),
        "suspected_copy_fraction": float(len(suspected) / len(distances)),
    }


def memorisation_report(
    generated_images,
    real_images,
    *,
    generated_features=None,
    real_features=None,
    pixel_size=16,
    copy_ratio_threshold=0.1,
):
    """Returns the nearest real training image of every generated image, in pixel and feature space.

    Args:
        generated_images: float ``(M, H, W, C)`` in [-1, 1].
        real_images: the real *training* images ``(N, H, W, C)``, N >= 2.
        generated_features, real_features: optional ``(M, d)``/``(N, d)`` features of the same
            images; the feature-space report is added when both are given.
        pixel_size: side of the downsampled images compared in pixel space.
        copy_ratio_threshold: a generated image whose nearest-real distance is below this fraction
            of the median real-to-real nearest-neighbour distance is listed as a suspected copy.

    Returns:
        dict ``{"pixel": report, "feature": report (if features given), "copy_ratio_threshold"}``,
        each report with arrays ``nearest_real_index``, ``distance``, ``ratio`` (distance / median
        real-to-real nearest-neighbour distance), ``suspected_copies`` (generated indices) and the
        summaries ``real_to_real_median_distance``, ``distance_quantiles``, ``ratio_quantiles``,
        ``suspected_copy_fraction``.

    Raises:
        ValueError: for mismatched image shapes, a bad threshold or only one of the feature sets.
    """
    if not copy_ratio_threshold > 0:
        raise ValueError(
            f"`copy_ratio_threshold` must be > 0. Received: copy_ratio_threshold={copy_ratio_threshold}"
        )
    if (generated_features is None) != (real_features is None):
        raise ValueError(
            "Give both `generated_features` and `real_features` or neither. Received: "
            f"generated_features is None={generated_features is None}, real_features is None={real_features is None}"
        )
    generated_images = np.asarray(generated_images, np.float32)
    real_images = np.asarray(real_images, np.float32)
    if generated_images.ndim != 4 or generated_images.shape[1:] != real_images.shape[1:]:
        raise ValueError(
            "`generated_images` and `real_images` must be (N, H, W, C) of the same image shape. Received: "
            f"generated_images.shape={generated_images.shape}, real_images.shape={real_images.shape}"
        )
    report = {
        "pixel": _space_report(
            downsampled_pixels(generated_images, size=pixel_size),
            downsampled_pixels(real_images, size=pixel_size),
            copy_ratio_threshold,
        ),
        "copy_ratio_threshold": float(copy_ratio_threshold),
    }
    if generated_features is not None:
        report["feature"] = _space_report(generated_features, real_features, copy_ratio_threshold)
    return report


def closest_pairs_figure(generated_images, real_images, report, *, space="pixel", num_pairs=8):
    """Returns a figure of the generated images closest to a training image, next to that image.

    Args:
        generated_images: the generated images given to ``memorisation_report``.
        real_images: the real training images given to ``memorisation_report``.
        report: the dict returned by ``memorisation_report``.
        space: ``"pixel"`` or ``"feature"``.
        num_pairs: number of rows (closest first).

    Returns:
        ``matplotlib.figure.Figure`` (``ganaug.figures.labelled_grid_figure``): one row per pair,
        columns "generated" and "nearest real", rows labelled with the distance ratio.

    Raises:
        ValueError: for an unknown ``space`` or a bad ``num_pairs``.
    """
    from ganaug.figures import labelled_grid_figure

    if space not in report or space == "copy_ratio_threshold":
        raise ValueError(f"`space` must be 'pixel' or 'feature' (present in the report). Received: space={space!r}")
    if int(num_pairs) != num_pairs or num_pairs < 1:
        raise ValueError(f"`num_pairs` must be a positive integer. Received: num_pairs={num_pairs}")
    entry = report[space]
    order = np.argsort(entry["distance"], kind="stable")[: int(num_pairs)]
    rows = [[generated_images[i], real_images[entry["nearest_real_index"][i]]] for i in order]
    labels = [f"#{i}\nratio {entry['ratio'][i]:.2f}" for i in order]
    return labelled_grid_figure(
        np.asarray(rows),
        row_labels=labels,
        column_labels=["generated", "nearest real"],
        title=f"Closest generated/training pairs ({space} space)",
    )
