"""Pure code operations: arithmetic, interpolation paths, perturbation, directions (no models)."""

import numpy as np
import pytest

from ganaug.latent import (
    LatentCode,
    class_direction,
    codes_from_array,
    direction_from_pair,
    edit,
    interpolate_codes,
    mean_code,
    perturb,
    separation_score,
    slerp,
    stack_codes,
)


def test_arithmetic_matches_numpy_and_keeps_provenance(rng):
    a, b, c = rng.standard_normal((3, 6)).astype(np.float32)
    za, zb, zc = codes_from_array(np.stack([a, b, c]), names=["a", "b", "c"], labels=[1, 1, 0])
    result = za + zb - zc
    np.testing.assert_allclose(result.code, a + b - c, rtol=1e-6)
    assert result.provenance == "((a + b) - c)"
    assert result.inputs == ("a", "b", "c")
    assert result.label is None  # labels differ
    assert (za + zb).label == 1
    scaled = 0.5 * za / 2
    np.testing.assert_allclose(scaled.code, a * 0.25, rtol=1e-6)
    assert scaled.provenance == "0.5*a/2"
    np.testing.assert_allclose((-za).code, -a)
    assert result.to_dict() == {"provenance": "((a + b) - c)", "inputs": ["a", "b", "c"], "label": None}
    assert result.as_batch().shape == (1, 6)


def test_mean_code_of_lists_arrays_and_sets_and_set_broadcasting(rng):
    codes = rng.standard_normal((4, 5)).astype(np.float32)
    leaves = codes_from_array(codes, names=["p", "q", "r", "s"])
    average = mean_code(leaves[:2])
    np.testing.assert_allclose(average.code, codes[:2].mean(axis=0), rtol=1e-6)
    assert average.provenance == "mean(p, q)"
    np.testing.assert_allclose(mean_code(codes).code, codes.mean(axis=0), rtol=1e-6)
    group = LatentCode.named(codes, "group")
    np.testing.assert_allclose(mean_code(group).code, codes.mean(axis=0), rtol=1e-6)
    assert mean_code(group).provenance == "mean(group)"
    # Fernández et al.: a pattern vector (difference of averages) added to a whole set.
    edited = group + (mean_code(leaves[:2]) - mean_code(leaves[2:]))
    np.testing.assert_allclose(
        edited.code, codes + (codes[:2].mean(0) - codes[2:].mean(0)), rtol=1e-5, atol=1e-6
    )
    assert len(edited) == 4
    np.testing.assert_allclose(stack_codes(leaves), codes)


def test_arithmetic_bad_operands_raise():
    a = LatentCode.named(np.zeros(3), "a")
    with pytest.raises(ValueError, match="other.latent_dim=4"):
        a + LatentCode.named(np.zeros(4), "b")
    with pytest.raises(TypeError, match="other=ndarray"):
        a + np.zeros(3)
    with pytest.raises(TypeError, match="scalar="):
        a * "2"
    with pytest.raises(ValueError, match="scalar=0"):
        a / 0
    with pytest.raises(ValueError, match=r"code.shape=\(1, 2, 3\)"):
        LatentCode(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="codes=\\[\\]"):
        mean_code([])


