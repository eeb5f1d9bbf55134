"""One command for a GPU box: training and input-pipeline throughput, and which one is the wall.

    python benchmarks/gpu_suite.py            # sizes for one GPU (about 5 minutes), or small on CPU
    python benchmarks/gpu_suite.py --small    # the CPU sizes on any machine (CI)

Prints, in one run:

* images/s of the Fernández et al. 2021 DCGAN (preset ``fernandez2021``: 256 px, batch 64, two
  generator steps per discriminator step) in float32, with mixed precision (``mixed_float16``,
  loss-scaled optimisers) and with XLA (``jit_compile``);
* images/s of the 64 px SNGAN (projection discriminator, hinge loss) and the 64 px cDCGAN;
* the reader's tf.data face at 256 px, cold (decoding PNGs) and from a warm decoded cache;
* whether the input pipeline or the step is the bottleneck: the DCGAN's step time fed by the
  reader (cold and warm) against the step time on one constant batch already on the device.

Nothing assumes a GPU: without one (``tf.config.list_physical_devices("GPU") == []``) the same
measurements run at small sizes (32 px, batch 8, few steps, fewer filters, 16 px SNGAN/cDCGAN),
which the header and every line say, so the figures are a smoke test of the suite, not GPU
numbers. Every training figure is the median over ``--rounds`` timed chunks of ``--steps``
steps after a warm-up chunk (tracing, XLA compilation). The data set is generated in a temporary
folder and removed at the end.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

GPU_SIZES = {"dcgan_size": 256, "dcgan_batch": 64, "small_size": 64, "small_batch": 64, "filters": None,
             "num_images": 2048, "steps": 20, "rounds": 3}
CPU_SIZES = {"dcgan_size": 32, "dcgan_batch": 8, "small_size": 16, "small_batch": 8, "filters": 8,
             "num_images": 96, "steps": 3, "rounds": 2}


def timed_chunks(trainer, data, *, steps, rounds):
    """Returns the median images/s and seconds per step of ``rounds`` chunks of ``steps`` after a
    warm-up chunk; ``data`` is a tf.data.Dataset of batches or an ImageReader."""
    batch = _batch_size(data)
    trainer.fit(data, steps=int(trainer.step.numpy()) + 2, verbose=0)  # tracing / XLA compilation
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        trainer.fit(data, steps=int(trainer.step.numpy()) + steps, verbose=0)
        rates.append(steps * batch / (time.perf_counter() - start))
    rate = statistics.median(rates)
    return rate, batch / rate


def _batch_size(data):
    if hasattr(data, "batch_size"):
        return data.batch_size
    return int(data.element_spec[0].shape[0])


def constant_batches(size, batch, *, num_classes=None, seed=0):
    """One batch of uniform noise images repeated forever (no input cost: the step alone)."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)
    labels = rng.integers(0, num_classes or 1, batch).astype(np.int32)
    return tf.data.Dataset.from_tensors((images, labels)).repeat()


def dcgan_trainer(size, filters, *, mixed_precision=False, jit_compile=False):
    from ganaug.models import build_dcgan_discriminator, build_dcgan_generator
    from ganaug.training import GANTrainer

    options = {} if filters is None else {"generator_filters": 4 * filters}
    d_options = {} if filters is None else {"discriminator_filters": filters}
    return GANTrainer(
        lambda: build_dcgan_generator(preset="fernandez2021", image_size=size, seed=1, **options),
        lambda: build_dcgan_discriminator(preset="fernandez2021", image_size=size, seed=2, **d_options),
        generator_steps=2, label_smoothing=0.1, instance_noise=0.1, latent_distribution="uniform",
        mixed_precision=mixed_precision, jit_compile=jit_compile, strategy="default", seed=0,
    )


def sngan_trainer(size, filters, num_classes):
    from ganaug.models import build_projection_discriminator, build_sngan_generator
    from ganaug.training import GANTrainer

    g_options = {} if filters is None else {"generator_filters": 2 * filters}
    d_options = {} if filters is None else {"discriminator_filters": 2 * filters}
    return GANTrainer(
        lambda: build_sngan_generator(num_classes, preset="miyato2018", image_size=size, seed=1, **g_options),
        lambda: build_projection_discriminator(num_classes, preset="miyato2018", image_size=size, seed=2,
                                               **d_options),
        loss="hinge", fake_labels="uniform", strategy="default", seed=0,  # a constant batch: no frequencies
    )


def cdcgan_trainer(size, filters, num_classes):
    from ganaug.models import build_cdcgan_discriminator, build_cdcgan_generator
    from ganaug.training import GANTrainer

    g_options = {} if filters is None else {"generator_filters": 4 * filters}
    d_options = {} if filters is None else {"discriminator_filters": filters}
    return GANTrainer(
        lambda: build_cdcgan_generator(num_classes=num_classes, preset="fernandez2021", image_size=size, seed=1,
                                       **g_options),
        lambda: build_cdcgan_discriminator(num_classes=num_classes, preset="fernandez2021", image_size=size,
                                           seed=2, **d_options),
        fake_labels="uniform", strategy="default", seed=0,
    )


