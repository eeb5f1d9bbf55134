"""Precision/recall and density/coverage on sets with known answers."""

import numpy as np
import pytest

from ganaug.evaluation import manifold
from ganaug.evaluation.manifold import density_coverage, kth_neighbour_distances, manifold_metrics, precision_recall


def test_kth_neighbour_distances_by_hand():
    points = np.array([[0.0], [1.0], [3.0], [6.0]])
    np.testing.assert_allclose(kth_neighbour_distances(points, k=1), [1, 1, 2, 3])
    np.testing.assert_allclose(kth_neighbour_distances(points, k=2), [3, 2, 3, 5])


def test_identical_sets_score_one(rng):
    features = rng.normal(size=(80, 5))
    result = manifold_metrics(features, features.copy())
    assert result["precision"] == 1.0 and result["recall"] == 1.0 and result["coverage"] == 1.0
    assert result["density"] >= 1.0 / result["density_coverage_k"]


def test_disjoint_sets_score_zero(rng):
    real = rng.normal(size=(60, 5))
    generated = rng.normal(size=(60, 5)) + 100.0
    result = manifold_metrics(real, generated)
    assert result["precision"] == 0.0 and result["recall"] == 0.0
    assert result["density"] == 0.0 and result["coverage"] == 0.0


def test_precision_recall_and_density_by_hand():
    real = np.array([[0.0], [1.0], [2.0], [3.0]])  # k=1 radii: 1, 1, 1, 1
    generated = np.array([[0.5], [10.0], [11.0], [13.0]])  # k=1 radii: 9.5, 1, 1, 2
    result = precision_recall(real, generated, k=1)
    assert result["precision"] == pytest.approx(1 / 4)  # only 0.5 lies in a real ball
    # real 0 and 1 lie in the ball of 0.5 (radius 9.5), and so do 2 and 3
    assert result["recall"] == pytest.approx(1.0)
    dc = density_coverage(real, generated, k=1)
    assert dc["density"] == pytest.approx(2 / 4)  # 0.5 is inside the balls of 0 and 1
    assert dc["coverage"] == pytest.approx(2 / 4)  # reals 0 and 1 have 0.5 within radius 1


def test_precision_drops_when_generated_collapse_fidelity_kept(rng):
    real = rng.normal(size=(200, 3))
    collapsed = np.repeat(real[:1], 200, axis=0) + 1e-6 * rng.normal(size=(200, 3))
    result = manifold_metrics(real, collapsed)
    assert result["precision"] == 1.0  # faithful ...
    assert result["recall"] < 0.1 and result["coverage"] < 0.1  # ... but not diverse


def test_chunked_computation_gives_the_same_result(rng, monkeypatch):
    real, generated = rng.normal(size=(150, 4)), rng.normal(size=(120, 4)) + 0.3
    expected = manifold_metrics(real, generated)
    monkeypatch.setattr(manifold, "WORKING_MEMORY_MB", 0.01)  # forces many small chunks
    assert manifold_metrics(real, generated) == expected


def test_errors_name_the_argument(rng):
    with pytest.raises(ValueError, match="Received: k=0"):
        precision_recall(rng.normal(size=(10, 2)), rng.normal(size=(10, 2)), k=0)
    with pytest.raises(ValueError, match="real_features.shape"):
        density_coverage(rng.normal(size=(3, 2)), rng.normal(size=(10, 2)), k=5)
