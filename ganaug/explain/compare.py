"""Does a classifier look at the same evidence in real and in generated images?

Fernández et al. 2021 (section 4.1.1, Fig. 6) compute Grad-CAM on real and on generated positive
images and check by eye that the same class features are highlighted. ``compare_evidence`` turns
that check into numbers a user can read:

- similarity of the mean heatmaps (Pearson correlation and cosine), next to a reference for what
  "the same" looks like: the similarity between the mean heatmaps of two random halves of the real
  set, and, with the same number of images, between a real half and generated images;
- where the heatmap mass lies, per image: fraction in the central region, distance of its centroid
  from the image centre, fraction held by the top 10 % pixels, normalised entropy; each compared
  between the two sets with a two-sample Kolmogorov-Smirnov test (scipy);
- predicted-class agreement: the fraction of real and of generated images predicted as the class.
"""

import numbers

import numpy as np

from ganaug._checks import check_int
from ganaug.explain.overlay import DEFAULT_COLORMAPS, colorize_heatmaps, overlay

STATISTICS = ("centre_mass", "centroid_distance", "top_mass", "entropy")

_DESCRIPTIONS = {
    "centre_mass": "heatmap mass in the centre region",
    "centroid_distance": "distance of the heatmap centroid from the centre (0 centre, 1 corner)",
    "top_mass": "mass held by the top {top_percent} % pixels",
    "entropy": "heatmap entropy (0 one pixel, 1 uniform)",
}


def _received(name, value):
    return f"Received: {name}={value!r}"


def _check_fraction(value, name, *, inclusive_high=True):
    high_ok = value <= 1.0 if inclusive_high else value < 1.0
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0.0 < value and high_ok):
        bound = "]" if inclusive_high else ")"
        raise ValueError(f"`{name}` must be a number in (0, 1{bound}. {_received(name, value)}")
    return float(value)


def _checked_heatmaps(heatmaps, name):
    heatmaps = np.asarray(heatmaps, dtype=np.float64)
    if heatmaps.ndim != 3 or heatmaps.shape[0] == 0:
        raise ValueError(
            f"`{name}` must be a non-empty array (N, H, W). Received: {name}.shape={heatmaps.shape}"
        )
    if not np.all(np.isfinite(heatmaps)) or heatmaps.min() < 0:
        raise ValueError(f"`{name}` must be finite and >= 0. Received: {name} min={heatmaps.min()}")
    return heatmaps


def heatmap_statistics(heatmaps, *, centre_fraction=0.5, top_fraction=0.1):
    """Returns per-image statistics of where a heatmap's mass lies.

    The mass of a heatmap is its values divided by their sum. For an all-zero heatmap (no
    positive evidence) every statistic is NaN.

    Args:
        heatmaps: ``(N, H, W)`` values >= 0.
        centre_fraction: side of the centre region as a fraction of the image side (0.5: the
            central box of half the height and half the width, a quarter of the area).
        top_fraction: fraction of the pixels (the highest ones) whose mass ``top_mass`` measures.

    Returns:
        dict of float64 ``(N,)`` arrays: ``centre_mass`` (mass in the centre region),
        ``centroid_distance`` (distance of the mass centroid from the image centre divided by the
        half-diagonal: 0 at the centre, 1 in a corner), ``top_mass`` (mass in the
        ``ceil(top_fraction * H * W)`` highest pixels) and ``entropy`` (Shannon entropy of the
        mass divided by ``log(H * W)``: 0 all on one pixel, 1 uniform).

    Raises:
        ValueError: for heatmaps that are not ``(N, H, W)``, negative or non-finite, or fractions
            outside (0, 1].
    """
    heatmaps = _checked_heatmaps(heatmaps, "heatmaps")
    centre_fraction = _check_fraction(centre_fraction, "centre_fraction")
    top_fraction = _check_fraction(top_fraction, "top_fraction")
    count, height, width = heatmaps.shape
    totals = heatmaps.sum(axis=(1, 2))
    empty = totals <= 0
    mass = heatmaps / np.where(empty, 1.0, totals)[:, None, None]

    box_height = centre_fraction * height
    box_width = centre_fraction * width
    rows = (np.arange(height) + 0.5 - height / 2.0)[:, None]
    columns = (np.arange(width) + 0.5 - width / 2.0)[None, :]
    inside = (np.abs(rows) <= box_height / 2.0) & (np.abs(columns) <= box_width / 2.0)
    centre_mass = (mass * inside).sum(axis=(1, 2))

    centroid_row = (mass * rows).sum(axis=(1, 2))
    centroid_column = (mass * columns).sum(axis=(1, 2))
    half_diagonal = np.hypot((height - 1) / 2.0, (width - 1) / 2.0) or 1.0
    centroid_distance = np.hypot(centroid_row, centroid_column) / half_diagonal

    flat = np.sort(mass.reshape(count, -1), axis=1)[:, ::-1]
    top_count = max(1, int(np.ceil(top_fraction * height * width - 1e-9)))
    top_mass = flat[:, :top_count].sum(axis=1)

    with np.errstate(divide="ignore", invalid="ignore"):
        log_mass = np.where(mass > 0, np.log(np.where(mass > 0, mass, 1.0)), 0.0)
    entropy = -(mass * log_mass).sum(axis=(1, 2))
    entropy = entropy / np.log(height * width) if height * width > 1 else np.zeros_like(entropy)

    statistics = {
        "centre_mass": centre_mass,
        "centroid_distance": centroid_distance,
        "top_mass": top_mass,
        "entropy": entropy,
    }
    for values in statistics.values():
        values[empty] = np.nan
    return statistics


