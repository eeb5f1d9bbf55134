"""Does adding synthetic images make the classifier better? The experiment, with error bars and controls.

Protocol (Klang & Carlberg sec. 5: Xception retrained with every class grown by 50 % with AC-GAN
images, weighted F1 0.946 -> 0.953, compared with classical rotate/zoom augmentation; Fernández et
al. 2021 Table 4: a small imbalanced set, accuracy 0.524 -> 0.725 with generated patches):

1. one fixed split of the real data (``split_dataset``); the test part never sees synthetic data and
   never enters training (checked by file identity, including the synthetic images' sources);
2. arms ``baseline`` (real training images), ``classical`` (plus random rotation and zoom, the
   thesis's; flips with ``classical_options={"flip": ...}``),
   ``synthetic`` (plus the synthetic images) and ``classical+synthetic``, and with ``controls=True``
   a ``positive_control`` (plus held-out *real* images of the same classes and counts: a perfect
   generator) and a ``negative_control`` (plus the synthetic images with wrong labels) — see
   ``ganaug.augment.controls``. Every arm is trained with the same classifier, the same number of
   optimiser steps (``ganaug.training.classifier.classifier_schedule`` of the baseline's training
   set) and the same seeds;
3. per arm and per class on the test part: accuracy, weighted/macro F1, per-class F1, confusion
   matrices; the change of each against the baseline with three confidence intervals (over seeds,
   over test images, over both: ``ganaug.augment.statistics``), the call of the verdict rule (the
   hierarchical interval) and the minimum detectable effect.
"""

import os

import numpy as np

from data_readers.image_reader import ImageReader
from ganaug.augment import statistics
from ganaug.augment.controls import positive_control_set, wrong_labels
from ganaug.augment.statistics import per_class_f1  # noqa: F401  (kept importable from here)
from ganaug.evaluation.classification import classification_metrics
from ganaug.training.classifier import (DEFAULT_LEARNING_RATE, DEFAULT_MIN_STEPS, classifier_schedule, predict_classes,
                                        train_classifier)

ARMS = ("baseline", "classical", "synthetic", "classical+synthetic")
CONTROL_ARMS = ("positive_control", "negative_control")
ALL_ARMS = ARMS + CONTROL_ARMS
#: Image sets up to this size (float32) are read into memory once for all arms and seeds.
MEMORY_LIMIT_BYTES = 2 * 1024**3
CALLS = {"improvement": "an improvement", "degradation": "a degradation", "inconclusive": "inconclusive"}


