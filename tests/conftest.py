"""Test-session setup shared by every test.

TensorFlow's CPU is split into two logical devices before anything else touches TensorFlow, so that
the tf.distribute tests can prove MirroredStrategy on two replicas (SPEC.md section 6). Everything
else runs on the first logical device as usual.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("GANAUG_SMOKE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )
except RuntimeError:  # already initialised by a plugin; distribution tests skip themselves
    pass


@pytest.fixture
def rng():
    """A numpy Generator with a fixed seed."""
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _clear_keras_session():
    """Keeps layer-name counters and graph state from leaking between tests."""
    import keras

    keras.utils.clear_session(free_memory=False)
    yield
