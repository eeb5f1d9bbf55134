"""The experiment's statistics (three intervals, MDE, seeds needed), the verdict rule, the controls, the forest plot."""

import numpy as np
import pytest

from ganaug.augment.statistics import (
    _score_matrix,
    call,
    minimum_detectable_effect,
    paired_intervals,
    scores,
    seeds_needed,
)


def _predictions(rng, labels, accuracy, num_classes):
    """Predictions right with probability ``accuracy``, otherwise a random other class."""
    wrong = (labels + rng.integers(1, num_classes, labels.shape)) % num_classes
    return np.where(rng.random(labels.shape) < accuracy, labels, wrong)


def test_vectorised_scores_equal_the_plain_ones():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, 200)
    predicted = np.stack([_predictions(rng, labels, 0.6, 4), np.zeros(200, np.int64)])
    matrix = _score_matrix(labels, predicted, 4)
    for row, prediction in zip(matrix, predicted):
        plain = scores(labels, prediction, 4)
        np.testing.assert_allclose(row, [plain["accuracy"], plain["f1_weighted"], plain["f1_macro"],
                                         *plain["per_class_f1"]])


def test_identical_arms_give_zero_intervals_that_contain_zero():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    baseline = np.stack([_predictions(rng, labels, 0.7, 3) for _ in range(3)])
    result = paired_intervals(baseline, baseline, labels, num_classes=3, num_resamples=200)
    for delta in [result["accuracy"], result["f1_weighted"], result["f1_macro"]] + result["per_class_f1"]:
        for kind in ("ci_seeds", "ci_bootstrap", "ci_hierarchical"):
            assert delta[kind] == [0.0, 0.0]
        assert call(delta) == "inconclusive"


def test_a_constant_shift_gives_intervals_around_it():
    # every seed: the arm is right on every image, the baseline on the same fixed 60 % of them, so the
    # change of accuracy is exactly 0.4 on the full test set and a binomial proportion over test images.
    rng = np.random.default_rng(1)
    num_test = 500
    labels = rng.integers(0, 2, num_test)
    right = rng.permutation(num_test) < 0.6 * num_test
    baseline = np.stack([np.where(right, labels, 1 - labels)] * 3)
    arm = np.stack([labels] * 3)
    delta = paired_intervals(arm, baseline, labels, num_classes=2, num_resamples=2000, seed=0)["accuracy"]
    assert delta["mean"] == pytest.approx(0.4)
    assert delta["ci_seeds"] == pytest.approx([0.4, 0.4])  # no seed variation at all
    half = 1.96 * np.sqrt(0.4 * 0.6 / num_test)  # the normal interval of a proportion: 0.043
    for kind in ("ci_bootstrap", "ci_hierarchical"):
        low, high = delta[kind]
        assert low < 0.4 < high
        assert (high - low) / 2 == pytest.approx(half, rel=0.15)
    assert delta["test_variance"] == pytest.approx(0.4 * 0.6 / num_test, rel=0.15)
    assert call(delta) == "improvement"


def test_hierarchical_interval_covers_the_seeds_spread_with_the_small_sample_correction():
    # the seeds differ (changes 0.1, 0.2, 0.3 of accuracy) on a test set so large that test noise is negligible:
    # resampling 3 seeds with their deviations scaled by sqrt(3/2) puts the 2.5/97.5 % points at the
    # extreme resamples (probability 1/27 = 3.7 % each): 0.2 -+ sqrt(1.5) * 0.1 = 0.0775 and 0.3225.
    num_test = 10000
    labels = np.zeros(num_test, np.int64)
    baseline = np.ones((3, num_test), np.int64)  # all wrong
    arm = baseline.copy()
    for s, share in enumerate((0.1, 0.2, 0.3)):
        arm[s, : int(share * num_test)] = 0
    delta = paired_intervals(arm, baseline, labels, num_classes=2, num_resamples=1000, seed=0)["accuracy"]
    low, high = delta["ci_hierarchical"]
    assert low == pytest.approx(0.2 - np.sqrt(1.5) * 0.1, abs=0.01)
    assert high == pytest.approx(0.2 + np.sqrt(1.5) * 0.1, abs=0.01)
    assert delta["ci_bootstrap"][1] - delta["ci_bootstrap"][0] < 0.02  # test images alone: narrow
    assert delta["ci_seeds"][0] < low  # the t-interval over 3 seeds (t = 4.30) is wider still


