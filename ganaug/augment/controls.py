"""Positive and negative controls of the augmentation experiment.

An experiment that cannot tell a perfect generator from no generator, or that rewards images with
the wrong labels, says nothing about a real generator. Two control arms calibrate it on the data
at hand:

- **positive control**: the "synthetic" images are real images of the same classes and counts as the
  synthetic set, held out of the training pool before training (``split_dataset(control_fraction=...)``
  and whatever a scenario cuts away; never test images) — a perfect generator. If the experiment
  does not call it an improvement, it has no power to detect a real generator either;
- **negative control**: the synthetic images (the positive control's images when there are none)
  with every label replaced by another class (``wrong_labels``) — images that carry no correct
  class information. If the experiment calls it an improvement, an improvement of the synthetic
  arm is no evidence that the synthetic images are useful (an underfit classifier gains from any
  extra images).
"""

import warnings

import numpy as np


def wrong_labels(labels, *, num_classes, seed=0):
    """Returns ``labels`` shuffled so that no image keeps its own class.

    A random permutation of the labels (so every label keeps its count) in which each image that
    drew its own class swaps with another image so that both end up wrong; when no such swap
    exists (one class makes up more than half of the set) the image gets a random other class.

    Args:
        labels: int class indices ``(N,)``.
        num_classes: number of classes (>= 2).
        seed: the same seed gives the same labels.

    Returns:
        int32 ``(N,)`` with ``result[i] != labels[i]`` for every ``i``.
    """
    labels = np.asarray(labels, np.int64)
    if num_classes < 2:
        raise ValueError(f"`num_classes` must be at least 2. Received: num_classes={num_classes}")
    rng = np.random.default_rng(seed)
    new = rng.permutation(labels)
    for i in rng.permutation(np.flatnonzero(new == labels)):
        if new[i] != labels[i]:
            continue  # fixed by an earlier swap
        candidates = np.flatnonzero((new != labels[i]) & (labels != new[i]))
        if len(candidates):
            j = int(rng.choice(candidates))
            new[i], new[j] = new[j], new[i]
        else:
            new[i] = rng.choice([c for c in range(num_classes) if c != labels[i]])
    return new.astype(np.int32)


def positive_control_set(split, counts, *, seed=0):
    """Picks ``counts[k]`` held-out real images of every class ``k`` from ``split``'s control part.

    Args:
        split: a ``DataSplit`` with a control part.
        counts: images wanted per class (e.g. the synthetic set's counts).
        seed: seed of the pick.

    Returns:
        ``(paths, labels, shortfall)``: the picked files, their int32 labels and, per class, how
        many images were wanted but not available (a warning names the classes).
    """
    rng = np.random.default_rng(seed)
    control_labels = np.asarray(split.control_labels, np.int64)
    paths, labels, shortfall = [], [], []
    for k, wanted in enumerate(int(c) for c in counts):
        members = np.flatnonzero(control_labels == k)
        take = min(wanted, len(members))
        shortfall.append(wanted - take)
        picked = np.sort(rng.choice(members, size=take, replace=False)) if take else np.zeros(0, int)
        paths += [split.control_paths[i] for i in picked]
        labels += [k] * take
    short = [f"{split.class_names[k]} ({s} short)" for k, s in enumerate(shortfall) if s]
    if short:
        warnings.warn(
            "The positive control has fewer held-out real images than the synthetic set for "
            f"{', '.join(short)}; hold out more with split_dataset(control_fraction=...).",
            stacklevel=3,
        )
    return paths, np.asarray(labels, np.int32), shortfall
