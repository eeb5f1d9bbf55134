"""One call for the whole evaluation of a generator against real data.

``evaluate_generator`` splits the real data (train / held-out), builds a domain feature space (by
default a ``small_cnn`` classifier trained on the real train split, penultimate layer), draws
generated images with the real class proportions, and computes: FID and KID (Heusel et al. 2017;
Binkowski et al. 2018), overall and per class; precision/recall (Kynkäänniemi et al. 2019) and
density/coverage (Naeem et al. 2020); per-class diversity and collapse flags; the memorisation
check in feature and pixel space; and for conditional generators the TSTR/TRTS table of Fernández
et al. 2021 (Tables 2-3). The same metrics for the real held-out split against the real train
split are reported as ``real_baseline``: the scale a perfect generator would reach at these sizes.
"""

import json
import os

import numpy as np

from ganaug.evaluation import features as feature_tools
from ganaug.evaluation.distribution import distribution_metrics
from ganaug.evaluation.diversity import diversity_report
from ganaug.evaluation.manifold import manifold_metrics
from ganaug.evaluation.memorisation import closest_pairs_figure, memorisation_report
from ganaug.evaluation.tstr import generate_labelled_images, is_conditional, tstr_trts
from ganaug.models.prior import validate_distribution

PER_SAMPLE_KEYS = ("nearest_real_index", "distance", "ratio")


