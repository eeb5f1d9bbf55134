"""Creating a reader study: a balanced, seeded set of real and synthetic images in one SQLite file.

``create_study`` samples half real and half synthetic images (class-stratified, seeded), passes
every one of them through the same :func:`~ganaug.reader_study.encoding.prepare_pixels` and
:func:`~ganaug.reader_study.encoding.encode_png` (same size, same PNG writer, same compression, no
metadata chunks), stores them under random ids with one secret link per reader and one admin link,
and gives each reader their own seeded order. ``create_study_from_run`` draws the synthetic half
from a trained run's generator instead of a folder.

This is the study Klang & Carlberg ran by hand (a medical technologist sorting real from generated
blood cells: recall 0.88, specificity 0.54) and SHI-GAN ran with four pathologists
(Falahkheirkhah et al., Table 2: 160 real + 160 synthetic images in surveys of 40), made
repeatable: same seed, same images, same orders.
"""

import collections
import dataclasses
import datetime
import hashlib
import logging
import os
import random

from ganaug.reader_study import encoding, links, sampling, storage

logger = logging.getLogger(__name__)

MAX_READERS = 200
MAX_PER_READER = 5000


@dataclasses.dataclass
class StudyInfo:
    """What ``create_study`` made.

    Attributes:
        path: the study database.
        readers: ``[(name, token), ...]`` in reader order.
        admin_token: the admin secret.
        num_real: real images in the study (every reader reads all of them).
        num_synthetic: synthetic images.
        image_size: ``(height, width)`` of every study image.
        tasks: the questions asked about each image.
        class_names: the class list offered for the ``label`` task (may be empty).
        skipped: source files that could not be read and were replaced by the next candidate.
    """

    path: str
    readers: list
    admin_token: str
    num_real: int
    num_synthetic: int
    image_size: tuple
    tasks: tuple
    class_names: list
    skipped: list

    def links(self, base_url=links.DEFAULT_BASE_URL):
        """Returns ``{"admin": url, "readers": {name: url}}`` for a server at ``base_url``."""
        return links.study_links(self.readers, self.admin_token, base_url)


def parse_tasks(tasks):
    """Returns the study tasks as a tuple in canonical order.

    Args:
        tasks: a comma-separated string (``"realness,quality,label"``) or a list of task names from
            ``("realness", "quality", "label")``.

    Raises:
        ValueError: for an empty, unknown or repeated task.
    """
    if isinstance(tasks, str):
        tasks = [t.strip() for t in tasks.split(",") if t.strip()]
    tasks = list(tasks)
    unknown = [t for t in tasks if t not in storage.TASKS]
    if not tasks or unknown or len(set(tasks)) != len(tasks):
        raise ValueError(
            f"`tasks` must be a non-empty subset of {storage.TASKS} without repeats. Received: tasks={tasks!r}"
        )
    return tuple(t for t in storage.TASKS if t in tasks)


def _check_readers(readers):
    if isinstance(readers, str):
        raise TypeError(f"`readers` must be a list of names. Received: readers={readers!r}")
    readers = list(readers)
    if not 1 <= len(readers) <= MAX_READERS:
        raise ValueError(f"`readers` must name 1-{MAX_READERS} readers. Received: {len(readers)} readers")
    for name in readers:
        if not isinstance(name, str) or not name.strip() or len(name) > 64 or not name.isprintable():
            raise ValueError(f"Reader names must be printable strings of 1-64 characters. Received: {name!r}")
    if len(set(readers)) != len(readers):
        raise ValueError(f"Reader names must be unique. Received: readers={readers!r}")
    return readers


