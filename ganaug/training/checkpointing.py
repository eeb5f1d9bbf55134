"""Checkpoints of a GAN run: both networks, both optimisers, the step and the RNG state.

``tf.train.CheckpointManager`` writes a checkpoint's files first and only then rewrites the small
``checkpoint`` index file (atomically, temporary file + rename). A process that dies mid-save
therefore leaves the index pointing at the previous, complete checkpoint; the half-written files of
the interrupted save are ignored and overwritten by the next save. ``restore_latest`` also checks
that the files a checkpoint needs exist and can be read, and falls back to older checkpoints if
not, so a damaged newest checkpoint costs one interval of training, never the run.
"""

import glob
import os

import tensorflow as tf


def checkpoint_manager(checkpoint, directory, *, max_to_keep=3):
    """Returns a ``tf.train.CheckpointManager`` for ``checkpoint`` writing to ``directory``."""
    return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=max_to_keep, checkpoint_name="ckpt")


def is_complete(prefix):
    """Returns True if the checkpoint at ``prefix`` has its index and data files and can be read."""
    if not os.path.isfile(prefix + ".index") or not glob.glob(prefix + ".data-*"):
        return False
    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
        for name in shapes:  # reading every tensor proves the data shards are intact
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH":
                reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, IndexError):  # IndexError: a truncated data shard
        return False
    return True


def restore_latest(checkpoint, manager):
    """Restores the newest complete checkpoint listed by ``manager``.

    Args:
        checkpoint: the ``tf.train.Checkpoint`` to restore into.
        manager: its ``tf.train.CheckpointManager``.

    Returns:
        The prefix of the restored checkpoint, or None if there is none.
    """
    for prefix in reversed(manager.checkpoints):
        if is_complete(prefix):
            checkpoint.restore(prefix).assert_existing_objects_matched()
            return prefix
    return None
