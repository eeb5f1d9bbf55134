"""Issue 21, fault injection: ``ganaug train`` killed with SIGKILL across checkpointing and model saving.

Two ways to kill: the ``GANAUG_FAULT_AT=<label>:<n>[:<seconds>]`` hook (``ganaug.runs.fault_point``),
with which the child kills itself at the n-th time it reaches a named point (or that many seconds
after it); and, to land inside a write TensorFlow or Keras is doing, the test watching the run
folder and sending SIGKILL the moment a file of that write appears (``watch:<glob>``: a
checkpoint's ``ckpt-N_temp/`` folder, ``generator.tmp.keras``). After every kill the run must hold
no truncated model, no half-written JSON and a complete newest checkpoint; resumed, it must end
bit-identical to the uninterrupted run.

Default: one chain of 10 kills (each resumed process is killed at the next point) - about 12
``train`` processes. ``GANAUG_FAULT_SWEEP=full`` adds `test_each_kill_point_resumes_bit_identical`,
which kills a fresh run at each of ~20 points separately (about 40 processes).
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from data_readers.synthetic import make_blood_cell_dataset

STEPS = 12
ARGS = ["--image-size", "16", "--batch-size", "8", "--latent-dim", "8", "--steps", str(STEPS),
        "--model-option", "generator_filters=8", "--model-option", "discriminator_filters=4",
        "--model-option", "kernel_size=3", "--checkpoint-every", "4", "--sample-every", "4",
        "--strategy", "default", "--quiet"]
CHAIN = [  # (GANAUG_FAULT_AT, where the kill lands), in the order a run reaches them
    ("config.write:1", "before config.json: a start with nothing to resume"),
    ("checkpoint.save:1", "before the first checkpoint"),
    ("watch:checkpoints/*_temp", "inside the first checkpoint's save (its ckpt-4_temp/ exists)"),
    ("checkpoint.saved:1", "after a checkpoint, before history.json"),
    ("history.write:1:0.002", "while history.json is written"),
    ("watch:checkpoints/*_temp", "inside a later checkpoint's save (ckpt-12_temp/ exists)"),
    ("watch:generator.tmp.keras", "while Keras writes generator.tmp.keras"),
    ("model.replace:1", "generator written to generator.tmp.keras, not renamed"),
    ("model.replace:2", "generator in place, discriminator.tmp.keras not renamed"),
    ("metrics.write:1", "both models in place, metrics.json not written"),
]
FULL_SWEEP = [
    "config.write:1", "checkpoint.save:1", "checkpoint.save:2", "checkpoint.save:3", "checkpoint.save:4",
    "watch:checkpoints/*_temp", "checkpoint.save:3:0.05", "checkpoint.saved:1", "checkpoint.saved:3",
    "history.write:1", "history.write:2:0.002", "samples.write:2", "samples.write:4:0.01", "model.save:1",
    "watch:generator.tmp.keras", "model.replace:1", "model.save:2", "watch:discriminator.tmp.keras",
    "model.replace:2", "metrics.write:1",
]


@pytest.fixture(autouse=True)
def _clear_keras_session():
    """Overrides the conftest fixture: the training runs here are child processes."""
    yield


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "cells"
    make_blood_cell_dataset(out, image_size=16, counts={"neutrophil": 12, "lymphocyte": 12}, seed=0, verbose=0)
    return out


def _command(data, run, *extra):
    return [sys.executable, "-m", "ganaug.cli", "train", "dcgan", "--data", str(data), "--out", str(run),
            *ARGS, *extra]


def _env(fault=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env.pop("GANAUG_FAULT_AT", None)
    if fault:
        env["GANAUG_FAULT_AT"] = fault
    return env


def _start(data, run, fault=None, *extra):
    if fault and fault.startswith("watch:"):
        return _start_watched(data, run, fault[len("watch:"):], *extra)
    return subprocess.Popen(_command(data, run, *extra), env=_env(fault), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _start_watched(data, run, pattern, *extra):
    """Starts a run and SIGKILLs it as soon as a new path matching ``pattern`` appears in it."""
    existing = set(glob.glob(os.path.join(run, pattern)))
    process = subprocess.Popen(_command(data, run, *extra), env=_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    while process.poll() is None:
        if set(glob.glob(os.path.join(run, pattern))) - existing:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.0005)
    return process


def _finish(process):
    out, err = process.communicate(timeout=600)
    return process.returncode, (out or "") + (err or "")


@pytest.fixture(scope="module")
def reference(data_dir, tmp_path_factory):
    """The uninterrupted run, started in the background (the tests overlap with it)."""
    run = tmp_path_factory.mktemp("reference") / "run"
    process = _start(data_dir, run)

    def finished():
        if process.returncode is None:
            code, output = _finish(process)
            assert code == 0, output[-3000:]
        return run

    return finished


def _check_nothing_truncated(run, where):
    """After a kill: no truncated model, no half-written JSON, the newest listed checkpoint complete."""
    import tensorflow as tf

    from ganaug.training import checkpointing

    for role in ("generator", "discriminator"):
        path = os.path.join(run, f"{role}.keras")
        if os.path.exists(path):
            with zipfile.ZipFile(path) as archive:
                assert archive.testzip() is None, f"truncated {role}.keras after a kill {where}"
    for name in ("config.json", "history.json", "metrics.json"):
        path = os.path.join(run, name)
        if os.path.exists(path):
            with open(path) as handle:
                json.load(handle)  # a half-written file would not parse
    state = tf.train.get_checkpoint_state(os.path.join(run, "checkpoints"))
    if state is not None:
        assert checkpointing.is_complete(state.model_checkpoint_path), f"incomplete checkpoint after a kill {where}"


def _describe(run):
    """What a killed run holds (printed, and checked for the kill points that are exact)."""
    names = sorted(os.path.relpath(os.path.join(root, name), run) for root, folders, files in os.walk(run)
                   for name in files + folders if not root.endswith(("logs", "samples")))
    return [name for name in names if name not in ("checkpoints", "logs", "samples")]


EVIDENCE = {  # what a kill at an exact point must leave
    "config.write:1": lambda held: "config.json" not in held,
    "checkpoint.save:1": lambda held: not [n for n in held if n.startswith("checkpoints/ckpt-")],
    "model.replace:1": lambda held: "generator.tmp.keras" in held and "generator.keras" not in held,
    "model.replace:2": lambda held: "generator.keras" in held and "discriminator.tmp.keras" in held,
    "metrics.write:1": lambda held: "discriminator.keras" in held and "metrics.json" not in held,
}


def _assert_same_run(run, reference_run):
    import keras

    import ganaug.models  # noqa: F401  (custom layers)

    for role in ("generator", "discriminator"):
        got = keras.saving.load_model(os.path.join(run, f"{role}.keras"), compile=False).get_weights()
        expected = keras.saving.load_model(os.path.join(reference_run, f"{role}.keras"), compile=False).get_weights()
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)  # bit-identical, not merely close
    for name in ("history.json",):
        with open(os.path.join(run, name)) as a, open(os.path.join(reference_run, name)) as b:
            assert json.load(a) == json.load(b)
    with open(os.path.join(run, "metrics.json")) as a, open(os.path.join(reference_run, "metrics.json")) as b:
        got, expected = json.load(a), json.load(b)
    assert got["steps"] == expected["steps"] == STEPS
    assert {k: v for k, v in got.items() if k.startswith("final_")} == {k: v for k, v in expected.items() if k.startswith("final_")}
    leftovers = [os.path.join(root, name) for root, folders, names in os.walk(run) for name in names + folders
                 if ".tmp" in name or name.endswith("_temp")]
    assert leftovers == []


@pytest.mark.slow
def test_killed_ten_times_across_checkpoints_and_model_saving_resumes_bit_identical(data_dir, reference, tmp_path, capsys):
    from ganaug.cli import main

    run = tmp_path / "run"
    for index, (fault, where) in enumerate(CHAIN):
        code, output = _finish(_start(data_dir, run, fault, "--resume-or-start"))
        assert code == -signal.SIGKILL, f"not killed at {fault} ({where}): exit {code}\n{output[-3000:]}"
        _check_nothing_truncated(run, where)
        held = _describe(run)
        assert EVIDENCE.get(fault, lambda held: True)(held), (fault, held)
        if index == 0:  # nothing to resume yet: --resume says so (and --resume-or-start starts)
            assert main(["train", "dcgan", "--data", str(data_dir), "--out", str(run), *ARGS, "--resume"]) == 2
            assert "--resume-or-start" in capsys.readouterr().err
        print(f"killed at {fault:28} ({where}): {held}")
    code, output = _finish(_start(data_dir, run, None, "--resume-or-start"))
    assert code == 0, output[-3000:]
    _assert_same_run(run, reference())


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("GANAUG_FAULT_SWEEP") != "full", reason="full sweep: GANAUG_FAULT_SWEEP=full")
@pytest.mark.parametrize("fault", FULL_SWEEP)
def test_each_kill_point_resumes_bit_identical(data_dir, reference, tmp_path, fault):
    run = tmp_path / "run"
    code, output = _finish(_start(data_dir, run, fault))
    assert code == -signal.SIGKILL, f"not killed at {fault}: exit {code}\n{output[-3000:]}"
    _check_nothing_truncated(run, fault)
    code, output = _finish(_start(data_dir, run, None, "--resume-or-start"))
    assert code == 0, output[-3000:]
    _assert_same_run(run, reference())
    shutil.rmtree(run)
