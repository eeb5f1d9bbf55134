"""compare_generators on cases with a known answer: a perfect, a collapsed and a mislabelling generator."""

import keras
import numpy as np
import pytest

from data_readers.image_reader import ImageReader
from data_readers.synthetic import make_blood_cell_dataset
from ganaug.evaluation.comparison import comparison_table, compare_generators, per_class_comparison_table

FAST = {"epochs": 6, "learning_rate": 2e-3, "batch_size": 32}


class _Bank(keras.layers.Layer):
    """Returns ``bank[label, k]`` with ``k`` picked by the latent code: a 'generator' made of images."""

    def __init__(self, bank, **kwargs):
        super().__init__(**kwargs)
        self.bank = keras.ops.convert_to_tensor(bank)

    def call(self, inputs):
        latent, label = inputs
        per_class = self.bank.shape[1]
        index = keras.ops.cast(keras.ops.floor(keras.ops.sigmoid(latent[:, 0]) * per_class), "int32")
        index = keras.ops.clip(index, 0, per_class - 1)
        return keras.ops.take_along_axis(
            keras.ops.take(self.bank, label, axis=0),
            keras.ops.reshape(index, (-1, 1, 1, 1, 1)) * keras.ops.ones((1, 1) + tuple(self.bank.shape[2:]), "int32"),
            axis=1,
        )[:, 0]


def _bank_generator(bank, name):
    latent = keras.Input((4,), name="latent")
    label = keras.Input((), dtype="int32", name="label")
    return keras.Model([latent, label], _Bank(np.asarray(bank, np.float32))([latent, label]), name=name)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    make_blood_cell_dataset(root / "train", image_size=16, counts={"lymphocyte": 60, "neutrophil": 60, "eosinophil": 60},
                            seed=0, verbose=0)
    make_blood_cell_dataset(root / "fresh", image_size=16, counts={"lymphocyte": 60, "neutrophil": 60, "eosinophil": 60},
                            seed=1, verbose=0)
    train = ImageReader.from_folder(root / "train", shuffle=False)
    fresh = ImageReader.from_folder(root / "fresh", shuffle=False)
    images = np.concatenate([b[0] for b in fresh])
    labels = np.concatenate([b[1] for b in fresh])
    bank = np.stack([images[labels == k][:60] for k in range(3)])
    return train, bank


def test_perfect_generator_is_selected_over_collapsed_and_mislabelled(data):
    train, bank = data
    collapsed = np.repeat(bank[:, :1], bank.shape[1], axis=1)  # one image per class
    mislabelled = bank[[1, 2, 0]]  # every class draws another class's cells
    result = compare_generators(
        {"perfect": _bank_generator(bank, "perfect"), "collapsed": _bank_generator(collapsed, "collapsed"),
         "mislabelled": _bank_generator(mislabelled, "mislabelled")},
        train, classifier_options=FAST, seed=0, verbose=0,
    )
    rows = result["rows"]
    assert result["selected"] == "perfect"
    assert "perfect" in result["reason"]
    # A perfect generator scores like held-out real images.
    assert abs(rows["perfect"]["fidelity"] - result["real_accuracy"]) < 0.1
    assert rows["perfect"]["mean_class_recall"] > 0.5
    assert rows["collapsed"]["min_class_recall"] < 0.2
    assert set(rows["collapsed"]["collapsed_classes"]) == set(result["class_names"])
    assert rows["mislabelled"]["fidelity"] < 0.3
    assert rows["mislabelled"]["tstr_accuracy"] < 0.4 < rows["perfect"]["tstr_accuracy"]
    assert not rows["collapsed"]["meets_targets"] and not rows["mislabelled"]["meets_targets"]
    # Per class, the synthetic-trained classifier's accuracy on held-out real images: the classes'
    # accuracies weighted by their held-out counts give the overall TSTR accuracy (equal counts here).
    for name in ("perfect", "mislabelled"):
        per_class = [result["per_class"][name][c]["tstr_accuracy"] for c in result["class_names"]]
        np.testing.assert_allclose(np.mean(per_class), rows[name]["tstr_accuracy"], atol=1e-6)
    assert max(result["per_class"]["mislabelled"][c]["tstr_accuracy"] for c in result["class_names"]) < 0.4
    assert [result["per_class"]["real"][c]["tstr_accuracy"] for c in result["class_names"]] == \
        result["real_per_class_accuracy"]
    assert "lymphocyte" in per_class_comparison_table(result, metric="tstr_accuracy")
    table = comparison_table(result)
    assert "**perfect** (selected)" in table and "real held-out" in table
    assert "lymphocyte" in per_class_comparison_table(result)


def test_rejects_unconditional_and_empty(data):
    train, _ = data
    with pytest.raises(ValueError, match="non-empty dict"):
        compare_generators({}, train)
    latent = keras.Input((4,))
    unconditional = keras.Model(latent, keras.layers.Reshape((2, 2, 1))(latent))
    with pytest.raises(ValueError, match="unconditional"):
        compare_generators({"g": unconditional}, train)
