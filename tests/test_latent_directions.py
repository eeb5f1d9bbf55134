"""Directions measured honestly: held-out separation, cross-validated AUC and a permutation null.

Known cases at Saboo et al.'s size (512-d codes, 100 vs 250): two groups from one distribution
must give a held-out separation near 0 and a non-significant p-value (while the in-sample figure
is large), a real mean shift must give a held-out separation near its expected value and p < 0.05.
"""

import json
import warnings

import numpy as np
import pytest

from ganaug.latent import LatentDirection, WeakDirectionWarning, class_direction, latent_direction
from ganaug.latent import directions as directions_module

DIM, NUM_A, NUM_B = 512, 100, 250  # Saboo et al.: 100 healthy, 250 cardiomegaly, W codes of 512


def _groups(seed, shift, dim=DIM, num_a=NUM_A, num_b=NUM_B):
    rng = np.random.default_rng(seed)
    unit = rng.standard_normal(dim)
    unit /= np.linalg.norm(unit)
    codes_a = rng.standard_normal((num_a, dim)).astype(np.float32)
    codes_b = (rng.standard_normal((num_b, dim)) + shift * unit).astype(np.float32)
    return codes_a, codes_b, unit


def _expected_held_out(shift, dim, num_a, num_b, folds):
    """Expected held-out separation of a mean-difference direction fitted on (k-1)/k of the codes.

    Unit-variance isotropic groups a shift apart: the fitted direction is the true one plus noise
    of variance 1/n_a + 1/n_b per coordinate, so its cosine with the truth is
    shift / sqrt(shift^2 + dim (1/n_a + 1/n_b)) and the held-out separation is shift times that.
    """
    train_a, train_b = num_a * (folds - 1) / folds, num_b * (folds - 1) / folds
    return shift**2 / np.sqrt(shift**2 + dim * (1 / train_a + 1 / train_b))


def test_same_distribution_at_saboo_size_is_not_significant_held_out():
    codes_a, codes_b, _ = _groups(seed=0, shift=0.0)
    with pytest.warns(WeakDirectionWarning, match="does not beat its permutation null"):
        direction = latent_direction(codes_a, codes_b, method="lda", permutations=60, seed=1)
    assert direction.in_sample_separation == direction.separation > 2.0  # the in-sample figure misleads
    assert abs(direction.held_out_separation) < 0.15
    assert abs(direction.held_out_auc - 0.5) < 0.05
    assert direction.p_value > 0.05 and direction.beats_null is False
    assert direction.null_separations.shape == (60,)
    assert direction.null_separation_95 == pytest.approx(np.percentile(direction.null_separations, 95))
    assert 0.0 < direction.null_separation_95 < 0.5
    assert 0.9 < direction.shrinkage_intensity <= 1.0  # Ledoit-Wolf shrinks hard at n < d
    assert len(direction.fold_separations) == 5 and direction.folds == 5


@pytest.mark.parametrize("method", ["lda", "mean_difference"])
def test_real_shift_at_saboo_size_is_recovered_held_out(method):
    shift = 4.8  # Saboo et al.'s in-sample figure, planted as the true separation
    codes_a, codes_b, unit = _groups(seed=2, shift=shift)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WeakDirectionWarning)
        direction = latent_direction(codes_a, codes_b, method=method, permutations=50, seed=3)
    expected = _expected_held_out(shift, DIM, NUM_A, NUM_B, folds=5)  # 4.07: the direction is estimated
    assert direction.held_out_separation == pytest.approx(expected, rel=0.12)
    assert direction.held_out_separation < shift < direction.separation
    assert direction.p_value == pytest.approx(1 / 51) and direction.beats_null
    assert direction.held_out_auc > 0.99
    assert float(direction.vector @ unit) > 0.8


@pytest.mark.parametrize("method, tolerance", [("lda", 0.1), ("logistic", 0.15), ("mean_difference", 0.1)])
def test_held_out_separation_approaches_the_true_one_with_enough_codes_per_dimension(method, tolerance):
    shift = 2.0  # 16-d: 350 codes pin the direction down (logistic with C = 1 a little less well)
    codes_a, codes_b, _ = _groups(seed=4, shift=shift, dim=16)
    direction = latent_direction(codes_a, codes_b, method=method, permutations=20, seed=5)
    assert direction.held_out_separation == pytest.approx(shift, rel=tolerance)
    assert direction.held_out_separation < direction.separation
    from scipy.stats import norm

    # Two unit-variance Gaussians s apart: AUC = Phi(s / sqrt(2)).
    assert direction.held_out_auc == pytest.approx(norm.cdf(direction.held_out_separation / np.sqrt(2)), abs=0.02)
    assert direction.p_value == pytest.approx(1 / 21)


