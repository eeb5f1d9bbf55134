"""Which generator to trust: several generators on the same real data, one table, one declared rule.

``compare_generators`` measures every generator in the *same* domain feature space and with the
*same* real-trained classifier, per generator and per class:

* **TRTS class fidelity** (Fernández et al. 2021, Table 2): a classifier trained on the real
  training split labels the generated images; the share it labels as the requested class. A
  perfect generator scores what the classifier scores on held-out real images (``real_accuracy``).
* **TSTR** (Table 3): a classifier of the same architecture trained on generated images only,
  tested on the held-out real images.
* FID/KID, precision/recall (Kynkäänniemi et al. 2019), density/coverage (Naeem et al. 2020)
  against the real training split, overall and per class (recall per class says whether a class
  is covered), the collapse flags of ``diversity_report`` and the memorisation check.

The held-out real images are scored the same way (``real`` row): the scale a perfect generator
would reach at these sample sizes. The selection rule is declared and applied to the numbers:
among the generators whose TRTS fidelity lies within ``fidelity_tolerance`` of the real-trained
classifier's held-out accuracy, the one with the highest mean per-class recall; if none does, the
one with the highest fidelity (and the result says that no generator met the fidelity bar).
"""

import numpy as np

from ganaug.evaluation import features as feature_tools
from ganaug.evaluation.distribution import distribution_metrics
from ganaug.evaluation.diversity import diversity_report
from ganaug.evaluation.evaluate import stratified_split
from ganaug.evaluation.manifold import manifold_metrics
from ganaug.evaluation.memorisation import memorisation_report
from ganaug.evaluation.tstr import generate_labelled_images, is_conditional

SELECTION_RULE = (
    "highest mean per-class recall among the generators whose TRTS class fidelity is within "
    "{tolerance:.2f} of the real-trained classifier's held-out real accuracy ({accuracy:.3f}); if none "
    "qualifies, the highest fidelity"
)
#: Done-criteria of a generator the augmentation experiment may rely on (issue 16).
TARGETS = {"fidelity_gap": 0.05, "tstr_ratio": 0.8, "class_recall": 0.3, "min_class_images": 20}


def _classifier(images, labels, num_classes, seed, train_options, name):
    from ganaug.models import build_classifier
    from ganaug.training.classifier import train_classifier

    model = build_classifier(
        "small_cnn", num_classes=num_classes, image_size=int(images.shape[1]), channels=int(images.shape[-1]),
        seed=seed, name=name,
    )
    model, _ = train_classifier(model, (images, labels), seed=seed, verbose=0, **(train_options or {}))
    return model


def _predict(model, images, batch_size=256):
    return np.concatenate(
        [np.asarray(model(images[i : i + batch_size], training=False)).argmax(-1) for i in range(0, len(images), batch_size)]
    )


def _per_class_accuracy(predicted, labels, num_classes):
    return [float(np.mean(predicted[labels == c] == c)) if np.any(labels == c) else None for c in range(num_classes)]


def _class_manifold(real_features, real_labels, generated_features, generated_labels, num_classes):
    result = []
    for c in range(num_classes):
        real_c, generated_c = real_features[real_labels == c], generated_features[generated_labels == c]
        if len(real_c) < 6 or len(generated_c) < 6:
            result.append(None)
            continue
        result.append(manifold_metrics(real_c, generated_c))
    return result


