"""Reader-study statistics against hand-computed values, the literature, scipy and scikit-learn."""

import math

import numpy as np
import pytest
import scipy.stats
from sklearn.metrics import cohen_kappa_score

from ganaug.reader_study import stats


def test_wilson_interval_hand_value_and_scipy():
    # 8 of 10 at 95 %: centre (p + z^2/2n) / (1 + z^2/n) = 0.71674, half-width 0.22658.
    low, high = stats.wilson_interval(8, 10)
    assert low == pytest.approx(0.49016, abs=1e-5)
    assert high == pytest.approx(0.94331, abs=1e-5)
    for successes, n in [(0, 5), (1, 7), (20, 40), (39, 40), (160, 320), (3, 3)]:
        expected = scipy.stats.binomtest(successes, n).proportion_ci(0.9, method="wilson")
        low, high = stats.wilson_interval(successes, n, confidence=0.9)
        assert (low, high) == pytest.approx((expected.low, expected.high), abs=1e-10)
    assert all(math.isnan(v) for v in stats.wilson_interval(0, 0))
    with pytest.raises(ValueError, match="successes"):
        stats.wilson_interval(5, 4)
    with pytest.raises(ValueError, match="confidence"):
        stats.wilson_interval(1, 4, confidence=1.5)


def test_binomial_test_hand_values_and_scipy():
    # 9 of 10 against 0.5: P(X <= 1) + P(X >= 9) = 2 * (1 + 10) / 1024.
    assert stats.binomial_test(9, 10) == pytest.approx(22 / 1024, abs=1e-15)
    assert stats.binomial_test(5, 10) == 1.0
    assert stats.binomial_test(0, 0) == 1.0
    for successes, n, p in [(0, 10, 0.5), (23, 40, 0.5), (71, 100, 0.5), (3, 20, 0.3), (12, 13, 0.8), (180, 320, 0.5)]:
        assert stats.binomial_test(successes, n, p=p) == pytest.approx(
            scipy.stats.binomtest(successes, n, p).pvalue, rel=1e-9
        )


def test_realness_metrics_reproduce_klang_carlberg_rates():
    # 50 synthetic (44 called synthetic: recall 0.88) and 50 real (27 called real: specificity 0.54).
    truths = ["synthetic"] * 50 + ["real"] * 50
    answers = ["synthetic"] * 44 + ["real"] * 6 + ["real"] * 27 + ["synthetic"] * 23
    result = stats.realness_metrics(truths, answers)
    assert (result["tp"], result["fn"], result["tn"], result["fp"]) == (44, 6, 27, 23)
    assert result["sensitivity"]["value"] == pytest.approx(0.88)
    assert result["specificity"]["value"] == pytest.approx(0.54)
    assert result["accuracy"]["value"] == pytest.approx(0.71)
    assert (result["accuracy"]["low"], result["accuracy"]["high"]) == pytest.approx(stats.wilson_interval(71, 100))
    assert result["p_value"] == pytest.approx(scipy.stats.binomtest(71, 100).pvalue)
    with pytest.raises(ValueError, match="'real' or 'synthetic'"):
        stats.realness_metrics(["real"], ["fake"])
    with pytest.raises(ValueError, match="same length"):
        stats.realness_metrics(["real"], [])


def test_cohen_kappa_hand_value_and_sklearn():
    # Wikipedia's example: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> p_o 0.7, p_e 0.5, kappa 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    result = stats.cohen_kappa(a, b)
    assert result["observed"] == pytest.approx(0.7)
    assert result["expected"] == pytest.approx(0.5)
    assert result["kappa"] == pytest.approx(0.4)
    half = 1.959964 * math.sqrt(0.7 * 0.3 / 50) / 0.5  # Cohen's large-sample standard error
    assert (result["low"], result["high"]) == pytest.approx((0.4 - half, 0.4 + half), abs=1e-5)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.integers(0, 4, 60).tolist()
        y = [v if rng.random() < 0.6 else int(rng.integers(0, 4)) for v in x]
        assert stats.cohen_kappa(x, y)["kappa"] == pytest.approx(cohen_kappa_score(x, y), abs=1e-12)
    assert math.isnan(stats.cohen_kappa(["a", "a"], ["a", "a"])["kappa"])  # p_e = 1: undefined
    assert math.isnan(stats.cohen_kappa([], [])["kappa"])
    with pytest.raises(ValueError, match="same items"):
        stats.cohen_kappa([1, 2], [1])


def test_fleiss_kappa_literature_example_and_hand_value():
    # Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories -> 0.210.
    table = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]
    result = stats.fleiss_kappa(table)
    assert result["observed"] == pytest.approx(0.378, abs=5e-4)
    assert result["expected"] == pytest.approx(0.213, abs=5e-4)
    assert round(result["kappa"], 3) == 0.210
    assert (result["n_items"], result["n_raters"]) == (10, 14)
    # By hand, two raters: P_i = 1, 0, 1, 1 -> 0.75; p = (5/8, 3/8) -> p_e = 34/64; kappa = 7/15.
    ratings = [["a", "a"], ["a", "b"], ["b", "b"], ["a", "a"]]
    counts, categories = stats.ratings_table(ratings)
    assert categories == ["a", "b"]
    assert counts.tolist() == [[2, 0], [1, 1], [0, 2], [2, 0]]
    assert stats.fleiss_kappa(counts)["kappa"] == pytest.approx(7 / 15)
    with pytest.raises(ValueError, match="same number of raters"):
        stats.fleiss_kappa([[2, 0], [1, 0]])
    with pytest.raises(ValueError, match="at least 2 raters"):
        stats.fleiss_kappa([[1, 0], [0, 1]])
    assert math.isnan(stats.fleiss_kappa(np.zeros((0, 2)))["kappa"])


def test_mean_interval_and_welch_difference():
    # [4, 5, 3, 4, 5]: mean 4.2, sd sqrt(0.7), t(0.975, 4) = 2.776445 -> half-width 1.03886.
    result = stats.mean_interval([4, 5, 3, 4, 5])
    assert result["mean"] == pytest.approx(4.2)
    assert (result["low"], result["high"]) == pytest.approx((3.16114, 5.23886), abs=1e-5)
    real, synthetic = [5, 4, 5, 5, 4, 5, 4, 5], [4, 4, 5, 3, 4, 4, 5, 3, 4]
    result = stats.mean_difference(real, synthetic)
    expected = scipy.stats.ttest_ind(real, synthetic, equal_var=False).confidence_interval(0.95)
    assert result["difference"] == pytest.approx(np.mean(real) - np.mean(synthetic))
    assert (result["low"], result["high"]) == pytest.approx((expected.low, expected.high), abs=1e-10)
    assert math.isnan(stats.mean_interval([3])["low"])
    assert math.isnan(stats.mean_difference([], [1, 2])["difference"])