def heatmap_similarity(first, second):
    """Returns ``(pearson, cosine)`` between two heatmaps of the same shape.

    Pearson's correlation is NaN when either map is constant; the cosine is NaN when either is
    all zero.
    """
    first = np.asarray(first, dtype=np.float64).ravel()
    second = np.asarray(second, dtype=np.float64).ravel()
    if first.shape != second.shape:
        raise ValueError(
            "`first` and `second` must have the same shape. "
            f"Received: first.size={first.size}, second.size={second.size}"
        )
    first_centred = first - first.mean()
    second_centred = second - second.mean()
    spread = np.sqrt((first_centred**2).sum() * (second_centred**2).sum())
    pearson = float((first_centred * second_centred).sum() / spread) if spread > 0 else float("nan")
    norms = np.linalg.norm(first) * np.linalg.norm(second)
    cosine = float(first @ second / norms) if norms > 0 else float("nan")
    return pearson, cosine


def _two_sample_test(first, second):
    first = first[np.isfinite(first)]
    second = second[np.isfinite(second)]
    if len(first) == 0 or len(second) == 0:
        return {"ks_statistic": float("nan"), "p_value": float("nan")}
    try:
        from scipy.stats import ks_2samp
    except ImportError:  # scipy comes with scikit-learn; without it only the statistic is given
        values = np.sort(np.concatenate([first, second]))
        first_cdf = np.searchsorted(np.sort(first), values, side="right") / len(first)
        second_cdf = np.searchsorted(np.sort(second), values, side="right") / len(second)
        return {"ks_statistic": float(np.max(np.abs(first_cdf - second_cdf))), "p_value": float("nan")}
    result = ks_2samp(first, second)
    return {"ks_statistic": float(result.statistic), "p_value": float(result.pvalue)}


def _summary_of(values):
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return {"mean": float("nan"), "std": float("nan")}
    return {"mean": float(finite.mean()), "std": float(finite.std())}