def test_minimum_detectable_effect_by_hand():
    # seeds only: s = 0.1, n = 3, df = 2: (t_0.975,2 + t_0.8,2) * 0.1 / sqrt(3) = (4.3027 + 1.0607) * 0.05774
    seeds_only = minimum_detectable_effect([0.1, 0.2, 0.3], 0.0, alpha=0.05, power=0.8)
    assert seeds_only["df"] == pytest.approx(2.0)
    assert seeds_only["mde"] == pytest.approx((4.302653 + 1.060660) * 0.1 / np.sqrt(3), rel=1e-5)
    # test images only (equal seed changes), many test images: (1.95996 + 0.84162) * sqrt(0.0004)
    test_only = minimum_detectable_effect([0.1, 0.1, 0.1], 0.0004)
    assert test_only["mde"] == pytest.approx(2.80158 * 0.02, rel=1e-4) and test_only["seed_share"] < 1e-9
    # both, Welch-Satterthwaite: a = 0.01 / 3, b = 0.001 with 100 test images
    a, b = 0.01 / 3, 0.001
    df = (a + b) ** 2 / (a**2 / 2 + b**2 / 99)
    both = minimum_detectable_effect([0.1, 0.2, 0.3], b, num_test=100)
    assert both["df"] == pytest.approx(df) and both["se"] == pytest.approx(np.sqrt(a + b))
    assert both["seed_share"] == pytest.approx(a / (a + b))
    with pytest.raises(ValueError, match="power"):
        minimum_detectable_effect([0.1, 0.2], power=1.0)


def test_seeds_needed_by_hand():
    # s = 0.1, no test noise: n seeds detect 0.1 when t_0.975,n-1 + t_0.8,n-1 <= sqrt(n):
    # n = 9: 2.306 + 0.889 = 3.195 > 3; n = 10: 2.262 + 0.883 = 3.145 <= 3.162
    assert seeds_needed(0.1, [0.1, 0.2, 0.3])["seeds"] == 10
    limited = seeds_needed(0.01, [0.1, 0.2, 0.3], 0.0001, num_test=400)
    assert limited["seeds"] is None and "test set" in limited["reason"]
    assert limited["limit"] == pytest.approx(2.80158 * 0.01, rel=1e-4)


def test_the_verdict_rule_reads_the_hierarchical_interval():
    assert call({"ci_seeds": [-1.0, 2.0], "ci_bootstrap": [0.1, 0.2], "ci_hierarchical": [0.01, 0.3]}) == "improvement"
    assert call({"ci_seeds": [0.1, 0.2], "ci_bootstrap": [0.1, 0.2], "ci_hierarchical": [-0.01, 0.3]}) == "inconclusive"
    assert call({"ci_seeds": [-0.3, -0.1], "ci_hierarchical": [-0.3, -0.01]}) == "degradation"
    assert call({"ci_seeds": [0.1, 0.2]}) == "improvement"  # no bootstrap: the seed interval


# ---------------------------------------------------------------------------------------------------
# The done criterion of the experiment's controls, on a small real-looking set from the embedded
# generator: five classes, two of them cut to 4 training images.

CUT = ("basophil", "monocyte")


@pytest.fixture(scope="module")
def controlled_experiment(tmp_path_factory):
    from data_readers.image_reader import ImageReader
    from data_readers.synthetic import make_blood_cell_dataset
    from ganaug.augment import run_augmentation_experiment, split_dataset

    root = tmp_path_factory.mktemp("controls")
    classes = ("basophil", "eosinophil", "lymphocyte", "monocyte", "neutrophil")
    make_blood_cell_dataset(root / "data", image_size=16, counts={name: 90 for name in classes}, seed=0, verbose=0)
    reader = ImageReader.from_folder(root / "data", shuffle=False)
    split = split_dataset(reader.paths, reader.labels, reader.class_names, validation_fraction=0.1,
                          test_fraction=0.3, scenario={"minority_class": list(CUT), "minority_count": 4}, seed=0)
    assert [split.counts()["train"][reader.class_names.index(name)] for name in CUT] == [4, 4]
    # no generator here: the positive control adds 30 held-out real images to each cut class, the
    # negative control the same images with wrong labels (basophils labelled monocyte and vice versa)
    return run_augmentation_experiment(
        split, arms=("baseline",), controls=True, control_counts={name: 30 for name in CUT}, seeds=(0, 1, 2),
        steps=200, rare_classes=list(CUT), num_bootstrap=500, classifier_options={"small_cnn_filters": (16, 32, 64)},
        verbose=0,
    )


