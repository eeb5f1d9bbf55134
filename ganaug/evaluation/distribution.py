"""Distances between the feature distributions of real and generated images: FID and KID.

- FID (Heusel et al. 2017, "GANs trained by a two time-scale update rule converge to a local Nash
  equilibrium"): the Fréchet distance between Gaussians fitted to the two feature sets,
  ``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))``.
- KID (Binkowski et al. 2018, "Demystifying MMD GANs"): the unbiased estimate of the squared
  maximum mean discrepancy with the cubic polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged
  over random subsets, with the spread over subsets as its uncertainty.

**Small samples.** The FID *estimator* is biased upwards, and the bias grows as ``d / n`` (the
covariance of ``d``-dimensional features estimated from ``n`` samples is noisy, and the trace term
never cancels it): two sets of 500 images of the same distribution in a 2048-d space score far
above 0, and generators evaluated with different ``n`` cannot be ranked by FID (Binkowski et al.
2018, section 4; Chong & Forsyth 2020). KID is unbiased, so its expectation is 0 for equal
distributions whatever ``n``. ganaug marks FID as reliable only when ``n >= 2048`` or
``n >= 10 * d`` (``fid_is_reliable``) and recommends KID below that.
"""

import warnings

import numpy as np

FID_RELIABLE_MIN_SAMPLES = 2048
FID_RELIABLE_SAMPLES_PER_DIM = 10


def _check_features(features, name):
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"`{name}` must be a 2-D array (N, d). Received: {name}.shape={features.shape}")
    if not np.all(np.isfinite(features)):
        raise ValueError(f"`{name}` contains NaN or infinite values. Received: {name} with non-finite entries")
    return features


def check_feature_pair(real_features, generated_features, minimum=2):
    """Returns both feature sets as float64 ``(N, d)`` arrays of one ``d`` with ``minimum`` rows each, or raises."""
    real_features = _check_features(real_features, "real_features")
    generated_features = _check_features(generated_features, "generated_features")
    if real_features.shape[1] != generated_features.shape[1]:
        raise ValueError(
            "Both feature sets must have the same dimension. Received: "
            f"real_features.shape={real_features.shape}, generated_features.shape={generated_features.shape}"
        )
    for name, features in (("real_features", real_features), ("generated_features", generated_features)):
        if len(features) < minimum:
            raise ValueError(f"`{name}` needs at least {minimum} rows. Received: {name}.shape={features.shape}")
    return real_features, generated_features


def gaussian_statistics(features):
    """Returns the mean ``(d,)`` and the unbiased covariance ``(d, d)`` of feature vectors ``(N, d)``."""
    features = _check_features(features, "features")
    if len(features) < 2:
        raise ValueError(f"`features` needs at least 2 rows. Received: features.shape={features.shape}")
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def frechet_distance(mean1, covariance1, mean2, covariance2, *, eps=1e-6):
    """Returns the Fréchet distance between N(mean1, covariance1) and N(mean2, covariance2).

    ``||mean1 - mean2||^2 + Tr(covariance1 + covariance2 - 2 (covariance1 covariance2)^(1/2))``,
    with the usual numerical care (as in the reference FID code): the matrix square root is taken
    with ``scipy.linalg.sqrtm``; if the product is singular (scipy warns, or the root is not
    finite), ``eps`` is added to both diagonals; small imaginary parts from rounding are discarded (large ones raise).

    Args:
        mean1, mean2: means ``(d,)``.
        covariance1, covariance2: covariances ``(d, d)``.
        eps: diagonal offset used when the product is singular.

    Returns:
        The distance, a non-negative float (tiny negative rounding is clipped to 0).

    Raises:
        ValueError: for mismatched shapes or a square root with a large imaginary part.
    """
    from scipy import linalg

    mean1, mean2 = np.atleast_1d(np.asarray(mean1, np.float64)), np.atleast_1d(np.asarray(mean2, np.float64))
    covariance1 = np.atleast_2d(np.asarray(covariance1, np.float64))
    covariance2 = np.atleast_2d(np.asarray(covariance2, np.float64))
    d = mean1.shape[0]
    if mean2.shape != (d,) or covariance1.shape != (d, d) or covariance2.shape != (d, d):
        raise ValueError(
            "Means must be (d,) and covariances (d, d) with the same d. Received: "
            f"mean1.shape={mean1.shape}, mean2.shape={mean2.shape}, "
            f"covariance1.shape={covariance1.shape}, covariance2.shape={covariance2.shape}"
        )
    difference = mean1 - mean2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", linalg.LinAlgWarning)
        root = linalg.sqrtm(covariance1 @ covariance2)
    singular = any(issubclass(w.category, linalg.LinAlgWarning) for w in caught)
    if singular or not np.all(np.isfinite(root)):
        offset = np.eye(d) * eps
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", linalg.LinAlgWarning)
            root = linalg.sqrtm((covariance1 + offset) @ (covariance2 + offset))
    if np.iscomplexobj(root):
        largest = np.max(np.abs(root.imag))
        scale = max(1.0, np.max(np.abs(root.real)))
        if largest > 1e-3 * scale:
            raise ValueError(
                "The matrix square root has a large imaginary part; the covariances are degenerate. "
                f"Received: max imaginary part={largest:.3g}"
            )
        root = root.real
    distance = difference @ difference + np.trace(covariance1) + np.trace(covariance2) - 2.0 * np.trace(root)
    return float(max(distance, 0.0))