def _split_reference(real_heatmaps, generated_heatmaps, num_splits, seed):
    """Similarity of two random halves of the real set, and of a real half vs as many generated."""
    count = len(real_heatmaps)
    if count < 2:
        return None
    rng = np.random.default_rng(seed)
    half = count // 2
    real_real, real_generated = [], []
    for _ in range(num_splits):
        order = rng.permutation(count)
        first, second = order[:half], order[half : 2 * half]
        first_mean = real_heatmaps[first].mean(axis=0)
        real_real.append(heatmap_similarity(first_mean, real_heatmaps[second].mean(axis=0)))
        size = min(half, len(generated_heatmaps))
        chosen = rng.choice(len(generated_heatmaps), size=size, replace=False)
        real_generated.append(
            heatmap_similarity(first_mean, generated_heatmaps[chosen].mean(axis=0))
        )
    real_real = np.asarray(real_real)
    real_generated = np.asarray(real_generated)

    def _describe(values):
        finite = values[np.isfinite(values)]
        if len(finite) == 0:
            return {"mean": float("nan"), "low": float("nan"), "high": float("nan")}
        return {
            "mean": float(finite.mean()),
            "low": float(np.percentile(finite, 5)),
            "high": float(np.percentile(finite, 95)),
        }

    return {
        "half_size": half,
        "num_splits": num_splits,
        "real_vs_real_pearson": _describe(real_real[:, 0]),
        "real_vs_real_cosine": _describe(real_real[:, 1]),
        "real_vs_generated_pearson": _describe(real_generated[:, 0]),
        "real_vs_generated_cosine": _describe(real_generated[:, 1]),
    }


def compare_heatmaps(
    real_heatmaps,
    generated_heatmaps,
    *,
    real_predictions=None,
    generated_predictions=None,
    class_index=None,
    centre_fraction=0.5,
    top_fraction=0.1,
    num_splits=200,
    seed=0,
):
    """Returns the statistics of ``compare_evidence`` from heatmaps already computed.

    Args:
        real_heatmaps: ``(N, H, W)`` heatmaps (values >= 0) of real images.
        generated_heatmaps: ``(M, H, W)`` heatmaps of generated images.
        real_predictions: int ``(N,)`` predicted classes of the real images, or None.
        generated_predictions: int ``(M,)`` predicted classes of the generated images, or None.
        class_index: the class explained; needed for the agreement when predictions are given.
        centre_fraction: side of the centre region as a fraction of the image side.
        top_fraction: fraction of the highest pixels for ``top_mass``.
        num_splits: random half-splits of the real set for the reference similarity.
        seed: seed of the random splits (same seed, same numbers).

    Returns:
        dict (JSON-serialisable) with ``mean_heatmap_pearson``, ``mean_heatmap_cosine``,
        ``reference`` (similarities over random halves, or None with fewer than 2 real images),
        ``real`` and ``generated`` (mean/std of each statistic of ``heatmap_statistics`` and the
        number of all-zero heatmaps), ``tests`` (Kolmogorov-Smirnov statistic and p-value per
        statistic), ``agreement`` (fractions predicted as ``class_index``, or None) and
        ``summary`` (plain-language text).

    Raises:
        ValueError: for heatmaps of different sizes, bad fractions or predictions of the wrong
            length.
    """
    real_heatmaps = _checked_heatmaps(real_heatmaps, "real_heatmaps")
    generated_heatmaps = _checked_heatmaps(generated_heatmaps, "generated_heatmaps")
    if real_heatmaps.shape[1:] != generated_heatmaps.shape[1:]:
        raise ValueError(
            "`generated_heatmaps` must have the size of `real_heatmaps` "
            f"{real_heatmaps.shape[1:]}. Received: generated_heatmaps.shape={generated_heatmaps.shape}"
        )
    num_splits = check_int(num_splits, "num_splits")
    real_statistics = heatmap_statistics(
        real_heatmaps, centre_fraction=centre_fraction, top_fraction=top_fraction
    )
    generated_statistics = heatmap_statistics(
        generated_heatmaps, centre_fraction=centre_fraction, top_fraction=top_fraction
    )
    pearson, cosine = heatmap_similarity(real_heatmaps.mean(axis=0), generated_heatmaps.mean(axis=0))
    result = {
        "class_index": None if class_index is None else int(class_index),
        "num_real": len(real_heatmaps),
        "num_generated": len(generated_heatmaps),
        "centre_fraction": centre_fraction,
        "top_fraction": top_fraction,
        "mean_heatmap_pearson": pearson,
        "mean_heatmap_cosine": cosine,
        "reference": _split_reference(real_heatmaps, generated_heatmaps, num_splits, seed),
        "real": {name: _summary_of(real_statistics[name]) for name in STATISTICS},
        "generated": {name: _summary_of(generated_statistics[name]) for name in STATISTICS},
        "tests": {
            name: _two_sample_test(real_statistics[name], generated_statistics[name])
            for name in STATISTICS
        },
        "agreement": None,
    }
    result["real"]["num_empty"] = int(np.isnan(real_statistics["entropy"]).sum())
    result["generated"]["num_empty"] = int(np.isnan(generated_statistics["entropy"]).sum())
    if real_predictions is not None or generated_predictions is not None:
        if class_index is None or real_predictions is None or generated_predictions is None:
            raise ValueError(
                "`class_index`, `real_predictions` and `generated_predictions` go together. "
                f"Received: class_index={class_index!r}"
            )
        real_predictions = np.asarray(real_predictions).ravel()
        generated_predictions = np.asarray(generated_predictions).ravel()
        if len(real_predictions) != len(real_heatmaps):
            raise ValueError(
                f"`real_predictions` must have one class per real heatmap ({len(real_heatmaps)}). "
                f"Received: real_predictions.shape={real_predictions.shape}"
            )
        if len(generated_predictions) != len(generated_heatmaps):
            raise ValueError(
                "`generated_predictions` must have one class per generated heatmap "
                f"({len(generated_heatmaps)}). "
                f"Received: generated_predictions.shape={generated_predictions.shape}"
            )
        real_fraction = float(np.mean(real_predictions == class_index))
        generated_fraction = float(np.mean(generated_predictions == class_index))
        result["agreement"] = {
            "real_predicted_as_class": real_fraction,
            "generated_predicted_as_class": generated_fraction,
            "difference": generated_fraction - real_fraction,
        }
    result["summary"] = evidence_summary(result)
    result["per_image"] = {
        "real": {name: real_statistics[name].tolist() for name in STATISTICS},
        "generated": {name: generated_statistics[name].tolist() for name in STATISTICS},
    }
    return result