def run_augmentation_experiment(
    split,
    *,
    synthetic_paths=None,
    synthetic_labels=None,
    synthetic_sources=None,
    arms=ARMS,
    classical_options=None,
    controls=False,
    control_counts=None,
    seeds=(0, 1, 2),
    architecture="small_cnn",
    image_size=None,
    channels=3,
    steps=None,
    epochs=None,
    min_steps=DEFAULT_MIN_STEPS,
    batch_size=32,
    learning_rate=DEFAULT_LEARNING_RATE,
    early_stopping_patience=None,
    sampling="natural",
    training_options=None,
    num_bootstrap=1000,
    confidence=0.95,
    power=0.8,
    rare_fraction=0.34,
    rare_classes=None,
    classifier_options=None,
    in_memory="auto",
    model_dir=None,
    verbose=1,
):
    """Trains one classifier per arm and seed and compares every arm with the baseline.

    Args:
        split: a ``DataSplit`` of the real data (``ganaug.augment.split.split_dataset``; with a
            control part for ``controls=True``).
        synthetic_paths: synthetic image files (e.g. from ``synthesize_dataset``'s manifest).
        synthetic_labels: their int class indices (same class order as ``split.class_names``).
        synthetic_sources: the real files the synthetic images were made from (the manifest's
            ``source_a``/``source_b``, ``synthesis_sources``); none may be a test image.
        arms: a subset of ``ALL_ARMS``; ``"baseline"`` is always run (it is the reference).
        classical_options: keyword arguments of ``classical_augmentation`` for the classical
            arms (``rotation_factor``, ``zoom_factor``, ``flip``); default: the thesis's rotate
            and zoom, no flips.
        controls: add the ``positive_control`` and ``negative_control`` arms.
        control_counts: held-out real images per class for the positive control (a list in class
            order or a dict ``{class_name: count}``); default: the synthetic set's counts, or every
            control image when there is no synthetic set.
        seeds: training seeds; each arm is trained once per seed with the same seeds (paired).
        architecture: ``ganaug.models.build_classifier`` architecture.
        image_size: classifier input size (default: the size of the first training image).
        channels: 1 or 3.
        steps, epochs, min_steps: the schedule (``classifier_schedule``) computed for the baseline's
            training set and used for every arm; default ``max(10 epochs, min_steps)`` steps.
        batch_size: training batch size.
        learning_rate: peak Adam learning rate (warm-up and cosine decay, ``train_classifier``).
        early_stopping_patience: None (default: the whole schedule), or validations without an
            improvement of the validation loss before stopping (the validation part is used then).
        sampling: ``"natural"`` (default) or ``"balanced"`` class sampling (``train_classifier``).
        training_options: extra keyword arguments for ``train_classifier`` (e.g. ``class_weight``,
            ``learning_rate_schedule``).
        num_bootstrap: resamples of the bootstrap intervals (0: seed intervals only).
        confidence: level of the confidence intervals.
        power: the power at which the minimum detectable effects are stated.
        rare_fraction: the share of classes with the fewest real training images called rare.
        rare_classes: class names of the rare classes (overrides ``rare_fraction``).
        classifier_options: extra keyword arguments for ``build_classifier``.
        in_memory: ``"auto"`` reads every image once into memory when they fit in
            ``MEMORY_LIMIT_BYTES``; True/False forces it either way (False streams from the files).
        model_dir: if given, every trained classifier is saved there as ``<arm>_seed<k>.keras``
            (``+`` written as ``_``) for Grad-CAM and export; ``model_paths`` in the result names them.
        verbose: 0 silent, 1 one line per trained classifier, 2 Keras progress bars too.

    Returns:
        dict with ``class_names``, ``arms``, ``seeds``, ``counts`` (real split, synthetic and
        positive control per class), ``schedule``, ``runs`` (per arm and seed: metrics, training
        history and seconds), ``summary`` (per arm: mean and standard deviation over seeds),
        ``deltas`` (per non-baseline arm and measure: ``mean``, ``ci_seeds``, ``ci_bootstrap``,
        ``ci_hierarchical``, ``call`` and ``mde``), ``rare_classes`` (indices), ``controls``
        (findings of the control arms, when run), ``verdict_interval`` and ``confusion_matrices``
        (per arm, summed over seeds), and with ``model_dir`` ``model_paths`` (per arm and seed:
        the saved classifier).

    Raises:
        ValueError: for an unknown arm, synthetic arms without synthetic images, control arms
            without held-out real images, too few seeds for an interval, or a test image (or a
            synthetic image's source) found in training.
    """
    import time

    from ganaug.models import build_classifier

    arms = list(arms)
    if controls:
        arms += [arm for arm in CONTROL_ARMS if arm not in arms]
    unknown = [arm for arm in arms if arm not in ALL_ARMS]
    if unknown:
        raise ValueError(f"`arms` must be drawn from {ALL_ARMS}. Received: arms={arms}")
    if "baseline" not in arms:
        arms.insert(0, "baseline")
    arms = list(dict.fromkeys(arms))
    seeds = [int(s) for s in seeds]
    if len(seeds) < 2:
        raise ValueError(f"`seeds` needs at least 2 seeds for an interval over seeds. Received: seeds={seeds}")
    if not 0 < confidence < 1:
        raise ValueError(f"`confidence` must be in (0, 1). Received: confidence={confidence}")
    if not 0 < power < 1:
        raise ValueError(f"`power` must be in (0, 1). Received: power={power}")
    if in_memory not in ("auto", True, False):
        raise ValueError(f"`in_memory` must be 'auto', True or False. Received: in_memory={in_memory!r}")
    class_names = list(split.class_names)
    num_classes = len(class_names)
    synthetic_paths = [os.fspath(p) for p in (synthetic_paths or [])]
    synthetic_labels = np.asarray(synthetic_labels if synthetic_labels is not None else [], np.int32)
    needs_synthetic = any("synthetic" in arm for arm in arms)
    if needs_synthetic and not synthetic_paths:
        raise ValueError("The synthetic arms need `synthetic_paths` and `synthetic_labels`. Received: none")
    if len(synthetic_labels) != len(synthetic_paths):
        raise ValueError(
            f"`synthetic_labels` must have one label per synthetic path ({len(synthetic_paths)}). "
            f"Received: {len(synthetic_labels)} labels"
        )
    synthetic_counts = [int(c) for c in np.bincount(synthetic_labels.astype(np.int64), minlength=num_classes)]
    rare = _rare_indices(split.counts()["train"], class_names, rare_fraction, rare_classes)

    # the added images of every arm --------------------------------------------------------------
    added = {"synthetic": (synthetic_paths, synthetic_labels)}
    positive_counts, shortfall = [0] * num_classes, [0] * num_classes
    if any(arm in CONTROL_ARMS for arm in arms):
        control_part = list(getattr(split, "control_paths", []) or [])
        if not control_part:
            raise ValueError(
                "The control arms need held-out real images: make the split with "
                "split_dataset(..., control_fraction=...) (e.g. g / (1 + g) for a growth fraction g) "
                "or a scenario that cuts the training part. Received: a split without a control part"
            )
        wanted = _control_counts(control_counts, synthetic_counts if synthetic_paths else None, split)
        paths, labels, shortfall = positive_control_set(split, wanted, seed=seeds[0])
        positive_counts = [int(c) for c in np.bincount(labels.astype(np.int64), minlength=num_classes)]
        added["positive_control"] = (paths, labels)
        source_paths, source_labels = (synthetic_paths, synthetic_labels) if synthetic_paths else (paths, labels)
        added["negative_control"] = (list(source_paths), wrong_labels(source_labels, num_classes=num_classes, seed=seeds[0]))
        _check_disjoint(split.train_paths, paths, "positive-control")
    check_no_test_leak(split, synthetic_paths + list(added.get("positive_control", ([], []))[0]),
                       [os.fspath(p) for p in (synthetic_sources or []) if p])
    if image_size is None:
        from data_readers.image_reader import read_images

        image_size = read_images(split.train_paths[:1], channels=channels).shape[1]
    schedule = classifier_schedule(len(split.train_paths), batch_size=batch_size, epochs=epochs, steps=steps,
                                   min_steps=min_steps)

    # data: every distinct file read once (in memory) or streamed ------------------------------------
    every = list(dict.fromkeys(
        list(split.train_paths) + list(split.test_paths) + list(split.validation_paths)
        + [p for paths, _ in added.values() for p in paths]
    ))
    memory = in_memory if in_memory != "auto" else len(every) * image_size * image_size * channels * 4 <= MEMORY_LIMIT_BYTES
    pixels = position = None
    if memory:
        from data_readers.image_reader import read_images

        pixels = read_images(every, image_size=image_size, channels=channels)
        position = {path: i for i, path in enumerate(every)}

    def data(paths, labels, *, shuffle, seed):
        labels = np.asarray(labels, np.int32)
        if memory:
            return pixels[[position[p] for p in paths]], labels
        return ImageReader.from_paths(
            paths, labels, class_names=class_names, image_size=image_size, channels=channels,
            batch_size=batch_size, shuffle=shuffle, seed=seed, balanced=shuffle and sampling == "balanced",
        )

    test_data = data(split.test_paths, split.test_labels, shuffle=False, seed=0)
    validation_data = None
    if early_stopping_patience is not None and len(split.validation_paths):
        validation_data = data(split.validation_paths, split.validation_labels, shuffle=False, seed=0)

    runs, predictions, model_paths = [], {}, {}
    for arm in arms:
        train_paths = list(split.train_paths)
        train_labels = np.asarray(split.train_labels, np.int32)
        source = "synthetic" if "synthetic" in arm else (arm if arm in CONTROL_ARMS else None)
        if source is not None:
            train_paths += list(added[source][0])
            train_labels = np.concatenate([train_labels, np.asarray(added[source][1], np.int32)])
        for seed in seeds:
            model = build_classifier(
                architecture, num_classes=num_classes, image_size=image_size, channels=channels,
                seed=seed, **(classifier_options or {}),
            )
            started = time.perf_counter()
            model, history = train_classifier(
                model,
                data(train_paths, train_labels, shuffle=True, seed=seed),
                validation_data=validation_data,
                steps=schedule["steps"],
                learning_rate=learning_rate,
                batch_size=batch_size,
                augment="classical" if "classical" in arm else None,
                augmentation_options=classical_options if "classical" in arm else None,
                seed=seed,
                verbose=2 if verbose >= 2 else 0,
                early_stopping_patience=early_stopping_patience,
                sampling=sampling,
                **(training_options or {}),
            )
            seconds = time.perf_counter() - started
            if model_dir is not None:
                os.makedirs(model_dir, exist_ok=True)
                model_paths.setdefault(arm, {})[seed] = os.path.join(model_dir, f"{arm.replace('+', '_')}_seed{seed}.keras")
                model.save(model_paths[arm][seed])
            if memory:
                probs, _ = predict_classes(model, test_data[0], batch_size=max(batch_size, 64))
                labels = test_data[1]
            else:
                probs, labels = predict_classes(model, test_data, batch_size=batch_size)
            metrics = classification_metrics(labels, probs, class_names=class_names)
            predictions[(arm, seed)] = probs.argmax(-1)
            steps_trained = history["schedule"]["steps_trained"]
            runs.append({"arm": arm, "seed": seed, "metrics": metrics, "history": history, "seconds": round(seconds, 2),
                         "num_train": len(train_paths), "steps_trained": steps_trained,
                         "epochs_trained": round(steps_trained * batch_size / len(train_paths), 2)})
            if verbose:
                print(
                    f"[{arm:>20s} seed {seed}] accuracy {metrics['accuracy']:.3f}  "
                    f"weighted F1 {metrics['f1_weighted']:.3f}  macro F1 {metrics['f1_macro']:.3f}  "
                    f"({len(train_paths)} training images, {steps_trained} steps, {seconds:.0f} s)"
                )
    test_labels = np.asarray(split.test_labels)
    result = {
        "class_names": class_names,
        "arms": arms,
        "seeds": seeds,
        "architecture": architecture,
        "image_size": int(image_size),
        "schedule": schedule,
        "learning_rate": learning_rate,
        "sampling": sampling,
        "classical_options": dict(classical_options or {}),
        "confidence": confidence,
        "power": power,
        "verdict_interval": statistics.VERDICT_INTERVAL,
        "rare_classes": [int(k) for k in rare],
        "counts": dict(split.counts(), synthetic=synthetic_counts, positive_control=positive_counts,
                       positive_control_shortfall=[int(s) for s in shortfall]),
        "runs": runs,
        "summary": {arm: _summarise([r["metrics"] for r in runs if r["arm"] == arm]) for arm in arms},
        "confusion_matrices": {
            arm: np.sum([r["metrics"]["confusion_matrix"] for r in runs if r["arm"] == arm], axis=0)
            for arm in arms
        },
    }
    result["deltas"] = {
        arm: _deltas(
            np.stack([predictions[(arm, s)] for s in seeds]),
            np.stack([predictions[("baseline", s)] for s in seeds]),
            test_labels, num_classes, confidence, power, num_bootstrap, seed=seeds[0],
        )
        for arm in arms if arm != "baseline"
    }
    if any(arm in CONTROL_ARMS for arm in arms):
        result["controls"] = control_findings(result)
    if model_dir is not None:
        result["model_paths"] = model_paths
    return result


