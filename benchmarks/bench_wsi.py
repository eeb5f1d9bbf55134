"""Throughput of `data_readers.wsi.extract_patches` vs a naive single-process read_region loop.

Builds a synthetic pyramidal TIFF slide (default 8192x8192, the test slide's H&E-like texture tiled
up, with its tumour polygon repeated), then extracts 256x256 level-0 patches twice over the same grid:

- naive: one process reads every grid position with ``read_region``, composites it on white,
  measures the tissue fraction on the patch itself (same saturation threshold), labels it with
  the tumour polygons and writes a PNG when it is on tissue (the "custom script" way);
- ganaug: `extract_patches` (tissue mask from a thumbnail, only tissue patches read, worker
  processes), with balancing off so both write the same patches.

Prints patches written per second, the median over ``--repeats`` rounds (the worker counts of a
round run back to back), the ratio to the naive loop and to 1 worker. Target (issue 22): 2 workers
>= 1.6x 1 worker on an idle 2-core machine. Run from the repository root:

    python benchmarks/bench_wsi.py --workers 1 2 [--size 8192] [--repeats 3]
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from _slides import EXCLUSION_POLYGON, TUMOR_POLYGON, painted_slide, write_asap_xml, write_pyramid_tiff  # noqa: E402
from data_readers import annotations as annotations_lib  # noqa: E402
from data_readers import tissue as tissue_lib  # noqa: E402
from data_readers import wsi  # noqa: E402


def build_big_slide(directory, size):
    """Tiles the painted test slide up to ``size`` x ``size``; returns (slide path, annotation path)."""
    tile, _ = painted_slide(seed=0)
    reps_y, reps_x = -(-size // tile.shape[0]), -(-size // tile.shape[1])
    image = np.ascontiguousarray(np.tile(tile, (reps_y, reps_x, 1))[:size, :size])
    slide_path = os.path.join(directory, "big.tif")
    write_pyramid_tiff(slide_path, image, num_levels=4)
    regions = []
    for row in range(reps_y):
        for col in range(reps_x):
            offset = np.array([col * tile.shape[1], row * tile.shape[0]], dtype=np.float64)
            for name, group, polygon in (("tumor", "_0", TUMOR_POLYGON), ("excl", "_2", EXCLUSION_POLYGON)):
                moved = polygon + offset
                if moved.max(axis=0)[0] <= size and moved.max(axis=0)[1] <= size:
                    regions.append((f"{name} {row},{col}", group, moved))
    xml_path = os.path.join(directory, "big.xml")
    write_asap_xml(xml_path, regions)
    return slide_path, xml_path


def naive_extract(slide_path, xml_path, out_dir, *, patch_size=256, min_tissue_fraction=0.5):
    """The single-process loop: read every grid patch, test it, write it; returns patches written."""
    regions = annotations_lib.read_annotations(xml_path)
    tumors = [a for a in regions if a.label == "tumor"]
    excludes = [a for a in regions if a.label == "exclude"]
    for name in wsi.CLASS_NAMES:
        os.makedirs(os.path.join(out_dir, name), exist_ok=True)
    written = 0
    with wsi.open_slide(slide_path) as slide:
        width, height = slide.dimensions
        for y in range(0, height - patch_size + 1, patch_size):
            for x in range(0, width - patch_size + 1, patch_size):
                patch = wsi.read_patch(slide, location=(x, y), level=0, size=patch_size)
                saturation = tissue_lib.saturation_of(patch)
                if (saturation >= 20).mean() < min_tissue_fraction:
                    continue
                shape = (patch_size, patch_size)
                if annotations_lib.rasterize_annotations(excludes, origin=(x, y), shape=shape).any():
                    continue
                fraction = annotations_lib.rasterize_annotations(tumors, origin=(x, y), shape=shape).mean()
                if 0 < fraction < 0.5:
                    continue
                label = "tumor" if fraction >= 0.5 else "normal"
                name = wsi.patch_file_name(slide_name="big", level=0, x=x, y=y, size=patch_size)
                cv2.imwrite(os.path.join(out_dir, label, name), cv2.cvtColor(patch, cv2.COLOR_RGB2BGR))
                written += 1
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to compare")
    parser.add_argument("--repeats", type=int, default=3, help="rounds over the worker counts")
    args = parser.parse_args(argv)
    directory = tempfile.mkdtemp(prefix="bench_wsi_")
    try:
        start = time.perf_counter()
        slide_path, xml_path = build_big_slide(directory, args.size)
        print(f"slide {args.size}x{args.size} written in {time.perf_counter() - start:.1f} s "
              f"({os.path.getsize(slide_path) / 1e6:.0f} MB)")
        grid = (args.size // 256) ** 2

        start = time.perf_counter()
        naive = naive_extract(slide_path, xml_path, os.path.join(directory, "naive"))
        naive_seconds = time.perf_counter() - start

        results = {workers: [] for workers in sorted(set(args.workers) | {1})}
        for _ in range(args.repeats):
            for workers in results:
                out_dir = os.path.join(directory, f"ganaug_{workers}")
                shutil.rmtree(out_dir, ignore_errors=True)
                start = time.perf_counter()
                summary = wsi.extract_patches(slide_path, out_dir, annotations=[xml_path], levels=(0,),
                                              balance=False, num_workers=workers, verbose=0)
                results[workers].append((summary.written, time.perf_counter() - start))

        print(f"grid: {grid} level-0 positions of 256x256; load average {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} CPUs (a shared machine makes the ratios noisy)")
        print(f"naive loop (1 process)     : {naive:5d} patches in {naive_seconds:6.2f} s = "
              f"{naive / naive_seconds:7.1f} patches/s")
        one = statistics.median(w / s for w, s in results[1])
        for workers, runs in results.items():
            rate = statistics.median(w / s for w, s in runs)
            per_round = [(w / s) / (w1 / s1) for (w, s), (w1, s1) in zip(runs, results[1])]
            print(f"extract_patches ({workers} worker{'s' if workers > 1 else ' '}): {runs[0][0]:5d} patches, "
                  f"median {rate:7.1f} patches/s over {len(runs)} rounds, {rate / (naive / naive_seconds):.2f}x naive, "
                  f"{statistics.median(per_round):.2f}x 1 worker (median of per-round ratios; {rate / one:.2f}x of medians)")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