def _format(value, digits=2):
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _format_p_value(p_value):
    if p_value is None or not np.isfinite(p_value):
        return "n/a"
    return "< 0.001" if p_value < 0.001 else f"= {p_value:.3f}"


def evidence_summary(result):
    """Returns a plain-language paragraph describing a ``compare_heatmaps`` result."""
    lines = []
    target = "" if result["class_index"] is None else f" for class {result['class_index']}"
    lines.append(
        f"Grad-CAM evidence{target} on {result['num_real']} real and "
        f"{result['num_generated']} generated images."
    )
    reference = result["reference"]
    sentence = (
        "The classifier's mean heatmap on generated images correlates "
        f"{_format(result['mean_heatmap_pearson'])} with that on real images "
        f"(cosine {_format(result['mean_heatmap_cosine'])})"
    )
    if reference is None:
        lines.append(sentence + "; with fewer than 2 real images there is no real-vs-real reference.")
    else:
        real_real = reference["real_vs_real_pearson"]
        real_generated = reference["real_vs_generated_pearson"]
        lines.append(
            sentence
            + f". Reference with {reference['half_size']} images per side over "
            f"{reference['num_splits']} random splits: real half vs real half "
            f"{_format(real_real['mean'])} (5-95 %: {_format(real_real['low'])} to "
            f"{_format(real_real['high'])}), real half vs generated "
            f"{_format(real_generated['mean'])}."
        )
        if np.isfinite(real_generated["mean"]) and np.isfinite(real_real["low"]):
            if real_generated["mean"] >= real_real["low"]:
                lines.append(
                    "Generated images draw the classifier's attention to the same places as real "
                    "ones: their mean heatmap is as close to the real one as two halves of the real "
                    "set are to each other."
                )
            else:
                lines.append(
                    "Generated images draw the classifier's attention elsewhere than real ones: their "
                    "mean heatmap is less similar to the real one than two halves of the real set are."
                )
    top_percent = _format(100 * result["top_fraction"], 0)
    for name in STATISTICS:
        real, generated, test = result["real"][name], result["generated"][name], result["tests"][name]
        description = _DESCRIPTIONS[name].format(top_percent=top_percent)
        lines.append(
            f"{description[0].upper()}{description[1:]}: real {_format(real['mean'])} ± "
            f"{_format(real['std'])}, generated {_format(generated['mean'])} ± "
            f"{_format(generated['std'])} (Kolmogorov-Smirnov D = {_format(test['ks_statistic'])}, "
            f"p {_format_p_value(test['p_value'])})."
        )
    empty_real, empty_generated = result["real"]["num_empty"], result["generated"]["num_empty"]
    if empty_real or empty_generated:
        lines.append(
            f"All-zero heatmaps (no positive evidence for the class): {empty_real} real, "
            f"{empty_generated} generated; left out of the statistics above."
        )
    agreement = result["agreement"]
    if agreement is not None:
        lines.append(
            f"Predicted as class {result['class_index']}: "
            f"{100 * agreement['real_predicted_as_class']:.0f} % of real and "
            f"{100 * agreement['generated_predicted_as_class']:.0f} % of generated images."
        )
    return "\n".join(lines)


