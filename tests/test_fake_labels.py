"""The classes of a conditional GAN's fakes follow the training labels (``fake_labels="data"``).

With uniform fake classes on imbalanced data, a discriminator that sees the label can tell real
from fake by the label alone; the frequencies must therefore be the data's, and a class the data
lacks must be an error, not a generator that is never trained for it.
"""

import json
import os
import warnings

import numpy as np
import pytest
import tensorflow as tf

from ganaug.models import build_projection_discriminator, build_sngan_generator
from ganaug.training import GANTrainer, train_gan
from ganaug.training.data import TrainingData
from ganaug.training.trainer import _ReplicaBatch

COUNTS = (48, 12, 4)  # frequencies 0.75, 0.1875, 0.0625


def _trainer(**options):
    return GANTrainer(
        build_sngan_generator(3, image_size=16, latent_dim=8, generator_filters=8, seed=1),
        build_projection_discriminator(3, image_size=16, discriminator_filters=8, seed=2),
        family="sngan", loss="hinge", seed=0, **options,
    )


def _data():
    labels = np.repeat(np.arange(3), COUNTS).astype(np.int32)
    images = np.random.default_rng(0).uniform(-1, 1, (len(labels), 16, 16, 3)).astype(np.float32)
    return images, labels


def _draw(trainer, count=20000):
    return trainer._fake_labels(_ReplicaBatch(tf.constant(count)), tf.constant([3, 7], tf.int64)).numpy()


def test_class_frequencies_of_arrays_and_readers():
    data = TrainingData(_data(), batch_size=8)
    np.testing.assert_allclose(data.class_frequencies(3), [0.75, 0.1875, 0.0625])
    # a class beyond the labels is there with frequency 0
    np.testing.assert_allclose(data.class_frequencies(4), [0.75, 0.1875, 0.0625, 0.0])


def test_fakes_follow_the_data_and_uniform_is_uniform():
    trainer = _trainer()
    trainer._set_fake_label_probabilities(TrainingData(_data(), batch_size=8))
    shares = np.bincount(_draw(trainer), minlength=3) / 20000
    np.testing.assert_allclose(shares, [0.75, 0.1875, 0.0625], atol=0.01)

    uniform = _trainer(fake_labels="uniform")
    uniform._set_fake_label_probabilities(TrainingData(_data(), batch_size=8))
    assert uniform.fake_label_probabilities is None
    np.testing.assert_allclose(np.bincount(_draw(uniform), minlength=3) / 20000, [1 / 3] * 3, atol=0.015)


def test_a_class_without_images_is_an_error_naming_it():
    images, labels = _data()
    keep = labels != 1
    trainer = _trainer()
    with pytest.raises(ValueError, match=r"classes \[1\] have no training images"):
        trainer.fit((images[keep], labels[keep]), batch_size=8, steps=1, verbose=0)


def test_a_dataset_falls_back_to_uniform_with_a_warning():
    images, labels = _data()
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8, drop_remainder=True)
    trainer = _trainer(num_classes=3)
    with pytest.warns(UserWarning, match="drawn uniformly"):
        trainer._set_fake_label_probabilities(TrainingData(dataset))
    assert trainer.fake_label_probabilities is None


def test_bad_option_is_named():
    with pytest.raises(ValueError, match="fake_labels"):
        _trainer(fake_labels="balanced")


def test_train_gan_records_the_frequencies(tmp_path):
    run_dir = os.path.join(tmp_path, "run")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        train_gan("sngan", _data(), run_dir=run_dir, image_size=16, batch_size=8, steps=2, sample_every=0,
                  checkpoint_every=2, verbose=0, model_options={"generator_filters": 8, "discriminator_filters": 8})
    options = json.load(open(os.path.join(run_dir, "config.json")))["options"]
    assert options["fake_labels"] == "data"
    np.testing.assert_allclose(options["fake_label_probabilities"], [0.75, 0.1875, 0.0625])


