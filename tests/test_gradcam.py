"""Grad-CAM / Grad-CAM++: hand-built localisation, nested backbones, the factories, overlays, CLI."""

import csv
import os

import keras
import numpy as np
import pytest

from ganaug.explain import (
    build_cam,
    colorize_heatmaps,
    evidence_panel,
    evidence_panel_figure,
    gradcam_heatmaps,
    overlay,
)
from ganaug.models import build_classifier

METHODS = ("gradcam", "gradcam++")


class ChannelMask(keras.layers.Layer):
    """Multiplies a feature map by a fixed (H, W, C) mask."""

    def __init__(self, mask, **kwargs):
        super().__init__(**kwargs)
        self.mask = np.asarray(mask, dtype=np.float32)

    def call(self, inputs):
        return inputs * self.mask


def quadrant_model(size=32, pool=1):
    """Class 1's logit = 4 * mean of feature channel 0, which lives only in the top-left quadrant.

    Channel 0 = relu(local mean of the image), kept in the top-left quadrant only; channel 1 is
    active everywhere but has zero weight; class 0's logit is a constant.
    """
    mask = np.ones((size, size, 2), np.float32)
    mask[:, :, 0] = 0.0
    mask[: size // 2, : size // 2, 0] = 1.0
    image = keras.Input((size, size, 3))
    conv = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="conv")
    x = conv(image)
    x = ChannelMask(mask, name="quadrant")(x)
    if pool > 1:
        x = keras.layers.AveragePooling2D(pool, name="pool")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    logits = keras.layers.Dense(2, name="logits")
    x = logits(x)
    model = keras.Model(image, keras.layers.Activation("softmax")(x))
    kernel = np.zeros((3, 3, 3, 2), np.float32)
    kernel[..., 0] = 1.0 / 27.0
    kernel[..., 1] = np.random.default_rng(1).normal(size=(3, 3, 3))
    conv.set_weights([kernel, np.array([0.0, 0.3], np.float32)])
    dense_kernel = np.zeros((2, 2), np.float32)
    dense_kernel[0, 1] = 4.0
    logits.set_weights([dense_kernel, np.array([0.05, 0.0], np.float32)])
    return model


def top_left_mass(heatmaps):
    half = heatmaps.shape[1] // 2
    return heatmaps[:, :half, :half].sum(axis=(1, 2)) / heatmaps.sum(axis=(1, 2))


def check_heatmaps(heatmaps, count, size):
    assert heatmaps.shape == (count, size, size)
    assert heatmaps.dtype == np.float32
    assert np.all(np.isfinite(heatmaps))
    assert heatmaps.min() >= 0.0 and heatmaps.max() <= 1.0 + 1e-6
    peaks = heatmaps.max(axis=(1, 2))
    assert np.all(np.isclose(peaks, 1.0, atol=1e-5) | (peaks == 0.0))


@pytest.mark.parametrize("method", METHODS)
def test_full_resolution_map_equals_hand_computed_activation(method, rng):
    model = quadrant_model()
    images = rng.uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32)
    heatmaps, indices = gradcam_heatmaps(
        model, images, class_index=1, method=method, return_class_indices=True
    )
    # The class-1 score's gradient is uniform over channel 0 and zero over channel 1, so both
    # methods give channel 0 itself, divided by its maximum.
    activation = keras.Model(model.inputs[0], model.get_layer("quadrant").output)(images).numpy()[..., 0]
    expected = activation / activation.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(heatmaps, expected, atol=1e-5)
    np.testing.assert_array_equal(indices, [1, 1, 1])
    np.testing.assert_allclose(top_left_mass(heatmaps), 1.0, atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_pooled_map_mass_lies_in_the_decisive_quadrant(method, rng):
    model = quadrant_model(pool=4)  # 8x8 feature map, bilinear upsampling to 32x32
    images = rng.uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32)
    heatmaps = gradcam_heatmaps(model, images, class_index=1, method=method)
    check_heatmaps(heatmaps, 4, 32)
    assert np.all(top_left_mass(heatmaps) >= 0.8), top_left_mass(heatmaps)


