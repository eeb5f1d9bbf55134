"""What a training run writes while it runs: TensorBoard scalars/images, sample grids, history.

Layout (docs/architecture.md): ``logs/`` (TensorBoard), ``samples/step_000500.png`` (fixed-z grid),
``history.json`` (every logged step), ``loss_curves.png``.
"""

import json
import os

import numpy as np

from ganaug import figures
from ganaug.runs import fault_point, write_json_atomic

HISTORY_FILE = "history.json"


class RunLogger:
    """Writes the scalars, sample grids and loss history of a run.

    Args:
        run_dir: the run directory (None: keep the history in memory only).
        enabled: False on non-chief workers (nothing is written).
    """

    def __init__(self, run_dir, *, enabled=True):
        self.run_dir = run_dir
        self.enabled = enabled and run_dir is not None
        self.history = {"step": []}
        self._writer = None
        if self.enabled:
            import tensorflow as tf

            logs = os.path.join(run_dir, "logs")
            try:
                self._writer = tf.summary.create_file_writer(logs)
            except tf.errors.OpError as error:  # e.g. PermissionDeniedError: a clean error, not TF's
                raise PermissionError(f"Cannot write TensorBoard logs to {logs}: {error.message}") from None

    def load_history(self, up_to_step):
        """Reloads ``history.json`` of a resumed run, keeping the entries up to ``up_to_step``."""
        if not self.enabled:
            return
        if os.path.isfile(os.path.join(self.run_dir, HISTORY_FILE)):
            self.history = read_history(self.run_dir, up_to_step)

    def log_scalars(self, step, scalars):
        """Appends ``scalars`` (name -> float) at ``step`` to the history and TensorBoard."""
        self.history["step"].append(int(step))
        for name, value in scalars.items():
            self.history.setdefault(name, []).append(float(value))
        if self._writer is not None:
            import tensorflow as tf

            with self._writer.as_default(step=int(step)):
                for name, value in scalars.items():
                    tf.summary.write(name, tf.constant(float(value), tf.float32), metadata=_metadata("scalars"))

    def log_samples(self, step, images, *, num_columns):
        """Writes ``samples/step_XXXXXX.png`` and a TensorBoard image of the sample grid."""
        if not self.enabled:
            return None
        fault_point("samples.write")
        grid = figures.image_grid(images, num_columns=num_columns)
        path = os.path.join(self.run_dir, "samples", f"step_{int(step):06d}.png")
        figures.save_png(path, grid)
        if self._writer is not None:
            import tensorflow as tf

            with self._writer.as_default(step=int(step)):
                height, width = grid.shape[:2]
                tensor = tf.stack([tf.as_string(width), tf.as_string(height), tf.io.encode_png(grid)])
                tf.summary.write("samples", tensor, metadata=_metadata("images"))
        return path

    def write_history(self):
        """Writes ``history.json`` and ``loss_curves.png`` (losses only) of the run."""
        if not self.enabled:
            return
        if self._writer is not None:
            self._writer.flush()
        fault_point("history.write")
        write_json_atomic(os.path.join(self.run_dir, HISTORY_FILE), self.history)
        curves = {
            name: values
            for name, values in self.history.items()
            if name == "step" or name.endswith("loss")
        }
        if len(self.history["step"]) > 1:
            figure = figures.loss_curves_figure(curves, title="GAN losses")
            figures.save_figure(figure, os.path.join(self.run_dir, "loss_curves.png"))

    def close(self):
        if self._writer is not None:
            self._writer.close()


def _metadata(plugin_name):
    """Summary metadata TensorBoard's ``scalars``/``images`` plugins read.

    Written with the core ``tf.summary.write`` so that logging does not need the ``tensorboard``
    package installed (``tf.summary.scalar``/``image`` live in it); TensorBoard shows these events
    exactly as if they came from ``tf.summary.scalar``/``image``.
    """
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = plugin_name
    return metadata.SerializeToString()


def finite(history):
    """Returns True if every value of every series in ``history`` is finite."""
    return all(np.all(np.isfinite(np.asarray(values, dtype=np.float64))) for values in history.values())


def read_history(run_dir, up_to_step=None):
    """Returns a run's ``history.json`` (entries up to ``up_to_step``), or ``{"step": []}``."""
    path = os.path.join(run_dir, HISTORY_FILE) if run_dir is not None else None
    if path is None or not os.path.isfile(path):
        return {"step": []}
    with open(path) as f:
        history = json.load(f)
    if up_to_step is None:
        return history
    keep = [i for i, step in enumerate(history.get("step", [])) if step <= up_to_step]
    return {name: [values[i] for i in keep if i < len(values)] for name, values in history.items()}


MAX_LISTED_FILES = 1000
"""Skipped/converted files listed by name in metrics.json (all of them are counted)."""


def data_counts(reader, previous_metrics=None):
    """The reader's skipped (unreadable) and converted (other bit depth) files, for ``metrics.json``.

    Merged with the counts of the run's previous parts (``previous_metrics``) so that a resumed
    run reports every file it ever skipped.

    Returns:
        dict with ``skipped_files`` (count), ``skipped`` (``{path: reason}``), ``converted_files``
        and ``converted`` (``{path: reason}``); empty when ``reader`` is None.
    """
    if reader is None:
        return {}
    previous_metrics = previous_metrics or {}
    counts = {}
    for kind, paths, reasons in (
        ("skipped", getattr(reader, "skipped_paths", []), getattr(reader, "skip_reasons", {})),
        ("converted", getattr(reader, "converted_paths", []), getattr(reader, "convert_reasons", {})),
    ):
        listed = dict(previous_metrics.get(kind) or {})
        extra = 0
        for path in paths:
            if path in listed:
                continue
            if len(listed) < MAX_LISTED_FILES:
                listed[path] = reasons.get(path, "")
            else:
                extra += 1
        count = max(int(previous_metrics.get(f"{kind}_files") or 0), len(listed)) + extra
        counts[f"{kind}_files"] = count
        counts[kind] = listed
    return counts
