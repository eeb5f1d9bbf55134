"""A fixed train/validation/test split of the real data, written down so nothing can leak.

Every later step reads the split from its CSV manifests: the GAN and the encoder are trained on the
training part only, synthetic images are made from it, and the test part is touched once, by the
final evaluation of each classifier. An optional fourth part, ``control``, holds real images of the
training pool that no model trains on (reserved with ``control_fraction``, plus whatever a scenario
cuts away): the augmentation experiment's positive control adds them in place of synthetic images.
``scenario`` presets shrink the training part the way the papers' small, imbalanced experiments did.
Fernández et al. 2021, Table 4 has three arms tested on the same 1,000 unseen patches (500 per
class): a small balanced set (500 + 500, accuracy 0.597), a small imbalanced set (500 negative +
68 positive, 0.524) and that set plus 25k generated patches per class (0.725). The scenarios
``fernandez2021_table4_balanced`` and ``fernandez2021_table4`` build the first two (the third is the
experiment's synthetic arm); both fix the test part at 500 images per class (``test_count``) and
name the positive class (``"tumor"``, as ``data_readers.wsi`` labels patches): for other class
names pass ``dict(SCENARIOS["fernandez2021_table4"], minority_class="yours")``.
"""

import csv
import dataclasses
import os

import numpy as np

PARTS = ("train", "validation", "test", "control")

#: Fernández et al. 2021's positive class, as ``data_readers.wsi`` names it (``wsi.TUMOR``).
TABLE4_POSITIVE_CLASS = "tumor"

SCENARIOS = {
    "full": {},
    # Fernández et al. 2021, Table 4, "small imbalanced dataset": 500 negative + 68 positive real
    # training patches; the same unseen test set of 500 + 500.
    "fernandez2021_table4": {
        "majority_count": 500, "minority_count": 68, "minority_class": TABLE4_POSITIVE_CLASS, "test_count": 500,
    },
    # Table 4's reference arm, "small dataset": 500 + 500 training patches, the same test set.
    "fernandez2021_table4_balanced": {"majority_count": 500, "test_count": 500},
}
_SCENARIO_KEYS = ("majority_count", "minority_count", "minority_class", "test_count")


def _no_labels():
    return np.zeros(0, np.int32)


