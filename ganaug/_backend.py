"""Checks, before Keras is imported, that it will run on the TensorFlow backend.

ganaug uses TensorFlow-only machinery (``tf.distribute``, ``tf.data``, SavedModel export), so a
JAX/PyTorch/NumPy Keras backend cannot work. The check mirrors how Keras 3 resolves its backend:
the ``KERAS_BACKEND`` environment variable wins over ``$KERAS_HOME/keras.json`` (default
``~/.keras/keras.json``), whose default is ``"tensorflow"``.
"""

import json
import os
import sys

_FIX = (
    "ganaug needs Keras on the TensorFlow backend. Set the environment variable "
    "KERAS_BACKEND=tensorflow (e.g. `export KERAS_BACKEND=tensorflow`) before importing "
    "ganaug, or set \"backend\": \"tensorflow\" in {config}."
)


def configured_backend():
    """Returns the name of the Keras backend that Keras will use (or already uses).

    Returns:
        The backend name, e.g. ``"tensorflow"`` or ``"jax"``.
    """
    keras_module = sys.modules.get("keras")
    if keras_module is not None and hasattr(keras_module, "config"):
        return keras_module.config.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    config_path = _keras_config_path()
    if os.path.exists(config_path):
        try:
            with open(config_path) as f:
                return json.load(f).get("backend", "tensorflow")
        except (OSError, ValueError):
            return "tensorflow"
    return "tensorflow"


def _keras_config_path():
    keras_home = os.environ.get("KERAS_HOME")
    if keras_home is None:
        base = os.path.expanduser("~")
        if not os.access(base, os.W_OK):
            base = "/tmp"
        keras_home = os.path.join(base, ".keras")
    return os.path.join(keras_home, "keras.json")


def check_backend():
    """Raises ImportError naming the fix if Keras is not configured for TensorFlow.

    Raises:
        ImportError: if the configured Keras backend is not ``"tensorflow"``.
    """
    backend = configured_backend()
    if backend != "tensorflow":
        raise ImportError(
            f"Keras is configured for the {backend!r} backend. "
            + _FIX.format(config=_keras_config_path())
        )
