"""What a training run writes while it runs: TensorBoard scalars/images, sample grids, history.

Layout (docs/architecture.md): ``logs/`` (TensorBoard), ``samples/step_000500.png`` (fixed-z grid),
``history.json`` (every logged step), ``loss_curves.png``.
"""

import json
import os

import numpy as np

from ganaug import figures
from ganaug.runs import write_json_atomic

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

            self._writer = tf.summary.create_file_writer(os.path.join(run_dir, "logs"))

    def load_history(self, up_to_step):
        """Reloads ``history.json`` of a resumed run, keeping the entries up to ``up_to_step``."""
        if not self.enabled:
            return
        path = os.path.join(self.run_dir, HISTORY_FILE)
        if not os.path.isfile(path):
            return
        with open(path) as f:
            history = json.load(f)
        keep = [i for i, step in enumerate(history.get("step", [])) if step <= up_to_step]
        self.history = {name: [values[i] for i in keep if i < len(values)] for name, values in history.items()}

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
