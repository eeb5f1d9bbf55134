"""benchmarks/gpu_suite.py runs on a CPU at small sizes, without error, and says they are not GPU figures."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_gpu_suite_runs_on_cpu_at_small_sizes():
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "gpu_suite.py"), "--small", "--steps", "1", "--rounds", "1"],
        capture_output=True, text=True, env=env, timeout=600, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for figure in ("float32", "mixed precision", "XLA", "SNGAN", "cDCGAN", "cold (decoding)", "warm cache",
                   "constant batch", "reader cold", "reader warm"):
        assert figure in out, f"{figure!r} missing from the suite's output:\n{out}"
    assert "SMALL SIZES: not GPU figures" in out
    assert "images/s" in out and ("input-bound" in out or "step-bound" in out)
    assert "fake_labels" not in result.stderr  # constant batches draw uniform classes on purpose, silently
