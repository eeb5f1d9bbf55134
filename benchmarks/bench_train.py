"""Training throughput: ganaug's GANTrainer vs a plain keras-io-style GAN (train_step + fit).

Both train the same DCGAN (same factories, same seed, non-saturating loss, Adam 2e-4/0.5, one
generator step per discriminator step, no stabilisers) on the same in-memory images for the same
number of steps after a warm-up (tracing) run, in alternating chunks (who goes first alternates
too) so that both see the same load on a shared machine. The script prints images/s of each and
the ratio ours / reference (>= 1.0 means ours is not slower) as the median over rounds of the ratio
within a round (robust to the machine's speed drifting), and the ratio of the medians.
``--jit on|both`` compiles both loops with XLA (``jit_compile``) as well.

    python benchmarks/bench_train.py [--image-size 32] [--batch-size 32] [--steps 30] [--rounds 8] [--jit both]
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ganaug.models import build_dcgan_discriminator, build_dcgan_generator  # noqa: E402
from ganaug.training import GANTrainer  # noqa: E402


class ReferenceGAN(keras.Model):
    """The keras-io DCGAN pattern: a Model owning both networks, train_step, fit."""

    def __init__(self, generator, discriminator, latent_dim):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(0)
        self.built = True  # SPEC.md section 6: no call(), so mark it built

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def train_step(self, real_images):
        batch_size = tf.shape(real_images)[0]
        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        fake = self.generator(z, training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real_images, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = self.loss_fn(tf.ones_like(real_logits), real_logits) + self.loss_fn(
                tf.zeros_like(fake_logits), fake_logits
            )
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        z = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake_logits = self.discriminator(self.generator(z, training=True), training=True)
            g_loss = self.loss_fn(tf.ones_like(fake_logits), fake_logits)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        return {"d_loss": d_loss, "g_loss": g_loss}


def models(image_size):
    generator = build_dcgan_generator(image_size=image_size, latent_dim=100, generator_filters=64, seed=1)
    discriminator = build_dcgan_discriminator(image_size=image_size, discriminator_filters=32, seed=2)
    return generator, discriminator


def measure(args, jit_compile):
    """Returns the per-round images/s of the reference and of ours (chunks alternate)."""
    size, batch = args.image_size, args.batch_size
    images = np.random.default_rng(0).uniform(-1, 1, (1024, size, size, 3)).astype(np.float32)
    generator, discriminator = models(size)
    reference = ReferenceGAN(generator, discriminator, 100)
    reference.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    reference.jit_compile = jit_compile
    dataset = tf.data.Dataset.from_tensor_slices(images).shuffle(len(images), seed=0).repeat()
    dataset = dataset.batch(batch, drop_remainder=True).prefetch(2)
    # Autotuning off, as in ganaug's own pipeline: in TensorFlow 2.21 it often holds the teardown of
    # an iterator (the end of every fit, i.e. of every timed chunk) for 1-3 s.
    options = tf.data.Options()
    options.autotune.enabled = False
    dataset = dataset.with_options(options)
    ours = GANTrainer(
        lambda: models(size)[0], lambda: models(size)[1], strategy="default", jit_compile=jit_compile, seed=0
    )

    # Warm-up (tracing) of both, then alternate timed chunks so that both see the same machine load.
    reference.fit(dataset, steps_per_epoch=3, epochs=1, verbose=0)
    ours.fit((images, None), batch_size=batch, steps=3, verbose=0)
    reference_rates, our_rates = [], []
    for index in range(args.rounds):
        for who in (("reference", "ours") if index % 2 == 0 else ("ours", "reference")):
            start = time.perf_counter()
            if who == "reference":
                reference.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=0)
                reference_rates.append(args.steps * batch / (time.perf_counter() - start))
            else:
                ours.fit((images, None), batch_size=batch, steps=int(ours.step.numpy()) + args.steps, verbose=0)
                our_rates.append(args.steps * batch / (time.perf_counter() - start))
    return reference_rates, our_rates


def report(label, reference_rates, our_rates):
    ratios = [o / r for o, r in zip(our_rates, reference_rates)]
    print(f"{label}")
    print(f"  reference (keras.Model train_step + fit): median {np.median(reference_rates):7.1f} images/s  "
          f"(chunks: {', '.join(f'{v:.0f}' for v in reference_rates)})")
    print(f"  ganaug GANTrainer.fit:                     median {np.median(our_rates):7.1f} images/s  "
          f"(chunks: {', '.join(f'{v:.0f}' for v in our_rates)})")
    print(f"  ratio ours / reference: median of paired chunks {np.median(ratios):.2f} "
          f"[{min(ratios):.2f}-{max(ratios):.2f}], ratio of medians "
          f"{np.median(our_rates) / np.median(reference_rates):.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30, help="steps per timed chunk")
    parser.add_argument("--rounds", type=int, default=8, help="alternating chunks of each; medians are reported")
    parser.add_argument("--jit", choices=("off", "on", "both"), default="off", help="XLA for both loops")
    args = parser.parse_args()
    print(f"DCGAN {args.image_size}px, batch {args.batch_size}, CPU; {args.rounds} rounds of one chunk of "
          f"{args.steps} steps each, alternating which goes first")
    for jit_compile in {"off": [False], "on": [True], "both": [False, True]}[args.jit]:
        report(f"XLA {'on' if jit_compile else 'off'} (both loops):", *measure(args, jit_compile))


if __name__ == "__main__":
    main()