def stratified_split(labels, *, holdout_fraction=0.2, seed=0):
    """Returns ``(train_indices, holdout_indices)`` keeping every class's proportion.

    Each class with at least 2 members keeps at least one on each side.

    Args:
        labels: int ``(N,)`` classes (all zeros for a plain random split).
        holdout_fraction: fraction of each class held out, in (0, 1).
        seed: seed of the shuffle.

    Returns:
        Two sorted int64 index arrays.

    Raises:
        ValueError: for ``holdout_fraction`` outside (0, 1).
    """
    if not 0.0 < holdout_fraction < 1.0:
        raise ValueError(f"`holdout_fraction` must be in (0, 1). Received: holdout_fraction={holdout_fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, holdout = [], []
    for value in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == value))
        count = int(round(len(members) * holdout_fraction))
        if len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        holdout.append(members[:count])
        train.append(members[count:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(holdout))


def class_proportional_labels(labels, num_classes, num_samples):
    """Returns ``num_samples`` class labels in the proportions of ``labels`` (sorted by class).

    Every class present in ``labels`` gets at least 2 samples (per-class metrics need pairs); the
    most frequent class absorbs the rounding so that the total is exactly ``num_samples``.
    """
    counts = np.bincount(np.asarray(labels, np.int64), minlength=num_classes).astype(np.float64)
    wanted = np.round(num_samples * counts / counts.sum()).astype(int)
    wanted[(counts > 0) & (wanted < 2)] = 2
    wanted[int(np.argmax(counts))] += int(num_samples) - int(wanted.sum())
    if wanted.min() < 0:
        raise ValueError(
            f"`num_samples` is too small for {int(np.count_nonzero(counts))} classes with 2 samples each. "
            f"Received: num_samples={num_samples}"
        )
    return np.repeat(np.arange(num_classes, dtype=np.int32), wanted)


def _default_extractor(images, labels, num_classes, epochs, steps, seed, verbose):
    """Trains the domain feature classifier with ``train_classifier``'s converged default schedule."""
    from ganaug.models import build_classifier
    from ganaug.training.classifier import train_classifier

    model = build_classifier(
        "small_cnn", num_classes=num_classes, image_size=int(images.shape[1]), channels=int(images.shape[-1]),
        seed=seed, name="evaluation_classifier",
    )
    model, history = train_classifier(model, (images, labels), epochs=epochs, steps=steps, seed=seed,
                                      verbose=1 if verbose else 0)
    return model, history


def _check_schedule(epochs, steps):
    for name, value in (("classifier_epochs", epochs), ("classifier_steps", steps)):
        if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
            raise ValueError(f"`{name}` must be None or a positive integer. Received: {name}={value}")
    if epochs is not None and steps is not None:
        raise ValueError(
            "Pass either `classifier_epochs` or `classifier_steps`, not both. "
            f"Received: classifier_epochs={epochs}, classifier_steps={steps}"
        )
    return (None if epochs is None else int(epochs)), (None if steps is None else int(steps))


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value


def _summarise_memorisation(report):
    summary = {"copy_ratio_threshold": report["copy_ratio_threshold"]}
    for space in ("pixel", "feature"):
        if space in report:
            summary[space] = {k: v for k, v in report[space].items() if k not in PER_SAMPLE_KEYS}
    return summary


def evaluate_generator(
    generator,
    real_data,
    *,
    class_names=None,
    feature_extractor=None,
    num_samples=1000,
    latent_distribution="normal",
    holdout_fraction=0.2,
    classifier_epochs=None,
    classifier_steps=None,
    tstr=True,
    tstr_samples_per_class=None,
    kid_subset_size=1000,
    kid_num_subsets=100,
    seed=0,
    out_dir=None,
    batch_size=64,
    verbose=1,
):
    """Evaluates a generator against real images with every metric of ``ganaug.evaluation``.

    Args:
        generator: ``latent -> images`` or (conditional) ``[latent, label] -> images``.
        real_data: real ``(images, labels)`` arrays, a ``tf.data.Dataset`` or an ``ImageReader``
            (loaded into memory). Labels are needed unless ``feature_extractor`` is given.
        class_names: names of the classes (default ``reader.class_names`` or ``"0", "1", ...``).
        feature_extractor: a ``keras.Model`` ``images -> features``; None trains a ``small_cnn``
            classifier on the real train split (``train_classifier``'s converged default schedule,
            the same as the augmentation experiment's) and uses its penultimate layer
            (``features.feature_extractor``).
        num_samples: number of generated images (drawn with the real class proportions for a
            conditional generator, at least 2 per class).
        latent_distribution: the generator's prior, ``"normal"`` or ``"uniform"``.
        holdout_fraction: fraction of the real data held out (stratified) for the real baseline
            and the TSTR test set; the rest trains the feature classifier and is the memorisation
            reference.
        classifier_epochs: epochs of the default feature classifier and of the TSTR classifiers,
            raised to ``train_classifier``'s minimum number of optimiser steps; None for its default
            schedule.
        classifier_steps: exact optimiser steps of those classifiers (instead of epochs).
        tstr: run TSTR/TRTS (conditional generators only).
        tstr_samples_per_class: generated images per class for TSTR (default: the largest real
            class count of the train split).
        kid_subset_size, kid_num_subsets: KID subsets.
        seed: seeds the split, the classifiers and the latent codes.
        out_dir: if given, ``results.json``, ``summary.md`` and the PNG figures are written there.
        batch_size: batch size of generation and feature extraction.
        verbose: 0 silent, 1 progress.

    Returns:
        A JSON-serialisable dict: ``extractor`` (identity of the feature space), ``num_real_train``,
        ``num_real_holdout``, ``num_generated``, ``conditional``, ``distribution`` (FID/KID vs the
        real train split, with ``fid_reliable``), ``manifold`` (precision/recall/density/coverage),
        ``per_class`` (FID/KID per class, conditional only), ``real_baseline`` (the same for the
        held-out real split), ``diversity``, ``memorisation`` (summaries), ``tstr`` (if run),
        ``class_names`` and ``figures`` (written paths).

    Raises:
        ValueError: for bad arguments, or real data without labels and no ``feature_extractor``
            (or a conditional generator).
    """
    import keras

    validate_distribution(latent_distribution)
    if int(num_samples) != num_samples or num_samples < 10:
        raise ValueError(f"`num_samples` must be an integer >= 10. Received: num_samples={num_samples}")
    classifier_epochs, classifier_steps = _check_schedule(classifier_epochs, classifier_steps)
    if feature_extractor is not None and not callable(feature_extractor):
        raise TypeError(
            "`feature_extractor` must be a keras.Model or None. "
            f"Received: feature_extractor of type {type(feature_extractor).__name__}"
        )
    if class_names is None:
        class_names = getattr(real_data, "class_names", None)
    conditional = is_conditional(generator)
    images, labels = feature_tools.as_arrays(real_data, batch_size=batch_size)
    if labels is None and (feature_extractor is None or conditional):
        raise ValueError(
            "`real_data` has no labels; they are needed to train the default feature extractor and for "
            "a conditional generator. Received: real_data without labels"
        )
    if labels is None:
        labels = np.zeros(len(images), np.int32)
        class_names = class_names or ["all"]
    num_classes = len(class_names) if class_names is not None else int(labels.max()) + 1
    if class_names is None:
        class_names = [str(c) for c in range(num_classes)]
    class_names = [str(name) for name in class_names]

    train_index, holdout_index = stratified_split(labels, holdout_fraction=holdout_fraction, seed=seed)
    train_images, train_labels = images[train_index], labels[train_index]
    holdout_images, holdout_labels = images[holdout_index], labels[holdout_index]

    classifier_history = feature_classifier = None
    if feature_extractor is None:
        if verbose:
            print(f"Training the feature classifier on {len(train_images)} real images ...")
        feature_classifier, classifier_history = _default_extractor(
            train_images, train_labels, num_classes, classifier_epochs, classifier_steps, seed, verbose
        )
        feature_extractor = feature_tools.feature_extractor(feature_classifier)
    identity = (
        feature_tools.extractor_identity(feature_extractor)
        if isinstance(feature_extractor, keras.Model)
        else {"model_name": getattr(feature_extractor, "__name__", type(feature_extractor).__name__)}
    )

    if conditional:
        generated_labels = class_proportional_labels(train_labels, num_classes, int(num_samples))
        generated_images = generate_labelled_images(
            generator, generated_labels, latent_distribution=latent_distribution, seed=seed,
            batch_size=batch_size,
        )
    else:
        generated_labels = None
        generated_images = generate_labelled_images(
            generator, num_images=int(num_samples), latent_distribution=latent_distribution, seed=seed,
            batch_size=batch_size,
        )
    if generated_images.shape[1:] != images.shape[1:]:
        raise ValueError(
            "The generator's images and the real images differ in shape. Received: generated "
            f"{generated_images.shape[1:]}, real {images.shape[1:]}"
        )

    def features_of(data):
        return feature_tools.extract_features(feature_extractor, data, batch_size=batch_size, verbose=verbose)

    train_features = features_of(train_images)
    holdout_features = features_of(holdout_images)
    generated_features = features_of(generated_images)
    kid_options = {"num_subsets": kid_num_subsets, "subset_size": kid_subset_size, "seed": seed}

    result = {
        "extractor": identity,
        "class_names": class_names,
        "conditional": bool(conditional),
        "latent_distribution": latent_distribution,
        "num_real_train": int(len(train_images)),
        "num_real_holdout": int(len(holdout_images)),
        "num_generated": int(len(generated_images)),
        "seed": int(seed),
        "distribution": distribution_metrics(train_features, generated_features, warn=bool(verbose), **kid_options),
        "manifold": manifold_metrics(train_features, generated_features),
        "real_baseline": {
            "distribution": distribution_metrics(train_features, holdout_features, warn=False, **kid_options),
            "manifold": manifold_metrics(train_features, holdout_features),
        },
    }
    if classifier_history is not None:
        result["feature_classifier_history"] = classifier_history
    if conditional:
        per_class = {}
        for c, name in enumerate(class_names):
            real_c, generated_c = train_features[train_labels == c], generated_features[generated_labels == c]
            if len(real_c) < 2 or len(generated_c) < 2:
                continue
            per_class[name] = distribution_metrics(real_c, generated_c, warn=False, **kid_options)
        result["per_class"] = per_class
    result["diversity"] = diversity_report(
        train_features,
        generated_features,
        real_labels=train_labels if conditional else None,
        generated_labels=generated_labels,
        class_names=class_names if conditional else None,
        seed=seed,
    )
    memorisation = memorisation_report(
        generated_images, train_images, generated_features=generated_features, real_features=train_features
    )
    result["memorisation"] = _summarise_memorisation(memorisation)
    if conditional and tstr:
        samples = tstr_samples_per_class or int(np.bincount(train_labels, minlength=num_classes).max())
        report = tstr_trts(
            generator, (train_images, train_labels), (holdout_images, holdout_labels),
            samples_per_class=samples, class_names=class_names, epochs=classifier_epochs, steps=classifier_steps,
            latent_distribution=latent_distribution, seed=seed, verbose=verbose,
            real_classifier=feature_classifier,  # trained exactly as TSTR's own real classifier would be
        )
        result["tstr"] = report

    result["figures"] = {}
    if out_dir is not None:
        result["figures"] = _write_outputs(
            out_dir, result, generated_images, generated_labels, train_images, memorisation, class_names
        )
    return _json_safe(result)


def summary_markdown(result):
    """Returns a short Markdown summary of an ``evaluate_generator`` result."""
    from ganaug.evaluation.classification import format_table

    rows = []
    for name, entry in (("generated", result), ("real held-out (baseline)", result["real_baseline"])):
        d, m = entry["distribution"], entry["manifold"]
        rows.append([
            name, d["fid"], f"{d['kid']:.4f} ± {d['kid_std']:.4f}", m["precision"], m["recall"],
            m["density"], m["coverage"],
        ])
    lines = [
        "# Generator evaluation",
        "",
        f"Feature space: `{result['extractor']}`",
        "",
        format_table(["vs real train", "FID", "KID", "precision", "recall", "density", "coverage"], rows),
        "",
        f"FID reliable at this size: {result['distribution']['fid_reliable']} — "
        f"{result['distribution']['recommendation']}",
        "",
        f"Collapsed classes: {result['diversity']['collapsed_classes'] or 'none'}",
        "",
        f"Suspected copies (pixel space): {result['memorisation']['pixel']['suspected_copy_fraction']:.3f}",
    ]
    if "tstr" in result:
        lines += ["", "## TSTR / TRTS (Fernández et al. 2021, Tables 2-3)", "", result["tstr"]["markdown"]]
    return "\n".join(lines) + "\n"


def _write_outputs(out_dir, result, generated_images, generated_labels, train_images, memorisation, class_names):
    from ganaug.evaluation.classification import confusion_matrix_figure
    from ganaug.figures import save_figure, save_image_grid

    os.makedirs(out_dir, exist_ok=True)
    figures = {}
    order = np.arange(len(generated_images))
    if generated_labels is not None:
        order = np.argsort(generated_labels, kind="stable")
    figures["samples"] = save_image_grid(os.path.join(out_dir, "generated_samples.png"), generated_images[order[:64]])
    for space in ("pixel", "feature"):
        if space in memorisation:
            figure = closest_pairs_figure(generated_images, train_images, memorisation, space=space)
            figures[f"memorisation_{space}"] = save_figure(figure, os.path.join(out_dir, f"memorisation_{space}.png"))
    if "tstr" in result:
        cell = result["tstr"]["metrics"]["train_generated_test_real"]
        figure = confusion_matrix_figure(cell, title="Trained on generated, tested on real")
        figures["tstr_confusion"] = save_figure(figure, os.path.join(out_dir, "tstr_confusion.png"))
    result["figures"] = figures
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(_json_safe(result), f, indent=2)
    with open(os.path.join(out_dir, "summary.md"), "w") as f:
        f.write(summary_markdown(_json_safe(result)))
    return figures
