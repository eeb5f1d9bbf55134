"""compare_evidence: heatmap statistics against hand-computed values, similarity, tests, summary."""

import keras
import numpy as np
import pytest

from ganaug.explain import (
    compare_evidence,
    compare_heatmaps,
    heatmap_similarity,
    heatmap_statistics,
)


def test_heatmap_statistics_hand_computed():
    maps = np.zeros((4, 16, 16))
    maps[0, 7:9, 7:9] = 1.0  # four central pixels
    maps[1] = 1.0  # uniform
    maps[2, 0, 0] = 3.0  # one corner pixel
    statistics = heatmap_statistics(maps, centre_fraction=0.5, top_fraction=0.1)
    np.testing.assert_allclose(statistics["centre_mass"][:3], [1.0, 64 / 256, 0.0])
    np.testing.assert_allclose(statistics["centroid_distance"][:3], [0.0, 0.0, 1.0], atol=1e-12)
    # ceil(0.1 * 256) = 26 top pixels
    np.testing.assert_allclose(statistics["top_mass"][:3], [1.0, 26 / 256, 1.0])
    np.testing.assert_allclose(
        statistics["entropy"][:3], [np.log(4) / np.log(256), 1.0, 0.0], atol=1e-12
    )
    for values in statistics.values():  # the all-zero map has no mass to describe
        assert np.isnan(values[3])


def test_heatmap_similarity_hand_computed():
    assert heatmap_similarity([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]) == pytest.approx((1.0, 1.0))
    assert heatmap_similarity([1.0, 0.0], [0.0, 1.0]) == pytest.approx((-1.0, 0.0))
    pearson, cosine = heatmap_similarity([1.0, 1.0], [1.0, 2.0])
    assert np.isnan(pearson) and cosine == pytest.approx(3 / np.sqrt(10))
    with pytest.raises(ValueError, match="same shape"):
        heatmap_similarity(np.zeros(3), np.zeros(4))


def blob_heatmaps(rng, count, centre, size=16, width=2.5):
    rows, columns = np.mgrid[0:size, 0:size]
    maps = []
    for _ in range(count):
        row, column = np.asarray(centre) + rng.normal(0, 0.7, 2)
        maps.append(np.exp(-((rows - row) ** 2 + (columns - column) ** 2) / (2 * width**2)))
    return np.asarray(maps)


def test_identical_sets_correlate_perfectly(rng):
    heatmaps = blob_heatmaps(rng, 12, (8, 8))
    predictions = np.array([1] * 10 + [0] * 2)
    result = compare_heatmaps(
        heatmaps,
        heatmaps.copy(),
        real_predictions=predictions,
        generated_predictions=predictions,
        class_index=1,
        num_splits=50,
    )
    assert result["mean_heatmap_pearson"] == pytest.approx(1.0)
    assert result["mean_heatmap_cosine"] == pytest.approx(1.0)
    for test in result["tests"].values():
        assert test["ks_statistic"] == 0.0 and test["p_value"] == pytest.approx(1.0)
    assert result["agreement"] == {
        "real_predicted_as_class": pytest.approx(10 / 12),
        "generated_predicted_as_class": pytest.approx(10 / 12),
        "difference": 0.0,
    }
    assert result["real"] == result["generated"]
    reference = result["reference"]
    assert reference["half_size"] == 6 and reference["num_splits"] == 50
    assert 0.5 < reference["real_vs_real_pearson"]["mean"] <= 1.0
    assert "correlates 1.00 with that on real images" in result["summary"]
    assert "the same places" in result["summary"]
    assert "83 % of real and 83 % of generated" in result["summary"]


def test_displaced_evidence_is_reported(rng):
    real = blob_heatmaps(rng, 20, (4, 4))
    generated = blob_heatmaps(rng, 20, (11, 11))
    result = compare_heatmaps(real, generated, num_splits=50, seed=3)
    reference = result["reference"]
    assert result["mean_heatmap_pearson"] < 0.0 < reference["real_vs_real_pearson"]["low"]
    assert reference["real_vs_generated_pearson"]["mean"] < reference["real_vs_real_pearson"]["low"]
    assert "attention elsewhere" in result["summary"]
    assert result["agreement"] is None
    # Same spread around a displaced centre: entropy alike, centroid distance alike (symmetric).
    assert result["tests"]["entropy"]["p_value"] > 0.01
    # The reference splits are random: the same seed gives the same numbers.
    assert compare_heatmaps(real, generated, num_splits=50, seed=3)["reference"] == reference
    assert compare_heatmaps(real, generated, num_splits=50, seed=4)["reference"] != reference


