"""Where a reader's files come from: folders of class folders, CSV manifests and path lists.

Each ``*_listing`` function returns a :class:`Listing` (paths, int32 labels or None, class names,
a description of the source for messages) and decodes nothing; :class:`ImageReader` takes it.

When a folder is scanned only files with an extension in :data:`IMAGE_EXTENSIONS` (``.bmp``,
``.jpeg``, ``.jpg``, ``.png``, ``.tif``, ``.tiff``, any case) are taken; other files (``.txt``,
``.DS_Store``, ...) and hidden files or folders (names starting with ``.``) are ignored. Symbolic
links are followed once: a folder or file reached again through another link (a link loop, or
two links to one file) is read once. A class folder without image files is an error unless
``allow_empty_classes=True``. Files listed explicitly (manifest, path list) are not filtered.
"""

import collections
import csv
import json
import logging
import os
import re

import numpy as np

from data_readers.checks import check_bool
from data_readers.decode import IMAGE_EXTENSIONS, is_image_file

logger = logging.getLogger("data_readers.image_reader")

_INTEGER_LABEL = re.compile(r"^\s*[+-]?\d+\s*$")

#: A reader's files: ``paths`` (str), ``labels`` (int32 array or None for unlabelled),
#: ``class_names`` (list of str, empty when unlabelled) and ``source`` (for messages, or None).
Listing = collections.namedtuple("Listing", ["paths", "labels", "class_names", "source"])


def scan_images(directory):
    """Returns the image files under ``directory`` (recursive, sorted, hidden entries skipped).

    Symbolic links are followed once: a folder whose real path was already walked (a link loop,
    or a second link to it) and a file whose real path was already taken are not read again.
    """
    found, seen_folders, seen_files, repeats = [], set(), set(), 0
    for root, dirs, files in os.walk(directory, followlinks=True):
        real = os.path.realpath(root)
        if real in seen_folders:
            dirs[:] = []
            repeats += 1
            continue
        seen_folders.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not is_image_file(name):
                continue
            path = os.path.join(root, name)
            real_file = os.path.realpath(path)
            if real_file in seen_files:
                repeats += 1
                continue
            seen_files.add(real_file)
            found.append(path)
    if repeats:
        logger.warning(
            "Folder %s: %d folder(s)/file(s) reached again through symbolic links were read once.",
            directory, repeats,
        )
    return found


def label_indices(raw_labels, class_names, source):
    """Returns ``(int32 label indices, class_names)`` from class names or integer labels."""
    raw_labels = list(raw_labels)
    if class_names is not None:
        if isinstance(class_names, str) or not all(isinstance(c, str) for c in class_names):
            raise TypeError(
                f"`class_names` must be a list of strings. Received: class_names={class_names!r}"
            )
        class_names = list(class_names)
        if len(set(class_names)) != len(class_names):
            raise ValueError(f"`class_names` has duplicates. Received: class_names={class_names!r}")

    def as_int(label):
        if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
            return int(label)
        if isinstance(label, str) and _INTEGER_LABEL.match(label):
            return int(label)
        return None

    integers = [as_int(label) for label in raw_labels]
    strings_are_names = class_names is not None and all(
        isinstance(label, str) and label in class_names for label in raw_labels
    )
    if all(i is not None for i in integers) and not strings_are_names:
        bad = [i for i in integers if i < 0 or (class_names is not None and i >= len(class_names))]
        if bad:
            limit = f"[0, {len(class_names)})" if class_names is not None else ">= 0"
            raise ValueError(
                f"Integer labels in {source} must be class indices {limit}. Received: label={bad[0]}"
            )
        if class_names is None:
            class_names = [str(i) for i in range(max(integers) + 1)]
        return np.asarray(integers, np.int32), class_names
    for label in raw_labels:
        if not isinstance(label, str) or not label.strip():
            raise ValueError(
                f"Labels in {source} must be all class names (non-empty strings) or all integer "
                f"class indices. Received: label={label!r}"
            )
    if class_names is None:
        class_names = sorted(set(raw_labels))
    index = {name: i for i, name in enumerate(class_names)}
    unknown = sorted(set(raw_labels) - set(index))
    if unknown:
        raise ValueError(
            f"Labels in {source} are not in `class_names` {class_names}. Received: label={unknown[0]!r}"
        )
    return np.asarray([index[label] for label in raw_labels], np.int32), class_names