def _rare_indices(train_counts, class_names, rare_fraction, rare_classes):
    counts = np.asarray(train_counts)
    if rare_classes is not None:
        unknown = [name for name in rare_classes if name not in class_names]
        if unknown:
            raise ValueError(f"`rare_classes` must be class names. Received: rare_classes={list(rare_classes)}")
        return [class_names.index(name) for name in rare_classes]
    if not 0 < rare_fraction <= 1:
        raise ValueError(f"`rare_fraction` must be in (0, 1]. Received: rare_fraction={rare_fraction}")
    num_rare = max(1, int(round(rare_fraction * len(counts))))
    return [int(k) for k in np.argsort(counts, kind="stable")[:num_rare]]


def _control_counts(control_counts, synthetic_counts, split):
    num_classes = len(split.class_names)
    if control_counts is None:
        if synthetic_counts is not None:
            return list(synthetic_counts)
        return split.counts()["control"]
    if isinstance(control_counts, dict):
        unknown = [name for name in control_counts if name not in split.class_names]
        if unknown:
            raise ValueError(f"`control_counts` keys must be class names. Received: {sorted(unknown)}")
        return [int(control_counts.get(name, 0)) for name in split.class_names]
    control_counts = [int(c) for c in control_counts]
    if len(control_counts) != num_classes or min(control_counts) < 0:
        raise ValueError(
            f"`control_counts` must give a non-negative count for each of the {num_classes} classes. "
            f"Received: control_counts={control_counts}"
        )
    return control_counts


