"""A training run's TensorBoard events, read back with TensorBoard's own reader (as its server does).

``tensorboard`` is in the ``test`` extra; where it is missing the test is skipped with the reason,
except under CI (``CI`` set), where it must run and fails instead.
"""

import importlib.util
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from _gan_test_models import tiny_discriminator, tiny_generator, tiny_images
from ganaug.training import GANTrainer


def _require_tensorboard():
    if importlib.util.find_spec("tensorboard") is None:
        reason = "the tensorboard package is not installed (pip install -e '.[test]')"
        if os.environ.get("CI"):
            pytest.fail(f"CI must read the events with TensorBoard, but {reason}")
        pytest.skip(reason)


def test_tensorboard_reads_the_runs_scalars_and_sample_images(tmp_path):
    _require_tensorboard()
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer

    run = tmp_path / "run"
    trainer = GANTrainer(tiny_generator, tiny_discriminator, strategy="default", seed=0)
    trainer.fit((tiny_images(16), None), batch_size=8, steps=3, run_dir=str(run), log_every=1, sample_every=2,
                checkpoint_every=0, verbose=0)

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(run))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(run))
    request = context.RequestContext()
    scalars = provider.list_scalars(request, experiment_id="", plugin_name="scalars")["logs"]
    expected = {"d_loss", "g_loss", "d_real", "d_fake", "noise_stddev", "generator_learning_rate",
                "discriminator_learning_rate"}
    assert set(scalars) == expected
    values = provider.read_scalars(request, experiment_id="", plugin_name="scalars", downsample=100,
                                   run_tag_filter=_filter(["d_loss", "g_loss"]))["logs"]
    history = json.load(open(run / "history.json"))
    for tag in ("d_loss", "g_loss"):
        assert [point.step for point in values[tag]] == history["step"] == [1, 2, 3]
        np.testing.assert_allclose([point.value for point in values[tag]], history[tag], rtol=1e-6)

    images = provider.list_blob_sequences(request, experiment_id="", plugin_name="images")["logs"]
    assert set(images) == {"samples"} and images["samples"].max_length == 3  # width, height, PNG
    sequence = provider.read_blob_sequences(request, experiment_id="", plugin_name="images", downsample=100,
                                            run_tag_filter=_filter(["samples"]))["logs"]["samples"]
    assert [datum.step for datum in sequence] == [2, 3]
    width, height, png = (provider.read_blob(request, blob_key=ref.blob_key) for ref in sequence[-1].values)
    decoded = tf.io.decode_png(png).numpy()
    assert decoded.shape[:2] == (int(height), int(width))
    with open(os.path.join(run, "samples", "step_000003.png"), "rb") as handle:
        np.testing.assert_array_equal(decoded, tf.io.decode_png(handle.read()).numpy())  # the grid on disk


def _filter(tags):
    from tensorboard.data import provider

    return provider.RunTagFilter(runs=["logs"], tags=tags)
