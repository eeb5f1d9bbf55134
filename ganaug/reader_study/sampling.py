"""Which images a reader study shows, and in which order: balanced, seeded sampling.

A reading is only interpretable when the readers cannot win by guessing the base rate, so a study
holds as many real as synthetic images (SHI-GAN, Falahkheirkhah et al. Table 2: 160 real + 160
synthetic; Klang & Carlberg's technologist likewise sorted a mixed set). Within each half the images
are spread over the classes as evenly as the folders allow (round robin over classes in a seeded
order), so a rare class is not left out by chance. Every reader reads the same images — needed for
Cohen's kappa between readers and Fleiss' kappa over them — each in their own seeded order, so that
order effects (fatigue, learning) do not line up across readers.

Everything here is a pure function of its inputs and ``seed``.
"""

import os

import numpy as np

from data_readers.decode import is_image_file


def list_images(directory):
    """Returns ``(paths, labels, class_names)`` for the images under ``directory``.

    A folder whose sub-folders hold images is read as a folder of class folders (class names = the
    sorted folder names, labels = their indices, images directly in ``directory`` ignored), as
    ``data_readers`` reads training data; any other folder is read recursively without labels
    (``labels`` all None, ``class_names == []``). Hidden files and folders are skipped.

    Raises:
        FileNotFoundError: if ``directory`` does not exist.
        ValueError: if it holds no image.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Image folder not found: {directory}")
    folders = sorted(
        name for name in os.listdir(directory)
        if not name.startswith(".") and os.path.isdir(os.path.join(directory, name))
    )
    per_folder = [(name, _scan(os.path.join(directory, name))) for name in folders]
    per_folder = [(name, found) for name, found in per_folder if found]
    if per_folder:
        class_names = [name for name, _ in per_folder]
        paths, labels = [], []
        for index, (_, found) in enumerate(per_folder):
            paths += found
            labels += [index] * len(found)
        return paths, labels, class_names
    paths = _scan(directory)
    if not paths:
        raise ValueError(f"No image files found under folder '{directory}'.")
    return paths, [None] * len(paths), []


def _scan(directory):
    found = []
    for root, dirs, files in os.walk(directory, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(root, f) for f in sorted(files) if not f.startswith(".") and is_image_file(f)]
    return found


def sample_stratified(labels, count, *, seed=0):
    """Returns ``count`` distinct indices into ``labels``, spread as evenly as possible over labels.

    The classes are visited in turn (in a seeded order), each giving its next image from a seeded
    shuffle, until ``count`` are taken; a class that runs out drops out of the rotation.
    ``None`` labels form one group.

    Args:
        labels: one label (int, str or None) per candidate image.
        count: how many to take.
        seed: the seed; the same seed gives the same indices.

    Returns:
        A list of ``count`` indices, in the order taken.

    Raises:
        ValueError: if ``count`` is not in ``[0, len(labels)]``.
    """
    labels = list(labels)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or not 0 <= count <= len(labels):
        raise ValueError(
            f"Cannot take {count!r} images from {len(labels)} candidates. Received: count={count!r}"
        )
    rng = np.random.default_rng(seed)
    groups = {}
    for index, label in enumerate(labels):
        groups.setdefault(label, []).append(index)
    keys = sorted(groups, key=lambda k: (k is None, str(k)))
    queues = [list(rng.permutation(groups[key])) for key in keys]
    order = list(rng.permutation(len(queues)))
    taken = []
    while len(taken) < count:
        for q in order:
            if queues[q] and len(taken) < count:
                taken.append(int(queues[q].pop(0)))
    return taken


def balanced_candidates(real_labels, synthetic_labels, per_reader, *, seed=0):
    """Returns the seeded candidate orders ``(real_order, synthetic_order)`` of a balanced study.

    A study takes the first ``per_reader / 2`` *readable* images of each order (an unreadable file is
    skipped and the next candidate of its class rotation takes its place, so the halves stay
    balanced). Each order is :func:`sample_stratified` over every candidate, and any prefix of it is
    as class-balanced as the folder allows.

    Args:
        real_labels: one label (or None) per candidate real image.
        synthetic_labels: one label (or None) per candidate synthetic image.
        per_reader: images per reader; must be even and at least 2.
        seed: the seed.

    Raises:
        ValueError: for an odd or too small ``per_reader``, or too few candidates on either side.
    """
    if isinstance(per_reader, bool) or not isinstance(per_reader, (int, np.integer)) or per_reader < 2 or per_reader % 2:
        raise ValueError(
            "`per_reader` must be an even integer >= 2 (half real, half synthetic). "
            f"Received: per_reader={per_reader!r}"
        )
    half = int(per_reader) // 2
    for name, labels in (("real", real_labels), ("synthetic", synthetic_labels)):
        if len(labels) < half:
            raise ValueError(
                f"A study of {per_reader} images per reader needs {half} {name} images; only "
                f"{len(labels)} were given. Received: per_reader={per_reader}"
            )
    return (
        sample_stratified(real_labels, len(real_labels), seed=[seed, 0]),
        sample_stratified(synthetic_labels, len(synthetic_labels), seed=[seed, 1]),
    )


def reader_orders(num_items, num_readers, *, seed=0):
    """Returns one seeded permutation of ``range(num_items)`` per reader (reader ``r`` uses ``[seed, 2, r]``)."""
    return [
        [int(i) for i in np.random.default_rng([seed, 2, reader]).permutation(num_items)]
        for reader in range(num_readers)
    ]
