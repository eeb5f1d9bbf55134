"""How well generated images follow their masks, and the Table-1 experiment (SHI-GAN, section 2.6).

**Mask following**: segment images generated from masks with a segmenter trained on real pairs
and score the prediction against the masks the images were generated from; as a control, score the
same predictions against the masks shuffled (each image compared with another image's mask). A
generator that ignores its mask scores about the control; one that follows it, well above.

**Table 1** (Falahkheirkhah et al.): segmenters trained on ``real`` pairs, on ``synthetic`` pairs
(images generated from the training masks; ``synthetic_new``: from masks the generator never saw)
and on ``real+synthetic`` (both, twice the pairs, like the paper's S3), each with several seeds,
tested on the same real held-out pairs; mPA and mIoU per arm with a t-interval over the seeds and a
bootstrap interval over the test images, and each arm's paired change from ``real``.
"""

import numbers

import numpy as np

from ganaug.augment.statistics import t_interval
from ganaug.segmentation.metrics import per_image_confusions, scores_from_confusion, segmentation_scores
from ganaug.segmentation.synthesis import generate_from_masks
from ganaug.segmentation.training import predict_masks, train_segmenter

ARMS = ("real", "synthetic", "synthetic_new", "real+synthetic")
METRICS = ("mPA", "mIoU")


def derangement(count, seed=0):
    """Returns a permutation of ``range(count)`` with no fixed point (count >= 2)."""
    if count < 2:
        raise ValueError(f"A shuffled control needs at least 2 masks. Received: count={count}")
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(count)
        if not np.any(order == np.arange(count)):
            return order


def mask_following(generator, segmenter, masks, *, num_labels, seed=0, batch_size=32):
    """Scores generated images against their input masks and against shuffled masks.

    Args:
        generator: a trained ``build_spade_generator`` model.
        segmenter: a segmentation model trained on real pairs (``train_segmenter``).
        masks: integer label maps ``(N, S, S)`` (best: masks neither network was trained on).
        num_labels: classes.
        seed: seed of the codes and of the shuffle.
        batch_size: images per forward pass.

    Returns:
        dict ``{"generated": scores vs the input masks, "shuffled_control": scores vs shuffled
        masks, "margin": mIoU difference}``; scores as ``metrics.scores_from_confusion``.
    """
    images, masks = generate_from_masks(generator, masks, seed=seed, batch_size=batch_size)
    predicted = predict_masks(segmenter, images, batch_size=batch_size)
    generated = segmentation_scores(masks, predicted, num_labels)
    control = segmentation_scores(masks[derangement(len(masks), seed)], predicted, num_labels)
    return {"generated": generated, "shuffled_control": control, "margin": generated["mIoU"] - control["mIoU"],
            "num_images": int(len(masks))}


