"""Diversity ratios and collapse flags."""

import keras
import numpy as np
import pytest

from ganaug.evaluation.diversity import diversity_report, mean_pairwise_distance
from ganaug.evaluation.tstr import generate_labelled_images


def test_mean_pairwise_distance_by_hand():
    points = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]])
    assert mean_pairwise_distance(points) == pytest.approx((5 + 4 + 3) / 3)


def _constant_generator(latent_dim=4):
    """A generator that returns one image for every z (total mode collapse)."""
    latent = keras.Input((latent_dim,))
    x = keras.layers.Dense(8 * 8 * 3, kernel_initializer="zeros", bias_initializer=keras.initializers.RandomUniform(-1, 1, seed=1))(latent)
    x = keras.layers.Reshape((8, 8, 3))(x)
    return keras.Model(latent, keras.layers.Activation("tanh")(x))


def test_a_generator_returning_one_image_is_flagged_as_collapsed(rng):
    generated = generate_labelled_images(_constant_generator(), num_images=30, seed=0)
    assert generated.shape == (30, 8, 8, 3)
    real = rng.uniform(-1, 1, size=(30, 8, 8, 3))
    report = diversity_report(real.reshape(30, -1), generated.reshape(30, -1))
    entry = report["classes"]["all"]
    assert entry["collapsed"] is True and report["collapsed_classes"] == ["all"]
    assert entry["diversity_ratio"] == pytest.approx(0.0, abs=1e-6)
    assert entry["near_duplicate_fraction"] == 1.0


def test_only_the_collapsed_class_is_flagged(rng):
    real = rng.normal(size=(80, 6))
    real_labels = np.repeat([0, 1], 40)
    generated = rng.normal(size=(80, 6))
    generated[:40] = generated[0] + 0.01 * rng.normal(size=(40, 6))  # class 0 collapsed
    generated_labels = np.repeat([0, 1], 40)
    report = diversity_report(
        real, generated, real_labels=real_labels, generated_labels=generated_labels, class_names=["band", "lymph"]
    )
    assert report["collapsed_classes"] == ["band"]
    assert report["classes"]["lymph"]["diversity_ratio"] == pytest.approx(1.0, abs=0.25)
    assert report["classes"]["band"]["near_duplicate_fraction"] > 0.9
    assert report["classes"]["lymph"]["near_duplicate_fraction"] < 0.2


def test_errors_name_the_argument(rng):
    x = rng.normal(size=(10, 2))
    with pytest.raises(ValueError, match="Received: collapse_threshold=0"):
        diversity_report(x, x, collapse_threshold=0)
    with pytest.raises(ValueError, match="real_labels is None=False"):
        diversity_report(x, x, real_labels=np.zeros(10, int))