def _check_disjoint(train_paths, control_paths, part):
    train = {_identity(p) for p in train_paths}
    leaked = [p for p in control_paths if _identity(p) in train]
    if leaked:
        raise ValueError(f"{len(leaked)} {part} image(s) are also training images, e.g. {leaked[0]}")


def check_no_test_leak(split, synthetic_paths=(), synthetic_sources=()):
    """Raises ValueError if a test image is also a training, validation, control or synthetic image.

    Files are compared by identity (``os.path.realpath`` and, when they exist, inode), so a copy
    under another name is not caught but a link or a relative path is.

    Args:
        split: the ``DataSplit``.
        synthetic_paths: synthetic (or positive-control) image files to be added to training.
        synthetic_sources: real files the synthetic images were made from (must not be test files).
    """
    test = {_identity(p) for p in split.test_paths}
    for part, paths in (
        ("training", split.train_paths),
        ("validation", split.validation_paths),
        ("control", getattr(split, "control_paths", [])),
        ("synthetic", synthetic_paths),
        ("synthetic-source", synthetic_sources),
    ):
        leaked = [p for p in paths if p and _identity(p) in test]
        if leaked:
            raise ValueError(f"{len(leaked)} test image(s) found in the {part} data, e.g. {leaked[0]}")


def _identity(path):
    path = os.path.realpath(os.fspath(path))
    try:
        stat = os.stat(path)
        return (stat.st_dev, stat.st_ino)
    except OSError:
        return path