@pytest.mark.slow
def test_positive_control_is_detected_on_the_cut_classes_and_the_negative_control_is_not(controlled_experiment):
    result = controlled_experiment
    names = result["class_names"]
    assert result["counts"]["positive_control"] == [30 if name in CUT else 0 for name in names]
    for name in CUT:
        k = names.index(name)
        positive = result["deltas"]["positive_control"]["per_class_f1"][k]
        negative = result["deltas"]["negative_control"]["per_class_f1"][k]
        assert positive["call"] == "improvement" and positive["ci_hierarchical"][0] > 0
        assert negative["call"] != "improvement"
        print(f"{name}: positive {positive['mean']:+.3f} {positive['ci_hierarchical']}, "
              f"negative {negative['mean']:+.3f} {negative['ci_hierarchical']}, "
              f"minimum detectable change {positive['mde']['mde']:.3f} (positive), {negative['mde']['mde']:.3f} (negative)")
    weighted = result["deltas"]["positive_control"]["f1_weighted"]
    print(f"weighted F1: positive {weighted['mean']:+.3f}, minimum detectable change {weighted['mde']['mde']:.3f}")
    assert result["controls"]["positive"]["detected"] and result["controls"]["negative"]["passed"]
    assert set(result["controls"]["positive"]["detected_on"]) >= {f"F1 of {name!r}" for name in CUT}
    assert result["deltas"]["negative_control"]["f1_weighted"]["call"] != "improvement"


@pytest.mark.slow
def test_tables_verdict_and_forest_plot_show_controls_and_power(controlled_experiment, tmp_path):
    import copy

    from matplotlib.figure import Figure

    from ganaug.augment import (control_findings, forest_plot, headline_table, per_class_delta_table,
                                seeds_for_detectable_effect, verdict)
    from ganaug.figures import save_figure

    result = controlled_experiment
    table = headline_table(result)
    assert "positive_control" in table and "negative_control" in table and "MDE" in table
    assert "CI both" in table and "an improvement" in table
    per_class = per_class_delta_table(result)
    assert "basophil (rare)" in per_class and "▲" in per_class
    sentences = verdict(result, arm="positive_control")
    assert "hierarchical" in sentences[0]
    assert any(s.startswith("Positive control") and "detected" in s for s in sentences)
    assert any(s.startswith("Negative control") for s in sentences)
    assert "(MDE " in per_class  # next to every inconclusive change (the classes that were not cut)
    assert verdict(result)[1] == "The synthetic arm was not run."
    needed = seeds_for_detectable_effect(result, 0.05, arm="positive_control", metric="f1_weighted")
    assert needed["seeds"] is None or needed["seeds"] >= 2
    with pytest.raises(ValueError, match="metric"):
        seeds_for_detectable_effect(result, 0.05, arm="positive_control", metric="recall")
    # an experiment whose positive control is not detected says it has no power, and why
    blind = copy.deepcopy(result)
    blind["deltas"]["positive_control"] = blind["deltas"]["negative_control"]
    finding = control_findings(blind)["positive"]
    assert not finding["detected"] and "no power here" in finding["sentence"] and "Why:" in finding["sentence"]

    figure = forest_plot(result)
    assert isinstance(figure, Figure) and len(figure.axes) == 2
    path = save_figure(figure, str(tmp_path / "forest.png"))
    assert (tmp_path / "forest.png").stat().st_size > 10_000 and path.endswith("forest.png")
    assert len(forest_plot(result, metric="accuracy", arms=["positive_control"], intervals=("hierarchical",)).axes) == 1
    with pytest.raises(ValueError, match="arms"):
        forest_plot(result, arms=["synthetic"])