def _bootstrap(confusions, metric, num_resamples, confidence, seed):
    """Percentile interval of ``metric`` of the summed per-image confusions, resampling images."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num_resamples):
        pick = rng.integers(0, len(confusions), len(confusions))
        values.append(scores_from_confusion(confusions[pick].sum(0))[metric])
    tail = (1.0 - confidence) / 2 * 100
    return [float(np.nanpercentile(values, tail)), float(np.nanpercentile(values, 100 - tail))]


def run_segmentation_experiment(
    generator, train_images, train_masks, test_images, test_masks, *, num_labels, new_masks=None,
    arms=ARMS, seeds=(0, 1, 2), steps=300, batch_size=16, filters=16, learning_rate=1e-3,
    num_bootstrap=200, confidence=0.95, follow_masks=None, verbose=0, log=None,
):
    """Runs the Table-1 experiment: one segmenter per arm and seed, all tested on the same real pairs.

    Args:
        generator: a trained ``build_spade_generator`` model.
        train_images, train_masks: the real training pairs (float32 [-1, 1], int masks).
        test_images, test_masks: real held-out pairs (the generator must not have seen them).
        num_labels: classes.
        new_masks: masks for ``synthetic_new`` (e.g. another data set's), as many as wanted.
        arms: a subset of ``ARMS``.
        seeds: training seeds (the codes of the synthetic images are drawn with the same seed).
        steps, batch_size, filters, learning_rate: of ``train_segmenter``.
        num_bootstrap: resamples of the test images (0: no bootstrap interval).
        confidence: level of the intervals.
        follow_masks: optional masks for the mask-following check (``mask_following``), run with the
            first seed's real-trained segmenter; stored under ``"mask_following"``.
        verbose: Keras verbosity of the segmenter training.
        log: optional callable taking one line of progress text.

    Returns:
        dict ``{"arms": {arm: {"per_seed": [scores], metric: {"mean", "ci_seeds", "ci_bootstrap"},
        "delta_vs_real": {metric: {"mean", "ci_seeds"}}}}, "num_test", "num_train", "seeds"}``.

    Raises:
        ValueError: for an unknown arm, too few seeds or a missing ``new_masks``.
    """
    unknown = [arm for arm in arms if arm not in ARMS]
    if unknown or not arms:
        raise ValueError(f"`arms` must be a non-empty subset of {ARMS}. Received: arms={list(arms)!r}")
    if "synthetic_new" in arms and new_masks is None:
        raise ValueError("The arm 'synthetic_new' needs `new_masks`. Received: new_masks=None")
    seeds = [int(s) for s in seeds]
    if not seeds or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) for s in seeds):
        raise ValueError(f"`seeds` must be a non-empty list of integers. Received: seeds={seeds!r}")
    train_images = np.asarray(train_images, np.float32)
    train_masks = np.asarray(train_masks).astype(np.int32)
    if follow_masks is not None and "real" not in arms:
        raise ValueError(f"The mask-following check needs the arm 'real'. Received: arms={list(arms)!r}")
    results = {arm: {"per_seed": [], "_predictions": []} for arm in arms}
    following = None
    for seed in seeds:
        synthetic = synthetic_new = None
        if "synthetic" in arms or "real+synthetic" in arms:
            synthetic = generate_from_masks(generator, train_masks, seed=seed)
        if "synthetic_new" in arms:
            synthetic_new = generate_from_masks(generator, new_masks, seed=seed + 10_000)
        for arm in arms:
            if arm == "real":
                images, masks = train_images, train_masks
            elif arm == "synthetic":
                images, masks = synthetic
            elif arm == "synthetic_new":
                images, masks = synthetic_new
            else:
                images = np.concatenate([train_images, synthetic[0]])
                masks = np.concatenate([train_masks, synthetic[1]])
            model = train_segmenter(images, masks, num_labels=num_labels, steps=steps, batch_size=batch_size,
                                    filters=filters, learning_rate=learning_rate, seed=seed, verbose=verbose)
            predicted = predict_masks(model, test_images)
            scores = segmentation_scores(test_masks, predicted, num_labels)
            results[arm]["per_seed"].append(scores)
            results[arm]["_predictions"].append(predicted)
            if arm == "real" and follow_masks is not None and following is None:
                following = mask_following(generator, model, follow_masks, num_labels=num_labels, seed=seed)
                if log is not None:
                    log(f"mask following: mIoU {following['generated']['mIoU']:.4f} vs shuffled-mask control "
                        f"{following['shuffled_control']['mIoU']:.4f} ({following['num_images']} masks)")
            if log is not None:
                log(f"seed {seed} {arm}: mPA {scores['mPA']:.4f} mIoU {scores['mIoU']:.4f} ({len(images)} training pairs)")
    test_masks = np.asarray(test_masks).astype(np.int32)
    for arm, result in results.items():
        predictions = result.pop("_predictions")
        confusions = sum(per_image_confusions(test_masks, p, num_labels) for p in predictions)
        for metric in METRICS:
            values = [s[metric] for s in result["per_seed"]]
            mean, ci = t_interval(values, confidence)
            result[metric] = {
                "mean": mean, "ci_seeds": ci,
                "ci_bootstrap": _bootstrap(confusions, metric, num_bootstrap, confidence, 0) if num_bootstrap else None,
            }
        if arm != "real" and "real" in results:
            result["delta_vs_real"] = {}
            for metric in METRICS:
                differences = [a[metric] - b[metric] for a, b in zip(result["per_seed"], results["real"]["per_seed"])]
                mean, ci = t_interval(differences, confidence)
                result["delta_vs_real"][metric] = {"mean": mean, "ci_seeds": ci}
    return {"arms": results, "num_test": int(len(test_masks)), "num_train": int(len(train_masks)), "seeds": seeds,
            "steps": steps, "confidence": confidence, "mask_following": following}


def segmentation_experiment_from_run(
    run_dir, data, test_data, *, new_masks=None, out_dir=None, image_size=None, seeds=(0, 1, 2), steps=300,
    arms=None, follow=True, log=print, **options,
):
    """Runs ``run_segmentation_experiment`` for a SPADE run on data set folders, writes ``results.json``
    and ``table.md`` to ``out_dir`` (when given) and returns the result.

    Args:
        run_dir: a ``ganaug train spade`` run (its ``generator.keras``).
        data: the real training pairs (a data set folder or manifest with a ``mask`` column).
        test_data: real held-out pairs (not seen by the generator).
        new_masks: a data set whose masks feed ``synthetic_new`` and the mask-following check.
        out_dir: where to write the results.
        image_size: of the pairs (the generator's when None).
        seeds, steps: as ``run_segmentation_experiment``.
        arms: default all of ``ARMS`` (without ``synthetic_new`` when there are no ``new_masks``).
        follow: run the mask-following check (on ``new_masks``, else on the test masks).
        log: progress lines (None: silent).
        **options: further ``run_segmentation_experiment`` options.
    """
    import json
    import os

    from data_readers.masks import PairedReader
    from ganaug.models.spade import spade_decoder_of
    from ganaug.runs import load_run_model

    generator = load_run_model(run_dir, "generator")
    size = image_size or int(spade_decoder_of(generator).inputs[1].shape[1])
    train = PairedReader(data, image_size=size)
    test = PairedReader(test_data, image_size=size, region_names=train.region_names)
    extra = PairedReader(new_masks, image_size=size, region_names=train.region_names) if new_masks is not None else None
    if arms is None:
        arms = ARMS if extra is not None else tuple(a for a in ARMS if a != "synthetic_new")
    follow_masks = (extra.masks if extra is not None else test.masks) if follow else None
    result = run_segmentation_experiment(
        generator, train.images, train.masks, test.images, test.masks, num_labels=train.num_regions,
        new_masks=extra.masks if extra is not None else None, arms=arms, seeds=seeds, steps=steps,
        follow_masks=follow_masks, log=log, **options,
    )
    result["region_names"] = list(train.region_names)
    result["run"] = os.path.abspath(os.fspath(run_dir))
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "results.json"), "w") as handle:
            json.dump(result, handle, indent=2)
        with open(os.path.join(out_dir, "table.md"), "w") as handle:
            handle.write(table_one(result) + "\n")
    return result


def _interval(ci):
    return "" if ci is None or not np.all(np.isfinite(ci)) else f" [{ci[0]:.3f}, {ci[1]:.3f}]"


def table_one(result):
    """Returns the experiment as a Markdown table in the layout of SHI-GAN's Table 1 (arms x mPA/mIoU)."""
    lines = [
        f"| arm | mPA (seed CI; test bootstrap CI) | mIoU (seed CI; test bootstrap CI) | mIoU change vs real (seed CI) |",
        "|---|---|---|---|",
    ]
    for arm, values in result["arms"].items():
        cells = []
        for metric in METRICS:
            entry = values[metric]
            cells.append(f"{entry['mean']:.4f}{_interval(entry['ci_seeds'])};{_interval(entry['ci_bootstrap'])}")
        delta = values.get("delta_vs_real", {}).get("mIoU")
        cells.append("—" if delta is None else f"{delta['mean']:+.4f}{_interval(delta['ci_seeds'])}")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    following = result.get("mask_following")
    if following:
        lines.append(
            f"\nMask following ({following['num_images']} masks, real-trained segmenter): mIoU "
            f"{following['generated']['mIoU']:.4f} vs {following['shuffled_control']['mIoU']:.4f} with shuffled masks."
        )
    lines.append(
        f"\n{len(result['seeds'])} seeds, {result['num_train']} real training pairs, {result['num_test']} real test "
        f"pairs, {result['steps']} segmenter steps; {int(result['confidence'] * 100)} % intervals."
    )
    return "\n".join(lines)
