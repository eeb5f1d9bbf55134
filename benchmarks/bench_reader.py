"""Throughput and memory of the streaming image reader against the reference ways to read a folder.

Measured in one run, on the same files, each stage in its own subprocess (so that peak memory, read
with ``resource.getrusage`` max RSS, belongs to that stage alone):

* ``raw``: the decode limit, bare ``cv2.imread(IMREAD_UNCHANGED)`` over every file in ``--threads``
  threads (no conversion, no batching);
* ``iterator``: ``data_readers.image_reader.ImageReader`` iterated as numpy batches (float32 in
  [-1, 1], no resize);
* ``tf_data``: the same reader's ``as_tf_dataset()``, decoding every PNG (cold: no cache);
* ``tf_data_warm``: ``as_tf_dataset()`` of a reader with a decoded cache
  (``ImageReader(..., cache=--cache)``, built once before the rounds, as ``ganaug cache`` would);
* ``keras``: ``keras.utils.image_dataset_from_directory`` followed by the same rescaling
  ``(x - 127.5) / 127.5`` (``num_parallel_calls=AUTOTUNE``, private thread pool of ``--threads``);
* ``keras_cache``: the same with ``.cache()`` (in memory) after the rescaling, for reference: the
  timed pass reads from memory, whose size grows with the data set (float32: 4 bytes per pixel).

Each stage reads the data set ``--passes`` times in its process and the last pass is timed, so the
figures are steady-state throughput (the reader's batch buffers allocated, TensorFlow's functions
traced), as in every epoch of training after the first. Runs ``--repeats`` rounds, each running every stage once, back to back. Prints images/s per stage
(median and best over rounds), peak RSS, and every stage's ratio to raw decoding as the median over
rounds of the ratio within each round: on a shared machine whose speed drifts, stages run close
together are compared, and one lucky run does not decide. Targets (issue 22, on 2 cores): tf_data
>= 0.9x raw, tf_data_warm >= 3x raw with peak RSS below 600 MB on a data set larger than 2 GB
decoded (``--num-images 11000`` at 256 px is 2.16 GB of uint8 pixels; use ``--stages`` to leave
``keras_cache`` out there, which would hold 8.6 GB of float32).

Peak RSS is printed whole and as ``peak - before``, what the stage adds to its process after its
imports. Every TensorFlow stage starts from TensorFlow's import floor (660 MB with TensorFlow
2.21 here, about 400 MB of it file-backed library pages: printed by the run), so no tf.data
pipeline can have an absolute peak below 600 MB on this stack; what the reader controls is the
addition, and whether it stays flat as the data set grows (compare ``--num-images 5000`` and
``11000``).

Usage::

    python benchmarks/bench_reader.py                      # 5,000 PNGs of 256 px in 5 classes
    python benchmarks/bench_reader.py --num-images 1000 --threads 2 --batch-size 64
    python benchmarks/bench_reader.py --num-images 11000 --stages raw,tf_data,tf_data_warm --data /tmp/big

The data set (textured PNGs: a smooth random field, random ellipses and pixel noise, so PNG decoding
costs what it costs on real images) is generated once and cached in ``--data``.
"""

import argparse
import concurrent.futures
import json
import os
import resource
import subprocess
import sys
import time

STAGES = ("raw", "iterator", "tf_data", "tf_data_warm", "keras", "keras_cache")
TARGETS = {"tf_data": 0.9, "tf_data_warm": 3.0}  # x raw decode
NUM_CLASSES = 5


