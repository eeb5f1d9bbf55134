"""Classifiers for augmentation experiments and Grad-CAM (Xception: Klang & Carlberg; InceptionV3:
Fernández et al. 2021; small_cnn for CPU runs)."""

import numpy as np
import pytest

import keras
import tensorflow as tf

from ganaug import models


def _check_named_layers(model, num_classes):
    features = model.get_layer("last_conv_features").output
    assert len(features.shape) == 4
    logits = model.get_layer("logits")
    assert isinstance(logits, keras.layers.Dense) and logits.units == num_classes
    assert model.layers[-1].name == "probabilities"
    assert model.layers[-1].activation.__name__ == "softmax"


def _grad_cam_gradients(model, images, class_index):
    """What Grad-CAM does: gradients of a class score with respect to the last conv features."""
    grad_model = keras.Model(model.input, [model.get_layer("last_conv_features").output, model.output])
    with tf.GradientTape() as tape:
        features, probabilities = grad_model(images, training=False)
        score = probabilities[:, class_index]
    return features, tape.gradient(score, features)


@pytest.mark.parametrize("channels", [1, 3])
def test_small_cnn_layout_and_outputs(channels, rng):
    model = models.build_classifier("small_cnn", num_classes=4, image_size=32, channels=channels, seed=0)
    assert model.name == "small_cnn_classifier"
    _check_named_layers(model, 4)
    assert tuple(model.get_layer("last_conv_features").output.shape) == (None, 8, 8, 128)
    images = rng.uniform(-1, 1, (3, 32, 32, channels)).astype("float32")
    probabilities = model(images, training=False).numpy()
    assert probabilities.shape == (3, 4) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    features, gradients = _grad_cam_gradients(model, images, 2)
    assert gradients is not None and gradients.shape == features.shape
    assert np.any(gradients.numpy() != 0)


def test_xception_grayscale_with_resize_and_grad_cam(rng):
    model = models.build_classifier("xception", num_classes=2, image_size=32, channels=1, resize_to=71)
    _check_named_layers(model, 2)
    assert isinstance(model.get_layer("xception"), keras.Model)  # nested keras.applications backbone
    assert tuple(model.get_layer("grayscale_to_rgb").output.shape) == (None, 32, 32, 3)
    assert tuple(model.get_layer("resize").output.shape) == (None, 71, 71, 3)
    assert tuple(model.get_layer("last_conv_features").output.shape) == (None, 3, 3, 2048)
    images = rng.uniform(-1, 1, (2, 32, 32, 1)).astype("float32")
    features, gradients = _grad_cam_gradients(model, images, 1)
    assert gradients is not None and tuple(gradients.shape) == (2, 3, 3, 2048)


@pytest.mark.slow
def test_inception_v3_layout():
    model = models.build_classifier("inception_v3", num_classes=5, image_size=75, dropout=0.2)
    _check_named_layers(model, 5)
    assert isinstance(model.get_layer("inception_v3"), keras.Model)
    assert tuple(model.output.shape) == (None, 5)
    assert model.get_layer("dropout").rate == 0.2


@pytest.mark.parametrize("module", [keras.applications.xception, keras.applications.inception_v3])
def test_our_range_is_the_backbones_preprocessing(module):
    """keras.applications' "tf"-mode preprocess_input maps [0, 255] to [-1, 1] exactly as we do."""
    pixels = np.array([[[[0, 127.5, 255], [1, 64, 200]]]], dtype="float32")
    ours = (pixels - 127.5) / 127.5
    np.testing.assert_allclose(module.preprocess_input(pixels.copy()), ours, rtol=1e-6, atol=1e-6)


def test_classifier_errors(tmp_path):
    with pytest.raises(ValueError, match=r"resize_to=71.*Received: image_size=64"):
        models.build_classifier("xception", num_classes=2, image_size=64)
    with pytest.raises(ValueError, match=r"at least 75.*Received: resize_to=72"):
        models.build_classifier("inception_v3", num_classes=2, image_size=32, resize_to=72)
    with pytest.raises(ValueError, match=r"Received: weights='imagenet'"):
        models.build_classifier("xception", num_classes=2, image_size=71, weights="imagenet")
    missing = tmp_path / "backbone.weights.h5"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        models.build_classifier("xception", num_classes=2, image_size=71, weights=str(missing))
    with pytest.raises(ValueError, match=r"Received: architecture='resnet'"):
        models.build_classifier("resnet", num_classes=2, image_size=64)
    with pytest.raises(ValueError, match=r"Received: num_classes=1"):
        models.build_classifier("small_cnn", num_classes=1, image_size=64)
    with pytest.raises(ValueError, match=r"Received: channels=4"):
        models.build_classifier("small_cnn", num_classes=2, image_size=64, channels=4)


