"""The statistics of the augmentation experiment: three intervals, the verdict rule, and its power.

An arm is compared with the baseline on one fixed test set, each trained with the same seeds
(paired). The change of a score (accuracy, weighted/macro F1, one class's F1) varies for two
reasons: the training seed, and which images happen to be in the test set. Three 95 % intervals:

- ``ci_seeds``: a paired t-interval over the seeds (training variability, this test set);
- ``ci_bootstrap``: a paired bootstrap over the test images of the seed-averaged change (test-set
  variability, these seeds);
- ``ci_hierarchical``: both at once, a two-way ("pigeonhole", Owen 2007, Ann. Appl. Stat. 1(2))
  bootstrap of the crossed seeds x test-images design: every resample draws the seeds with
  replacement *and* the test images with replacement (the same images for every seed, as in the
  experiment), and recomputes the seed-averaged change. With few seeds, resampling them
  underestimates their variance by ``(n - 1) / n``; the seed deviations are scaled by
  ``sqrt(n / (n - 1))`` first (Davison & Hinkley 1997, sec. 3.8), so the seed part is unbiased.

**Verdict rule** (``call``): a change is *an improvement* when its hierarchical interval lies above
zero, *a degradation* when it lies below, and *inconclusive* otherwise, reported with the minimum
detectable effect. The other two intervals are shown next to it, never used for the call.

**Power**: the minimum detectable effect (MDE) of a two-sided test at level ``alpha`` with power
``power`` is ``(t_{1 - alpha/2, df} + t_{power, df}) * SE``, with ``SE^2 = s_seeds^2 / n_seeds +
v_test`` (the seed variance of the paired change and the bootstrap variance over test images) and
Welch-Satterthwaite degrees of freedom ``df``. More seeds shrink the first term only:
``seeds_needed`` finds the fewest seeds for a target effect, or says that the test set is the limit.
"""

import numpy as np

INTERVALS = ("seeds", "bootstrap", "hierarchical")
VERDICT_INTERVAL = "hierarchical"
METRICS = ("accuracy", "f1_weighted", "f1_macro")


def per_class_f1(labels, predicted, num_classes):
    """Returns F1 per class from integer labels and predictions (0 where undefined), vectorised."""
    counts = np.bincount(labels * num_classes + predicted, minlength=num_classes * num_classes)
    confusion = counts.reshape(num_classes, num_classes).astype(float)
    true_positive = np.diag(confusion)
    denominator = confusion.sum(0) + confusion.sum(1)
    return np.divide(2 * true_positive, denominator, out=np.zeros(num_classes), where=denominator > 0)


def scores(labels, predicted, num_classes):
    """Returns accuracy, weighted F1, macro F1 (classes present in labels or predictions) and per-class F1."""
    f1 = per_class_f1(labels, predicted, num_classes)
    support = np.bincount(labels, minlength=num_classes)
    present = np.union1d(labels, predicted)
    return {
        "accuracy": float(np.mean(labels == predicted)),
        "f1_weighted": float((f1 * support).sum() / max(support.sum(), 1)),
        "f1_macro": float(f1[present].mean()),
        "per_class_f1": f1,
    }


def _score_matrix(labels, predicted, num_classes):
    """Returns ``(num_runs, 3 + num_classes)``: accuracy, weighted F1, macro F1 and per-class F1 of each row.

    ``predicted`` is ``(num_runs, N)``; one ``bincount`` gives every run's confusion matrix, and the
    values equal ``scores`` row by row.
    """
    runs, k = predicted.shape[0], num_classes
    codes = (np.arange(runs)[:, None] * k + labels[None, :]) * k + predicted
    confusion = np.bincount(codes.ravel(), minlength=runs * k * k).reshape(runs, k, k).astype(float)
    true_positive = confusion[:, np.arange(k), np.arange(k)]
    support, predicted_counts = confusion.sum(2), confusion.sum(1)
    denominator = support + predicted_counts
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros_like(true_positive), where=denominator > 0)
    present = denominator > 0
    accuracy = true_positive.sum(1) / max(len(labels), 1)
    weighted = (f1 * support).sum(1) / np.maximum(support.sum(1), 1)
    macro = (f1 * present).sum(1) / np.maximum(present.sum(1), 1)
    return np.column_stack([accuracy, weighted, macro, f1])


def t_interval(differences, confidence=0.95):
    """Returns ``(mean, [low, high])``: the t confidence interval of the mean of paired differences."""
    from scipy import stats

    differences = np.asarray(differences, float)
    mean = float(differences.mean())
    if len(differences) < 2:
        return mean, [float("nan"), float("nan")]
    half = stats.t.ppf(0.5 + confidence / 2, len(differences) - 1) * differences.std(ddof=1) / np.sqrt(len(differences))
    return mean, [mean - float(half), mean + float(half)]


