"""Run directories: where every long job writes what it made.

Layout (SPEC.md section 2)::

    runs/<name>/
        config.json          everything needed to rebuild and reuse the run (family, image_size,
                             channels, latent_dim, latent_distribution, class_names, ...)
        checkpoints/         tf.train.CheckpointManager checkpoints
        samples/             image grids written during training
        logs/                TensorBoard event files
        metrics.json         final numbers of the run
        generator.keras, discriminator.keras, encoder.keras, classifier.keras   trained models
        report.html          the run's report
"""

import json
import os
import tempfile

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
SUBDIRECTORIES = ("checkpoints", "samples", "logs")


def create_run_dir(path, *, exist_ok=True):
    """Creates (or reuses) a run directory with its standard sub-folders.

    Args:
        path: the run directory, e.g. ``"runs/dcgan32"``.
        exist_ok: if False, an existing non-empty directory raises FileExistsError.

    Returns:
        The absolute path of the run directory.
    """
    path = os.path.abspath(os.fspath(path))
    if not exist_ok and os.path.isdir(path) and os.listdir(path):
        raise FileExistsError(f"Run directory already exists and is not empty: {path}")
    for sub in SUBDIRECTORIES:
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    return path


def write_json_atomic(path, data):
    """Writes ``data`` as JSON to ``path`` atomically (temporary file + rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True, default=_json_default)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serialisable")


def read_config(run_dir):
    """Returns the ``config.json`` of a run as a dict.

    Raises:
        FileNotFoundError: if the run directory or its config does not exist.
    """
    path = os.path.join(os.fspath(run_dir), CONFIG_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No run config found: {path}")
    with open(path) as f:
        return json.load(f)


def write_config(run_dir, config):
    """Writes (replaces) the ``config.json`` of a run."""
    write_json_atomic(os.path.join(os.fspath(run_dir), CONFIG_FILE), config)


def read_metrics(run_dir):
    """Returns the run's ``metrics.json`` as a dict, or None if the run has none yet."""
    path = os.path.join(os.fspath(run_dir), METRICS_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def update_metrics(run_dir, metrics):
    """Merges ``metrics`` into the run's ``metrics.json`` (created if missing) and returns the result."""
    current = read_metrics(run_dir) or {}
    current.update(metrics)
    write_json_atomic(os.path.join(os.fspath(run_dir), METRICS_FILE), current)
    return current


def model_path(run_dir, role):
    """Returns the path of a run's model file, e.g. ``model_path(run, "generator")``."""
    return os.path.join(os.fspath(run_dir), f"{role}.keras")


def load_run_model(run_dir, role, *, compile=False):
    """Loads a trained model of a run.

    Args:
        run_dir: the run directory.
        role: ``"generator"``, ``"discriminator"``, ``"encoder"`` or ``"classifier"``.
        compile: passed to ``keras.saving.load_model``.

    Returns:
        The ``keras.Model``.

    Raises:
        FileNotFoundError: if the run has no such model.
    """
    path = model_path(run_dir, role)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Run {os.fspath(run_dir)!r} has no {role}: {path} does not exist")
    import keras

    import ganaug.models  # noqa: F401  (registers the custom layers)

    return keras.saving.load_model(path, compile=compile)