@pytest.mark.parametrize("method", METHODS)
def test_class_without_gradient_gives_all_zero_map(method, rng):
    images = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    heatmaps = gradcam_heatmaps(quadrant_model(), images, class_index=0, method=method)
    np.testing.assert_array_equal(heatmaps, np.zeros((2, 32, 32), np.float32))


def sequential_model():
    return keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            keras.layers.Conv2D(4, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(6, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


@pytest.mark.parametrize("method", METHODS)
def test_sequential_model_batched_equals_one_at_a_time(method, rng):
    model = sequential_model()
    images = rng.uniform(-1, 1, (5, 16, 16, 1)).astype(np.float32)
    one_at_a_time, indices = gradcam_heatmaps(
        model, images, method=method, batch_size=1, return_class_indices=True
    )
    batched = gradcam_heatmaps(model, images, method=method, batch_size=3)
    check_heatmaps(batched, 5, 16)
    np.testing.assert_allclose(batched, one_at_a_time, atol=1e-5)
    np.testing.assert_array_equal(indices, model.predict(images, verbose=0).argmax(axis=-1))
    assert indices.dtype == np.int32
    per_image = gradcam_heatmaps(model, images, class_index=np.array([0, 1, 2, 0, 1]), method=method)
    np.testing.assert_allclose(
        per_image[1], gradcam_heatmaps(model, images[1:2], class_index=1, method=method)[0], atol=1e-5
    )


def nested_models():
    """Outer Functional and Sequential models around a backbone that nests a block model."""
    block_input = keras.Input((8, 8, 4))
    block_output = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="block_conv")(
        block_input
    )
    block = keras.Model(block_input, block_output, name="block")
    backbone_input = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="stem_conv")(backbone_input)
    x = keras.layers.MaxPooling2D(name="stem_pool")(x)
    x = block(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="head_conv")(x)
    backbone = keras.Model(backbone_input, x, name="backbone")
    image = keras.Input((16, 16, 3))
    y = backbone(image)
    y = keras.layers.GlobalAveragePooling2D()(y)
    y = keras.layers.Dense(3, name="logits")(y)
    functional = keras.Model(image, keras.layers.Activation("softmax")(y))
    sequential = keras.Sequential(
        [keras.Input((16, 16, 3)), backbone, keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)]
    )
    return functional, sequential, backbone


@pytest.mark.parametrize("outer", ["functional", "sequential"])
def test_nested_backbone_auto_and_named_inner_layers(outer, rng):
    functional, sequential, backbone = nested_models()
    model = functional if outer == "functional" else sequential
    images = rng.uniform(-1, 1, (3, 16, 16, 3)).astype(np.float32)
    auto = build_cam(model)
    assert auto.target_layer is backbone  # the nested model is the last 4-D layer of the outer graph
    heatmaps = gradcam_heatmaps(model, images, batch_size=2)
    check_heatmaps(heatmaps, 3, 16)
    # The backbone's last layer has the backbone's output: rebuilding around it changes nothing.
    np.testing.assert_allclose(
        gradcam_heatmaps(model, images, layer="head_conv", batch_size=1), heatmaps, atol=1e-5
    )
    # A layer two models deep: the rebuilt forward pass exposes its output and the same scores.
    cam = build_cam(model, layer="block_conv", method="gradcam++")
    features, scores = cam.gradient_model(images)
    stem = keras.Model(backbone.inputs[0], backbone.get_layer("stem_pool").output)
    expected_features = backbone.get_layer("block")(stem(images))
    np.testing.assert_allclose(features.numpy(), np.asarray(expected_features), atol=1e-5)
    expected_scores = (
        keras.Model(model.inputs[0], model.get_layer("logits").output)(images)
        if outer == "functional"
        else model(images)
    )
    np.testing.assert_allclose(scores.numpy(), np.asarray(expected_scores), atol=1e-5)
    check_heatmaps(cam.compute(images)[0], 3, 16)


