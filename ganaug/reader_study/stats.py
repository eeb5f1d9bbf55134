"""The statistics of a reader study, as plain functions of plain lists.

Both theses end with experts judging images by hand, and both report these numbers:

* Klang & Carlberg (CellaVision): the medical technologist flagged generated blood cells with
  recall (sensitivity for "synthetic") 0.88 and specificity 0.54.
* SHI-GAN (Falahkheirkhah et al., Table 2): four pathologists, 160 real + 160 synthetic images in
  surveys of 40; real-vs-synthetic accuracy 0.45-0.63, mean quality 4.52 real vs 4.37 synthetic,
  Gleason grading with Cohen's kappa 0.69-0.73 and Fleiss' kappa 0.72 (real) vs 0.66 (synthetic).

Here "positive" means *synthetic*: sensitivity is the share of synthetic images called synthetic,
specificity the share of real images called real. Proportions get Wilson score intervals (Wilson
1927; good at small n and near 0 or 1, unlike the normal interval), "can the readers tell?" is an
exact two-sided binomial test of the accuracy against 0.5, kappas follow Cohen (1960) and Fleiss
(1971), and means get Student-t intervals (Welch for a difference). Nothing here knows about
SQLite or the web app; ``analysis.py`` feeds these functions the answers.
"""

import fractions
import math

import numpy as np

POSITIVE = "synthetic"
NEGATIVE = "real"


def _z(confidence):
    from scipy.stats import norm

    _check_confidence(confidence)
    return float(norm.ppf(0.5 + confidence / 2))


def _clean(value):
    """Returns 0.0 for floating-point dust around zero (a kappa of -2.5e-16 is a kappa of 0)."""
    return 0.0 if abs(value) < 1e-12 else value


def _check_confidence(confidence):
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ValueError(f"`confidence` must be in (0, 1). Received: confidence={confidence!r}")


def _check_counts(successes, n):
    for name, value in (("successes", successes), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"`{name}` must be a non-negative integer. Received: {name}={value!r}")
    if successes > n:
        raise ValueError(f"`successes` must be <= n. Received: successes={successes}, n={n}")
    return int(successes), int(n)


def wilson_interval(successes, n, *, confidence=0.95):
    """Returns the Wilson score interval ``(low, high)`` of a proportion ``successes / n``.

    Args:
        successes: the number of successes (e.g. correct answers).
        n: the number of trials; 0 gives ``(nan, nan)``.
        confidence: the coverage, e.g. 0.95.

    Raises:
        ValueError: for negative counts, ``successes > n`` or a confidence outside (0, 1).
    """
    successes, n = _check_counts(successes, n)
    z = _z(confidence)
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # The interval always contains p; clamp away the last-bit rounding at p = 0 or 1.
    return (max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def proportion(successes, n, *, confidence=0.95):
    """Returns ``{"value", "low", "high", "successes", "n"}`` for ``successes / n`` with its Wilson interval."""
    successes, n = _check_counts(successes, n)
    low, high = wilson_interval(successes, n, confidence=confidence)
    return {
        "value": successes / n if n else math.nan,
        "low": low,
        "high": high,
        "successes": successes,
        "n": n,
    }


def binomial_test(successes, n, *, p=0.5):
    """Returns the exact two-sided binomial test p-value of ``successes`` in ``n`` against ``p``.

    Two-sided as in R's ``binom.test`` and ``scipy.stats.binomtest``: the total probability of every
    outcome no more likely than the one observed (relative tolerance 1e-7).

    Args:
        successes: observed successes.
        n: trials; 0 gives 1.0.
        p: the success probability under the null hypothesis (0.5: "readers guess").

    Raises:
        ValueError: for bad counts or ``p`` outside [0, 1].
    """
    successes, n = _check_counts(successes, n)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"`p` must be in [0, 1]. Received: p={p!r}")
    if n == 0:
        return 1.0
    if p in (0, 1):
        return 1.0 if successes == n * p else 0.0
    if p == 0.5:  # the usual case, in exact integer arithmetic: sum of C(n, k) <= C(n, observed), / 2^n
        observed = math.comb(n, successes)
        total = sum(c for c in (math.comb(n, k) for k in range(n + 1)) if c <= observed)
        return min(1.0, float(fractions.Fraction(total, 2 ** n)))
    log_pmf = [
        math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
        + k * math.log(p) + (n - k) * math.log1p(-p)
        for k in range(n + 1)
    ]
    threshold = log_pmf[successes] + math.log1p(1e-7)
    total = math.fsum(math.exp(value) for value in log_pmf if value <= threshold)
    return min(1.0, total)