def test_concentrated_vs_spread_heatmaps_differ_in_entropy(rng):
    concentrated = blob_heatmaps(rng, 15, (8, 8), width=1.0)
    spread = blob_heatmaps(rng, 15, (8, 8), width=5.0)
    result = compare_heatmaps(concentrated, spread, num_splits=20)
    assert result["real"]["entropy"]["mean"] < result["generated"]["entropy"]["mean"]
    assert result["real"]["top_mass"]["mean"] > result["generated"]["top_mass"]["mean"]
    assert result["tests"]["entropy"]["ks_statistic"] == 1.0
    assert result["tests"]["entropy"]["p_value"] < 1e-6


def test_compare_heatmaps_bad_input():
    maps = np.ones((3, 8, 8))
    with pytest.raises(ValueError, match=r"Received: generated_heatmaps.shape=\(3, 4, 4\)"):
        compare_heatmaps(maps, np.ones((3, 4, 4)))
    with pytest.raises(ValueError, match="Received: real_heatmaps min=-1"):
        compare_heatmaps(-maps, maps)
    with pytest.raises(ValueError, match="Received: centre_fraction=0"):
        compare_heatmaps(maps, maps, centre_fraction=0)
    with pytest.raises(ValueError, match="Received: num_splits=0"):
        compare_heatmaps(maps, maps, num_splits=0)
    with pytest.raises(ValueError, match=r"Received: real_predictions.shape=\(2,\)"):
        compare_heatmaps(
            maps, maps, real_predictions=[1, 1], generated_predictions=[1, 1, 1], class_index=1
        )


def centre_model():
    """A tiny CNN whose class-1 logit is the mean of a fixed local-mean feature over the image."""
    image = keras.Input((16, 16, 3))
    conv = keras.layers.Conv2D(1, 3, padding="same", activation="relu")
    x = keras.layers.GlobalAveragePooling2D()(conv(image))
    logits = keras.layers.Dense(2, name="logits")
    model = keras.Model(image, keras.layers.Activation("softmax")(logits(x)))
    conv.set_weights([np.full((3, 3, 3, 1), 1 / 27, np.float32), np.zeros(1, np.float32)])
    logits.set_weights([np.array([[0.0, 10.0]], np.float32), np.array([0.05, 0.0], np.float32)])
    return model


def test_compare_evidence_on_real_vs_perturbed_images(rng, tmp_path):
    model = centre_model()
    rows, columns = np.mgrid[0:16, 0:16]
    bright_centre = np.exp(-((rows - 7.5) ** 2 + (columns - 7.5) ** 2) / 18.0)
    real = (bright_centre[None, :, :, None] * 1.6 - 0.8 + rng.normal(0, 0.05, (8, 16, 16, 3)))
    real = np.clip(real, -1, 1).astype(np.float32)
    same = compare_evidence(model, real, real.copy(), class_index=1, num_splits=20, num_examples=3)
    assert same["mean_heatmap_pearson"] == pytest.approx(1.0, abs=1e-6)
    agreement = same["agreement"]
    assert agreement["real_predicted_as_class"] == agreement["generated_predicted_as_class"]
    np.testing.assert_array_equal(same["predictions"]["real"], same["predictions"]["generated"])
    assert same["heatmaps"]["real"].shape == (8, 16, 16)
    np.testing.assert_allclose(same["heatmaps"]["real"], same["heatmaps"]["generated"])

    # "Generated" images with an artefact: a bright corner the classifier also responds to.
    perturbed = real.copy()
    perturbed[:, :4, :4, :] = 0.6 + rng.normal(0, 0.05, (8, 4, 4, 3))
    result = compare_evidence(model, real, perturbed, class_index=1, method="gradcam++", num_splits=20)
    assert 0.3 < result["mean_heatmap_pearson"] < 0.95
    assert result["method"] == "gradcam++"
    # The artefact takes part of the heatmap mass away from the centre, towards a corner.
    assert result["generated"]["centre_mass"]["mean"] < result["real"]["centre_mass"]["mean"]
    assert result["generated"]["centroid_distance"]["mean"] > result["real"]["centroid_distance"]["mean"]
    assert result["tests"]["centroid_distance"]["p_value"] < 0.01
    assert "p < 0.001" in result["summary"]
    figure = result["figure"]
    assert len(figure.axes) == 4 + 2 * 4
    path = tmp_path / "comparison.png"
    figure.savefig(path)
    assert path.stat().st_size > 1000
    assert compare_evidence(model, real, perturbed, class_index=1, make_figure=False)["figure"] is None
    with pytest.raises(ValueError, match="Received: class_index=2"):
        compare_evidence(model, real, perturbed, class_index=2)
    with pytest.raises(ValueError, match="Received: class_index=None"):
        compare_evidence(model, real, perturbed, class_index=None)
    with pytest.raises(ValueError, match=r"Received: images.shape=\(8, 16, 16, 1\)"):
        compare_evidence(model, real, perturbed[..., :1], class_index=1)
