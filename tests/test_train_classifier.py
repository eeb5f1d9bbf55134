"""train_classifier / predict_classes on a tiny separable problem; the schedule and the batch-norm pass."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganaug.training.classifier import (
    DEFAULT_EPOCHS,
    DEFAULT_MIN_STEPS,
    balanced_class_weight,
    classical_augmentation,
    classifier_schedule,
    predict_classes,
    recalibrate_batch_norm,
    sampling_order,
    train_classifier,
)


def _model(seed=0, num_classes=2, size=8, batch_norm=False):
    image = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", kernel_initializer=keras.initializers.GlorotUniform(seed))(image)
    if batch_norm:
        x = keras.layers.BatchNormalization(name="bn")(x)
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
    model, history = train_classifier(_model(), (images, labels), steps=40, validation_every=5, learning_rate=0.05,
                                      batch_size=16, verbose=0)
    assert set(history) == {"loss", "accuracy", "step", "schedule"} and len(history["loss"]) == 8
    assert history["step"] == [5, 10, 15, 20, 25, 30, 35, 40]
    assert history["schedule"]["steps_trained"] == 40 and int(model.optimizer.iterations) == 40
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    # warm-up then cosine decay: the learning rate ends at zero
    assert float(model.optimizer.learning_rate) < 1e-6
    probabilities, none = predict_classes(model, images)
    assert none is None and probabilities.shape == (64, 2) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert np.mean(probabilities.argmax(1) == labels) > 0.95


def test_schedule_counts_optimiser_steps_with_a_floor():
    # 1,319 images (the embedded set's training part at 2,400 images), batch 32: 42 steps per epoch
    small = classifier_schedule(1319, batch_size=32)
    assert small["steps_per_epoch"] == 42 and small["steps"] == max(DEFAULT_EPOCHS * 42, DEFAULT_MIN_STEPS)
    assert classifier_schedule(1319, batch_size=32, epochs=5)["steps"] == max(5 * 42, DEFAULT_MIN_STEPS)
    assert classifier_schedule(1319, batch_size=32, epochs=5, min_steps=0)["steps"] == 210
    large = classifier_schedule(100_000, batch_size=32, epochs=2)
    assert large["steps"] == 2 * 3125 and large["validation_every"] == 3125
    exact = classifier_schedule(10, batch_size=4, steps=7, validation_every=3)
    assert exact["steps"] == 7 and exact["num_rounds"] == 3 and exact["warmup_steps"] == 0
    assert classifier_schedule(10, batch_size=4, steps=1000)["validation_every"] == 20  # at most 50 rounds
    with pytest.raises(ValueError, match="not both"):
        classifier_schedule(10, steps=5, epochs=2)
    with pytest.raises(ValueError, match="Received: steps=None"):
        classifier_schedule(None)


def test_same_seed_same_weights():
    images, labels = _separable()
    runs = []
    for _ in range(2):
        keras.utils.clear_session()
        model, history = train_classifier(_model(), (images, labels), steps=10, batch_size=16, seed=3, verbose=0)
        runs.append((model.get_weights(), history["loss"]))
    for first, second in zip(runs[0][0], runs[1][0]):
        np.testing.assert_array_equal(first, second)
    assert runs[0][1] == runs[1][1]


def test_datasets_validation_augmentation_class_weights_and_early_stopping():
    images, labels = _separable(n=32)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8)
    model, history = train_classifier(
        _model(), dataset, validation_data=(images, labels), epochs=2, min_steps=0, augment="classical",
        class_weight={0: 1.0, 1: 2.0}, early_stopping_patience=1, verbose=0,
    )
    assert "val_loss" in history and 1 <= len(history["loss"]) <= 2
    assert history["schedule"]["steps"] == 8  # 2 epochs of the dataset's 4 batches
    probabilities, labels_out = predict_classes(model, dataset)
    assert probabilities.shape == (32, 2)
    np.testing.assert_array_equal(labels_out, labels)


def test_sampling_orders_natural_and_balanced():
    labels = np.array([0] * 12 + [1] * 3 + [2] * 1)
    natural = sampling_order(labels, 32, seed=1)
    assert sorted(natural[:16]) == list(range(16)) and sorted(natural[16:]) == list(range(16))
    balanced = sampling_order(labels, 48, sampling="balanced", seed=1)
    for epoch in balanced.reshape(3, 16):
        counts = np.bincount(labels[epoch], minlength=3)
        assert counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(balanced, sampling_order(labels, 48, sampling="balanced", seed=1))
    images, _ = _separable(n=16)
    model, history = train_classifier(_model(), (images, labels % 2), steps=4, sampling="balanced", verbose=0)
    assert history["schedule"]["sampling"] == "balanced"


def test_recalibration_sets_the_batch_norm_statistics_of_the_data():
    rng = np.random.default_rng(0)
    images = (rng.normal(0.4, 0.2, size=(48, 8, 8, 3))).astype(np.float32)
    model = _model(batch_norm=True)
    outer_input = keras.Input((8, 8, 3))
    nested = keras.Model(outer_input, model(outer_input))  # the BN layer sits in a nested model
    frozen = keras.layers.BatchNormalization(name="frozen")
    frozen.build((None, 8, 8, 3))
    frozen.trainable = False
    assert recalibrate_batch_norm(nested, images, batch_size=64) == 1
    bn = model.get_layer("bn")
    conv = keras.Model(model.input, model.layers[1].output)
    per_image = np.asarray(conv(images))  # (48, 8, 8, 4): the inputs of the batch-norm layer
    features = per_image.reshape(-1, 4)
    np.testing.assert_allclose(np.asarray(bn.moving_mean), features.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(bn.moving_variance), features.var(0), rtol=1e-3, atol=1e-5)
    assert bn.momentum == 0.99  # restored
    # batches of 16 (in a seeded random order): the mean of the batch means is still the mean, the
    # variance the mean of the batch variances
    recalibrate_batch_norm(nested, images, batch_size=16, seed=5)
    np.testing.assert_allclose(np.asarray(bn.moving_mean), features.mean(0), rtol=1e-4, atol=1e-5)
    order = np.random.default_rng(5).permutation(48)
    batch_variances = per_image[order].reshape(3, -1, 4).var(1).mean(0)
    np.testing.assert_allclose(np.asarray(bn.moving_variance), batch_variances, rtol=1e-3, atol=1e-5)
    frozen_model = keras.Sequential([keras.Input((8, 8, 3)), frozen])
    assert recalibrate_batch_norm(frozen_model, images) == 0
    np.testing.assert_array_equal(np.asarray(frozen.moving_mean), np.zeros(3))


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
    with pytest.raises(ValueError, match="Received: steps=3, epochs=2"):
        train_classifier(_model(), (images, labels), steps=3, epochs=2)
    with pytest.raises(ValueError, match="Received: sampling='random'"):
        train_classifier(_model(), (images, labels), sampling="random")
    with pytest.raises(ValueError, match="Received: learning_rate_schedule='step'"):
        train_classifier(_model(), (images, labels), learning_rate_schedule="step")
    with pytest.raises(TypeError, match="Received: model of type str"):
        train_classifier("model", (images, labels))
    with pytest.raises(TypeError, match="Received: train_data of type dict"):
        train_classifier(_model(), {"x": images}, verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    with pytest.raises(ValueError, match="Received: class_weight='balanced'"):
        train_classifier(_model(), dataset, class_weight="balanced")
    with pytest.raises(ValueError, match="sampling='balanced'"):
        train_classifier(_model(), dataset, sampling="balanced")
    with pytest.raises(ValueError, match="train_data\\[1\\].shape"):
        train_classifier(_model(), (images, labels[:3]))
