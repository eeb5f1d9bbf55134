"""How many synthetic images to make per class.

Klang & Carlberg grew every class of the CellaVision data set by 50 % with AC-GAN images
(``mode="grow", fraction=0.5``); Fernández et al. 2021 (Table 4) added a fixed 25,000 generated
patches per class (``mode="fixed"``); balancing every class up to the largest (``mode="balance"``)
is the usual answer to class imbalance.
"""

import numpy as np

BUDGET_MODES = ("grow", "balance", "fixed")


def class_counts_of(labels, num_classes):
    """Returns the number of images of each class index as a list of ints.

    Args:
        labels: int class indices ``(N,)``.
        num_classes: number of classes (classes without images count 0).
    """
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"`labels` must be in [0, {num_classes}). Received: labels in [{labels.min()}, {labels.max()}]"
        )
    return [int(c) for c in np.bincount(labels.astype(np.int64), minlength=num_classes)]


def synthesis_budget(class_counts, *, mode="grow", fraction=0.5, counts=None):
    """Returns the number of synthetic images to generate for each class.

    Args:
        class_counts: the real images per class, a list (index order) of non-negative ints.
        mode: ``"grow"`` adds ``round(fraction * count)`` to each class (Klang & Carlberg: 0.5);
            ``"balance"`` tops every class up to the largest; ``"fixed"`` uses ``counts``.
        fraction: the growth fraction for ``"grow"``, >= 0.
        counts: for ``"fixed"``, an int (the same for every class) or a list with one int per
            class.

    Returns:
        list of ints, one per class, the number of images to synthesise.

    Raises:
        ValueError: for an unknown mode, a negative fraction or count, or a ``counts`` list of the
            wrong length.
    """
    class_counts = [int(c) for c in class_counts]
    if not class_counts or min(class_counts) < 0:
        raise ValueError(f"`class_counts` must be non-negative counts, one per class. Received: class_counts={class_counts}")
    if mode not in BUDGET_MODES:
        raise ValueError(f"`mode` must be one of {BUDGET_MODES}. Received: mode={mode!r}")
    if mode == "grow":
        if fraction is None or fraction < 0:
            raise ValueError(f"`fraction` must be >= 0. Received: fraction={fraction}")
        return [int(np.floor(fraction * count + 0.5)) for count in class_counts]
    if mode == "balance":
        largest = max(class_counts)
        return [largest - count for count in class_counts]
    if counts is None:
        raise ValueError("`counts` is required with mode='fixed'. Received: counts=None")
    if np.isscalar(counts):
        counts = [counts] * len(class_counts)
    counts = [int(c) for c in counts]
    if len(counts) != len(class_counts) or min(counts) < 0:
        raise ValueError(
            f"`counts` must be {len(class_counts)} non-negative ints (one per class). Received: counts={counts}"
        )
    return counts