def paired_intervals(arm_predictions, baseline_predictions, labels, *, num_classes, num_resamples=1000,
                     confidence=0.95, seed=0):
    """Returns the three intervals of the change ``arm - baseline`` of every score, with its spread.

    Args:
        arm_predictions: ``(num_seeds, num_test)`` predicted classes of the arm, one row per seed.
        baseline_predictions: the same for the baseline, rows paired by seed.
        labels: ``(num_test,)`` true classes of the test images.
        num_classes: number of classes.
        num_resamples: bootstrap resamples (0: only the seed interval).
        confidence: level of the intervals.
        seed: seed of the resampling.

    Returns:
        dict ``measure -> {mean, ci_seeds, ci_bootstrap, ci_hierarchical, seed_differences,
        test_variance, num_test}`` for ``accuracy``, ``f1_weighted``, ``f1_macro`` and a list
        ``per_class_f1`` of such dicts (``num_test`` there is the class's test images).
        ``test_variance`` is the bootstrap variance of the seed-averaged change over test images.

    Raises:
        ValueError: for shapes that do not pair up or fewer than 2 seeds.
    """
    arm_predictions = np.asarray(arm_predictions, np.int64)
    baseline_predictions = np.asarray(baseline_predictions, np.int64)
    labels = np.asarray(labels, np.int64)
    if arm_predictions.ndim != 2 or arm_predictions.shape != baseline_predictions.shape:
        raise ValueError(
            "`arm_predictions` and `baseline_predictions` must both be (num_seeds, num_test). "
            f"Received: {arm_predictions.shape} and {baseline_predictions.shape}"
        )
    num_seeds, num_test = arm_predictions.shape
    if labels.shape != (num_test,):
        raise ValueError(f"`labels` must have shape ({num_test},). Received: labels.shape={labels.shape}")
    if num_seeds < 2:
        raise ValueError(f"At least 2 seeds are needed for an interval. Received: {num_seeds} seed(s)")
    names = list(METRICS) + [("per_class_f1", k) for k in range(num_classes)]

    both = np.concatenate([arm_predictions, baseline_predictions])

    def differences(index):
        matrix = _score_matrix(labels[index], both[:, index], num_classes)
        return matrix[:num_seeds] - matrix[num_seeds:]  # (num_seeds, num_measures)

    full = differences(np.arange(num_test))
    low_q, high_q = 50 * (1 - confidence), 50 * (1 + confidence)
    bootstrap = hierarchical = None
    if num_resamples:
        rng = np.random.default_rng(seed)
        inflation = np.sqrt(num_seeds / (num_seeds - 1))
        bootstrap, hierarchical = [], []
        for _ in range(int(num_resamples)):
            index = rng.integers(0, num_test, num_test)
            per_seed = differences(index)
            centre = per_seed.mean(0)
            bootstrap.append(centre)
            weights = np.bincount(rng.integers(0, num_seeds, num_seeds), minlength=num_seeds) / num_seeds
            hierarchical.append(centre + inflation * (weights @ (per_seed - centre)))
        bootstrap, hierarchical = np.array(bootstrap), np.array(hierarchical)
    class_counts = np.bincount(labels, minlength=num_classes)
    result = {"per_class_f1": []}
    for j, name in enumerate(names):
        mean, interval = t_interval(full[:, j], confidence)
        entry = {"mean": mean, "ci_seeds": interval, "seed_differences": [float(v) for v in full[:, j]],
                 "num_test": int(class_counts[name[1]] if isinstance(name, tuple) else num_test)}
        if bootstrap is not None:
            entry["ci_bootstrap"] = [float(np.percentile(bootstrap[:, j], low_q)),
                                     float(np.percentile(bootstrap[:, j], high_q))]
            entry["ci_hierarchical"] = [float(np.percentile(hierarchical[:, j], low_q)),
                                        float(np.percentile(hierarchical[:, j], high_q))]
            entry["test_variance"] = float(bootstrap[:, j].var(ddof=1))
        if isinstance(name, tuple):
            result["per_class_f1"].append(entry)
        else:
            result[name] = entry
    return result