def test_unshrunk_lda_separates_identical_groups_in_sample_only():
    codes_a, codes_b, _ = _groups(seed=6, shift=0.0)
    direction = latent_direction(codes_a, codes_b, shrinkage=None, permutations=0)
    assert direction.separation > 1e3  # no within-group spread along the fitted direction
    assert abs(direction.held_out_separation) < 0.2
    assert direction.p_value is None and direction.beats_null is None and direction.null_separations is None


def test_permutation_null_reruns_the_same_cross_validation_on_shuffled_labels():
    codes_a, codes_b, _ = _groups(seed=7, shift=0.5, dim=8, num_a=20, num_b=30)
    direction = latent_direction(codes_a, codes_b, method="lda", folds=4, permutations=3, seed=11, warn=False)
    codes = np.concatenate([codes_a, codes_b]).astype(np.float64)
    labels = np.concatenate([np.zeros(20, int), np.ones(30, int)])
    rng = np.random.default_rng(11)
    assignment = directions_module._stratified_folds(labels, 4, rng)
    observed = directions_module._cross_validate(codes, labels, assignment, 4, "lda", "auto", 11)
    assert direction.held_out_separation == observed[0] and direction.fold_separations == observed[1]
    for index in range(3):
        shuffled = rng.permutation(labels)
        assert np.sum(shuffled) == 30  # group sizes kept
        null = directions_module._cross_validate(
            codes, shuffled, directions_module._stratified_folds(shuffled, 4, rng), 4, "lda", "auto", 11
        )
        assert direction.null_separations[index] == null[0]
    # Each fold holds a quarter of each group (stratified).
    for fold in range(4):
        assert np.sum((assignment == fold) & (labels == 0)) == 5


def test_ledoit_wolf_intensity_and_unshrunk_direction_match_scikit_learn(rng):
    from sklearn.covariance import ledoit_wolf_shrinkage
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    for shape in ((40, 64), (300, 8)):
        residuals = rng.standard_normal(shape) @ np.diag(rng.uniform(0.5, 2.0, shape[1]))
        residuals -= residuals.mean(axis=0)
        assert directions_module._ledoit_wolf_intensity(residuals) == pytest.approx(
            ledoit_wolf_shrinkage(residuals, assume_centered=True), rel=1e-9
        )
    codes_a = rng.standard_normal((300, 8))
    codes_b = rng.standard_normal((200, 8)) @ np.diag(np.arange(1.0, 9.0)) + 1.0
    vector = class_direction(codes_a, codes_b, shrinkage=None).vector
    model = LinearDiscriminantAnalysis(solver="lsqr").fit(np.r_[codes_a, codes_b], np.r_[np.zeros(300), np.ones(200)])
    np.testing.assert_allclose(vector, model.coef_[0] / np.linalg.norm(model.coef_[0]), atol=1e-5)


def test_same_seed_same_result_and_a_json_summary():
    codes_a, codes_b, _ = _groups(seed=9, shift=1.0, dim=8, num_a=20, num_b=30)
    first = latent_direction(codes_a, codes_b, permutations=10, seed=0, provenance="a -> b", warn=False)
    again = latent_direction(codes_a, codes_b, permutations=10, seed=0, provenance="a -> b", warn=False)
    other = latent_direction(codes_a, codes_b, permutations=10, seed=1, warn=False)
    np.testing.assert_array_equal(first.vector, again.vector)
    np.testing.assert_array_equal(first.null_separations, again.null_separations)
    assert not np.array_equal(first.null_separations, other.null_separations)
    summary = json.loads(json.dumps(first.summary()))
    assert summary["in_sample_separation"] == first.separation
    assert summary["held_out_separation"] == first.held_out_separation
    assert summary["p_value"] == first.p_value and summary["provenance"] == "a -> b"
    # The old constructor and class_direction keep working; the new fields default to None.
    old = LatentDirection(vector=np.ones(3, np.float32) / np.sqrt(3), method="pair")
    assert old.held_out_separation is None and old.beats_null is None and old.separation is None
    assert class_direction(codes_a, codes_b).held_out_separation is None


def test_bad_arguments_name_themselves():
    codes_a, codes_b, _ = _groups(seed=10, shift=0.0, dim=4, num_a=12, num_b=12)
    with pytest.raises(ValueError, match="folds=1"):
        latent_direction(codes_a, codes_b, folds=1)
    with pytest.raises(ValueError, match="permutations=-1"):
        latent_direction(codes_a, codes_b, permutations=-1)
    with pytest.raises(ValueError, match=r"codes_a.shape=\(8, 4\)"):
        latent_direction(codes_a[:8], codes_b, folds=5)
    with pytest.raises(ValueError, match=r"codes_b.shape=\(12, 3\)"):
        latent_direction(codes_a, codes_b[:, :3])
    with pytest.raises(ValueError, match="method='pca'"):
        latent_direction(codes_a, codes_b, method="pca")
    with pytest.raises(ValueError, match="shrinkage=2"):
        latent_direction(codes_a, codes_b, shrinkage=2)
