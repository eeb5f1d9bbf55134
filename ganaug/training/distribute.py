"""tf.distribute helpers: choosing the strategy and reading the cluster from ``TF_CONFIG``.

Multi-machine training uses TensorFlow's own ``MultiWorkerMirroredStrategy``: every worker runs the
same program with a ``TF_CONFIG`` environment variable naming the cluster and its own task index;
nothing here is home-made beyond reading that variable.
"""

import json
import os

STRATEGIES = ("auto", "default", "mirrored", "multiworker")
_MIRRORED_STRATEGIES = {}  # device names -> the process's MirroredStrategy over them


def tf_config():
    """Returns the parsed ``TF_CONFIG`` environment variable (``{}`` when unset or empty).

    Raises:
        ValueError: if ``TF_CONFIG`` is not valid JSON.
    """
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError as error:
        raise ValueError(f"`TF_CONFIG` is not valid JSON ({error}). Received: TF_CONFIG={text!r}") from None


def num_workers():
    """Returns the number of workers (``worker`` + ``chief`` tasks) named in ``TF_CONFIG`` (1 if none)."""
    cluster = tf_config().get("cluster", {})
    count = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    return max(count, 1)


def worker_index():
    """Returns this process's index among the workers (chief first), 0 without ``TF_CONFIG``."""
    config = tf_config()
    task = config.get("task", {})
    chiefs = len(config.get("cluster", {}).get("chief", []))
    if task.get("type") == "worker":
        return chiefs + int(task.get("index", 0))
    return int(task.get("index", 0)) if task.get("type") == "chief" else 0


def is_chief():
    """Returns True on the process that writes run files (the chief, or worker 0 without a chief)."""
    config = tf_config()
    task = config.get("task", {})
    if not task:
        return True
    if "chief" in config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def resolve_strategy(strategy="auto"):
    """Returns the ``tf.distribute.Strategy`` named by ``strategy``.

    ``"auto"`` picks ``MultiWorkerMirroredStrategy`` if ``TF_CONFIG`` names more than one worker,
    ``MirroredStrategy`` if more than one GPU is visible, else the default (single-device)
    strategy. ``"mirrored"`` uses every GPU, or every logical CPU device when there is no GPU (as
    in the tests, which split the CPU into two logical devices); one instance per process serves
    every trainer.

    Args:
        strategy: one of ``STRATEGIES`` or a ``tf.distribute.Strategy`` instance (returned as is).

    Returns:
        A ``tf.distribute.Strategy``.

    Raises:
        ValueError: for an unknown name.
        TypeError: for anything that is neither a name nor a strategy.
    """
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if not isinstance(strategy, str):
        raise TypeError(
            "`strategy` must be a name or a tf.distribute.Strategy. "
            f"Received: strategy={strategy!r}"
        )
    if strategy not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {STRATEGIES}. Received: strategy={strategy!r}")
    if strategy == "auto":
        if num_workers() > 1:
            strategy = "multiworker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            strategy = "mirrored"
        else:
            return tf.distribute.get_strategy()
    if strategy == "default":
        return tf.distribute.get_strategy()
    if strategy == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    devices = [device.name for device in tf.config.list_logical_devices("GPU")]
    if not devices:
        devices = [device.name for device in tf.config.list_logical_devices("CPU")]
    # One MirroredStrategy per device set and process: a second one numbers its collectives from
    # the start again, and TensorFlow, which keeps the first one's collective parameters, refuses
    # a same-numbered all-reduce of another shape ("Shape mismatch in the collective instance").
    key = tuple(devices)
    if key not in _MIRRORED_STRATEGIES:
        _MIRRORED_STRATEGIES[key] = tf.distribute.MirroredStrategy(devices)
    return _MIRRORED_STRATEGIES[key]


def strategy_name(strategy):
    """Returns a short name for a strategy instance (stored in a run's config)."""
    return type(strategy).__name__


def variables_in_scope(strategy, variables):
    """Returns True if every variable was created in ``strategy``'s scope (or the strategy is the default)."""
    import tensorflow as tf

    if not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy():
        return True
    return all(strategy.extended.variable_created_in_scope(getattr(v, "value", v)) for v in variables)
