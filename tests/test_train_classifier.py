"""train_classifier / predict_classes on a tiny separable problem."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganaug.training.classifier import (
    balanced_class_weight,
    classical_augmentation,
    predict_classes,
    train_classifier,
)


def _model(seed=0, num_classes=2, size=8):
    image = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", kernel_initializer=keras.initializers.GlorotUniform(seed))(image)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(num_classes, name="logits", kernel_initializer=keras.initializers.GlorotUniform(seed + 1))(x)
    return keras.Model(image, keras.layers.Softmax(name="probabilities")(x))


def _separable(n=64, size=8, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n, dtype=np.int32) % 2
    images = rng.uniform(-0.3, 0.3, size=(n, size, size, 3)).astype(np.float32)
    images += np.where(labels == 1, 0.6, -0.6)[:, None, None, None].astype(np.float32)
    return images, labels


def test_training_lowers_the_loss_and_separates_the_classes():
    images, labels = _separable()
    model, history = train_classifier(_model(), (images, labels), epochs=8, learning_rate=0.05, batch_size=16, verbose=0)
    assert set(history) == {"loss", "accuracy"} and len(history["loss"]) == 8
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    probabilities, none = predict_classes(model, images)
    assert none is None and probabilities.shape == (64, 2) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert np.mean(probabilities.argmax(1) == labels) > 0.95


def test_same_seed_same_weights():
    images, labels = _separable()
    runs = []
    for _ in range(2):
        keras.utils.clear_session()
        model, history = train_classifier(_model(), (images, labels), epochs=2, batch_size=16, seed=3, verbose=0)
        runs.append((model.get_weights(), history["loss"]))
    for first, second in zip(runs[0][0], runs[1][0]):
        np.testing.assert_array_equal(first, second)
    assert runs[0][1] == runs[1][1]


def test_datasets_validation_augmentation_class_weights_and_early_stopping():
    images, labels = _separable(n=32)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8)
    model, history = train_classifier(
        _model(), dataset, validation_data=(images, labels), epochs=2, augment="classical",
        class_weight={0: 1.0, 1: 2.0}, early_stopping_patience=1, verbose=0,
    )
    assert "val_loss" in history and 1 <= len(history["loss"]) <= 2
    probabilities, labels_out = predict_classes(model, dataset)
    assert probabilities.shape == (32, 2)
    np.testing.assert_array_equal(labels_out, labels)


def test_classical_augmentation_keeps_shape_and_range():
    images, _ = _separable(n=4)
    augmented = np.asarray(classical_augmentation(seed=1)(images, training=True))
    assert augmented.shape == images.shape
    assert augmented.min() >= -1.0 and augmented.max() <= 1.0
    assert not np.allclose(augmented, images)


def test_balanced_class_weight_by_hand():
    assert balanced_class_weight([0, 0, 0, 1], num_classes=3) == {0: 4 / 6, 1: 4 / 2, 2: 0.0}


def test_errors_name_the_argument():
    images, labels = _separable(n=8)
    with pytest.raises(ValueError, match="Received: augment='mixup'"):
        train_classifier(_model(), (images, labels), augment="mixup")
    with pytest.raises(ValueError, match="Received: epochs=0"):
        train_classifier(_model(), (images, labels), epochs=0)
    with pytest.raises(TypeError, match="Received: model of type str"):
        train_classifier("model", (images, labels))
    with pytest.raises(TypeError, match="Received: train_data of type dict"):
        train_classifier(_model(), {"x": images}, verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    with pytest.raises(ValueError, match="Received: class_weight='balanced'"):
        train_classifier(_model(), dataset, class_weight="balanced")
    with pytest.raises(ValueError, match="train_data\\[1\\].shape"):
        train_classifier(_model(), (images, labels[:3]))