def compare_generators(
    generators,
    real_data,
    *,
    class_names=None,
    latent_distributions=None,
    samples_per_class=None,
    holdout_data=None,
    holdout_fraction=0.2,
    fidelity_tolerance=TARGETS["fidelity_gap"],
    classifier_options=None,
    kid_subset_size=500,
    seed=0,
    batch_size=64,
    verbose=1,
):
    """Compares class-conditional generators on the same real data and picks one by a stated rule.

    Args:
        generators: dict ``name -> generator`` (conditional ``keras.Model``s: ``[latent, label] ->
            image``).
        real_data: labelled real ``(images, labels)`` arrays, a ``tf.data.Dataset`` or an
            ``ImageReader`` (the *training* images of the generators; loaded into memory).
        class_names: names of the classes (default the reader's, or ``"0", "1", ...``).
        latent_distributions: dict ``name -> "normal" | "uniform"`` (default ``"normal"``).
        samples_per_class: generated images per class (default: the class's count in the real
            training split, at least 20), used for every metric and to train the TSTR classifier.
        holdout_data: labelled real images the generators never saw (e.g. the validation split),
            for the real row, the TSTR test and the real-trained classifier's accuracy; None holds
            out a stratified ``holdout_fraction`` of ``real_data``.
        holdout_fraction: see ``holdout_data``.
        fidelity_tolerance: the selection rule's fidelity bar.
        classifier_options: keyword arguments of ``train_classifier`` for the feature/TRTS
            classifier and the TSTR classifiers (the same for all).
        kid_subset_size: KID subset size.
        seed: seeds the split, the classifiers and the latent codes.
        batch_size: generation batch size.
        verbose: 0 silent, 1 one line per generator.

    Returns:
        A JSON-serialisable dict: ``class_names``, ``real_accuracy`` (held-out accuracy of the
        real-trained classifier), ``real_per_class_accuracy``, ``rows`` (name -> overall metrics:
        ``fidelity``, ``tstr_accuracy``, ``tstr_ratio``, ``fid``, ``kid``, ``precision``,
        ``recall``, ``density``, ``coverage``, ``mean_class_recall``, ``min_class_recall``,
        ``collapsed_classes``, ``suspected_copy_fraction``, ``meets_targets`` and ``failures``),
        ``per_class`` (name -> class -> ``fidelity``, ``recall``, ``precision``, ``coverage``,
        ``collapsed``, ``tstr_accuracy``: the synthetic-trained classifier's accuracy on the class's
        held-out real images), the same for ``"real"`` (held-out real images; its
        ``tstr_accuracy`` is the real-trained classifier's, the reference), ``selected``, ``rule``
        and ``reason``.

    Raises:
        ValueError: for no generators, an unconditional generator, unlabelled data or a shape
            mismatch.
    """
    if not isinstance(generators, dict) or not generators:
        raise ValueError(f"`generators` must be a non-empty dict name -> generator. Received: {generators!r}")
    unconditional = [name for name, model in generators.items() if not is_conditional(model)]
    if unconditional:
        raise ValueError(f"`compare_generators` compares class-conditional generators. Received unconditional: {unconditional}")
    latent_distributions = dict(latent_distributions or {})
    if class_names is None:
        class_names = getattr(real_data, "class_names", None)
    images, labels = feature_tools.as_arrays(real_data, batch_size=batch_size)
    if labels is None:
        raise ValueError("`real_data` needs labels. Received: real_data without labels")
    num_classes = len(class_names) if class_names else int(labels.max()) + 1
    class_names = [str(n) for n in (class_names or range(num_classes))]
    if holdout_data is None:
        train_index, holdout_index = stratified_split(labels, holdout_fraction=holdout_fraction, seed=seed)
        train_images, train_labels = images[train_index], labels[train_index]
        holdout_images, holdout_labels = images[holdout_index], labels[holdout_index]
    else:
        train_images, train_labels = images, labels
        holdout_images, holdout_labels = feature_tools.as_arrays(holdout_data, batch_size=batch_size)
        if holdout_labels is None or holdout_images.shape[1:] != images.shape[1:]:
            raise ValueError(
                "`holdout_data` must be labelled images of the real images' shape. Received: "
                f"labels={'none' if holdout_labels is None else 'given'}, shape={holdout_images.shape[1:]}"
            )
    train_counts = np.bincount(train_labels, minlength=num_classes)

    if verbose:
        print(f"Training the real classifier (feature space and TRTS) on {len(train_images)} real images ...")
    real_classifier = _classifier(train_images, train_labels, num_classes, seed, classifier_options, "real_classifier")
    extractor = feature_tools.feature_extractor(real_classifier)

    def features_of(data):
        return feature_tools.extract_features(extractor, data, batch_size=256)

    train_features = features_of(train_images)
    holdout_predicted = _predict(real_classifier, holdout_images)
    real_accuracy = float(np.mean(holdout_predicted == holdout_labels))
    kid = {"subset_size": kid_subset_size, "num_subsets": 50, "seed": seed}

    def score(name, generated_images, generated_labels, tstr_accuracy, tstr_per_class=None):
        generated_features = features_of(generated_images)
        predicted = _predict(real_classifier, generated_images)
        overall = manifold_metrics(train_features, generated_features)
        overall.update(distribution_metrics(train_features, generated_features, warn=False, **kid))
        diversity = diversity_report(
            train_features, generated_features, real_labels=train_labels, generated_labels=generated_labels,
            class_names=class_names, seed=seed,
        )
        memorisation = memorisation_report(generated_images, train_images, generated_features=generated_features,
                                           real_features=train_features)
        classes = _class_manifold(train_features, train_labels, generated_features, generated_labels, num_classes)
        fidelity_per_class = _per_class_accuracy(predicted, generated_labels, num_classes)
        per_class = {}
        for c, class_name in enumerate(class_names):
            entry = diversity["classes"].get(class_name, {})
            per_class[class_name] = {
                "fidelity": fidelity_per_class[c],
                "recall": None if classes[c] is None else float(classes[c]["recall"]),
                "precision": None if classes[c] is None else float(classes[c]["precision"]),
                "coverage": None if classes[c] is None else float(classes[c]["coverage"]),
                "collapsed": bool(entry.get("collapsed", False)),
                "num_real_train": int(train_counts[c]),
                # the synthetic-trained classifier's accuracy on this class's held-out real images
                "tstr_accuracy": None if tstr_per_class is None else tstr_per_class[c],
            }
        recalls = [v["recall"] for v in per_class.values() if v["recall"] is not None]
        row = {
            "fidelity": float(np.mean(predicted == generated_labels)),
            "tstr_accuracy": tstr_accuracy,
            "tstr_ratio": None if tstr_accuracy is None else float(tstr_accuracy / max(real_accuracy, 1e-12)),
            "fid": float(overall["fid"]),
            "kid": float(overall["kid"]),
            "precision": float(overall["precision"]),
            "recall": float(overall["recall"]),
            "density": float(overall["density"]),
            "coverage": float(overall["coverage"]),
            "mean_class_recall": float(np.mean(recalls)) if recalls else None,
            "min_class_recall": float(np.min(recalls)) if recalls else None,
            "collapsed_classes": list(diversity["collapsed_classes"]),
            "suspected_copy_fraction": float(memorisation["feature"]["suspected_copy_fraction"]),
            "num_generated": int(len(generated_images)),
        }
        row["failures"] = _failures(row, per_class, real_accuracy)
        row["meets_targets"] = not row["failures"]
        if verbose:
            print(
                f"[{name:>12s}] fidelity {row['fidelity']:.3f}  TSTR {_fmt(tstr_accuracy)}  "
                f"recall {row['recall']:.3f} (per class mean {_fmt(row['mean_class_recall'])}, "
                f"min {_fmt(row['min_class_recall'])})  FID {row['fid']:.1f}  collapsed {row['collapsed_classes']}"
            )
        return row, per_class

    result = {
        "class_names": class_names,
        "real_accuracy": real_accuracy,
        "real_per_class_accuracy": _per_class_accuracy(holdout_predicted, holdout_labels, num_classes),
        "num_real_train": int(len(train_images)),
        "num_real_holdout": int(len(holdout_images)),
        "rows": {},
        "per_class": {},
        "targets": dict(TARGETS, fidelity_gap=fidelity_tolerance),
    }
    result["rows"]["real"], result["per_class"]["real"] = score("real (held out)", holdout_images, holdout_labels, None,
                                                                result["real_per_class_accuracy"])
    result["rows"]["real"]["failures"] = []  # the reference row is not a candidate
    for index, (name, generator) in enumerate(generators.items()):
        counts = samples_per_class or np.maximum(train_counts, 20)
        counts = np.broadcast_to(np.asarray(counts, int), (num_classes,))
        generated_labels = np.repeat(np.arange(num_classes, dtype=np.int32), counts)
        generated_images = generate_labelled_images(
            generator, generated_labels, latent_distribution=latent_distributions.get(name, "normal"),
            seed=seed + 1000 * (index + 1), batch_size=batch_size,
        )
        if generated_images.shape[1:] != images.shape[1:]:
            raise ValueError(
                f"Generator {name!r} draws images of shape {generated_images.shape[1:]}; the real images are "
                f"{images.shape[1:]}. Received: {name}"
            )
        tstr_model = _classifier(generated_images, generated_labels, num_classes, seed, classifier_options, "tstr_classifier")
        tstr_predicted = _predict(tstr_model, holdout_images)
        tstr_accuracy = float(np.mean(tstr_predicted == holdout_labels))
        result["rows"][name], result["per_class"][name] = score(
            name, generated_images, generated_labels, tstr_accuracy,
            _per_class_accuracy(tstr_predicted, holdout_labels, num_classes))
    result.update(_select(result, fidelity_tolerance))
    return result


