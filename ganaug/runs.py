"""Run directories: where every long job writes what it made, and the rules every writer follows.

Layout::

    runs/<name>/
        config.json          everything needed to rebuild and reuse the run (family, image_size,
                             channels, latent_dim, latent_distribution, class_names, ...), and the
                             ``settings_history`` of schedule changes made by resumes
        checkpoints/         tf.train.CheckpointManager checkpoints
        samples/             image grids written during training
        logs/                TensorBoard event files
        metrics.json         final numbers of the run (``steps``: the step its models are from)
        generator.keras, discriminator.keras, encoder.keras, classifier.keras   trained models
        report.html          the run's report

The writers' rules (issue 21):

- A run with progress (checkpoints, models, history or metrics) is never replaced silently:
  `prepare_run_dir` refuses unless told to resume it or to overwrite it.
- Models, manifests and JSON are written to a temporary file in the same folder and renamed
  (``os.replace``) over the target, so a reader sees the old file or the new one, never half of
  one (`write_json_atomic`, `write_text_atomic`, `save_model_atomic`). Temporary names contain
  ``.tmp``; leftovers of a killed process are removed the next time the run starts
  (`clean_temporary_files`).
- Files are created with the permissions ``open()`` would give them under the user's umask
  (``tempfile.mkstemp`` creates 0600 files; they are ``chmod``-ed to ``0o666 & ~umask``).

Fault injection (for the kill-and-resume tests): `fault_point` is called at named points of
checkpointing and model saving; when the environment variable ``GANAUG_FAULT_AT`` is unset it does
nothing but read it.
"""

import json
import os
import re
import shutil
import signal
import tempfile
import threading
import zipfile

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
SUBDIRECTORIES = ("checkpoints", "samples", "logs")
MODEL_ROLES = ("generator", "discriminator", "encoder", "classifier")
RUN_FILES = (CONFIG_FILE, METRICS_FILE, HISTORY_FILE, "loss_curves.png", "report.html")
"""Files of a run that ``overwrite`` removes (with the model files and the run's folders)."""
RUN_FOLDERS = SUBDIRECTORIES + ("evaluation",)
TEMPORARY_MARK = ".tmp"
"""Every temporary file a writer creates has this in its name (``generator.tmp.keras``, ``.tmp-x.json``)."""

FAULT_ENV = "GANAUG_FAULT_AT"
FAULT_POINTS = (
    "config.write", "checkpoint.save", "checkpoint.saved", "history.write", "samples.write",
    "model.save", "model.replace", "metrics.write",
)
"""The named points of `fault_point`, in the order a run reaches them (``model.*`` once per model)."""
_fault_counts = {}
_fault_lock = threading.Lock()


# ---------------------------------------------------------------------------------------- faults
def fault_point(label):
    """Test hook: kills this process with SIGKILL at the n-th time it reaches point ``label``.

    ``GANAUG_FAULT_AT="<label>:<n>"`` kills at the n-th call with that label (counted from 1 in
    this process); ``"<label>:<n>:<seconds>"`` starts a timer there instead, so that the kill lands
    inside the write that follows (e.g. ``"model.save:1:0.05"`` kills while ``generator.keras`` is
    being written). Labels: `FAULT_POINTS`. Unset (always, outside tests): returns at once.
    """
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    name, _, rest = spec.partition(":")
    if name != label:
        return
    count_text, _, delay_text = rest.partition(":")
    with _fault_lock:
        _fault_counts[label] = _fault_counts.get(label, 0) + 1
        reached = _fault_counts[label] == int(count_text or 1)
    if not reached:
        return
    if delay_text:
        timer = threading.Timer(float(delay_text), os.kill, (os.getpid(), signal.SIGKILL))
        timer.daemon = True
        timer.start()
    else:
        os.kill(os.getpid(), signal.SIGKILL)


# ----------------------------------------------------------------------------- atomic writing
def current_umask():
    """Returns the process's umask (read from /proc without changing it where possible)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # the portable way: set and restore
    os.umask(mask)
    return mask


def apply_umask(path, *, directory=False):
    """Gives ``path`` the mode ``open()``/``mkdir()`` would have (``0o666``/``0o777`` & ~umask)."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