def create_study(
    out,
    *,
    real_dir,
    readers,
    synthetic_dir=None,
    synthetic_images=None,
    synthetic_labels=None,
    synthetic_class_names=None,
    synthetic_source="generated",
    per_reader=40,
    tasks=("realness",),
    class_names=None,
    image_size=None,
    png_compression=0,
    seed=0,
    overwrite=False,
    name=None,
):
    """Creates a reader study database.

    Every reader reads the same ``per_reader`` images — half real, half synthetic, each half spread
    evenly over its classes — in their own seeded order.

    Args:
        out: the study file to write, e.g. ``"study.db"``.
        real_dir: folder of real images (a folder of class folders gives true classes).
        readers: reader names, e.g. ``["A", "B", "C"]``.
        synthetic_dir: folder of synthetic images (same layout rules); or give ``synthetic_images``.
        synthetic_images: ``uint8`` (or float in [-1, 1]) array ``(N, H, W, C)`` of generated images.
        synthetic_labels: class index per synthetic image (indices into ``synthetic_class_names``).
        synthetic_class_names: class names of ``synthetic_labels``.
        synthetic_source: a description stored as the source of generated images (e.g. the run).
        per_reader: images per reader, even (half real, half synthetic).
        tasks: ``"realness"``, ``"quality"`` (1-5) and/or ``"label"`` (class), as a list or a
            comma-separated string.
        class_names: the class list offered for ``label`` (default: the classes of the folders or
            the run); true classes are matched to it by name.
        image_size: ``(height, width)`` or int of every study image; default: the most common size
            of the selected synthetic images (real images are resized to it).
        png_compression: zlib level 0-9; 0 makes every file the same size (see ``encoding``).
        seed: seeds the sample and the reading orders (tokens and ids are random regardless).
        overwrite: replace an existing ``out``.
        name: a title shown to the readers (default: the file name).

    Returns:
        A :class:`StudyInfo`.

    Raises:
        FileNotFoundError: for a missing folder.
        FileExistsError: if ``out`` exists and ``overwrite`` is False.
        ValueError: for bad arguments (naming them), too few images, or a label task without classes.
    """
    readers = _check_readers(readers)
    tasks = parse_tasks(tasks)
    png_compression = encoding.check_compression(png_compression)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative integer. Received: seed={seed!r}")
    if isinstance(per_reader, bool) or not isinstance(per_reader, int) or not 2 <= per_reader <= MAX_PER_READER:
        raise ValueError(f"`per_reader` must be an integer in [2, {MAX_PER_READER}]. Received: per_reader={per_reader!r}")
    if (synthetic_dir is None) == (synthetic_images is None):
        raise ValueError(
            "Give exactly one of `synthetic_dir` and `synthetic_images`. "
            f"Received: synthetic_dir={synthetic_dir!r}, synthetic_images="
            f"{'None' if synthetic_images is None else 'an array'}"
        )
    out = os.fspath(out)
    if os.path.exists(out) and not overwrite:
        raise FileExistsError(f"Study database already exists (pass overwrite=True): {out}")

    real = _folder_candidates(real_dir)
    if synthetic_dir is not None:
        synthetic = _folder_candidates(synthetic_dir)
    else:
        synthetic = _array_candidates(synthetic_images, synthetic_labels, synthetic_class_names, synthetic_source)
    class_names = _study_class_names(class_names, real, synthetic)
    if "label" in tasks and not class_names:
        raise ValueError(
            "The `label` task needs a class list: use class folders, a conditional run or "
            "`class_names`. Received: class_names=[]"
        )
    real_order, synthetic_order = sampling.balanced_candidates(
        [c["class_name"] for c in real], [c["class_name"] for c in synthetic], per_reader, seed=seed
    )
    half = per_reader // 2
    skipped = []
    chosen_real = _take_readable(real, real_order, half, skipped, "real")
    chosen_synthetic = _take_readable(synthetic, synthetic_order, half, skipped, "synthetic")
    if image_size is None:
        sizes = collections.Counter(c["pixels"].shape[:2] for c in chosen_synthetic)
        image_size = sizes.most_common(1)[0][0]
    image_size = encoding.check_image_size(image_size)

    index = {c: i for i, c in enumerate(class_names)}
    images = []
    for truth, chosen in (("real", chosen_real), ("synthetic", chosen_synthetic)):
        for candidate in chosen:
            png = encoding.encode_png(
                encoding.prepare_pixels(candidate["pixels"], image_size), compression=png_compression
            )
            label = candidate["class_name"]
            if label is not None and label not in index:
                raise ValueError(
                    f"Class {label!r} of {candidate['source']} is not in `class_names` {class_names}."
                )
            images.append({
                "id": None, "truth": truth, "label": None if label is None else index[label],
                "source": candidate["source"], "sha256": hashlib.sha256(png).hexdigest(), "png": png,
            })
    ids = set()
    for image in images:
        image["id"] = _unique(links.new_image_id, ids)
    tokens = set()
    reader_rows = [{"name": r, "token": _unique(links.new_reader_token, tokens)} for r in readers]
    orders = sampling.reader_orders(len(images), len(readers), seed=seed)
    assignments = [[images[i]["id"] for i in order] for order in orders]
    admin_token = links.new_admin_token()
    meta = {
        "name": name or os.path.splitext(os.path.basename(out))[0],
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seed": seed,
        "tasks": list(tasks),
        "class_names": class_names,
        "image_size": list(image_size),
        "png_compression": png_compression,
        "per_reader": per_reader,
        "num_real": len(chosen_real),
        "num_synthetic": len(chosen_synthetic),
        "real_source": os.path.abspath(os.fspath(real_dir)),
        "synthetic_source": (os.path.abspath(os.fspath(synthetic_dir)) if synthetic_dir is not None
                             else str(synthetic_source)),
        "skipped": skipped,
        "admin_token": admin_token,
    }
    stored = list(images)
    random.SystemRandom().shuffle(stored)  # row order in the file says nothing about the truth
    tmp = out + ".tmp"
    if os.path.exists(tmp):
        os.remove(tmp)
    connection = storage.connect(tmp, create=True)
    try:
        storage.write_study(connection, meta=meta, images=stored, readers=reader_rows, assignments=assignments)
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    for suffix in ("-wal", "-shm"):
        if os.path.exists(out + suffix):
            os.remove(out + suffix)
    os.replace(tmp, out)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(tmp + suffix):
            os.remove(tmp + suffix)
    return StudyInfo(
        path=out, readers=[(r["name"], r["token"]) for r in reader_rows], admin_token=admin_token,
        num_real=len(chosen_real), num_synthetic=len(chosen_synthetic), image_size=tuple(image_size),
        tasks=tasks, class_names=class_names, skipped=skipped,
    )