def test_factory_small_cnn_both_methods_and_keras_round_trip(tmp_path, rng):
    model = build_classifier("small_cnn", num_classes=3, image_size=16, seed=0)
    images = rng.uniform(-1, 1, (3, 16, 16, 3)).astype(np.float32)
    cam = build_cam(model)
    assert cam.target_layer.name == "last_conv_features"
    for method in METHODS:
        heatmaps, indices = gradcam_heatmaps(model, images, method=method, return_class_indices=True)
        check_heatmaps(heatmaps, 3, 16)
        np.testing.assert_array_equal(indices, model.predict(images, verbose=0).argmax(axis=-1))
    path = str(tmp_path / "classifier.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        gradcam_heatmaps(reloaded, images, class_index=2),
        gradcam_heatmaps(model, images, class_index=2),
        atol=1e-5,
    )


def test_factory_xception_nested_backbone(rng):
    model = build_classifier("xception", num_classes=2, image_size=71, seed=0)
    images = rng.uniform(-1, 1, (2, 71, 71, 3)).astype(np.float32)
    cam = build_cam(model, layer="block14_sepconv2_act")  # inside the nested keras.applications model
    heatmaps, indices, _ = cam.compute(images, class_index=np.array([0, 1]), batch_size=2)
    check_heatmaps(heatmaps, 2, 71)
    np.testing.assert_array_equal(indices, [0, 1])
    one_at_a_time = np.concatenate(
        [cam.compute(images[i : i + 1], class_index=i)[0] for i in range(2)]
    )
    np.testing.assert_allclose(heatmaps, one_at_a_time, atol=1e-4)


@pytest.mark.slow
def test_factory_inception_v3_with_resize_and_gradcam_plus_plus(rng):
    model = build_classifier("inception_v3", num_classes=2, image_size=32, resize_to=75, seed=0)
    images = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    heatmaps = gradcam_heatmaps(model, images, method="gradcam++", batch_size=2)
    check_heatmaps(heatmaps, 2, 32)  # resized to the input's resolution, not the backbone's