def _summarise(metrics_list):
    summary = {}
    for key in ("accuracy", "f1_weighted", "f1_macro"):
        values = np.array([m[key] for m in metrics_list], float)
        summary[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)), "values": values.tolist()}
    f1 = np.array([m["f1"] for m in metrics_list], float)
    summary["per_class_f1"] = {"mean": f1.mean(0).tolist(), "std": f1.std(0, ddof=1).tolist()}
    return summary


def _deltas(arm_predictions, baseline_predictions, labels, num_classes, confidence, power, num_bootstrap, seed):
    deltas = statistics.paired_intervals(
        arm_predictions, baseline_predictions, labels, num_classes=num_classes,
        num_resamples=num_bootstrap, confidence=confidence, seed=seed,
    )
    for delta in [deltas[key] for key in statistics.METRICS] + deltas["per_class_f1"]:
        delta["call"] = statistics.call(delta)
        delta["mde"] = statistics.minimum_detectable_effect(
            delta["seed_differences"], delta.get("test_variance", 0.0), num_test=delta["num_test"],
            alpha=1 - confidence, power=power,
        )
    return deltas


def _measure(result, arm, metric):
    delta = result["deltas"][arm]
    if metric in statistics.METRICS:
        return delta[metric]
    if metric in result["class_names"]:
        return delta["per_class_f1"][result["class_names"].index(metric)]
    raise ValueError(
        f"`metric` must be one of {statistics.METRICS} or a class name. Received: metric={metric!r}"
    )