def minimum_detectable_effect(seed_differences, test_variance=0.0, *, num_test=None, num_seeds=None,
                              alpha=0.05, power=0.8):
    """Returns the smallest true change a paired experiment like this one detects with ``power``.

    ``MDE = (t_{1 - alpha/2, df} + t_{power, df}) * SE`` with ``SE^2 = s^2 / n + v``: ``s`` the
    standard deviation of the per-seed paired changes, ``n`` the number of seeds, ``v`` the
    test-set (bootstrap) variance of the seed-averaged change, and ``df`` the Welch-Satterthwaite
    degrees of freedom of that sum (``n - 1`` for the seed part, ``num_test - 1`` for the test part).

    Args:
        seed_differences: the observed per-seed changes (arm - baseline), at least 2.
        test_variance: the bootstrap variance over test images (0: seeds only).
        num_test: test images behind ``test_variance`` (None: treated as many, df -> infinity).
        num_seeds: seeds to project to (default: as many as observed).
        alpha: two-sided level of the test (0.05 for 95 % intervals).
        power: probability of detecting a change of the returned size, in (0, 1).

    Returns:
        dict with ``mde``, ``se``, ``df``, ``seed_variance`` (``s^2``), ``test_variance``,
        ``num_seeds`` and ``seed_share`` (the share of ``SE^2`` due to the seeds).

    Raises:
        ValueError: for fewer than 2 differences, or ``alpha``/``power`` out of (0, 1).
    """
    from scipy import stats

    seed_differences = np.asarray(seed_differences, float)
    if seed_differences.ndim != 1 or len(seed_differences) < 2:
        raise ValueError(
            f"`seed_differences` needs at least 2 values. Received: seed_differences={seed_differences.tolist()}"
        )
    if not 0 < alpha < 1:
        raise ValueError(f"`alpha` must be in (0, 1). Received: alpha={alpha}")
    if not 0 < power < 1:
        raise ValueError(f"`power` must be in (0, 1). Received: power={power}")
    if not test_variance >= 0:
        raise ValueError(f"`test_variance` must be >= 0. Received: test_variance={test_variance}")
    observed = len(seed_differences)
    n = observed if num_seeds is None else int(num_seeds)
    if n < 2:
        raise ValueError(f"`num_seeds` must be at least 2. Received: num_seeds={num_seeds}")
    seed_variance = float(seed_differences.var(ddof=1))
    a, b = seed_variance / n, float(test_variance)
    se2 = a + b
    df_test = np.inf if num_test is None or num_test < 2 else num_test - 1
    if se2 == 0:
        df = float(n - 1)
    else:
        df = se2**2 / (a**2 / (n - 1) + (b**2 / df_test if np.isfinite(df_test) else 0.0))
    if np.isfinite(df):
        factor = stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)
    else:
        factor = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    se = float(np.sqrt(se2))
    return {
        "mde": float(factor * se),
        "se": se,
        "df": float(df),
        "seed_variance": seed_variance,
        "test_variance": b,
        "num_seeds": n,
        "seed_share": float(a / se2) if se2 > 0 else 0.0,
    }


def seeds_needed(effect, seed_differences, test_variance=0.0, *, num_test=None, alpha=0.05, power=0.8,
                 max_seeds=1000):
    """Returns the fewest seeds for which ``minimum_detectable_effect`` is at most ``effect``.

    Args:
        effect: the target change (its absolute value is used), > 0.
        seed_differences, test_variance, num_test, alpha, power: as ``minimum_detectable_effect``.
        max_seeds: search limit.

    Returns:
        dict with ``seeds`` (int, or None when no number of seeds up to ``max_seeds`` suffices),
        ``mde`` at that number and ``limit`` (the MDE with infinitely many seeds, set by the test
        set alone) and a ``reason`` sentence.
    """
    from scipy import stats

    effect = abs(float(effect))
    if not effect > 0:
        raise ValueError(f"`effect` must be non-zero. Received: effect={effect}")
    limit = float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * np.sqrt(test_variance))
    low, high = 2, int(max_seeds)
    at = minimum_detectable_effect(seed_differences, test_variance, num_test=num_test, num_seeds=high,
                                   alpha=alpha, power=power)
    if at["mde"] > effect:
        reason = (
            f"no number of seeds up to {max_seeds} reaches {effect:.3f}: the test set alone limits the "
            f"detectable change to about {limit:.3f}; a larger test set is needed"
            if limit >= effect else f"more than {max_seeds} seeds would be needed"
        )
        return {"seeds": None, "mde": at["mde"], "limit": limit, "reason": reason}
    while low < high:  # the MDE falls with the number of seeds
        middle = (low + high) // 2
        if minimum_detectable_effect(seed_differences, test_variance, num_test=num_test, num_seeds=middle,
                                     alpha=alpha, power=power)["mde"] <= effect:
            high = middle
        else:
            low = middle + 1
    mde = minimum_detectable_effect(seed_differences, test_variance, num_test=num_test, num_seeds=low,
                                    alpha=alpha, power=power)["mde"]
    return {"seeds": low, "mde": mde, "limit": limit,
            "reason": f"{low} seeds give a minimum detectable change of {mde:.3f}"}


def interval_of(delta, kind=VERDICT_INTERVAL):
    """Returns the ``[low, high]`` interval of kind ``"seeds"``, ``"bootstrap"`` or ``"hierarchical"`` (or None)."""
    if kind not in INTERVALS:
        raise ValueError(f"`kind` must be one of {INTERVALS}. Received: kind={kind!r}")
    return delta.get(f"ci_{kind}")


def call(delta):
    """Returns ``"improvement"``, ``"degradation"`` or ``"inconclusive"`` for one change by the verdict rule.

    The rule reads the hierarchical interval (seeds x test images); without it (no bootstrap
    resamples) it falls back to the seed interval.
    """
    interval = interval_of(delta, VERDICT_INTERVAL) or interval_of(delta, "seeds")
    low, high = interval
    if low > 0:
        return "improvement"
    if high < 0:
        return "degradation"
    return "inconclusive"