def write_text_atomic(path, text):
    """Writes ``text`` to ``path`` atomically: a temporary file in the same folder, then ``os.replace``."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.splitext(path)[1])

    def write(tmp):
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        apply_umask(tmp)

    return _write_then_replace(tmp, path, write)


def _write_then_replace(tmp, path, write):
    """Calls ``write(tmp)``, then renames ``tmp`` over ``path``; on any failure ``tmp`` is removed."""
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def write_json_atomic(path, data):
    """Writes ``data`` as JSON to ``path`` atomically (temporary file + rename, umask honoured)."""
    text = json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n"
    return write_text_atomic(path, text)


def save_model_atomic(model, path):
    """Saves a Keras model to ``path`` (``.keras``) without ever leaving a truncated file there.

    Keras writes in place, so the model goes to ``<name>.tmp.keras`` in the same folder first and
    is then renamed over ``path``.
    """
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"`path` must end with .keras. Received: path={path!r}")
    tmp = path[: -len(".keras")] + TEMPORARY_MARK + ".keras"

    def write(tmp):
        model.save(tmp)
        fault_point("model.replace")

    return _write_then_replace(tmp, path, write)


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serialisable")


def clean_temporary_files(run_dir):
    """Removes what killed writers left in a run: ``*.tmp*`` files and ``checkpoints/*_temp/`` folders.

    Returns:
        The removed paths.
    """
    removed = []
    for folder in (run_dir, os.path.join(run_dir, "checkpoints")):
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            if os.path.isdir(path) and not os.path.islink(path):
                if folder != run_dir and name.endswith("_temp"):
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
            elif TEMPORARY_MARK in name:
                os.remove(path)
                removed.append(path)
    return removed


# ------------------------------------------------------------------------------- run folders
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


_CHECKPOINT_INDEX = re.compile(r"^ckpt-(\d+)\.index$")


def run_state(run_dir):
    """Describes what a run directory already holds.

    Returns:
        dict with ``exists``, ``config`` (dict or None), ``checkpoint_steps`` (sorted steps of the
        ``ckpt-N`` checkpoints on disk, usable or not), ``models`` (roles with a ``.keras`` file),
        ``history`` (bool), ``metrics`` (dict or None) and ``progress`` (True if any of
        checkpoints, models, history or metrics is there).
    """
    run_dir = os.fspath(run_dir)
    state = {"exists": os.path.isdir(run_dir), "config": None, "checkpoint_steps": [], "models": [],
             "history": False, "metrics": None}
    if state["exists"]:
        try:
            state["config"] = read_config(run_dir)
        except (FileNotFoundError, ValueError):  # missing, or half-written by an old version
            pass
        try:
            state["metrics"] = read_metrics(run_dir)
        except ValueError:
            state["metrics"] = {}
        checkpoints = os.path.join(run_dir, "checkpoints")
        if os.path.isdir(checkpoints):
            steps = (_CHECKPOINT_INDEX.match(name) for name in os.listdir(checkpoints))
            state["checkpoint_steps"] = sorted(int(match.group(1)) for match in steps if match)
        state["models"] = [role for role in MODEL_ROLES if os.path.isfile(model_path(run_dir, role))]
        state["history"] = os.path.isfile(os.path.join(run_dir, HISTORY_FILE))
    state["progress"] = bool(state["checkpoint_steps"] or state["models"] or state["history"]
                             or state["metrics"] is not None)
    return state


def describe_run(state):
    """A short description of a run's progress for messages, e.g. ``"finished at step 60"``."""
    metrics = state.get("metrics") or {}
    parts = []
    if metrics.get("steps") is not None and state["models"]:
        parts.append(f"finished at step {metrics['steps']}")
    if state["checkpoint_steps"]:
        parts.append(f"checkpoints up to step {state['checkpoint_steps'][-1]}")
    if state["models"]:
        parts.append("models " + ", ".join(state["models"]))
    return "; ".join(parts) or "a history"


def remove_run_files(run_dir):
    """Removes a run's files and folders (`RUN_FILES`, `RUN_FOLDERS`, model files, temporaries);
    anything else in ``run_dir`` is left alone."""
    for name in RUN_FOLDERS:
        shutil.rmtree(os.path.join(run_dir, name), ignore_errors=True)
    names = set(RUN_FILES) | {f"{role}.keras" for role in MODEL_ROLES}
    for name in os.listdir(run_dir) if os.path.isdir(run_dir) else ():
        if name in names or TEMPORARY_MARK in name:
            path = os.path.join(run_dir, name)
            if os.path.isfile(path) or os.path.islink(path):
                os.remove(path)


def check_writable(directory):
    """Raises PermissionError (naming ``directory``) if no file can be created in it."""
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".tmp-probe-")
    except OSError as error:
        raise PermissionError(
            f"Run directory {directory} is not writable ({error.strerror or error}); "
            "choose another directory or fix its permissions."
        ) from None
    os.close(fd)
    os.remove(probe)


def prepare_run_dir(run_dir, *, resume=False, overwrite=False):
    """Applies the run-directory rule before a training run writes anything.

    * no run there (missing, empty, or only the ``config.json``/folders of a run that never reached
      a checkpoint): a fresh start (stale files of such a run are removed);
    * a run with progress and ``resume``: kept, to be continued;
    * a run with progress and ``overwrite``: its files are removed (other files are left);
    * a run with progress and neither: FileExistsError.

    Then the folders are created, the directory is checked to be writable and leftovers of
    killed writers are removed.

    Args:
        run_dir: the run directory.
        resume: True or ``"or_start"`` (see ``GANTrainer.fit``); False for a new run.
        overwrite: replace an existing run.

    Returns:
        ``(absolute path, run_state(...) before anything was changed)``.

    Raises:
        ValueError: for ``resume`` together with ``overwrite``.
        FileExistsError: for a run with progress and neither ``resume`` nor ``overwrite``.
        FileNotFoundError: for ``resume=True`` where there is no checkpoint to resume from.
        PermissionError: if the directory cannot be created or written.
    """
    if resume and overwrite:
        raise ValueError(f"Pass `resume` or `overwrite`, not both. Received: resume={resume!r}, overwrite=True")
    path = os.path.abspath(os.fspath(run_dir))
    state = run_state(path)
    if state["progress"] and not resume:
        if not overwrite:
            raise FileExistsError(
                f"Run directory {path} already holds a run ({describe_run(state)}); pass resume=True "
                "(--resume) to continue it, overwrite=True (--overwrite) to replace it, or choose "
                "another directory."
            )
        remove_run_files(path)
    elif not state["progress"] and not resume:
        remove_run_files(path)  # a start that never reached a checkpoint: nothing to keep
    elif resume is True and not state["checkpoint_steps"]:
        where = f"{path} does not exist" if not state["exists"] else f"{path} has no checkpoint"
        raise FileNotFoundError(
            f"Cannot resume: {where}; pass resume='or_start' (--resume-or-start) to start the run "
            "there when there is nothing to resume."
        )
    try:
        create_run_dir(path)
    except OSError as error:
        raise PermissionError(
            f"Run directory {path} is not writable: cannot create its folders ({error.strerror or error}); "
            "choose another directory or fix its permissions."
        ) from None
    check_writable(path)
    clean_temporary_files(path)
    return path, state


def is_finished(run_dir, step, roles=("generator", "discriminator")):
    """Returns True if a run finished at ``step``: its metrics say so and its models are intact."""
    metrics = read_metrics(run_dir) or {}
    if metrics.get("steps") != step:
        return False
    for role in roles:
        path = model_path(run_dir, role)
        try:
            with zipfile.ZipFile(path) as archive:
                if archive.testzip() is not None:
                    return False
        except (OSError, zipfile.BadZipFile):
            return False
    return True


# -------------------------------------------------------------------------- resumed settings
IDENTITY_SETTINGS = (
    "family", "image_size", "channels", "latent_dim", "latent_distribution", "num_classes",
    "class_names", "seed", "preset", "base_run", "loss", "mixed_precision", "generator_is_ema",
)
"""Settings that define what a run *is* (its models' shapes, its prior, its objective): a resume
with another value is refused. Every entry of the model options is one too."""
_MODEL_SECTIONS = ("model_options", "model")
_NOT_COMPARED = ("settings_history",)


def _flatten(config, prefix=""):
    flat = {}
    for key, value in config.items():
        if not prefix and key in _NOT_COMPARED:
            continue
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in _MODEL_SECTIONS:
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def _is_identity(path):
    parts = path.split(".")
    if parts[-1] == "class_name" and parts[-2].endswith("optimizer"):  # Adam -> SGD: other slots
        return True
    return parts[-1] in IDENTITY_SETTINGS or any(part in _MODEL_SECTIONS for part in parts)


def _json_value(value):
    return json.loads(json.dumps(value, default=_json_default))


def _named_changes(changes):
    """``{path: (old, new)}`` -> ``"image_size 16 -> 32, ..."``, one entry per setting name."""
    seen, parts = set(), []
    for path in sorted(changes, key=lambda p: (p.count("."), p)):
        name = path.split(".")[-1]
        if name in _MODEL_SECTIONS:
            old, new = changes[path]
            old, new = old or {}, new or {}
            for key in sorted(set(old) | set(new)):
                if old.get(key) != new.get(key) and key not in seen:
                    seen.add(key)
                    parts.append(f"{key} {old.get(key)!r} -> {new.get(key)!r}")
            continue
        if name in seen:
            continue
        seen.add(name)
        old, new = changes[path]
        parts.append(f"{name} {old!r} -> {new!r}")
    return ", ".join(parts)


def _changes(previous, current):
    old, new = _flatten(_json_value(previous)), _flatten(_json_value(current))
    return {path: (old.get(path), new.get(path)) for path in sorted(set(old) | set(new))
            if old.get(path) != new.get(path)}


def check_resumable(run_dir, previous, current):
    """Raises unless the ``current`` settings continue the run whose config is ``previous``.

    Settings that define the run (`IDENTITY_SETTINGS`, every model option) must be equal;
    schedule settings (steps, batch size, learning rates, ...) may change (see `resumed_config`).

    Raises:
        ValueError: naming every changed defining setting, in one line.
    """
    refused = {path: change for path, change in _changes(previous, current).items() if _is_identity(path)}
    if refused:
        raise ValueError(
            f"Cannot resume {run_dir} with other model settings: {_named_changes(refused)}. Resume "
            "with the run's settings, or start a new run (another directory, or overwrite=True / --overwrite)."
        )


def resumed_config(previous, current, *, from_step):
    """Returns ``current`` with the run's ``settings_history``: the previous entries plus, if a
    resume changed schedule settings, ``{"from_step": N, "changes": {"options.batch_size":
    {"from": 8, "to": 16}, ...}}``, so the config says which settings every part of the run used.

    Args:
        previous: the stored ``config.json`` of the resumed run, or None for a new run.
        current: the config of this (resumed) run, checked with `check_resumable`.
        from_step: the step the run resumes at.
    """
    current = dict(current)
    history = list((previous or {}).get("settings_history") or [])
    changes = _changes(previous, current) if previous else {}
    if changes:
        history.append({"from_step": int(from_step),
                        "changes": {path: {"from": a, "to": b} for path, (a, b) in changes.items()}})
    current["settings_history"] = history
    return current


# ------------------------------------------------------------------------------ reading back
def read_config(run_dir):
    """Returns the ``config.json`` of a run as a dict.

    Raises:
        FileNotFoundError: if the run directory or its config does not exist.
        ValueError: if the config is not valid JSON.
    """
    path = os.path.join(os.fspath(run_dir), CONFIG_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No run config found: {path}")
    return _read_json(path)


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}).") from None


def write_config(run_dir, config):
    """Writes (replaces) the ``config.json`` of a run."""
    write_json_atomic(os.path.join(os.fspath(run_dir), CONFIG_FILE), config)


def read_metrics(run_dir):
    """Returns the run's ``metrics.json`` as a dict, or None if the run has none yet."""
    path = os.path.join(os.fspath(run_dir), METRICS_FILE)
    if not os.path.isfile(path):
        return None
    return _read_json(path)


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
        ValueError: if the file is not a readable Keras model (e.g. truncated).
    """
    path = model_path(run_dir, role)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Run {os.fspath(run_dir)!r} has no {role}: {path} does not exist")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"Run {os.fspath(run_dir)!r} has an unreadable {role}: {path} is not a complete .keras "
            "file (truncated?); resume the run to write it again."
        )
    import keras

    import ganaug.models  # noqa: F401  (registers the custom layers)

    return keras.saving.load_model(path, compile=compile)
