"""tf.distribute: MirroredStrategy on 2 logical CPUs = one device; two MultiWorker processes agree."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from _gan_test_models import tiny_discriminator, tiny_generator, tiny_images, weights_of
from ganaug.training import GANTrainer, resolve_strategy

HERE = os.path.dirname(os.path.abspath(__file__))


def test_strategy_names_resolve(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert resolve_strategy("default") is tf.distribute.get_strategy()
    assert resolve_strategy("auto") is tf.distribute.get_strategy()  # no GPU, no cluster
    with pytest.raises(TypeError, match="Received: strategy=3"):
        resolve_strategy(3)


@pytest.mark.slow
@pytest.mark.skipif(len(tf.config.list_logical_devices("CPU")) < 2, reason="needs 2 logical CPU devices")
def test_mirrored_step_equals_single_device_step():
    # No batch norm: under MirroredStrategy BN normalises per replica (see trainer docstring).
    def build(strategy):
        return GANTrainer(
            lambda: tiny_generator(batch_norm=False), lambda: tiny_discriminator(batch_norm="none"),
            strategy=strategy, instance_noise=0.2, diffaugment="translation,cutout", label_smoothing=0.1, seed=5,
        )

    data = (tiny_images(16), None)
    single = build("default")
    single.fit(data, batch_size=8, steps=2, verbose=0)
    mirrored = build("mirrored")
    assert mirrored.strategy.num_replicas_in_sync == 2
    mirrored.fit(data, batch_size=8, steps=2, verbose=0)
    for a, b in zip(weights_of(single.generator), weights_of(mirrored.generator)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    for a, b in zip(weights_of(single.discriminator), weights_of(mirrored.discriminator)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(len(tf.config.list_logical_devices("CPU")) < 2, reason="needs 2 logical CPU devices")
def test_models_built_outside_the_scope_are_refused():
    with pytest.raises(ValueError, match="built outside MirroredStrategy"):
        GANTrainer(tiny_generator(), tiny_discriminator(), strategy="mirrored")


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.multiprocess
@pytest.mark.slow
@pytest.mark.timeout(320)
def test_two_workers_end_with_identical_weights(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{port}" for port in ports]}
    processes = []
    for index in range(2):
        env = dict(os.environ)
        env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
        env["CUDA_VISIBLE_DEVICES"] = ""
        processes.append(subprocess.Popen(
            [sys.executable, os.path.join(HERE, "_multiworker_worker.py"), str(tmp_path / f"worker{index}.npz"),
             str(tmp_path / "run")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        ))
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=300)[0].decode(errors="replace"))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
    first, second = np.load(tmp_path / "worker0.npz"), np.load(tmp_path / "worker1.npz")
    assert sorted(first.files) == sorted(second.files) and len(first.files) > 4
    for name in first.files:
        np.testing.assert_array_equal(first[name], second[name])
    initial = np.load(tmp_path / "worker0.npz.initial.npz")
    moved = any(np.abs(initial[n] - first[n]).max() > 0 for n in first.files)
    assert moved
    # only the chief (worker 0) wrote the run directory
    assert (tmp_path / "run" / "generator.keras").is_file()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["options"]["num_replicas"] == 2