@pytest.mark.slow
def test_backbone_weights_from_local_file(tmp_path):
    source = models.build_classifier("xception", num_classes=2, image_size=71)
    path = tmp_path / "xception_notop.weights.h5"
    source.get_layer("xception").save_weights(path)
    model = models.build_classifier("xception", num_classes=2, image_size=71, weights=str(path))
    for a, b in zip(source.get_layer("xception").get_weights(), model.get_layer("xception").get_weights()):
        np.testing.assert_array_equal(a, b)


def test_classifier_ensemble_averages_its_members_and_round_trips(tmp_path, rng):
    from ganaug.models import build_classifier_ensemble

    build_classifier = models.build_classifier
    members = [build_classifier("small_cnn", num_classes=3, image_size=16, small_cnn_filters=(4, 8), seed=s)
               for s in (0, 1, 2)]
    ensemble = build_classifier_ensemble(members)
    images = rng.uniform(-1, 1, size=(5, 16, 16, 3)).astype("float32")
    expected = np.mean([m.predict(images, verbose=0) for m in members], axis=0)
    output = ensemble.predict(images, verbose=0)
    np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(output.sum(axis=1), 1.0, rtol=1e-5)
    path = str(tmp_path / "ensemble.keras")
    ensemble.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path).predict(images, verbose=0), output, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="at least two"):
        build_classifier_ensemble(members[:1])
    with pytest.raises(ValueError, match="same number of classes"):
        build_classifier_ensemble([members[0], build_classifier("small_cnn", num_classes=4, image_size=16, seed=0)])
    with pytest.raises(TypeError, match=r"classifiers\[1\]"):
        build_classifier_ensemble([members[0], "model"])


def _dihedral_views(images):
    """The 8 symmetries of the square, by numpy, on the image axes of a (N, S, S, C) batch."""
    views = []
    for turns in range(4):
        rotated = np.rot90(images, k=turns, axes=(1, 2))
        views += [rotated, rotated[:, :, ::-1]]
    return views


def test_dihedral_view_matches_numpy(rng):
    from ganaug.models.layers import DihedralView

    images = rng.uniform(-1, 1, size=(2, 5, 5, 3)).astype("float32")
    layers = [DihedralView(turns, flip) for turns in range(4) for flip in (False, True)]
    for layer, expected in zip(layers, _dihedral_views(images)):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images)), expected)
    outputs = {keras.ops.convert_to_numpy(layer(images)).tobytes() for layer in layers}
    assert len(outputs) == 8  # eight distinct views of a generic image
    with pytest.raises(ValueError, match="quarter_turns"):
        DihedralView(4)
    with pytest.raises(TypeError, match="flip"):
        DihedralView(1, flip=1)


def test_dihedral_average_is_the_mean_over_views_invariant_and_round_trips(tmp_path, rng):
    from ganaug.models import build_dihedral_average

    member = models.build_classifier("small_cnn", num_classes=3, image_size=16, small_cnn_filters=(4, 8), seed=0)
    averaged = build_dihedral_average(member)
    images = rng.uniform(-1, 1, size=(4, 16, 16, 3)).astype("float32")
    expected = np.mean([member.predict(np.ascontiguousarray(v), verbose=0) for v in _dihedral_views(images)], axis=0)
    output = averaged.predict(images, verbose=0)
    np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(output.sum(axis=1), 1.0, rtol=1e-5)
    # The member alone is not invariant; the average is, for every view.
    turned = np.ascontiguousarray(np.rot90(images, k=1, axes=(1, 2))[:, :, ::-1])
    assert not np.allclose(member.predict(turned, verbose=0), member.predict(images, verbose=0), atol=1e-4)
    np.testing.assert_allclose(averaged.predict(turned, verbose=0), output, rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "dihedral.keras")
    averaged.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path).predict(images, verbose=0), output, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="classifier"):
        build_dihedral_average("model")
    wide = keras.Model(*(lambda x: (x, keras.layers.Dense(2)(keras.layers.Flatten()(x))))(keras.Input((8, 16, 3))))
    with pytest.raises(ValueError, match="square"):
        build_dihedral_average(wide)
