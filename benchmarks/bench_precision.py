"""Training step time in bfloat16 (``mixed_precision="bfloat16"``) against float32, same run.

Trains the demo's SNGAN (projection discriminator, hinge loss, the ``sngan_cpu`` preset, 32 px,
batch 32) at each ``--widths`` in float32 and with ``"mixed_bfloat16"``, in alternating chunks of
``--steps`` steps after a warm-up chunk (tracing), so that both see the same load on a shared
machine; prints the median step time of each, the ratio bfloat16 / float32 (< 1 means bfloat16 is
faster) as the median over rounds of the ratio within a round, and whether
``ganaug.training.precision.fast_bfloat16()`` is true here (what ``mixed_precision="auto"`` uses).
Where bfloat16 is emulated (no AMX / AVX512_BF16, no Ampere GPU) expect a ratio above 1.

    python benchmarks/bench_precision.py [--widths 32 64] [--steps 20] [--rounds 4]
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ganaug.models import build_projection_discriminator, build_sngan_generator  # noqa: E402
from ganaug.training import GANTrainer, precision  # noqa: E402

NUM_CLASSES = 8


def trainer(width, mixed_precision, image_size, seed):
    return GANTrainer(
        lambda: build_sngan_generator(NUM_CLASSES, preset="sngan_cpu", image_size=image_size, generator_filters=width,
                                      seed=seed),
        lambda: build_projection_discriminator(NUM_CLASSES, preset="sngan_cpu", image_size=image_size,
                                               discriminator_filters=width, seed=seed + 1),
        loss="hinge", fake_labels="uniform", diffaugment="translation", ema_decay=0.999,
        mixed_precision=mixed_precision, strategy="default", seed=seed,
    )


def data(image_size, batch_size):
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (batch_size * 4, image_size, image_size, 3)).astype(np.float32)
    labels = rng.integers(0, NUM_CLASSES, batch_size * 4).astype(np.int32)
    return tf.data.Dataset.from_tensor_slices((images, labels)).repeat().batch(batch_size, drop_remainder=True)


def chunk_seconds(gan, dataset, steps):
    start = time.perf_counter()
    gan.fit(dataset, steps=int(gan.step.numpy()) + steps, verbose=0)
    return (time.perf_counter() - start) / steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed chunk")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args(argv)
    print(f"fast_bfloat16() = {precision.fast_bfloat16()} (CPU flags: "
          f"{sorted(set(precision.cpu_flags()) & set(precision.BFLOAT16_CPU_FLAGS)) or 'none'}; "
          f"GPUs: {len(tf.config.list_physical_devices('GPU'))}); mixed_precision='auto' -> "
          f"{precision.precision_policy('auto') or 'float32'}")
    dataset = data(args.image_size, args.batch_size)
    for width in args.widths:
        gans = {name: trainer(width, value, args.image_size, seed=0) for name, value in
                (("float32", False), ("bfloat16", "bfloat16"))}
        for gan in gans.values():
            chunk_seconds(gan, dataset, 3)  # tracing
        times = {name: [] for name in gans}
        for round_index in range(args.rounds):
            order = list(gans) if round_index % 2 == 0 else list(gans)[::-1]
            for name in order:
                times[name].append(chunk_seconds(gans[name], dataset, args.steps))
        ratios = [b / f for b, f in zip(times["bfloat16"], times["float32"])]
        print(
            f"SNGAN {args.image_size} px, widths {width}/{width}, batch {args.batch_size}: "
            f"float32 {1000 * statistics.median(times['float32']):.0f} ms/step, "
            f"bfloat16 {1000 * statistics.median(times['bfloat16']):.0f} ms/step, "
            f"bfloat16/float32 {statistics.median(ratios):.2f}x [{min(ratios):.2f}-{max(ratios):.2f}] over "
            f"{args.rounds} rounds of {args.steps} steps"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