def create_study_from_run(out, *, run, real_dir, readers, num_images=None, per_reader=40, seed=0,
                          batch_size=64, **options):
    """Creates a study whose synthetic half is drawn from a trained run's generator.

    A conditional generator makes classes ``0, 1, 2, ...`` in turn (so the sample can be balanced
    over classes); the class names come from the run's ``config.json``.

    Args:
        out: the study file.
        run: the run directory (with ``generator.keras`` and ``config.json``).
        real_dir: folder of real images.
        readers: reader names.
        num_images: how many images to generate (default ``per_reader / 2``); the study samples
            ``per_reader / 2`` of them.
        per_reader: images per reader.
        seed: seeds the latent codes, the sample and the orders.
        batch_size: images per generator call.
        **options: the other :func:`create_study` options (tasks, class_names, image_size, ...).

    Returns:
        A :class:`StudyInfo`.
    """
    import numpy as np

    from ganaug.runs import load_run_model, read_config
    from ganaug.training.sampling import generate_images, is_conditional

    if num_images is None:
        num_images = max(1, per_reader // 2)
    if isinstance(num_images, bool) or not isinstance(num_images, int) or num_images < 1:
        raise ValueError(f"`num_images` must be a positive integer. Received: num_images={num_images!r}")
    config = read_config(run)
    generator = load_run_model(run, "generator")
    labels, class_names = None, None
    if is_conditional(generator):
        class_names = list(config.get("class_names") or [])
        num_classes = int(config.get("num_classes") or len(class_names))
        if not class_names:
            class_names = [str(i) for i in range(num_classes)]
        labels = np.arange(num_images) % num_classes
    images = generate_images(
        generator, num_images, labels=labels, latent_distribution=config.get("latent_distribution", "normal"),
        seed=seed, batch_size=batch_size,
    )
    return create_study(
        out, real_dir=real_dir, readers=readers, synthetic_images=images, synthetic_labels=labels,
        synthetic_class_names=class_names,
        synthetic_source=f"run {os.path.abspath(os.fspath(run))} (seed {seed})",
        per_reader=per_reader, seed=seed, **options,
    )


def _folder_candidates(directory):
    paths, labels, class_names = sampling.list_images(directory)
    return [
        {"source": path, "class_name": None if label is None else class_names[label], "array": None}
        for path, label in zip(paths, labels)
    ]


def _array_candidates(images, labels, class_names, source):
    import numpy as np

    from data_readers.decode import to_uint8

    array = np.asarray(images)
    if array.ndim != 4 or array.shape[0] == 0 or array.shape[3] not in (1, 3):
        raise ValueError(
            f"`synthetic_images` must be an array (N, H, W, 1 or 3). Received: shape={array.shape}"
        )
    if array.dtype != np.uint8:
        array = to_uint8(array)
    if labels is not None:
        labels = [int(v) for v in np.asarray(labels).reshape(-1)]
        if len(labels) != len(array):
            raise ValueError(
                f"`synthetic_labels` must have one label per image. Received: {len(labels)} for {len(array)} images"
            )
        names = list(class_names or [])
        bad = [v for v in labels if not 0 <= v < len(names)]
        if bad:
            raise ValueError(
                f"`synthetic_labels` must index `synthetic_class_names` {names}. Received: label={bad[0]}"
            )
    return [
        {"source": f"{source}#{i}", "class_name": None if labels is None else class_names[labels[i]],
         "array": array[i]}
        for i in range(len(array))
    ]


def _study_class_names(class_names, real, synthetic):
    if class_names is not None:
        if isinstance(class_names, str) or not all(isinstance(c, str) and c for c in class_names):
            raise TypeError(f"`class_names` must be a list of non-empty strings. Received: class_names={class_names!r}")
        if len(set(class_names)) != len(class_names):
            raise ValueError(f"`class_names` has duplicates. Received: class_names={class_names!r}")
        return list(class_names)
    names = []
    for candidate in real + synthetic:
        if candidate["class_name"] is not None and candidate["class_name"] not in names:
            names.append(candidate["class_name"])
    real_names = [c["class_name"] for c in real if c["class_name"] is not None]
    if real_names:  # the real folders' (sorted) order first, extra generated classes after
        ordered = list(dict.fromkeys(real_names))
        names = ordered + [n for n in names if n not in ordered]
    return names


def _take_readable(candidates, order, count, skipped, what):
    from data_readers.decode import UnreadableImageError, decode_pixels

    chosen = []
    for i in order:
        if len(chosen) == count:
            break
        candidate = candidates[i]
        if candidate["array"] is not None:
            pixels = candidate["array"]
        else:
            try:
                pixels = decode_pixels(candidate["source"])
            except (UnreadableImageError, OSError) as error:
                logger.warning("Skipping unreadable %s image: %s", what, error)
                skipped.append(candidate["source"])
                continue
        chosen.append({**candidate, "pixels": pixels})
    if len(chosen) < count:
        raise ValueError(
            f"Only {len(chosen)} readable {what} images; the study needs {count} "
            f"({len(skipped)} unreadable files skipped)."
        )
    return chosen


def _unique(make, seen):
    while True:
        value = make()
        if value not in seen:
            seen.add(value)
            return value
