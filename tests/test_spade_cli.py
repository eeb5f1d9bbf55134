"""The SPADE workflow from the command line: train on a masked data set, generate from masks, export."""

import json
import os

import numpy as np
import pytest

from data_readers.masks import PairedReader
from data_readers.synthetic import make_blood_cell_dataset


@pytest.mark.slow
def test_train_generate_from_masks_and_export(tmp_path):
    import tensorflow as tf

    from ganaug.cli import main
    from ganaug.export import export_run, validate_export
    from ganaug.runs import load_run_model

    data = tmp_path / "cells"
    make_blood_cell_dataset(data, image_size=16, counts={"lymphocyte": 4, "eosinophil": 4}, masks=True, verbose=0)
    run = tmp_path / "run"
    argv = ["train", "spade", "--data", str(data), "--image-size", "16", "--steps", "2", "--batch-size", "4",
            "--latent-dim", "8", "--out", str(run), "--quiet", "--sample-every", "0", "--checkpoint-every", "0",
            "--model-option", "generator_filters=2", "--model-option", "hidden_filters=4",
            "--model-option", "discriminator_filters=4", "--model-option", "num_layers=2"]
    assert main(argv) == 0
    with open(run / "config.json") as handle:
        config = json.load(handle)
    assert config["family"] == "spade" and config["region_names"][3] == "nucleus"
    assert config["settings"]["training"]["loss"] == "least_squares"
    assert os.path.isfile(run / "samples" / "step_000002.png")

    out = tmp_path / "generated"
    assert main(["generate", "--run", str(run), "--masks", str(data), "--per-mask", "2", "--out", str(out)]) == 0
    pairs = PairedReader(out, shuffle=False)
    source = PairedReader(data, shuffle=False)
    assert len(pairs.images) == 16 and pairs.region_names == source.region_names
    np.testing.assert_array_equal(pairs.masks[::2], source.masks)  # each input mask, once per style
    assert main(["generate", "--run", str(run), "--masks", str(data), "--out", str(out)]) == 2  # exists

    exported = export_run(run, tmp_path / "export", what="generator", validate=False)
    validate_export(exported["generator"], load_run_model(run, "generator"), batch_sizes=(2,))
    loaded = tf.saved_model.load(exported["generator"])
    masks = source.masks[:3]
    first = loaded.signatures["generate"](mask=tf.constant(masks), seed=tf.constant(5, tf.int64))
    again = loaded.signatures["generate"](mask=tf.constant(masks), seed=tf.constant(5, tf.int64))
    assert first["images"].dtype == tf.uint8 and tuple(first["images"].shape) == (3, 16, 16, 3)
    np.testing.assert_array_equal(first["images"].numpy(), again["images"].numpy())
    with pytest.raises(tf.errors.InvalidArgumentError):
        loaded.signatures["generate"](mask=tf.constant(masks + 10), seed=tf.constant(5, tf.int64))