def test_bad_inputs_name_the_argument(rng):
    model = sequential_model()
    images = rng.uniform(-1, 1, (2, 16, 16, 1)).astype(np.float32)
    dense_only = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no convolutional layer.*Received: model="):
        gradcam_heatmaps(dense_only, images)
    with pytest.raises(ValueError, match="4-D.*Received: layer="):
        gradcam_heatmaps(model, images, layer=model.layers[-1].name)
    with pytest.raises(ValueError, match="Received: layer='nope'"):
        gradcam_heatmaps(model, images, layer="nope")
    with pytest.raises(ValueError, match=r"\[0, 3\).*Received: class_index=3"):
        gradcam_heatmaps(model, images, class_index=3)
    with pytest.raises(ValueError, match="Received: class_index=-1"):
        gradcam_heatmaps(model, images, class_index=-1)
    with pytest.raises(ValueError, match="one int per image"):
        gradcam_heatmaps(model, images, class_index=np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\(N, 16, 16, 1\).*Received: images.shape=\(2, 16, 16, 3\)"):
        gradcam_heatmaps(model, np.zeros((2, 16, 16, 3), np.float32))
    with pytest.raises(ValueError, match=r"Received: images.shape=\(2, 20, 20, 1\)"):
        gradcam_heatmaps(model, np.zeros((2, 20, 20, 1), np.float32))
    with pytest.raises(ValueError, match=r"Received: images.shape=\(16, 16, 1\)"):
        gradcam_heatmaps(model, images[0])
    with pytest.raises(ValueError, match="Received: method='cam'"):
        gradcam_heatmaps(model, images, method="cam")
    with pytest.raises(ValueError, match="Received: batch_size=0"):
        gradcam_heatmaps(model, images, batch_size=0)
    with pytest.raises(TypeError, match="Received: model="):
        gradcam_heatmaps("model.keras", images)


def test_overlay_blends_hand_computed_colours():
    images = np.zeros((1, 2, 2, 3), np.uint8)
    images[0, 0, 0] = [200, 100, 0]
    heatmaps = np.array([[[0.0, 1.0], [0.5, 0.25]]], np.float32)
    colours = colorize_heatmaps(heatmaps, colormap="gray")
    np.testing.assert_array_equal(colours[0, :, :, 0], [[0, 255], [128, 64]])
    blended = overlay(images, heatmaps, colormap="gray", alpha=0.4)
    assert blended.dtype == np.uint8 and blended.shape == (1, 2, 2, 3)
    np.testing.assert_array_equal(blended[0, 0, 0], [120, 60, 0])  # 0.6 * image + 0.4 * black
    np.testing.assert_array_equal(blended[0, 0, 1], [102, 102, 102])  # 0.6 * 0 + 0.4 * 255
    np.testing.assert_array_equal(overlay(images, heatmaps, alpha=0.0), images)
    with pytest.raises(ValueError, match="Received: alpha=1.5"):
        overlay(images, heatmaps, alpha=1.5)
    with pytest.raises(ValueError, match="Received: colormap='nope'"):
        overlay(images, heatmaps, colormap="nope")
    with pytest.raises(ValueError, match=r"Received: heatmaps.shape=\(1, 3, 3\)"):
        overlay(images, np.zeros((1, 3, 3)))


def test_evidence_panel_has_the_figure_6_columns(rng):
    images = rng.uniform(-1, 1, (2, 8, 8, 1)).astype(np.float32)
    heatmaps = rng.uniform(0, 1, (2, 8, 8)).astype(np.float32)
    cells = evidence_panel(images, heatmaps, colormaps=("jet", "viridis"))
    assert cells.shape == (2, 4, 8, 8, 3) and cells.dtype == np.uint8
    np.testing.assert_array_equal(cells[:, 0], colorize_heatmaps(heatmaps, colormap="jet"))
    np.testing.assert_array_equal(cells[:, 2], overlay(images, heatmaps, colormap="jet"))
    np.testing.assert_array_equal(cells[:, 3], overlay(images, heatmaps, colormap="viridis"))
    figure = evidence_panel_figure(images, heatmaps, row_labels=["real", "generated"])
    assert len(figure.axes) == 8
    assert [axis.get_title() for axis in figure.axes[:4]] == [
        "heatmap",
        "image",
        "overlay (jet)",
        "overlay (viridis)",
    ]


def test_cli_writes_overlays_panel_and_predictions(tmp_path, rng):
    from ganaug.cli import main
    from ganaug.figures import save_png

    model = build_classifier("small_cnn", num_classes=2, image_size=16, seed=0)
    model_path = str(tmp_path / "classifier.keras")
    model.save(model_path)
    for index, folder in enumerate(["a", "a", "b"]):
        picture = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        save_png(str(tmp_path / "images" / folder / f"cell_{index}.png"), picture)
    out = tmp_path / "out"
    code = main(
        [
            "gradcam",
            "--model", model_path,
            "--images", str(tmp_path / "images"),
            "--out", str(out),
            "--class-index", "1",
            "--method", "gradcam++",
            "--quiet",
        ]
    )  # fmt: skip
    assert code == 0
    assert (out / "panel.png").is_file()
    with open(out / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["path"] for row in rows] == [
        os.path.join("a", "cell_0.png"),
        os.path.join("a", "cell_1.png"),
        os.path.join("b", "cell_2.png"),
    ]
    from data_readers.image_reader import read_images

    images = read_images([str(tmp_path / "images" / row["path"]) for row in rows])
    probabilities = model.predict(images, verbose=0)
    for row, expected in zip(rows, probabilities):
        assert int(row["predicted_class"]) == expected.argmax()
        assert float(row["score"]) == pytest.approx(expected.max(), abs=1e-5)
        assert int(row["explained_class"]) == 1
        assert (out / row["overlay"]).is_file()
    assert main(["gradcam", "--model", str(tmp_path / "missing.keras"), "--images", ".", "--out", "x"]) == 2