#: A data set's description file; its ``"masks_folder"`` names a sub-folder that is not a class.
DATASET_FILE = "dataset.json"


def _declared_non_class_folders(directory):
    """Returns the sub-folders ``directory/dataset.json`` declares not to be classes (its masks)."""
    path = os.path.join(directory, DATASET_FILE)
    if not os.path.isfile(path):
        return set()
    try:
        with open(path) as handle:
            description = json.load(handle)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} is not readable JSON ({error}); fix or remove it.") from error
    folder = description.get("masks_folder") if isinstance(description, dict) else None
    return {folder} if isinstance(folder, str) and folder else set()


def folder_listing(directory, *, labelled=True, class_names=None, allow_empty_classes=False):
    """Returns the :class:`Listing` of a folder of class folders (or of any folder, unlabelled).

    Labelled: every non-hidden sub-folder of ``directory`` is a class, class names are the sorted
    folder names (indices in that order), and each class folder is scanned recursively; image
    files directly in ``directory`` are ignored, and so is the label-map folder a ``dataset.json``
    names as ``"masks_folder"`` (``make_blood_cell_dataset(masks=True)`` writes one). Unlabelled: every image file under ``directory``.

    Args:
        directory: the root folder.
        labelled: whether sub-folders are classes.
        class_names: optional subset/order of the class folders to read (labelled only).
        allow_empty_classes: keep a class folder without image files as a class with no images.

    Raises:
        FileNotFoundError: if ``directory`` does not exist.
        ValueError: if it holds no image file, a named class folder is missing, or a class folder
            has no image file (unless ``allow_empty_classes``).
    """
    directory = os.fspath(directory)
    allow_empty_classes = check_bool(allow_empty_classes, "allow_empty_classes")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Image folder not found: {directory}")
    labelled = check_bool(labelled, "labelled")
    source = f"folder '{directory}'"
    if not labelled:
        if class_names is not None:
            raise ValueError(
                f"`class_names` needs labelled=True. Received: class_names={class_names!r}"
            )
        paths = scan_images(directory)
        if not paths:
            raise ValueError(
                f"No image files ({', '.join(IMAGE_EXTENSIONS)}) found under {source}."
            )
        return Listing(paths, None, [], source)
    not_classes = _declared_non_class_folders(directory)
    all_folders = sorted(
        name
        for name in os.listdir(directory)
        if not name.startswith(".") and os.path.isdir(os.path.join(directory, name))
    )
    folders = [name for name in all_folders if name not in not_classes]
    if not_classes & set(all_folders):
        logger.info("Not read as classes (declared in %s): %s", DATASET_FILE, sorted(not_classes))
    if class_names is not None:
        if isinstance(class_names, str) or not all(isinstance(c, str) for c in class_names):
            raise TypeError(
                f"`class_names` must be a list of strings. Received: class_names={class_names!r}"
            )
        missing = [c for c in class_names if c not in all_folders]
        if missing:
            raise ValueError(
                f"Class folder {missing[0]!r} not found in {source}. "
                f"Received: class_names={list(class_names)!r}"
            )
        folders = list(class_names)
    if not folders:
        raise ValueError(
            f"No class folders found in {source}; pass labelled=False to read the images "
            "under it without labels."
        )
    paths, labels, empty = [], [], []
    for index, name in enumerate(folders):
        found = scan_images(os.path.join(directory, name))
        if not found:
            empty.append(name)
        paths.extend(found)
        labels.extend([index] * len(found))
    if empty and paths:
        names = ", ".join(repr(name) for name in empty)
        if not allow_empty_classes:
            raise ValueError(
                f"Class folder(s) {names} in {source} have no image files "
                f"({', '.join(IMAGE_EXTENSIONS)}); remove them, convert their images, or pass "
                "allow_empty_classes=True to keep them as classes without images. "
                "Received: allow_empty_classes=False"
            )
        logger.warning("Class folder(s) %s in %s have no image files; kept as empty classes.", names, source)
    if not paths:
        raise ValueError(
            f"No image files ({', '.join(IMAGE_EXTENSIONS)}) found in the class folders of "
            f"{source}."
        )
    return Listing(paths, np.asarray(labels, np.int32), folders, source)