def realness_metrics(truths, answers, *, confidence=0.95):
    """Returns how well answers tell real from synthetic: accuracy, sensitivity, specificity.

    Args:
        truths: ``"real"`` / ``"synthetic"`` per image.
        answers: the reader's ``"real"`` / ``"synthetic"`` per image, same order.
        confidence: coverage of the Wilson intervals.

    Returns:
        dict with ``n``, the confusion counts ``tp`` (synthetic called synthetic), ``fn``, ``tn``
        (real called real), ``fp``; ``accuracy``, ``sensitivity`` and ``specificity`` (each a
        :func:`proportion` dict) and ``p_value`` (exact binomial test of the accuracy against 0.5).

    Raises:
        ValueError: for lists of different lengths or values other than "real"/"synthetic".
    """
    truths, answers = list(truths), list(answers)
    if len(truths) != len(answers):
        raise ValueError(
            f"`truths` and `answers` must have the same length. Received: {len(truths)} and {len(answers)}"
        )
    for name, values in (("truths", truths), ("answers", answers)):
        bad = [v for v in values if v not in (POSITIVE, NEGATIVE)]
        if bad:
            raise ValueError(f"`{name}` must hold 'real' or 'synthetic'. Received: {bad[0]!r}")
    tp = sum(t == POSITIVE and a == POSITIVE for t, a in zip(truths, answers))
    fn = sum(t == POSITIVE and a == NEGATIVE for t, a in zip(truths, answers))
    tn = sum(t == NEGATIVE and a == NEGATIVE for t, a in zip(truths, answers))
    fp = sum(t == NEGATIVE and a == POSITIVE for t, a in zip(truths, answers))
    n = len(truths)
    return {
        "n": n,
        "tp": tp,
        "fn": fn,
        "tn": tn,
        "fp": fp,
        "accuracy": proportion(tp + tn, n, confidence=confidence),
        "sensitivity": proportion(tp, tp + fn, confidence=confidence),
        "specificity": proportion(tn, tn + fp, confidence=confidence),
        "p_value": binomial_test(tp + tn, n),
    }


def cohen_kappa(ratings_a, ratings_b, *, categories=None, confidence=0.95):
    """Returns Cohen's kappa between two raters of the same items (Cohen 1960).

    ``kappa = (p_o - p_e) / (1 - p_e)`` with ``p_o`` the observed agreement and ``p_e`` the agreement
    expected from the two raters' marginal rates. The interval uses the large-sample standard error
    ``sqrt(p_o (1 - p_o) / (n (1 - p_e)^2))`` (Cohen 1960), clipped to [-1, 1]; it is an
    approximation for tens of items or more and collapses to a point when agreement is perfect
    (``p_o`` = 1) or absent (``p_o`` = 0), so read it with ``n``. The kappa itself equals
    ``sklearn.metrics.cohen_kappa_score`` (unweighted).

    Args:
        ratings_a: one category per item (any hashable: class index, name, "real"/"synthetic").
        ratings_b: the other rater's categories for the same items, same order.
        categories: optional list of the allowed categories (only used to validate the ratings).
        confidence: coverage of the interval.

    Returns:
        dict with ``kappa``, ``low``, ``high``, ``observed`` (p_o), ``expected`` (p_e) and ``n``;
        ``kappa`` is nan when there are no items or ``p_e == 1`` (both raters always gave the same
        single category: agreement beyond chance is undefined).

    Raises:
        ValueError: for lists of different lengths, or a rating outside ``categories``.
    """
    ratings_a, ratings_b = list(ratings_a), list(ratings_b)
    if len(ratings_a) != len(ratings_b):
        raise ValueError(
            "`ratings_a` and `ratings_b` must rate the same items. "
            f"Received: {len(ratings_a)} and {len(ratings_b)} ratings"
        )
    if categories is not None:
        known = set(categories)
        bad = [r for r in ratings_a + ratings_b if r not in known]
        if bad:
            raise ValueError(f"Ratings must be in `categories` {list(categories)}. Received: {bad[0]!r}")
    n = len(ratings_a)
    nan = {"kappa": math.nan, "low": math.nan, "high": math.nan, "observed": math.nan,
           "expected": math.nan, "n": n}
    if n == 0:
        return nan
    observed = sum(a == b for a, b in zip(ratings_a, ratings_b)) / n
    levels = set(ratings_a) | set(ratings_b)
    expected = math.fsum((ratings_a.count(c) / n) * (ratings_b.count(c) / n) for c in levels)
    if expected >= 1 - 1e-12:
        return {**nan, "observed": observed, "expected": expected}
    kappa = _clean((observed - expected) / (1 - expected))
    half = _z(confidence) * math.sqrt(observed * (1 - observed) / n) / (1 - expected)
    return {
        "kappa": kappa,
        "low": max(-1.0, kappa - half),
        "high": min(1.0, kappa + half),
        "observed": observed,
        "expected": expected,
        "n": n,
    }