def seeds_for_detectable_effect(result, effect, *, arm="synthetic", metric="f1_weighted", power=None,
                                max_seeds=1000):
    """Returns how many seeds this experiment needs to detect a change of ``effect``.

    From the observed seed variance and test-set variance of ``arm``'s change in ``metric``
    (``statistics.seeds_needed``): more seeds shrink the seed part of the error only, so when the
    test set is the limit no number of seeds suffices and the answer says so.

    Args:
        result: a ``run_augmentation_experiment`` result.
        effect: the change to detect (e.g. 0.02 of weighted F1).
        arm: the compared arm (any non-baseline arm that was run).
        metric: ``"accuracy"``, ``"f1_weighted"``, ``"f1_macro"`` or a class name (its F1).
        power: detection probability (default: the experiment's ``power``).
        max_seeds: search limit.

    Returns:
        dict with ``seeds`` (None if unreachable), ``mde``, ``limit`` and ``reason``.

    Raises:
        ValueError: for an arm that was not run or an unknown metric.
    """
    if arm not in result["deltas"]:
        raise ValueError(f"`arm` must be one of {sorted(result['deltas'])}. Received: arm={arm!r}")
    delta = _measure(result, arm, metric)
    return statistics.seeds_needed(
        effect, delta["seed_differences"], delta.get("test_variance", 0.0), num_test=delta["num_test"],
        alpha=1 - result["confidence"], power=power or result.get("power", 0.8), max_seeds=max_seeds,
    )


def _measures(result, arm):
    """The measures the verdict speaks about: ``(label, delta, class index or None)`` for weighted F1 and each rare class."""
    delta = result["deltas"][arm]
    names = result["class_names"]
    return [("weighted F1", delta["f1_weighted"], None)] + [
        (f"F1 of {names[k]!r}", delta["per_class_f1"][k], k) for k in result["rare_classes"]
    ]


def control_findings(result):
    """Returns what the control arms say about the experiment's power (stored as ``result["controls"]``).

    Returns:
        dict with, when run, ``"positive"``: ``detected`` (the verdict rule called the positive
        control an improvement on weighted F1 or on a rare class), ``detected_on``, ``sentence``
        (if not detected: that the experiment has no power here, and why) and ``"negative"``:
        ``passed`` (not called an improvement anywhere), ``improved_on``, ``degraded_on``, ``sentence``.
    """
    findings = {}
    confidence = int(round(result["confidence"] * 100))
    if "positive_control" in result["deltas"]:
        measures = _measures(result, "positive_control")
        detected_on = [label for label, d, _ in measures if d["call"] == "improvement"]
        if detected_on:
            sentence = (
                "Positive control (held-out real images in place of the synthetic ones): detected — called an "
                f"improvement on {', '.join(detected_on)}. The experiment can see the gain of a perfect generator here."
            )
        else:
            sentence = (
                "Positive control (held-out real images in place of the synthetic ones): NOT detected on weighted F1 "
                "or any rare class. This experiment has no power here: an inconclusive result for the synthetic arm "
                "says nothing about the generator. Why: " + "; ".join(_no_power_reasons(result, measures)) + "."
            )
        findings["positive"] = {"arm": "positive_control", "detected": bool(detected_on), "detected_on": detected_on,
                                "sentence": sentence}
    if "negative_control" in result["deltas"]:
        measures = _measures(result, "negative_control")
        improved = [label for label, d, _ in measures if d["call"] == "improvement"]
        degraded = [label for label, d, _ in measures if d["call"] == "degradation"]
        if improved:
            sentence = (
                f"Negative control (synthetic images with wrong labels): called an improvement on {', '.join(improved)}. "
                "The classifier gains from any extra images here, so an improvement of the synthetic arm is no "
                "evidence that its images carry the classes (check that the classifier converges)."
            )
        else:
            sentence = (
                "Negative control (synthetic images with wrong labels): not called an improvement on any measure"
                + (f"; called a degradation on {', '.join(degraded)}" if degraded else "")
                + ". The experiment does not reward images without class information."
            )
        findings["negative"] = {"arm": "negative_control", "passed": not improved, "improved_on": improved,
                                "degraded_on": degraded, "sentence": sentence}
    findings["interval"] = f"{confidence} % {statistics.VERDICT_INTERVAL} (seeds x test images)"
    return findings