def reader_rate(reader, passes=2):
    """Median images/s of the reader's tf.data face over ``passes`` full epochs (after one)."""
    dataset = reader.as_tf_dataset()
    sum(1 for _ in dataset)  # tracing, thread start-up
    rates = []
    for _ in range(passes):
        start = time.perf_counter()
        count = sum(int(images.shape[0]) for images, _ in dataset)
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def write_dataset(directory, num_images, size, num_classes):
    """Writes textured PNGs (as benchmarks/bench_reader.py draws them) in class folders."""
    import cv2
    from bench_reader import textured_image

    for i in range(num_images):
        folder = os.path.join(directory, f"class_{i % num_classes}")
        os.makedirs(folder, exist_ok=True)
        cv2.imwrite(os.path.join(folder, f"image_{i:06d}.png"), textured_image(i, size))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="the CPU sizes even when a GPU is present")
    parser.add_argument("--steps", type=int, default=None, help="steps per timed chunk (default: by device)")
    parser.add_argument("--rounds", type=int, default=None, help="timed chunks per figure (default: by device)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="reader decoding threads")
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out: dcgan,small,reader,bound")
    args = parser.parse_args(argv)
    for name in ("steps", "rounds", "threads"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"--{name} must be positive. Received: {value}")
    unknown = set(filter(None, args.skip.split(","))) - {"dcgan", "small", "reader", "bound"}
    if unknown:
        parser.error(f"--skip takes dcgan, small, reader, bound. Received: {sorted(unknown)}")
    return args


def main(argv=None):
    args = parse_args(argv)
    import tensorflow as tf

    from data_readers.decoded_cache import build_cache
    from data_readers.image_reader import ImageReader

    gpus = tf.config.list_physical_devices("GPU")
    small = args.small or not gpus
    sizes = dict(CPU_SIZES if small else GPU_SIZES)
    sizes["steps"] = args.steps or sizes["steps"]
    sizes["rounds"] = args.rounds or sizes["rounds"]
    skip = set(filter(None, args.skip.split(",")))
    tag = " [SMALL SIZES: not GPU figures]" if small else ""
    device = f"{len(gpus)} GPU(s): {', '.join(g.name for g in gpus)}" if gpus else "no GPU: CPU"
    print(f"ganaug GPU suite on {device}{tag}")
    if small:
        print(f"  small sizes: DCGAN {sizes['dcgan_size']} px (not 256) batch {sizes['dcgan_batch']}, "
              f"SNGAN/cDCGAN {sizes['small_size']} px (not 64), filters cut to {sizes['filters']}, "
              f"reader {sizes['num_images']} images")
    print(f"  {sizes['rounds']} timed chunks of {sizes['steps']} steps per figure, medians")
    start_all = time.perf_counter()
    directory = tempfile.mkdtemp(prefix="ganaug_gpu_suite_")
    num_classes = 2
    try:
        size, batch, filters = sizes["dcgan_size"], sizes["dcgan_batch"], sizes["filters"]
        constant = constant_batches(size, batch)
        chunks = {"steps": sizes["steps"], "rounds": sizes["rounds"]}
        step_alone = None
        if "dcgan" not in skip:
            print(f"\nDCGAN fernandez2021, {size} px, batch {batch}{tag}")
            for label, options in (("float32", {}), ("mixed precision", {"mixed_precision": True}),
                                   ("XLA", {"jit_compile": True})):
                rate, seconds = timed_chunks(dcgan_trainer(size, filters, **options), constant, **chunks)
                if label == "float32":
                    step_alone = seconds
                print(f"  {label:<16} {rate:9.1f} images/s  ({1e3 * seconds:8.1f} ms/step){tag}")
        if "small" not in skip:
            small_size, small_batch = sizes["small_size"], sizes["small_batch"]
            print(f"\n{small_size} px conditional models, batch {small_batch}{tag}")
            labelled = constant_batches(small_size, small_batch, num_classes=num_classes)
            for label, build in (("SNGAN", sngan_trainer), ("cDCGAN", cdcgan_trainer)):
                rate, seconds = timed_chunks(build(small_size, filters, num_classes), labelled, **chunks)
                print(f"  {label:<16} {rate:9.1f} images/s  ({1e3 * seconds:8.1f} ms/step){tag}")
        if "reader" in skip and "bound" in skip:
            return 0
        data = os.path.join(directory, "data")
        cache = os.path.join(directory, "cache")
        reader_size = 32 if small else 256
        write_dataset(data, sizes["num_images"], reader_size, num_classes)
        cold = ImageReader.from_folder(data, batch_size=batch, seed=0, num_threads=args.threads,
                                       drop_remainder=True)
        build_cache(data, cache, image_size=None, num_threads=args.threads, progress=False)
        warm = ImageReader.from_folder(data, batch_size=batch, seed=0, num_threads=args.threads,
                                       drop_remainder=True, cache=cache)
        if "reader" not in skip:
            print(f"\nreader tf.data face, {sizes['num_images']} PNGs of {reader_size} px, batch {batch}, "
                  f"{args.threads} threads{tag}")
            cold_rate, warm_rate = reader_rate(cold), reader_rate(warm)
            print(f"  cold (decoding)  {cold_rate:9.1f} images/s{tag}")
            print(f"  warm cache       {warm_rate:9.1f} images/s  ({warm_rate / cold_rate:.1f}x cold){tag}")
        if "bound" not in skip:
            if reader_size != size:
                print(f"\n(input-bound check skipped: reader images are {reader_size} px, DCGAN {size} px)")
                return 0
            print(f"\ninput-bound or step-bound: DCGAN float32 {size} px step time{tag}")
            if step_alone is None:
                step_alone = timed_chunks(dcgan_trainer(size, filters), constant, **chunks)[1]
            print(f"  constant batch   {1e3 * step_alone:8.1f} ms/step")
            for label, reader in (("reader cold", cold), ("reader warm", warm)):
                seconds = timed_chunks(dcgan_trainer(size, filters), reader, **chunks)[1]
                ratio = seconds / step_alone
                verdict = "input-bound" if ratio > 1.1 else "step-bound"
                print(f"  {label:<16} {1e3 * seconds:8.1f} ms/step = {ratio:.2f}x the step alone: {verdict}{tag}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        print(f"\ntotal {time.perf_counter() - start_all:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