def _example_indices(count, num_examples):
    if count <= num_examples:
        return np.arange(count)
    return np.linspace(0, count - 1, num_examples).round().astype(int)


def evidence_comparison_figure(
    real_images,
    generated_images,
    real_heatmaps,
    generated_heatmaps,
    result,
    *,
    num_examples=4,
    colormap=DEFAULT_COLORMAPS[0],
    alpha=0.4,
):
    """Returns a Figure: mean heatmaps real vs generated, statistic histograms and example overlays.

    Top row: the mean heatmap of the real and of the generated images (each scaled to its maximum),
    histograms of the per-image entropy and centre mass. Then a row of example overlays of real
    images and one of generated images.
    """
    from matplotlib.figure import Figure

    num_examples = check_int(num_examples, "num_examples")
    figure = Figure(figsize=(max(8.0, 2.0 * num_examples), 7.5), layout="constrained")
    top, bottom = figure.subfigures(2, 1, height_ratios=[1.0, 1.7])
    axes = top.subplots(1, 4)
    for axis, heatmaps, label in (
        (axes[0], real_heatmaps, "real"),
        (axes[1], generated_heatmaps, "generated"),
    ):
        mean = np.asarray(heatmaps, dtype=np.float64).mean(axis=0)
        peak = mean.max()
        axis.imshow(colorize_heatmaps(mean / peak if peak > 0 else mean, colormap=colormap)[0])
        axis.set_title(f"mean heatmap, {label}\n(n={len(heatmaps)})", fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    for axis, name, label in (
        (axes[2], "entropy", "entropy"),
        (axes[3], "centre_mass", "centre mass"),
    ):
        real_values = np.asarray(result["per_image"]["real"][name], dtype=np.float64)
        generated_values = np.asarray(result["per_image"]["generated"][name], dtype=np.float64)
        real_values = real_values[np.isfinite(real_values)]
        generated_values = generated_values[np.isfinite(generated_values)]
        bins = np.linspace(0.0, 1.0, 21)
        axis.hist(real_values, bins=bins, alpha=0.6, label="real", color="tab:blue")
        axis.hist(generated_values, bins=bins, alpha=0.6, label="generated", color="tab:orange")
        p_value = result["tests"][name]["p_value"]
        axis.set_title(f"{label} (KS p {_format_p_value(p_value)})", fontsize=9)
        axis.legend(fontsize=7)
        axis.tick_params(labelsize=7)
    pearson = _format(result["mean_heatmap_pearson"])
    reference = result["reference"]
    reference_text = (
        ""
        if reference is None
        else f" (real-vs-real split: {_format(reference['real_vs_real_pearson']['mean'])})"
    )
    top.suptitle(f"mean-heatmap correlation {pearson}{reference_text}", fontsize=10)
    example_axes = bottom.subplots(2, num_examples, squeeze=False)
    for row, (images, heatmaps, label) in enumerate(
        (
            (real_images, real_heatmaps, "real"),
            (generated_images, generated_heatmaps, "generated"),
        )
    ):
        chosen = _example_indices(len(images), num_examples)
        pictures = overlay(
            np.asarray(images)[chosen], np.asarray(heatmaps)[chosen], colormap=colormap, alpha=alpha
        )
        for column in range(num_examples):
            axis = example_axes[row, column]
            axis.set_xticks([])
            axis.set_yticks([])
            if column < len(pictures):
                axis.imshow(pictures[column])
            if column == 0:
                axis.set_ylabel(label, fontsize=9)
    bottom.suptitle("example overlays", fontsize=10)
    return figure


def compare_evidence(
    model,
    real_images,
    generated_images,
    *,
    class_index,
    method="gradcam",
    layer=None,
    batch_size=32,
    centre_fraction=0.5,
    top_fraction=0.1,
    num_splits=200,
    num_examples=4,
    make_figure=True,
    seed=0,
    verbose=0,
):
    """Compares the Grad-CAM evidence a classifier uses on real and on generated images.

    The quantitative form of Fernández et al. 2021, section 4.1.1 / Fig. 6 (Grad-CAM on real vs
    generated positive images of an InceptionV3): heatmaps of ``class_index`` are computed for both
    sets (Grad-CAM, Selvaraju et al. 2017, or Grad-CAM++, Chattopadhay et al. 2018) and compared as
    described in ``compare_heatmaps``.

    Args:
        model: a Keras image classifier (see ``gradcam_heatmaps``).
        real_images: float32 ``(N, H, W, C)`` real images in the model's input range.
        generated_images: float32 ``(M, H, W, C)`` generated images.
        class_index: the class whose evidence is compared (an int).
        method: ``"gradcam"`` or ``"gradcam++"``.
        layer: target layer name, or None to find it.
        batch_size: images per forward/backward pass.
        centre_fraction: side of the centre region as a fraction of the image side.
        top_fraction: fraction of the highest pixels for ``top_mass``.
        num_splits: random half-splits of the real set for the reference similarity.
        num_examples: example overlays per set in the figure.
        make_figure: also build the side-by-side figure.
        seed: seed of the random splits.
        verbose: 1 shows progress bars, 0 is silent.

    Returns:
        The dict of ``compare_heatmaps`` (with ``summary``), plus ``method``, ``heatmaps``
        (``{"real": (N, H, W), "generated": (M, H, W)}`` float32), ``predictions`` (predicted
        classes of both sets) and ``figure`` (a matplotlib Figure, or None).

    Raises:
        ValueError: for a bad ``class_index`` (not an int or out of range), images of the wrong
            shape, or a model without a usable feature map.
    """
    from ganaug.explain.gradcam import build_cam

    if isinstance(class_index, bool) or not isinstance(class_index, numbers.Integral):
        raise ValueError(f"`class_index` must be an int. {_received('class_index', class_index)}")
    cam = build_cam(model, method=method, layer=layer)
    real_heatmaps, _, real_scores = cam.compute(
        real_images, class_index=int(class_index), batch_size=batch_size, verbose=verbose
    )
    generated_heatmaps, _, generated_scores = cam.compute(
        generated_images, class_index=int(class_index), batch_size=batch_size, verbose=verbose
    )
    real_predictions = real_scores.argmax(axis=-1)
    generated_predictions = generated_scores.argmax(axis=-1)
    result = compare_heatmaps(
        real_heatmaps,
        generated_heatmaps,
        real_predictions=real_predictions,
        generated_predictions=generated_predictions,
        class_index=int(class_index),
        centre_fraction=centre_fraction,
        top_fraction=top_fraction,
        num_splits=num_splits,
        seed=seed,
    )
    result["method"] = method
    result["heatmaps"] = {"real": real_heatmaps, "generated": generated_heatmaps}
    result["predictions"] = {"real": real_predictions, "generated": generated_predictions}
    result["figure"] = (
        evidence_comparison_figure(
            real_images,
            generated_images,
            real_heatmaps,
            generated_heatmaps,
            result,
            num_examples=num_examples,
        )
        if make_figure
        else None
    )
    return result