def _no_power_reasons(result, measures):
    reasons = []
    baseline_f1 = result["summary"]["baseline"]["per_class_f1"]["mean"]
    for label, delta, k in measures:
        if k is not None and baseline_f1[k] >= 0.95:
            reasons.append(f"{label}: the baseline is already at {baseline_f1[k]:.3f}, there is little left to gain")
            continue
        if delta["mean"] <= 0:
            reasons.append(
                f"{label}: the held-out real images changed it by {delta['mean']:+.3f} on average — the classifier "
                "is not limited by the amount of real data there (or it does not converge)"
            )
            continue
        mde = delta["mde"]
        seeds_dominate = mde["seed_share"] >= 0.5
        text = (f"{label}: its change {delta['mean']:+.3f} is below the minimum detectable change "
                f"{mde['mde']:.3f}, mostly because of "
                + ("seed-to-seed variation" if seeds_dominate else f"the small test set ({delta['num_test']} images)"))
        if seeds_dominate:
            needed = statistics.seeds_needed(
                delta["mean"], delta["seed_differences"], delta.get("test_variance", 0.0), num_test=delta["num_test"],
                alpha=1 - result["confidence"], power=result.get("power", 0.8),
            )
            text += f" ({needed['reason']})" if needed["seeds"] is None else f" (about {needed['seeds']} seeds would detect it)"
        reasons.append(text)
    return reasons


def _format_interval(interval):
    return f"[{interval[0]:+.3f}, {interval[1]:+.3f}]"


def _format_delta(delta):
    """``mean [CI seeds]; [CI test images]; [CI both]`` (the intervals that exist)."""
    intervals = [delta[f"ci_{kind}"] for kind in statistics.INTERVALS if f"ci_{kind}" in delta]
    return f"{delta['mean']:+.3f} " + "; ".join(_format_interval(i) for i in intervals)


def _call_text(delta):
    call = delta.get("call") or statistics.call(delta)
    text = CALLS[call]
    if call == "inconclusive" and "mde" in delta:
        text += f" (smallest detectable change here: ±{delta['mde']['mde']:.3f})"
    return text


def headline_table(result, *, format="markdown"):
    """Returns the arms' accuracy and F1 (mean ± std over seeds), their change vs baseline, MDE and call."""
    from ganaug.evaluation.classification import format_table

    rows = []
    for arm in result["arms"]:
        summary = result["summary"][arm]
        row = [arm] + [f"{summary[k]['mean']:.3f} ± {summary[k]['std']:.3f}" for k in ("accuracy", "f1_weighted", "f1_macro")]
        if arm == "baseline":
            row += ["—", "—", "reference"]
        else:
            delta = result["deltas"][arm]["f1_weighted"]
            row += [_format_delta(delta), f"{delta['mde']['mde']:.3f}" if "mde" in delta else "—",
                    CALLS[delta.get("call") or statistics.call(delta)]]
        rows.append(row)
    header = ["arm", "accuracy", "weighted F1", "macro F1",
              "Δ weighted F1 vs baseline [CI seeds; CI test images; CI both]", "MDE", "call"]
    return format_table(header, rows, format=format)


