"""Checkpoints of a GAN run: both networks, both optimisers, the step and the RNG state.

``tf.train.CheckpointManager`` writes a checkpoint's files first (through a ``ckpt-N_temp/``
folder that it merges and removes) and only then rewrites the small ``checkpoint`` index file
(atomically, temporary file + rename). A process that dies mid-save therefore leaves the index
pointing at the previous, complete checkpoint; ``remove_orphans`` deletes what the interrupted save
left (the ``_temp`` folder, files of checkpoints the index does not list) when the run starts again.
``restore_latest`` also checks that the files a checkpoint needs exist and can be read, and falls
back to older checkpoints if not, so a damaged newest checkpoint costs one interval of training,
never the run.
"""

import glob
import os
import re
import shutil

import tensorflow as tf

from ganaug.runs import fault_point

_CHECKPOINT_FILE = re.compile(r"^(ckpt-\d+)\.(index|data-\d+-of-\d+)$")


def checkpoint_manager(checkpoint, directory, *, max_to_keep=3):
    """Returns a ``tf.train.CheckpointManager`` for ``checkpoint`` writing to ``directory``."""
    return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=max_to_keep, checkpoint_name="ckpt")


def save(manager, step):
    """Writes checkpoint ``ckpt-<step>`` (fault points ``checkpoint.save`` / ``checkpoint.saved``)."""
    fault_point("checkpoint.save")
    path = manager.save(checkpoint_number=step)
    fault_point("checkpoint.saved")
    return path


def remove_orphans(manager):
    """Removes what interrupted saves left in the manager's folder: ``*_temp`` folders, temporary
    index files and the files of ``ckpt-N`` checkpoints the ``checkpoint`` index does not list.

    Returns:
        The removed paths.
    """
    directory = manager.directory
    listed = {os.path.basename(prefix) for prefix in manager.checkpoints}
    removed = []
    for name in os.listdir(directory) if os.path.isdir(directory) else ():
        path = os.path.join(directory, name)
        match = _CHECKPOINT_FILE.match(name)
        if os.path.isdir(path) and name.endswith("_temp"):
            shutil.rmtree(path, ignore_errors=True)
        elif ".tmp" in name or (match and match.group(1) not in listed):
            os.remove(path)
        else:
            continue
        removed.append(path)
    return removed


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
