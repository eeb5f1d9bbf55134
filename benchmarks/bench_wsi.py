"""Throughput of `data_readers.wsi.extract_patches` vs a naive single-process read_region loop.

Builds a synthetic pyramidal TIFF slide (default 8192x8192, the test slide's H&E-like texture tiled
up, with its tumour polygon repeated), then extracts 256x256 level-0 patches twice over the same grid:

- naive: one process reads every grid position with ``read_region``, composites it on white,
  measures the tissue fraction on the patch itself (same saturation threshold), labels it with
  the tumour polygons and writes a PNG when it is on tissue (the "custom script" way);
- ganaug: `extract_patches` (tissue mask from a thumbnail, only tissue patches read, worker
  processes), with balancing off so both write the same patches.

Prints patches written per second for both and the ratio. Run from the repository root:

    .venv/bin/python benchmarks/bench_wsi.py [--size 8192] [--workers 2]
"""

import argparse
import os
import shutil
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
    parser.add_argument("--workers", type=int, default=2)
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

        results = {}
        for workers in sorted({1, args.workers}):
            out_dir = os.path.join(directory, f"ganaug_{workers}")
            start = time.perf_counter()
            summary = wsi.extract_patches(slide_path, out_dir, annotations=[xml_path], levels=(0,),
                                          balance=False, num_workers=workers, verbose=0)
            results[workers] = (summary.written, time.perf_counter() - start)

        print(f"grid: {grid} level-0 positions of 256x256")
        print(f"naive loop (1 process)     : {naive:5d} patches in {naive_seconds:6.2f} s = "
              f"{naive / naive_seconds:7.1f} patches/s")
        for workers, (written, seconds) in results.items():
            print(f"extract_patches ({workers} worker{'s' if workers > 1 else ' '}): {written:5d} patches in "
                  f"{seconds:6.2f} s = {written / seconds:7.1f} patches/s, "
                  f"ratio {written / seconds / (naive / naive_seconds):.2f}x")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
