"""One worker of the multi-worker test: trains a few steps with MultiWorkerMirroredStrategy.

Usage: ``TF_CONFIG=... python _multiworker_worker.py OUT.npz RUN_DIR`` — writes the final weights
of both networks to ``OUT.npz`` (and the initial ones to ``OUT.npz.initial.npz``).
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from _gan_test_models import tiny_discriminator, tiny_generator, tiny_images  # noqa: E402
from ganaug.training import GANTrainer  # noqa: E402


def weights_dict(trainer):
    out = {}
    for prefix, model in (("g", trainer.generator), ("d", trainer.discriminator)):
        for index, weight in enumerate(model.get_weights()):
            out[f"{prefix}{index}"] = np.asarray(weight)
    return out


def main(out_path, run_dir):
    # No batch norm: each worker normalises with its own batch statistics and keeps its own moving
    # averages (documented in ganaug.training.trainer), so only BN-free models are equal to the bit.
    trainer = GANTrainer(
        lambda: tiny_generator(batch_norm=False), lambda: tiny_discriminator(batch_norm="none"),
        strategy="multiworker", instance_noise=0.1, seed=7,
    )
    np.savez(out_path + ".initial.npz", **weights_dict(trainer))
    trainer.fit((tiny_images(32), None), batch_size=8, steps=3, run_dir=run_dir, sample_every=0,
                checkpoint_every=2, verbose=0)
    np.savez(out_path, **weights_dict(trainer))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
