"""FID and KID against closed forms and the unbiasedness of KID."""

import numpy as np
import pytest

from ganaug.evaluation.distribution import (
    distribution_metrics,
    fid_from_features,
    fid_is_reliable,
    frechet_distance,
    kid_from_features,
    mmd2_unbiased,
)


def test_fid_of_a_set_against_itself_is_zero(rng):
    features = rng.normal(size=(300, 6))
    assert fid_from_features(features, features) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_closed_form_diagonal():
    # diagonal covariances commute: Tr(S1 + S2 - 2 sqrt(S1 S2)) = sum (sqrt(a) - sqrt(b))^2
    mean1, mean2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = 1.0 + 0.0 + 4.0 + (1 - 2) ** 2 + (2 - 1) ** 2 + (3 - 1) ** 2
    assert frechet_distance(mean1, np.diag(a), mean2, np.diag(b)) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_full_covariance_against_itself_is_zero(rng):
    root = rng.normal(size=(5, 5))
    covariance = root @ root.T + 0.1 * np.eye(5)
    mean = rng.normal(size=5)
    assert frechet_distance(mean, covariance, mean, covariance) == pytest.approx(0.0, abs=1e-8)


def test_fid_of_shifted_gaussians_matches_closed_form(rng):
    n = 20000
    real = rng.normal(size=(n, 3)) * np.array([1.0, 2.0, 0.5])
    generated = rng.normal(size=(n, 3)) * np.array([2.0, 1.0, 0.5]) + np.array([1.0, -1.0, 0.0])
    expected = (1 + 1 + 0) + (1 - 2) ** 2 + (2 - 1) ** 2 + 0.0
    assert fid_from_features(real, generated) == pytest.approx(expected, rel=0.05)


def test_fid_survives_singular_covariances(rng):
    # more dimensions than samples: rank-deficient covariances
    real, generated = rng.normal(size=(10, 40)), rng.normal(size=(10, 40)) + 0.5
    value = fid_from_features(real, generated)
    assert np.isfinite(value) and value > 0


def test_mmd2_unbiased_has_zero_mean_for_one_distribution():
    rng = np.random.default_rng(1)
    unbiased, biased = [], []
    for _ in range(300):
        x, y = rng.normal(size=(15, 4)), rng.normal(size=(15, 4))
        unbiased.append(mmd2_unbiased(x, y))
        k = lambda a, b: (a @ b.T / 4 + 1) ** 3  # noqa: E731
        biased.append(k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean())
    unbiased, biased = np.array(unbiased), np.array(biased)
    standard_error = unbiased.std(ddof=1) / np.sqrt(len(unbiased))
    assert abs(unbiased.mean()) < 3 * standard_error
    # the biased (V-statistic) estimate is clearly positive: the test can tell the two apart
    assert biased.mean() > 10 * standard_error


def test_kid_near_zero_for_same_and_positive_for_different_distributions(rng):
    x, y = rng.normal(size=(200, 8)), rng.normal(size=(200, 8))
    same = kid_from_features(x, y, num_subsets=50, subset_size=100, seed=0)
    assert abs(same["kid"]) < 3 * same["kid_std"]
    different = kid_from_features(x, y + 1.0, num_subsets=50, subset_size=100, seed=0)
    assert different["kid"] > 10 * different["kid_std"] > 0
    assert different["subset_size"] == 100


def test_kid_is_deterministic_for_a_seed(rng):
    x, y = rng.normal(size=(60, 5)), rng.normal(size=(70, 5)) + 0.3
    first = kid_from_features(x, y, num_subsets=10, subset_size=30, seed=3)
    assert first == kid_from_features(x, y, num_subsets=10, subset_size=30, seed=3)
    assert first != kid_from_features(x, y, num_subsets=10, subset_size=30, seed=4)


def test_fid_reliability_rule():
    assert fid_is_reliable(2048, 4096)
    assert fid_is_reliable(100, 10)
    assert not fid_is_reliable(99, 10)
    assert not fid_is_reliable(1000, 2048)


def test_distribution_metrics_flags_small_samples(rng):
    x, y = rng.normal(size=(50, 16)), rng.normal(size=(50, 16))
    with pytest.warns(UserWarning, match="KID"):
        result = distribution_metrics(x, y, num_subsets=5, subset_size=20)
    assert result["fid_reliable"] is False
    assert result["num_real"] == 50 and result["feature_dim"] == 16
    assert "KID" in result["recommendation"]
    big = distribution_metrics(rng.normal(size=(200, 2)), rng.normal(size=(200, 2)), num_subsets=5)
    assert big["fid_reliable"] is True


def test_errors_name_the_argument(rng):
    with pytest.raises(ValueError, match="Received: real_features.shape"):
        fid_from_features(rng.normal(size=(5, 3)), rng.normal(size=(5, 4)))
    with pytest.raises(ValueError, match="Received: num_subsets=0"):
        kid_from_features(rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), num_subsets=0)
    with pytest.raises(ValueError, match="features.shape"):
        fid_from_features(rng.normal(size=(5,)), rng.normal(size=(5, 3)))