def fid_from_features(real_features, generated_features, *, eps=1e-6):
    """Returns the FID (Heusel et al. 2017) between two feature sets ``(N, d)`` and ``(M, d)``.

    Biased upwards at small sample sizes (see the module docstring and ``fid_is_reliable``).
    """
    real_features, generated_features = check_feature_pair(real_features, generated_features)
    mean1, covariance1 = gaussian_statistics(real_features)
    mean2, covariance2 = gaussian_statistics(generated_features)
    return frechet_distance(mean1, covariance1, mean2, covariance2, eps=eps)


def fid_is_reliable(num_samples, feature_dim):
    """Returns True if ``num_samples >= 2048`` or ``num_samples >= 10 * feature_dim``.

    Below that the FID estimator's upward bias (it grows like ``feature_dim / num_samples``) is
    large enough to reorder models; use KID instead.
    """
    return bool(
        num_samples >= FID_RELIABLE_MIN_SAMPLES or num_samples >= FID_RELIABLE_SAMPLES_PER_DIM * feature_dim
    )


def polynomial_kernel(x, y):
    """Returns the cubic polynomial kernel matrix ``(x.y / d + 1)^3`` of KID (Binkowski et al. 2018)."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x, y):
    """Returns the unbiased estimate of MMD^2 with the cubic polynomial kernel.

    ``sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (n (n - 1))
    - 2 sum_{i, j} k(x_i, y_j) / (m n)``: its expectation is exactly 0 when x and y come from the
    same distribution (it can be negative).
    """
    x, y = check_feature_pair(x, y)
    m, n = len(x), len(y)
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    term_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    term_yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(term_xx + term_yy - 2.0 * k_xy.mean())


def kid_from_features(real_features, generated_features, *, num_subsets=100, subset_size=1000, seed=0):
    """Returns the KID (Binkowski et al. 2018) and its uncertainty.

    The unbiased MMD^2 (``mmd2_unbiased``) is computed on ``num_subsets`` random subsets of
    ``min(subset_size, N, M)`` rows drawn without replacement from each set, and averaged.

    Args:
        real_features: ``(N, d)``.
        generated_features: ``(M, d)``.
        num_subsets: number of subsets averaged.
        subset_size: rows per subset (capped at the smaller set).
        seed: seed of the subset draws.

    Returns:
        dict with ``kid`` (the mean), ``kid_std`` (standard deviation over subsets, as reported by
        Binkowski et al.), ``kid_standard_error`` (``kid_std / sqrt(num_subsets)``; subsets overlap
        when the sets are small, so this understates the true error then), ``num_subsets`` and
        ``subset_size``.

    Raises:
        ValueError: for bad arguments or fewer than 2 rows in a set.
    """
    if int(num_subsets) != num_subsets or num_subsets < 1:
        raise ValueError(f"`num_subsets` must be a positive integer. Received: num_subsets={num_subsets}")
    if int(subset_size) != subset_size or subset_size < 2:
        raise ValueError(f"`subset_size` must be an integer >= 2. Received: subset_size={subset_size}")
    real_features, generated_features = check_feature_pair(real_features, generated_features)
    size = int(min(subset_size, len(real_features), len(generated_features)))
    rng = np.random.default_rng(seed)
    values = np.empty(int(num_subsets))
    for i in range(int(num_subsets)):
        x = real_features[rng.choice(len(real_features), size, replace=False)]
        y = generated_features[rng.choice(len(generated_features), size, replace=False)]
        values[i] = mmd2_unbiased(x, y)
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return {
        "kid": float(values.mean()),
        "kid_std": std,
        "kid_standard_error": std / np.sqrt(len(values)),
        "num_subsets": int(num_subsets),
        "subset_size": size,
    }


def distribution_metrics(
    real_features, generated_features, *, num_subsets=100, subset_size=1000, seed=0, warn=True
):
    """Returns FID and KID between two feature sets, with a reliability flag and a recommendation.

    Args:
        real_features: ``(N, d)`` features of real images.
        generated_features: ``(M, d)`` features of generated images (same feature space).
        num_subsets, subset_size, seed: passed to ``kid_from_features``.
        warn: issue a ``UserWarning`` when the FID is unreliable at this sample size.

    Returns:
        dict: ``fid``, ``kid``, ``kid_std``, ``kid_standard_error``, ``num_real``, ``num_generated``,
        ``feature_dim``, ``fid_reliable`` (``fid_is_reliable(min(N, M), d)``) and
        ``recommendation`` (which score to rank models by).
    """
    real_features, generated_features = check_feature_pair(real_features, generated_features)
    num_samples = min(len(real_features), len(generated_features))
    feature_dim = real_features.shape[1]
    reliable = fid_is_reliable(num_samples, feature_dim)
    result = {
        "fid": fid_from_features(real_features, generated_features),
        **kid_from_features(
            real_features, generated_features, num_subsets=num_subsets, subset_size=subset_size, seed=seed
        ),
        "num_real": int(len(real_features)),
        "num_generated": int(len(generated_features)),
        "feature_dim": int(feature_dim),
        "fid_reliable": reliable,
    }
    if reliable:
        result["recommendation"] = "FID and KID are both usable at this sample size."
    else:
        result["recommendation"] = (
            f"FID is biased upwards with {num_samples} samples in {feature_dim} dimensions "
            f"(reliable from min({FID_RELIABLE_MIN_SAMPLES}, {FID_RELIABLE_SAMPLES_PER_DIM} x dim)); "
            "rank models by KID."
        )
        if warn:
            warnings.warn(result["recommendation"], UserWarning, stacklevel=2)
    return result