def _failures(row, per_class, real_accuracy):
    failures = []
    if row["fidelity"] < real_accuracy - TARGETS["fidelity_gap"]:
        failures.append(f"fidelity {row['fidelity']:.3f} more than {TARGETS['fidelity_gap']} below real {real_accuracy:.3f}")
    if row["tstr_ratio"] is not None and row["tstr_ratio"] < TARGETS["tstr_ratio"]:
        failures.append(f"TSTR {row['tstr_ratio']:.2f}x the real-trained accuracy (< {TARGETS['tstr_ratio']}x)")
    low = [name for name, v in per_class.items()
           if v["num_real_train"] >= TARGETS["min_class_images"] and v["recall"] is not None and v["recall"] < TARGETS["class_recall"]]
    if low:
        failures.append(f"recall < {TARGETS['class_recall']} for {low}")
    if row["collapsed_classes"]:
        failures.append(f"collapsed: {row['collapsed_classes']}")
    return failures


def _select(result, tolerance):
    candidates = {k: v for k, v in result["rows"].items() if k != "real"}
    bar = result["real_accuracy"] - tolerance
    qualified = {k: v for k, v in candidates.items() if v["fidelity"] >= bar}
    rule = SELECTION_RULE.format(tolerance=tolerance, accuracy=result["real_accuracy"])
    if qualified:
        selected = max(qualified, key=lambda k: (qualified[k]["mean_class_recall"] or 0.0, qualified[k]["fidelity"]))
        reason = (
            f"{selected}: fidelity {qualified[selected]['fidelity']:.3f} >= {bar:.3f} and the highest mean "
            f"per-class recall ({_fmt(qualified[selected]['mean_class_recall'])}) of {sorted(qualified)}"
        )
    else:
        selected = max(candidates, key=lambda k: candidates[k]["fidelity"])
        reason = (
            f"no generator reached fidelity {bar:.3f}; {selected} has the highest ({candidates[selected]['fidelity']:.3f})"
        )
    return {"selected": selected, "rule": rule, "reason": reason}