def test_interpolation_endpoints_and_slerp_norms(rng):
    start, end = rng.standard_normal((2, 8)).astype(np.float32)
    end = end / np.linalg.norm(end) * np.linalg.norm(start)  # equal norms
    linear = interpolate_codes(start, end, num_steps=5)
    spherical = interpolate_codes(start, end, num_steps=5, method="slerp")
    for path in (linear, spherical):
        assert path.shape == (5, 8)
        np.testing.assert_array_equal(path[0], start)
        np.testing.assert_array_equal(path[-1], end)
    # Fernández et al. eq. 5 at l = 0.75 (t = 0.25).
    np.testing.assert_allclose(linear[1], 0.75 * start + 0.25 * end, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(spherical, axis=1), np.linalg.norm(start), rtol=1e-5)
    assert np.linalg.norm(linear[2]) < np.linalg.norm(start)  # the chord cuts inside the sphere
    # Slerp of orthogonal unit vectors at t = 0.5 is their normalised sum.
    mid = slerp(np.array([1.0, 0.0]), np.array([0.0, 1.0]), [0.5])[0]
    np.testing.assert_allclose(mid, [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-6)
    # Near-parallel vectors fall back to linear interpolation (no division by ~0).
    parallel = interpolate_codes(start, 2 * start, num_steps=3, method="slerp")
    assert np.all(np.isfinite(parallel))
    np.testing.assert_allclose(parallel[1], 1.5 * start, rtol=1e-5)
    batch = interpolate_codes(np.stack([start, end]), np.stack([end, start]), num_steps=4)
    assert batch.shape == (2, 4, 8)
    with pytest.raises(ValueError, match="num_steps=1"):
        interpolate_codes(start, end, num_steps=1)
    with pytest.raises(ValueError, match="method='cubic'"):
        interpolate_codes(start, end, method="cubic")
    with pytest.raises(ValueError, match="end.shape"):
        interpolate_codes(start, end[:3])


def test_perturbation_variance_matches_sigma_squared(rng):
    codes = rng.standard_normal((3, 10)).astype(np.float32)
    perturbed = perturb(codes, sigma=0.2, num_per_code=4000, seed=1)
    assert perturbed.shape == (3 * 4000, 10) and perturbed.dtype == np.float32
    noise = perturbed.reshape(3, 4000, 10) - codes[:, None, :]
    np.testing.assert_allclose(noise.var(), 0.04, rtol=0.03)  # thesis: sigma^2 = 0.04
    np.testing.assert_allclose(noise.mean(), 0.0, atol=0.005)
    np.testing.assert_array_equal(perturb(codes, seed=3), perturb(codes, seed=3))
    assert not np.array_equal(perturb(codes, seed=3), perturb(codes, seed=4))
    assert perturb(codes[0]).shape == (5, 10)
    np.testing.assert_array_equal(perturb(codes, sigma=0.0, num_per_code=2), np.repeat(codes, 2, axis=0))
    with pytest.raises(ValueError, match="sigma=-0.1"):
        perturb(codes, sigma=-0.1)
    with pytest.raises(ValueError, match="num_per_code=0"):
        perturb(codes, num_per_code=0)


@pytest.mark.parametrize("method", ["lda", "fisher", "logistic", "mean_difference"])
def test_direction_recovers_a_planted_direction(rng, method):
    latent_dim = 16
    planted = rng.standard_normal(latent_dim)
    planted /= np.linalg.norm(planted)
    negative = rng.standard_normal((300, latent_dim))
    positive = rng.standard_normal((300, latent_dim)) + 3.0 * planted
    direction = class_direction(negative, positive, method=method)
    assert direction.vector.shape == (latent_dim,)
    np.testing.assert_allclose(np.linalg.norm(direction.vector), 1.0, rtol=1e-5)
    assert float(np.dot(direction.vector, planted)) > 0.9
    assert direction.separation > 2.0


def test_separation_score_equals_hand_computation():
    direction = np.array([2.0, 0.0])  # normalised to (1, 0)
    negative = np.array([[0.0, 5.0], [2.0, -1.0]])  # projections 0, 2: mean 1, std 1
    positive = np.array([[6.0, 0.0], [10.0, 3.0]])  # projections 6, 10: mean 8, std 2
    assert separation_score(negative, positive, direction) == pytest.approx((8 - 1) / ((1 + 2) / 2))
    with pytest.raises(ValueError, match="negative_codes"):
        separation_score(negative[:1], positive, direction)


def test_pair_direction_and_edit():
    code = np.array([1.0, 1.0, 0.0], np.float32)
    edited_code = np.array([1.0, 4.0, 4.0], np.float32)
    direction = direction_from_pair(code, edited_code)
    np.testing.assert_allclose(direction.vector, [0.0, 0.6, 0.8], rtol=1e-6)
    codes = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]], np.float32)
    moved = edit(codes, direction, strengths=[-1.0, 0.0, 2.5])
    assert moved.shape == (6, 3)
    np.testing.assert_allclose(moved[0], [0.0, -0.6, -0.8], rtol=1e-6)
    np.testing.assert_allclose(moved[1], codes[0])
    np.testing.assert_allclose(moved[5], codes[1] + 2.5 * np.array([0.0, 0.6, 0.8]), rtol=1e-6)
    with pytest.raises(ValueError, match="strengths"):
        edit(codes, direction, strengths=[])
    with pytest.raises(ValueError, match="direction.shape"):
        edit(codes, np.ones(4), strengths=[1.0])
    with pytest.raises(ValueError, match="edited_code - code"):
        direction_from_pair(code, code)
    with pytest.raises(ValueError, match="method='pca'"):
        class_direction(codes, codes, method="pca")


def test_slerp_interpolates_the_direction_on_the_sphere_and_the_norm_linearly(rng):
    start, end = rng.standard_normal((2, 5))
    end = 2.5 * end / np.linalg.norm(end)
    start = start / np.linalg.norm(start)
    weights = np.array([0.0, 0.3, 0.5, 1.0])
    path = slerp(start, end, weights).astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), (1 - weights) + 2.5 * weights, rtol=1e-5)
    angle = np.arccos(np.dot(start, end / 2.5))
    shoemake_units = (np.sin((1 - weights[:, None]) * angle) * start
                      + np.sin(weights[:, None] * angle) * end / 2.5) / np.sin(angle)
    np.testing.assert_allclose(path / np.linalg.norm(path, axis=1, keepdims=True), shoemake_units, atol=1e-5)
    shoemake = (np.sin((1 - weights[:, None]) * angle) * start + np.sin(weights[:, None] * angle) * end) / np.sin(angle)
    assert not np.allclose(path[1:3], shoemake[1:3], atol=1e-3)  # unequal norms: not Shoemake's formula
    equal = slerp(start, end / 2.5, weights)  # equal norms: exactly Shoemake's formula
    np.testing.assert_allclose(equal, shoemake_units, atol=1e-5)
    mid = slerp(np.array([1.0, 0.0]), np.array([0.0, 2.0]), [0.5])[0]
    np.testing.assert_allclose(np.linalg.norm(mid), 1.5, rtol=1e-6)
    shoemake_mid = (np.sin(np.pi / 4) * np.array([1.0, 0.0]) + np.sin(np.pi / 4) * np.array([0.0, 2.0]))
    np.testing.assert_allclose(np.linalg.norm(shoemake_mid), 1.58, atol=0.01)
