"""Kill-and-resume: a resumed run ends where an uninterrupted one does; damaged checkpoints are skipped."""

import os

import numpy as np
import pytest
import tensorflow as tf

from _gan_test_models import tiny_discriminator, tiny_generator, tiny_images, weights_of
from data_readers.decode import write_image
from data_readers.image_reader import ImageReader
from ganaug.training import GANTrainer, checkpointing
from ganaug.training.data import TrainingData


def _trainer():
    return GANTrainer(
        tiny_generator, tiny_discriminator, strategy="default", instance_noise=0.1,
        diffaugment="translation", label_smoothing=0.1, generator_steps=2, seed=11,
    )


@pytest.mark.slow
def test_resumed_run_matches_uninterrupted_run_and_survives_damaged_checkpoints(tmp_path):
    data = (tiny_images(24), None)  # 3 batches per epoch: the resumed run crosses an epoch
    uninterrupted = _trainer()
    uninterrupted.fit(data, batch_size=8, steps=6, verbose=0)

    run = tmp_path / "run"
    first = _trainer()
    first.fit(data, batch_size=8, steps=4, run_dir=run, checkpoint_every=2, sample_every=0, verbose=0)
    # A process killed mid-save leaves data/index files that the 'checkpoint' index never lists.
    checkpoints = run / "checkpoints"
    (checkpoints / "ckpt-5.index").write_bytes(b"\x00partial")
    (checkpoints / "ckpt-5.data-00000-of-00001").write_bytes(b"\x00" * 10)
    # ...and a listed checkpoint whose data file got truncated (disk full) must be skipped too:
    # write a newer listed checkpoint, then damage it.
    first.fit(data, batch_size=8, steps=5, run_dir=run, checkpoint_every=1, sample_every=0, resume=True, verbose=0)
    damaged = checkpoints / "ckpt-5.data-00000-of-00001"
    damaged.write_bytes(damaged.read_bytes()[:100])

    resumed = _trainer()  # a fresh process: new models, optimisers, RNG
    manager = checkpointing.checkpoint_manager(resumed.checkpoint(), str(checkpoints))
    assert manager.latest_checkpoint.endswith("ckpt-5")
    assert not checkpointing.is_complete(manager.latest_checkpoint)
    history = resumed.fit(data, batch_size=8, steps=6, run_dir=run, checkpoint_every=2, sample_every=0,
                          resume=True, verbose=0)
    assert history["step"][-1] == 6 and 4 in history["step"] and 5 not in history["step"]
    assert int(resumed.discriminator_optimizer.iterations) == 6
    for a, b in zip(weights_of(uninterrupted.generator), weights_of(resumed.generator)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(weights_of(uninterrupted.discriminator), weights_of(resumed.discriminator)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(uninterrupted.rng.state.numpy(), resumed.rng.state.numpy())
    latest = tf.train.latest_checkpoint(str(checkpoints))
    assert latest.endswith("ckpt-6") and checkpointing.is_complete(latest)
    assert os.path.isfile(run / "generator.keras")


def test_a_reader_resumes_at_the_step_without_replaying_it(tmp_path):
    paths = [write_image(tmp_path / f"{i}.png", np.full((4, 4, 3), i * 20, np.uint8)) for i in range(10)]

    def batches(start_step, count):
        reader = ImageReader.from_paths(paths, batch_size=3, drop_remainder=True, seed=2)  # 3 per epoch
        data = TrainingData(reader)
        iterator = iter(data.distributed(tf.distribute.get_strategy(), start_step=start_step))
        ids = [np.rint(next(iterator)[0].numpy()[:, 0, 0, 0] * 127.5 + 127.5).astype(int).tolist() for _ in range(count)]
        return ids, reader.epoch

    uninterrupted, _ = batches(0, 8)
    resumed, epoch = batches(5, 3)  # step 5 is batch 2 of epoch 1
    assert resumed == uninterrupted[5:]
    assert epoch >= 2  # it jumped to epoch 1 instead of reading epoch 0 again


def test_arrays_pipeline_is_built_once_and_restarts_at_any_step():
    images = tiny_images(24)
    strategy = tf.distribute.get_strategy()

    def first_batches(data, start_step, count=4):
        iterator = iter(data.distributed(strategy, start_step=start_step))
        return [next(iterator)[0].numpy() for _ in range(count)]

    reused = TrainingData((images, None), batch_size=8, seed=1)
    uninterrupted = first_batches(reused, 0, count=7)
    for start_step in (3, 1, 0):  # the same built dataset, restarted at other steps
        np.testing.assert_array_equal(np.stack(first_batches(reused, start_step)), np.stack(uninterrupted[start_step:start_step + 4]))
    fresh = TrainingData((images, None), batch_size=8, seed=1)
    np.testing.assert_array_equal(np.stack(first_batches(fresh, 3)), np.stack(uninterrupted[3:7]))
    assert reused.same_arrays((images, None), 8) and not reused.same_arrays((images, None), 4)
    images[0] += 1.0  # changed in place: the built pipeline must not be reused
    assert not reused.same_arrays((images, None), 8)