def textured_image(seed, image_size):
    """Returns a textured uint8 BGR image (smooth colour field + ellipses + noise)."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 220, (8, 8, 3), dtype=np.uint8)
    image = cv2.resize(coarse, (image_size, image_size), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(10, 30))):
        center = tuple(int(v) for v in rng.integers(0, image_size, 2))
        axes = tuple(int(v) for v in rng.integers(image_size // 40 + 1, image_size // 6 + 2, 2))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        cv2.ellipse(image, center, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    noise = rng.normal(0, 6, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def ensure_dataset(directory, num_images, image_size, threads):
    """Writes ``num_images`` PNGs in ``NUM_CLASSES`` class folders unless already cached."""
    import cv2

    marker = os.path.join(directory, "dataset.json")
    wanted = {"num_images": num_images, "image_size": image_size, "num_classes": NUM_CLASSES}
    if os.path.isfile(marker):
        with open(marker) as handle:
            if json.load(handle) == wanted:
                return
    for c in range(NUM_CLASSES):
        os.makedirs(os.path.join(directory, f"class_{c}"), exist_ok=True)

    def write(i):
        path = os.path.join(directory, f"class_{i % NUM_CLASSES}", f"image_{i:06d}.png")
        cv2.imwrite(path, textured_image(i, image_size))

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(write, range(num_images)))
    # A cache built with more images must not leave extra files behind.
    for c in range(NUM_CLASSES):
        folder = os.path.join(directory, f"class_{c}")
        for name in os.listdir(folder):
            if name.endswith(".png") and int(name[6:12]) >= num_images:
                os.remove(os.path.join(folder, name))
    with open(marker, "w") as handle:
        json.dump(wanted, handle)
    print(f"wrote {num_images} images to {directory} in {time.perf_counter() - start:.1f} s")


def list_images(directory):
    return sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(directory)
        for name in names
        if name.endswith(".png")
    )


def warm_page_cache(paths):
    for path in paths:
        with open(path, "rb") as handle:
            handle.read()


def max_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def resident_split_mb():
    """Returns this process's current (anonymous, file-backed) resident memory in MB (Linux), or Nones.

    File-backed pages are mostly shared-library code (TensorFlow's ~400 MB), which every process
    that imports it maps; anonymous pages are the process's own heap (arrays, buffers).
    """
    try:
        with open("/proc/self/status") as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line)
        return (int(fields["RssAnon"].split()[0]) / 1024.0, int(fields["RssFile"].split()[0]) / 1024.0)
    except (OSError, KeyError, ValueError):
        return (None, None)


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_stage(stage, args):
    """Runs one stage in this process ``args.passes`` times over the data set; returns the
    measurements of the last pass (steady state when ``passes > 1``)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if stage != "raw" and stage != "iterator":
        import tensorflow as tf  # noqa: F401  (import cost kept out of the timed loop)
    rss_before = max_rss_mb()
    anon_before, file_before = resident_split_mb()
    source = stage_source(stage, args)
    for _ in range(args.passes):
        cpu_before = cpu_seconds()
        start = time.perf_counter()
        count = source()
        seconds = time.perf_counter() - start
        cpu = cpu_seconds() - cpu_before
    return {
        "stage": stage,
        "cpu_seconds": cpu,
        "images_per_cpu_second": count / cpu,
        "images": count,
        "seconds": seconds,
        "images_per_second": count / seconds,
        "rss_before_mb": rss_before,
        "anon_before_mb": anon_before,
        "file_before_mb": file_before,
        "peak_rss_mb": max_rss_mb(),
    }


def stage_source(stage, args):
    """Returns a function that reads the whole data set once the stage's way; returns the count."""
    if stage == "raw":
        import cv2

        paths = list_images(args.data)

        def decode_share(share):
            cv2.setNumThreads(0)
            for path in share:
                if cv2.imread(path, cv2.IMREAD_UNCHANGED) is None:
                    raise RuntimeError(path)
            return len(share)

        def read_raw():
            with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
                shares = [paths[i :: args.threads] for i in range(args.threads)]
                return sum(pool.map(decode_share, shares))

        return read_raw
    if stage in ("iterator", "tf_data", "tf_data_warm"):
        from data_readers.image_reader import ImageReader

        reader = ImageReader.from_folder(
            args.data, batch_size=args.batch_size, seed=0, num_threads=args.threads,
            cache=args.cache if stage == "tf_data_warm" else None,
        )
        source = reader if stage == "iterator" else reader.as_tf_dataset()
        return lambda: sum(int(images.shape[0]) for images, _ in source)
    if stage in ("keras", "keras_cache"):
        import keras
        import tensorflow as tf

        dataset = keras.utils.image_dataset_from_directory(
            args.data,
            image_size=(args.image_size, args.image_size),
            batch_size=args.batch_size,
            shuffle=True,
            seed=0,
            verbose=False,
        )
        dataset = dataset.map(lambda x, y: ((x - 127.5) / 127.5, y), num_parallel_calls=tf.data.AUTOTUNE)
        if stage == "keras_cache":
            dataset = dataset.cache()
        dataset = dataset.prefetch(tf.data.AUTOTUNE)
        options = tf.data.Options()
        options.threading.private_threadpool_size = args.threads
        dataset = dataset.with_options(options)
        return lambda: sum(int(images.shape[0]) for images, _ in dataset)
    raise ValueError(f"Unknown stage. Received: stage={stage!r}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="/tmp/ganaug_bench_reader", help="data set folder (generated once)")
    parser.add_argument("--cache", default=None, help="decoded cache folder (default: DATA + '_cache')")
    parser.add_argument("--num-images", type=int, default=5000)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="rounds over every stage")
    parser.add_argument(
        "--passes", type=int, default=2,
        help="passes over the data set per stage and round; the last one is timed (steady state: "
        "buffers allocated, graphs traced, as in the later epochs of training)",
    )
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.cache = args.cache or args.data.rstrip("/") + "_cache"
    for name in ("num_images", "image_size", "threads", "batch_size", "repeats", "passes"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive. Received: {getattr(args, name)}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.stage:
        print(json.dumps(run_stage(args.stage, args)))
        return 0
    stages = [s for s in args.stages.split(",") if s]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise SystemExit(f"Unknown stage(s) {unknown}; choose from {STAGES}")
    ensure_dataset(args.data, args.num_images, args.image_size, args.threads)
    warm_page_cache(list_images(args.data))
    if "tf_data_warm" in stages:
        from data_readers.decoded_cache import build_cache

        start = time.perf_counter()
        built = build_cache(args.data, args.cache, image_size=None, num_threads=args.threads, progress=False)
        print(f"decoded cache {built['folder']}: {built['decoded']} decoded, {built['reused']} reused, "
              f"{built['nbytes'] / 1e9:.2f} GB, {time.perf_counter() - start:.1f} s")
    forwarded = [
        "--data", args.data, "--cache", args.cache, "--num-images", str(args.num_images),
        "--image-size", str(args.image_size), "--threads", str(args.threads),
        "--batch-size", str(args.batch_size), "--passes", str(args.passes),
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow")
    rounds = []  # one {stage: result} per round; the stages of a round run back to back
    for repeat in range(args.repeats):
        round_results = {}
        for stage in stages:
            output = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--stage", stage, *forwarded],
                check=True, capture_output=True, text=True, env=env,
            ).stdout
            round_results[stage] = json.loads(output.strip().splitlines()[-1])
        rounds.append(round_results)
        print(
            f"round {repeat + 1}/{args.repeats}: "
            + ", ".join(f"{s} {r['images_per_second']:.0f}/s" for s, r in round_results.items()),
            flush=True,
        )
    print_summary(args, stages, rounds)
    return 0


def print_summary(args, stages, rounds):
    """Prints per-stage medians and the ratios (median over rounds of each round's ratio)."""
    import statistics

    print(
        f"\n{args.num_images} PNG images of {args.image_size} px, batch {args.batch_size}, "
        f"{args.threads} threads, {len(rounds)} rounds, pass {args.passes} of {args.passes} timed "
        f"(cpu_count={os.cpu_count()})"
    )
    print(
        f"{'stage':<10}{'median img/s':>13}{'best img/s':>11}{'median cpu s':>14}"
        f"{'img/cpu-s':>10}{'RSS before':>12}{'peak RSS':>10}{'peak - before':>15}"
    )
    for stage in stages:
        runs = [r[stage] for r in rounds]
        speed = [r["images_per_second"] for r in runs]
        print(
            f"{stage:<10}{statistics.median(speed):>13.1f}{max(speed):>11.1f}"
            f"{statistics.median(r['cpu_seconds'] for r in runs):>14.2f}"
            f"{statistics.median(r['images_per_cpu_second'] for r in runs):>10.1f}"
            f"{max(r['rss_before_mb'] for r in runs):>10.0f}MB{max(r['peak_rss_mb'] for r in runs):>8.0f}MB"
            f"{max(r['peak_rss_mb'] - r['rss_before_mb'] for r in runs):>13.0f}MB"
        )
    floors = [r[s] for r in rounds for s in stages if s not in ("raw", "iterator") and r[s].get("anon_before_mb")]
    if floors:
        floor = max(floors, key=lambda r: r["rss_before_mb"])
        print(
            f"'RSS before' of the TensorFlow stages is TensorFlow's import alone: {floor['rss_before_mb']:.0f} MB "
            f"({floor['anon_before_mb']:.0f} MB anonymous, {floor['file_before_mb']:.0f} MB file-backed library "
            "pages); 'peak - before' is what the stage itself adds"
        )
    print(
        "ratios to raw: median over rounds of the ratio within a round (stages of a round run back "
        "to back, so they share the machine's state); in brackets the range over rounds"
    )
    if "raw" in stages:
        for stage in stages[1:] if stages[0] == "raw" else [x for x in stages if x != "raw"]:
            wall = [r[stage]["images_per_second"] / r["raw"]["images_per_second"] for r in rounds]
            median = statistics.median(wall)
            target = TARGETS.get(stage)
            verdict = "" if target is None else (
                f" ({'ok' if median >= target else 'below target'}, target >= {target}x)"
            )
            print(f"{stage}/raw: {median:.2f}x [{min(wall):.2f}-{max(wall):.2f}]{verdict}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
          "(a shared machine inflates the spread)")


if __name__ == "__main__":
    sys.exit(main())