def test_a_balanced_reader_gives_equal_shares(tmp_path):
    import cv2

    from data_readers.image_reader import ImageReader

    paths, labels = [], []
    for label, count in enumerate(COUNTS):
        for index in range(count):
            path = os.path.join(tmp_path, f"{label}_{index}.png")
            cv2.imwrite(path, np.full((16, 16, 3), 10 * label, np.uint8))
            paths.append(path)
            labels.append(label)
    for balanced, expected in ((False, [0.75, 0.1875, 0.0625]), (True, [1 / 3] * 3)):
        reader = ImageReader.from_paths(paths, labels, class_names=["a", "b", "c"], batch_size=8, balanced=balanced)
        np.testing.assert_allclose(TrainingData(reader).class_frequencies(3), expected)


def test_train_gan_balanced_classes_reads_a_folder_balanced_and_records_it(tmp_path):
    import cv2

    for label, count in zip("abc", COUNTS):
        os.makedirs(os.path.join(tmp_path, "data", label))
        for index in range(count):
            cv2.imwrite(os.path.join(tmp_path, "data", label, f"{index}.png"), np.full((16, 16, 3), 40, np.uint8))
    common = dict(image_size=16, batch_size=8, steps=1, sample_every=0, checkpoint_every=1, verbose=0,
                  model_options={"generator_filters": 8, "discriminator_filters": 8})
    for balanced, expected in ((False, [0.75, 0.1875, 0.0625]), (True, [1 / 3] * 3)):
        run_dir = os.path.join(tmp_path, f"run_{balanced}")
        train_gan("sngan", os.path.join(tmp_path, "data"), run_dir=run_dir, balanced_classes=balanced, **common)
        config = json.load(open(os.path.join(run_dir, "config.json")))
        assert config["balanced_classes"] is balanced
        np.testing.assert_allclose(config["options"]["fake_label_probabilities"], expected)
    with pytest.raises(ValueError, match="balanced_classes"):
        train_gan("sngan", _data(), run_dir=os.path.join(tmp_path, "arrays"), balanced_classes=True, **common)
    with pytest.raises(TypeError, match="balanced_classes"):
        train_gan("sngan", os.path.join(tmp_path, "data"), run_dir=os.path.join(tmp_path, "x"),
                  balanced_classes="yes", **common)


def test_each_family_has_its_default_and_acgan_draws_uniformly():
    import keras

    assert _trainer().fake_labels == "data"  # a label-aware (projection) discriminator
    latent, label = keras.Input((8,)), keras.Input((), dtype="int32")
    embedded = keras.layers.Flatten()(keras.layers.Embedding(3, 8)(keras.ops.expand_dims(label, -1)))
    pixels = keras.layers.Dense(16 * 16 * 3, activation="tanh")(keras.layers.Concatenate()([latent, embedded]))
    generator = keras.Model([latent, label], keras.layers.Reshape((16, 16, 3))(pixels))
    image = keras.Input((16, 16, 3))
    flat = keras.layers.Flatten()(image)
    discriminator = keras.Model(image, [keras.layers.Dense(1)(flat), keras.layers.Dense(3)(flat)])

    acgan = GANTrainer(generator, discriminator, seed=0)
    assert acgan.family == "acgan" and acgan.fake_labels == "uniform"  # its discriminator never sees the label
    acgan._set_fake_label_probabilities(TrainingData(_data(), batch_size=8))
    np.testing.assert_allclose(np.bincount(_draw(acgan), minlength=3) / 20000, [1 / 3] * 3, atol=0.015)

    chosen = GANTrainer(generator, discriminator, seed=0, fake_labels="data")
    chosen._set_fake_label_probabilities(TrainingData(_data(), batch_size=8))
    np.testing.assert_allclose(np.bincount(_draw(chosen), minlength=3) / 20000, [0.75, 0.1875, 0.0625], atol=0.01)