@dataclasses.dataclass
class DataSplit:
    """The parts of a split: lists of file paths and int32 labels, and the class names.

    ``control_paths``/``control_labels`` are real training-pool images held out of every part
    (empty unless ``split_dataset(control_fraction=...)`` or a scenario that cuts the training part).
    """

    class_names: list
    train_paths: list
    train_labels: np.ndarray
    validation_paths: list
    validation_labels: np.ndarray
    test_paths: list
    test_labels: np.ndarray
    control_paths: list = dataclasses.field(default_factory=list)
    control_labels: np.ndarray = dataclasses.field(default_factory=_no_labels)

    def counts(self):
        """Returns ``{"train": [...], "validation": [...], "test": [...], "control": [...]}`` images per class."""
        k = len(self.class_names)
        return {
            part: [int(c) for c in np.bincount(np.asarray(getattr(self, f"{part}_labels"), np.int64), minlength=k)]
            for part in PARTS
        }

    def write(self, directory):
        """Writes ``train.csv``, ``validation.csv``, ``test.csv`` (and ``control.csv`` if any) and returns them.

        Each CSV has the columns ``path,label`` (absolute path, class name).
        """
        os.makedirs(directory, exist_ok=True)
        written = {}
        for part in PARTS:
            if part == "control" and not len(self.control_paths):
                continue
            path = os.path.join(directory, f"{part}.csv")
            with open(path, "w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["path", "label"])
                for file, label in zip(getattr(self, f"{part}_paths"), getattr(self, f"{part}_labels")):
                    writer.writerow([os.path.abspath(file), self.class_names[label]])
            written[part] = path
        return written


def split_dataset(
    paths,
    labels,
    class_names,
    *,
    validation_fraction=0.15,
    test_fraction=0.3,
    scenario="full",
    control_fraction=0.0,
    seed=0,
):
    """Returns a stratified train/validation/test split, optionally shrunk to a scenario.

    Every class with at least three images gets at least one image in each part. What is left of
    each class after test and validation is its training pool: ``ceil(control_fraction * pool)``
    of its images are reserved as the ``control`` part (real images no classifier trains on, for
    the experiment's positive control), and the scenario then subsamples the rest into the
    training part; the images a scenario cuts away join the control part too. Test and validation
    keep their natural size, and the test set is the same whatever the scenario and
    ``control_fraction`` (for the same ``seed``).

    To hold out as many real images per class as ``synthesis_budget(mode="grow",
    fraction=g)`` will synthesise, use ``control_fraction = g / (1 + g)`` (1/3 for the thesis's 50 %).

    Args:
        paths: image file paths.
        labels: int class indices, one per path.
        class_names: names of the class indices.
        validation_fraction: share of each class for validation, in [0, 1).
        test_fraction: share of each class for testing, in (0, 1).
        scenario: a name from ``SCENARIOS`` or a dict with optional keys ``majority_count`` (cap
            every class's training images), ``minority_count`` and ``minority_class`` (a class
            name, a list of class names, or ``"rarest"`` for the class with the fewest training
            images, whose training images are cut to ``minority_count``) and ``test_count`` (a
            fixed number of test images per class instead of ``test_fraction``).
        control_fraction: share of each class's training pool held out as real control images,
            in [0, 1). Training keeps at least one image of every class that has one.
        seed: seed of the split and of the subsampling.

    Returns:
        ``DataSplit``.

    Raises:
        ValueError: for fractions out of range, labels that do not match the paths, an unknown
            scenario or class, or a class with too few images for the scenario's ``test_count``.
    """
    paths = [os.fspath(p) for p in paths]
    labels = np.asarray(labels, dtype=np.int32)
    class_names = [str(c) for c in class_names]
    if labels.shape != (len(paths),):
        raise ValueError(f"`labels` must have one entry per path ({len(paths)}). Received: labels.shape={labels.shape}")
    if len(paths) == 0:
        raise ValueError("`paths` is empty. Received: paths=[]")
    if labels.min() < 0 or labels.max() >= len(class_names):
        raise ValueError(f"`labels` must be in [0, {len(class_names)}). Received: labels in [{labels.min()}, {labels.max()}]")
    if not 0 < test_fraction < 1:
        raise ValueError(f"`test_fraction` must be in (0, 1). Received: test_fraction={test_fraction}")
    if not 0 <= validation_fraction < 1 or validation_fraction + test_fraction >= 1:
        raise ValueError(
            "`validation_fraction` must be in [0, 1) with validation_fraction + test_fraction < 1. "
            f"Received: validation_fraction={validation_fraction}"
        )
    if isinstance(control_fraction, bool) or not 0 <= control_fraction < 1:
        raise ValueError(f"`control_fraction` must be in [0, 1). Received: control_fraction={control_fraction}")
    scenario = _resolve_scenario(scenario)
    test_count = scenario.get("test_count")
    rng = np.random.default_rng(seed)
    parts = {"train": [], "validation": [], "test": [], "control": []}
    for k in range(len(class_names)):
        members = rng.permutation(np.flatnonzero(labels == k))
        n = len(members)
        n_test = int(round(test_fraction * n))
        n_validation = int(round(validation_fraction * n))
        if test_count is not None:
            if n <= test_count:
                raise ValueError(
                    f"Class {class_names[k]!r} has {n} images, too few for {test_count} test images and "
                    f"a training part. Received: scenario test_count={test_count}"
                )
            n_test = int(test_count)
            n_validation = min(n_validation, n - n_test - 1)
        if n >= 3:
            n_test = max(n_test, 1)
            n_validation = max(n_validation, 1 if validation_fraction > 0 else 0)
        parts["test"].extend(members[:n_test])
        parts["validation"].extend(members[n_test : n_test + n_validation])
        pool = members[n_test + n_validation :]
        n_control = min(int(np.ceil(control_fraction * len(pool) - 1e-9)), max(len(pool) - 1, 0))
        parts["control"].append(pool[:n_control])
        parts["train"].append(pool[n_control:])
    train, cut = _apply_scenario(parts["train"], labels, class_names, scenario, rng)
    selected = {
        "train": train,
        "validation": np.asarray(parts["validation"], int),
        "test": np.asarray(parts["test"], int),
        "control": np.concatenate(parts["control"] + [cut]).astype(int),
    }
    fields = {}
    for part, indices in selected.items():
        indices = np.sort(indices.astype(int))
        fields[f"{part}_paths"] = [paths[i] for i in indices]
        fields[f"{part}_labels"] = labels[indices]
    return DataSplit(class_names=class_names, **fields)


def _resolve_scenario(scenario):
    if isinstance(scenario, str):
        if scenario not in SCENARIOS:
            raise ValueError(f"`scenario` must be one of {sorted(SCENARIOS)} or a dict. Received: scenario={scenario!r}")
        return dict(SCENARIOS[scenario])
    if not isinstance(scenario, dict):
        raise TypeError(f"`scenario` must be a name or a dict. Received: scenario={scenario!r}")
    unknown = set(scenario) - set(_SCENARIO_KEYS)
    if unknown:
        raise ValueError(f"Unknown scenario keys {sorted(unknown)}. Received: scenario={scenario!r}")
    return dict(scenario)


def _apply_scenario(train_parts, labels, class_names, scenario, rng):
    """Returns ``(kept, cut)``: training indices the scenario keeps and those it cuts away."""
    counts = [len(p) for p in train_parts]
    minority = scenario.get("minority_class")
    names = [minority] if minority is None or isinstance(minority, str) else list(minority)
    minorities = set()
    for name in names:
        if name is None:
            continue
        if name == "rarest":
            minorities.add(int(np.argmin(counts)))
        elif name in class_names:
            minorities.add(class_names.index(name))
        else:
            raise ValueError(
                f"The scenario's `minority_class` must be a class name ({class_names}), a list of class names or "
                "'rarest' (for fernandez2021_table4 with other class names: "
                "dict(SCENARIOS['fernandez2021_table4'], minority_class=...)). "
                f"Received: minority_class={minority!r}"
            )
    kept, cut = [], []
    for k, members in enumerate(train_parts):
        limit = scenario.get("majority_count")
        if k in minorities and scenario.get("minority_count") is not None:
            limit = scenario["minority_count"]
        kept.append(members if limit is None else members[: int(limit)])
        cut.append(members[len(kept[-1]):])
    return (np.concatenate(kept) if kept else np.zeros(0, int)), (np.concatenate(cut) if cut else np.zeros(0, int))
