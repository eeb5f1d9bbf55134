"""TSTR/TRTS and evaluate_generator end to end on a toy conditional generator with known behaviour."""

import json

import keras
import numpy as np
import pytest

from ganaug.evaluation.evaluate import evaluate_generator, stratified_split
from ganaug.evaluation.tstr import generate_labelled_images, tstr_trts
from ganaug.models.layers import OneHot

SIZE = 8


def _toy_generator(swap=False, latent_dim=4):
    """[latent, label] -> images: class 0 bright on the left, class 1 on the right (swapped if asked)."""
    latent = keras.Input((latent_dim,), name="latent")
    label = keras.Input((), dtype="int32", name="label")
    pattern = keras.layers.Dense(SIZE * SIZE * 3, use_bias=False, name="pattern")
    noise = keras.layers.Dense(SIZE * SIZE * 3, use_bias=False, name="noise")
    x = keras.layers.Add()([pattern(OneHot(2)(label)), noise(latent)])
    x = keras.layers.Activation("tanh")(keras.layers.Reshape((SIZE, SIZE, 3))(x))
    model = keras.Model([latent, label], x, name="toy_generator")
    left = np.zeros((SIZE, SIZE, 3), np.float32)
    left[:, : SIZE // 2] = 1.5
    left -= 0.75
    rows = np.stack([left.reshape(-1), left[:, ::-1].reshape(-1)])
    pattern.set_weights([rows[::-1] if swap else rows])
    noise.set_weights([np.random.default_rng(0).normal(0, 0.3, size=(latent_dim, SIZE * SIZE * 3)).astype(np.float32)])
    return model


def _real(n, seed):
    labels = np.arange(n, dtype=np.int32) % 2
    return generate_labelled_images(_toy_generator(), labels, seed=seed), labels


def _tiny_classifier(num_classes, image_size, channels, seed):
    image = keras.Input((image_size, image_size, channels))
    x = keras.layers.Conv2D(4, 3, padding="same", kernel_initializer=keras.initializers.GlorotUniform(seed))(image)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU()(x))
    x = keras.layers.Dense(num_classes, name="logits", kernel_initializer=keras.initializers.GlorotUniform(seed))(x)
    return keras.Model(image, keras.layers.Softmax(name="probabilities")(x), name="tiny_classifier")


def test_tstr_trts_detects_a_generator_that_swaps_its_classes():
    result = tstr_trts(
        _toy_generator(swap=True), _real(60, seed=10), _real(40, seed=11), samples_per_class=30,
        class_names=["left", "right"], classifier_factory=_tiny_classifier, epochs=4, learning_rate=0.05,
        batch_size=16,
    )
    cells = {(row["train"], row["test"]): row["accuracy"] for row in result["rows"]}
    assert list(cells) == [("real", "real"), ("real", "generated"), ("generated", "generated"), ("generated", "real")]
    assert cells["real", "real"] > 0.9 and cells["generated", "generated"] > 0.9
    assert cells["real", "generated"] < 0.1 and cells["generated", "real"] < 0.1
    assert result["markdown"].startswith("| trained on | tested on | accuracy")
    assert result["metrics"]["train_real_test_real"]["confusion_matrix"].sum() == 40


def _pixel_extractor():
    image = keras.Input((SIZE, SIZE, 3))
    return keras.Model(image, keras.layers.Flatten()(keras.layers.AveragePooling2D(2)(image)), name="pixels")


def test_evaluate_generator_conditional_writes_results_and_is_deterministic(tmp_path):
    real = _real(80, seed=20)
    options = dict(
        class_names=["left", "right"], feature_extractor=_pixel_extractor(), num_samples=60, tstr=False,
        kid_num_subsets=10, seed=1, verbose=0,
    )
    result = evaluate_generator(_toy_generator(), real, out_dir=tmp_path, **options)
    assert result["conditional"] is True and result["num_generated"] == 60
    assert result["num_real_train"] + result["num_real_holdout"] == 80
    assert result["extractor"]["model_name"] == "pixels" and result["extractor"]["feature_dim"] == 48
    assert set(result["per_class"]) == {"left", "right"}
    # the toy generator is the real distribution: scores close to the real held-out baseline
    assert result["manifold"]["precision"] > 0.8 and result["diversity"]["collapsed_classes"] == []
    assert result["distribution"]["kid"] < 5 * result["distribution"]["kid_std"] + 0.01
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["distribution"]["fid"] == pytest.approx(result["distribution"]["fid"])
    for path in result["figures"].values():
        assert (tmp_path / path.split("/")[-1]).stat().st_size > 500
    assert "Generator evaluation" in (tmp_path / "summary.md").read_text()
    again = evaluate_generator(_toy_generator(), real, **options)
    for key in ("distribution", "manifold", "per_class", "diversity", "memorisation"):
        assert again[key] == result[key]


def test_evaluate_generator_scores_a_swapped_generator_worse_and_flags_collapse():
    real = _real(80, seed=20)
    options = dict(feature_extractor=_pixel_extractor(), num_samples=60, tstr=False, kid_num_subsets=10, verbose=0)
    good = evaluate_generator(_toy_generator(), real, **options)
    swapped = evaluate_generator(_toy_generator(swap=True), real, **options)
    # same marginal distribution, wrong classes: the overall scores agree, the per-class ones do not
    assert swapped["per_class"]["0"]["kid"] > 10 * good["per_class"]["0"]["kid"] + 0.01
    latent = keras.Input((4,))
    constant = keras.layers.Dense(SIZE * SIZE * 3, kernel_initializer="zeros", bias_initializer=keras.initializers.RandomUniform(-0.5, 0.5, seed=2))(latent)
    collapsed = keras.Model(latent, keras.layers.Reshape((SIZE, SIZE, 3))(constant))
    result = evaluate_generator(collapsed, real, **options)
    assert result["conditional"] is False and result["diversity"]["collapsed_classes"] == ["all"]
    assert result["manifold"]["recall"] < 0.1


def test_stratified_split_keeps_classes_on_both_sides():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 2)
    train, holdout = stratified_split(labels, holdout_fraction=0.2, seed=0)
    assert len(np.intersect1d(train, holdout)) == 0 and len(train) + len(holdout) == 15
    assert set(labels[holdout]) == {0, 1, 2} and set(labels[train]) == {0, 1, 2}
    np.testing.assert_array_equal(stratified_split(labels, seed=0)[1], holdout)


def test_errors_name_the_argument():
    real = _real(20, seed=1)
    with pytest.raises(ValueError, match="Received: num_samples=5"):
        evaluate_generator(_toy_generator(), real, num_samples=5, verbose=0)
    with pytest.raises(ValueError, match="Received: real_data without labels"):
        evaluate_generator(_toy_generator(), real[0], num_samples=20, verbose=0)
    with pytest.raises(ValueError, match=r"latent code .* Received: input shape \(None, 8, 8, 3\)"):
        tstr_trts(_pixel_extractor(), real, real)  # an image model is not a generator (GeneratorSpec)
    with pytest.raises(ValueError, match="Received: labels=None"):
        generate_labelled_images(_toy_generator(), num_images=3)


def test_class_proportional_labels_by_hand():
    from ganaug.evaluation.evaluate import class_proportional_labels

    labels = np.array([0] * 6 + [1] * 3 + [2])
    np.testing.assert_array_equal(np.bincount(class_proportional_labels(labels, 4, 10), minlength=4), [5, 3, 2, 0])
    with pytest.raises(ValueError, match="Received: num_samples=3"):
        class_proportional_labels(labels, 3, 3)