def ratings_table(ratings, categories=None):
    """Returns the items x categories count table that :func:`fleiss_kappa` takes.

    Args:
        ratings: one list per item with the category every rater gave it (missing raters left out;
            :func:`fleiss_kappa` needs the same number of raters for every item).
        categories: the category order; by default the sorted set of categories seen.

    Returns:
        ``(table, categories)``: an int64 array ``(num_items, num_categories)`` and the order used.
    """
    ratings = [list(item) for item in ratings]
    if categories is None:
        categories = sorted({r for item in ratings for r in item}, key=lambda c: (str(type(c)), c))
    categories = list(categories)
    index = {c: i for i, c in enumerate(categories)}
    table = np.zeros((len(ratings), len(categories)), np.int64)
    for row, item in enumerate(ratings):
        for rating in item:
            if rating not in index:
                raise ValueError(f"Rating {rating!r} is not in `categories` {categories}.")
            table[row, index[rating]] += 1
    return table, categories


def fleiss_kappa(table):
    """Returns Fleiss' kappa for many raters from an items x categories count table (Fleiss 1971).

    ``P_i = (sum_j n_ij^2 - m) / (m (m - 1))`` is the agreement on item i among its ``m`` raters,
    ``p_j`` the overall share of category j, and ``kappa = (mean(P_i) - sum_j p_j^2) / (1 - sum_j p_j^2)``.
    The Fleiss (1971) / Wikipedia example (10 items, 14 raters, 5 categories) gives 0.210.

    Args:
        table: ``(num_items, num_categories)`` non-negative counts, every row summing to the same
            number of raters ``m >= 2`` (see :func:`ratings_table`).

    Returns:
        dict with ``kappa`` (nan if there are no items or every rating fell in one category),
        ``observed`` (mean P_i), ``expected`` (sum p_j^2), ``n_items`` and ``n_raters``.

    Raises:
        ValueError: for a table that is not 2-D, has negative counts, fewer than 2 raters, or rows
            with different numbers of raters.
    """
    table = np.asarray(table)
    if table.ndim != 2 or not np.issubdtype(table.dtype, np.number) or (table < 0).any():
        raise ValueError(f"`table` must be a 2-D array of non-negative counts. Received: shape={table.shape}")
    if table.shape[0] == 0:
        return {"kappa": math.nan, "observed": math.nan, "expected": math.nan, "n_items": 0, "n_raters": 0}
    raters = table.sum(axis=1)
    if (raters != raters[0]).any():
        raise ValueError(
            "Every item of `table` must have the same number of raters. "
            f"Received: raters per item from {raters.min()} to {raters.max()}"
        )
    m = float(raters[0])
    if m < 2:
        raise ValueError(f"`table` needs at least 2 raters per item. Received: {int(m)}")
    counts = table.astype(np.float64)
    per_item = ((counts ** 2).sum(axis=1) - m) / (m * (m - 1))
    observed = float(per_item.mean())
    shares = counts.sum(axis=0) / counts.sum()
    expected = float((shares ** 2).sum())
    kappa = math.nan if expected >= 1 - 1e-12 else _clean((observed - expected) / (1 - expected))
    return {"kappa": kappa, "observed": observed, "expected": expected,
            "n_items": int(table.shape[0]), "n_raters": int(m)}


def mean_interval(values, *, confidence=0.95):
    """Returns the mean of ``values`` with its Student-t interval.

    Returns:
        dict with ``mean``, ``low``, ``high``, ``std`` (sample, ddof=1) and ``n``; the interval is
        nan for fewer than 2 values, the mean too for none.
    """
    from scipy.stats import t

    _check_confidence(confidence)
    values = np.asarray(list(values), np.float64)
    n = int(values.size)
    if n == 0:
        return {"mean": math.nan, "low": math.nan, "high": math.nan, "std": math.nan, "n": 0}
    mean = float(values.mean())
    if n < 2:
        return {"mean": mean, "low": math.nan, "high": math.nan, "std": math.nan, "n": 1}
    std = float(values.std(ddof=1))
    half = float(t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return {"mean": mean, "low": mean - half, "high": mean + half, "std": std, "n": n}


def mean_difference(values_a, values_b, *, confidence=0.95):
    """Returns ``mean(a) - mean(b)`` with a Welch t interval (unequal variances).

    Used for quality scores: real minus synthetic (SHI-GAN: 4.52 - 4.37).

    Returns:
        dict with ``difference``, ``low``, ``high``, ``df`` (Welch-Satterthwaite) and the two ``n``;
        the interval is nan when a group has fewer than 2 values or both have zero variance.
    """
    from scipy.stats import t

    _check_confidence(confidence)
    a = np.asarray(list(values_a), np.float64)
    b = np.asarray(list(values_b), np.float64)
    result = {"difference": math.nan, "low": math.nan, "high": math.nan, "df": math.nan,
              "n_a": int(a.size), "n_b": int(b.size)}
    if a.size == 0 or b.size == 0:
        return result
    result["difference"] = float(a.mean() - b.mean())
    if a.size < 2 or b.size < 2:
        return result
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    if va + vb == 0:
        return result
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    half = float(t.ppf(0.5 + confidence / 2, df)) * math.sqrt(va + vb)
    result.update(low=result["difference"] - half, high=result["difference"] + half, df=float(df))
    return result