def csv_listing(csv_path, *, path_column="path", label_column="label", class_names=None):
    """Returns the :class:`Listing` of a CSV manifest with a header row, e.g. ``path,label``.

    Paths are relative to the CSV's folder (absolute paths are kept); labels are class names or
    integer class indices; ``label_column=None`` (or no ``label`` column) gives an unlabelled
    listing. Listed files are not checked here.

    Raises:
        FileNotFoundError: if ``csv_path`` does not exist.
        ValueError: if the manifest has no rows, lacks the path column, or has bad labels.
    """
    csv_path = os.fspath(csv_path)
    if not os.path.isfile(csv_path):
        raise FileNotFoundError(f"Manifest not found: {csv_path}")
    source = f"manifest '{csv_path}'"
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        rows = list(reader)
    if path_column not in columns:
        raise ValueError(
            f"{source} has no column {path_column!r} (columns: {columns}). "
            f"Received: path_column={path_column!r}"
        )
    if label_column is not None and label_column not in columns:
        if label_column != "label":
            raise ValueError(
                f"{source} has no column {label_column!r} (columns: {columns}). "
                f"Received: label_column={label_column!r}"
            )
        label_column = None
    if not rows:
        raise ValueError(f"No image files listed in {source}: it has no rows.")
    base = os.path.dirname(os.path.abspath(csv_path))
    paths = []
    for line, row in enumerate(rows, start=2):
        value = (row.get(path_column) or "").strip()
        if not value:
            raise ValueError(f"Empty path in {source} at line {line}. Received: path={value!r}")
        paths.append(os.path.normpath(os.path.join(base, value)))
    if label_column is None:
        if class_names is not None:
            raise ValueError(
                f"`class_names` needs a label column. Received: class_names={class_names!r}"
            )
        return Listing(paths, None, [], source)
    labels, names = label_indices(
        [(row.get(label_column) or "").strip() for row in rows], class_names, source
    )
    return Listing(paths, labels, names, source)


def paths_listing(paths, labels=None, *, class_names=None):
    """Returns the :class:`Listing` of explicit paths and optional labels (names or indices).

    Raises:
        TypeError: if ``paths`` is not a sequence of paths.
        ValueError: for an empty list, a length mismatch or bad labels.
    """
    if isinstance(paths, (str, bytes)) or not hasattr(paths, "__iter__"):
        raise TypeError(f"`paths` must be a sequence of file paths. Received: paths={paths!r}")
    paths = [os.fspath(p) for p in paths]
    if labels is None:
        if class_names is not None:
            raise ValueError(
                f"`class_names` needs `labels`. Received: class_names={class_names!r}"
            )
        return Listing(paths, None, [], None)
    labels = list(np.asarray(labels).tolist()) if isinstance(labels, np.ndarray) else list(labels)
    if len(labels) != len(paths):
        raise ValueError(
            f"`labels` must have one entry per path ({len(paths)}). "
            f"Received: len(labels)={len(labels)}"
        )
    if not paths:
        raise ValueError("No image files given. Received: paths=[]")
    indices, names = label_indices(labels, class_names, "`labels`")
    return Listing(paths, indices, names, None)
