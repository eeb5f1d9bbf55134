"""Feature extractors: default layer, pooling, identity hash, and every kind of input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganaug.evaluation.features import as_arrays, extract_features, extractor_identity, feature_extractor


def _classifier(seed=0):
    image = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv", kernel_initializer=keras.initializers.GlorotUniform(seed))(image)
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    x = keras.layers.Dense(3, name="logits", kernel_initializer=keras.initializers.GlorotUniform(seed + 1))(x)
    x = keras.layers.Softmax(name="probabilities")(x)
    return keras.Model(image, x, name="toy_classifier")


def test_default_layer_is_the_input_of_logits(rng):
    model = _classifier()
    extractor = feature_extractor(model)
    images = rng.uniform(-1, 1, size=(5, 16, 16, 3)).astype(np.float32)
    features = extract_features(extractor, images, batch_size=2)
    assert features.shape == (5, 4) and features.dtype == np.float64
    pooled = keras.Model(model.inputs[0], model.get_layer("global_pool").output)(images)
    np.testing.assert_allclose(features, np.asarray(pooled), rtol=1e-5, atol=1e-6)
    identity = extractor_identity(extractor)
    assert identity["model_name"] == "toy_classifier"
    assert identity["layer_name"] == "input_of_logits"
    assert identity["feature_dim"] == 4


def test_four_dimensional_layers_are_pooled(rng):
    extractor = feature_extractor(_classifier(), layer="conv")
    images = rng.uniform(-1, 1, size=(3, 16, 16, 3)).astype(np.float32)
    assert extract_features(extractor, images).shape == (3, 4)
    assert extractor_identity(extractor)["layer_name"] == "conv"


def test_weights_hash_identifies_the_weights():
    first = extractor_identity(feature_extractor(_classifier(seed=0)))["weights_sha256"]
    again = extractor_identity(feature_extractor(_classifier(seed=0)))["weights_sha256"]
    other = extractor_identity(feature_extractor(_classifier(seed=5)))["weights_sha256"]
    assert first == again != other


def test_arrays_and_datasets_give_the_same_features(rng):
    extractor = feature_extractor(_classifier())
    images = rng.uniform(-1, 1, size=(7, 16, 16, 3)).astype(np.float32)
    labels = np.arange(7, dtype=np.int32) % 3
    from_arrays, labels_out = extract_features(extractor, (images, labels), batch_size=3, return_labels=True)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    from_dataset, labels_ds = extract_features(extractor, dataset, return_labels=True)
    np.testing.assert_allclose(from_arrays, from_dataset, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(labels_out, labels)
    np.testing.assert_array_equal(labels_ds, labels)
    all_images, all_labels = as_arrays(dataset)
    np.testing.assert_array_equal(all_images, images)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="Received: layer='nope'"):
        feature_extractor(_classifier(), layer="nope")
    with pytest.raises(TypeError, match="Received: model of type str"):
        feature_extractor("model")
    with pytest.raises(TypeError, match="Received: data of type dict"):
        extract_features(feature_extractor(_classifier()), {"images": 1})