def _fmt(value):
    return "n/a" if value is None else f"{value:.3f}"


def comparison_table(result, *, format="markdown"):
    """Returns the overall table of a ``compare_generators`` result (one row per generator)."""
    from ganaug.evaluation.classification import format_table

    header = ["generator", "TRTS fidelity", "TSTR (x real)", "FID", "KID", "precision", "recall",
              "coverage", "class recall mean / min", "collapsed", "copies", "targets"]
    rows = []
    for name, row in result["rows"].items():
        label = f"**{name}** (selected)" if name == result.get("selected") else name
        if name == "real":
            label = "real held-out (reference)"
        tstr = "—" if row["tstr_accuracy"] is None else f"{row['tstr_accuracy']:.3f} ({row['tstr_ratio']:.2f}x)"
        targets = "—" if name == "real" else ("met" if row["meets_targets"] else "; ".join(row["failures"]))
        rows.append([
            label, f"{row['fidelity']:.3f}", tstr, f"{row['fid']:.2f}", f"{row['kid']:.4f}", f"{row['precision']:.3f}",
            f"{row['recall']:.3f}", f"{row['coverage']:.3f}",
            f"{_fmt(row['mean_class_recall'])} / {_fmt(row['min_class_recall'])}",
            ", ".join(row["collapsed_classes"]) or "none", f"{row['suspected_copy_fraction']:.3f}", targets,
        ])
    return format_table(header, rows, format=format)


def per_class_comparison_table(result, *, metric="recall", format="markdown"):
    """Returns one row per class and one column per generator of a per-class ``metric``."""
    from ganaug.evaluation.classification import format_table

    names = list(result["per_class"])
    header = ["class", "real train images"] + [("real held-out" if n == "real" else n) for n in names]
    rows = []
    for class_name in result["class_names"]:
        first = result["per_class"][names[0]][class_name]
        cells = []
        for name in names:
            entry = result["per_class"][name][class_name]
            value = entry[metric]
            cell = _fmt(value)
            if entry["collapsed"] and name != "real":
                cell += " (collapsed)"
            cells.append(cell)
        rows.append([class_name, str(first["num_real_train"])] + cells)
    return format_table(header, rows, format=format)