def per_class_delta_table(result, *, format="markdown"):
    """Returns per-class baseline F1 and its change in each arm, with the three intervals and the call."""
    from ganaug.evaluation.classification import format_table

    other_arms = [arm for arm in result["arms"] if arm != "baseline"]
    rare = set(result.get("rare_classes", []))
    controls = "positive_control" in result["arms"]
    rows = []
    for k, name in enumerate(result["class_names"]):
        row = [name + (" (rare)" if k in rare else ""), str(result["counts"]["train"][k]),
               str(result["counts"]["synthetic"][k])]
        if controls:
            row.append(str(result["counts"]["positive_control"][k]))
        row.append(f"{result['summary']['baseline']['per_class_f1']['mean'][k]:.3f}")
        for arm in other_arms:
            delta = result["deltas"][arm]["per_class_f1"][k]
            cell = _format_delta(delta)
            call = delta.get("call") or statistics.call(delta)
            cell += {"improvement": " ▲", "degradation": " ▼"}.get(call, "")
            if call == "inconclusive" and "mde" in delta:
                cell += f" (MDE {delta['mde']['mde']:.2f})"
            row.append(cell)
        rows.append(row)
    header = (["class", "real train", "synthetic"] + (["held-out real (positive control)"] if controls else [])
              + ["baseline F1"] + [f"Δ F1 {arm}" for arm in other_arms])
    return format_table(header, rows, format=format)


def verdict(result, *, arm="synthetic", rare_fraction=None):
    """Returns plain sentences on whether ``arm`` beat the baseline, overall and on rare classes, and the controls.

    The verdict rule (``ganaug.augment.statistics.call``) uses the hierarchical (seeds x test
    images) interval: an improvement when it lies above zero, a degradation when below,
    inconclusive otherwise — then with the minimum detectable change. Rare classes are
    ``result["rare_classes"]`` (or the ``rare_fraction`` of classes with the fewest real training
    images, when given).
    """
    confidence = int(round(result["confidence"] * 100))
    sentences = [
        f"Verdict rule: a change is called an improvement when its {confidence} % hierarchical interval "
        "(bootstrap over seeds and test images together) lies above zero, a degradation when it lies below, "
        "and inconclusive otherwise. Intervals are shown as [over seeds (paired t); over test images "
        "(bootstrap); over both (the one the call uses)]."
    ]
    counts = np.array(result["counts"]["train"])
    if rare_fraction is not None:
        rare = _rare_indices(counts, result["class_names"], rare_fraction, None)
    else:
        rare = result.get("rare_classes") or _rare_indices(counts, result["class_names"], 0.34, None)
    if arm not in result["deltas"]:
        sentences.append(f"The {arm} arm was not run.")
    else:
        delta = result["deltas"][arm]
        sentences.append(f"Weighted F1, {arm} vs baseline: {_format_delta(delta['f1_weighted'])} — "
                         f"{_call_text(delta['f1_weighted'])}.")
        changes = []
        for k in rare:
            d = delta["per_class_f1"][k]
            changes.append(d["mean"])
            sentences.append(
                f"Rare class {result['class_names'][k]!r} ({counts[k]} real training images): "
                f"F1 change {_format_delta(d)} — {_call_text(d)}."
            )
        sentences.append(
            f"Averaged over the {len(rare)} rarest classes the {arm} arm changed F1 by {np.mean(changes):+.3f}."
        )
    for key in ("positive", "negative"):
        if key in result.get("controls", {}):
            sentences.append(result["controls"][key]["sentence"])
    if "controls" not in result:
        sentences.append(
            "No controls were run (controls=True adds a positive and a negative control): without them an "
            "inconclusive result cannot be told apart from an experiment without power."
        )
    sentences.append(
        f"{len(result['seeds'])} seeds; the minimum detectable change is at {int(round(result.get('power', 0.8) * 100))} % "
        "power (seeds_for_detectable_effect tells how many seeds a smaller change needs). An inconclusive result "
        "is not evidence of no effect."
    )
    return sentences
