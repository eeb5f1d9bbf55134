"""Figures of the augmentation experiment: a forest plot of every change with its intervals."""

import numpy as np

from ganaug.augment import statistics

#: Colour and label of each interval kind in the forest plot.
INTERVAL_STYLES = {
    "seeds": ("#1f77b4", "over seeds (paired t)"),
    "bootstrap": ("#ff7f0e", "over test images (bootstrap)"),
    "hierarchical": ("#2ca02c", "over both (hierarchical; the verdict's)"),
}
METRIC_ROWS = {"f1": ("f1_weighted", "weighted F1"), "accuracy": ("accuracy", "accuracy")}


def forest_plot(result, *, metric="f1", arms=None, intervals=statistics.INTERVALS, share_x=False, title=None):
    """Returns a forest plot of the change against the baseline, overall and per class, for each arm.

    One panel per arm; one row per measure (the overall change on top — weighted F1 and macro F1
    for ``metric="f1"``, accuracy for ``metric="accuracy"`` — then each class's F1, rare classes
    marked); each row shows the mean change (a dot, filled when the verdict rule calls it an
    improvement or a degradation) and each interval as a horizontal bar, the intervals one above
    the other. The minimum detectable change of each row is written at the right.

    Args:
        result: a ``run_augmentation_experiment`` result.
        metric: ``"f1"`` (overall F1 and per-class F1) or ``"accuracy"`` (overall accuracy and
            per-class F1).
        arms: the arms to draw (default: every non-baseline arm, controls last).
        intervals: which of ``"seeds"``, ``"bootstrap"``, ``"hierarchical"`` to draw.
        share_x: one x range for every panel (default: each panel its own, since a negative
            control's changes can be ten times a positive control's).
        title: the figure title (default: one naming the seeds and the confidence level).

    Returns:
        A ``matplotlib.figure.Figure`` (save it with ``ganaug.figures.save_figure``).

    Raises:
        ValueError: for an unknown metric, arm or interval.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    if metric not in METRIC_ROWS:
        raise ValueError(f"`metric` must be one of {sorted(METRIC_ROWS)}. Received: metric={metric!r}")
    unknown = [kind for kind in intervals if kind not in statistics.INTERVALS]
    if unknown:
        raise ValueError(f"`intervals` must be drawn from {statistics.INTERVALS}. Received: intervals={list(intervals)}")
    available = [arm for arm in result["arms"] if arm != "baseline"]
    arms = available if arms is None else list(arms)
    missing = [arm for arm in arms if arm not in result["deltas"]]
    if missing or not arms:
        raise ValueError(f"`arms` must be drawn from {available}. Received: arms={arms}")

    names = result["class_names"]
    rare = set(result.get("rare_classes", []))
    counts = result["counts"]["train"]
    overall = [METRIC_ROWS[metric]] + ([("f1_macro", "macro F1")] if metric == "f1" else [])
    labels = [label for _, label in overall] + [
        f"{name}{' (rare)' if k in rare else ''}  n={counts[k]}" for k, name in enumerate(names)
    ]
    num_rows = len(labels)
    offsets = np.linspace(-0.25, 0.25, len(intervals)) if len(intervals) > 1 else np.zeros(1)

    def rows_of(arm):
        delta = result["deltas"][arm]
        return [delta[key] for key, _ in overall] + list(delta["per_class_f1"])

    def limit_of(panel_arms):
        # set by the means and the bootstrap intervals: a t-interval over 2-3 seeds can be 10x wider
        # and would squash everything else, so it is clipped (arrow heads)
        extent = [abs(entry["mean"]) for arm in panel_arms for entry in rows_of(arm)]
        extent += [abs(v) for arm in panel_arms for entry in rows_of(arm) for kind in ("bootstrap", "hierarchical")
                   if kind in intervals and f"ci_{kind}" in entry for v in entry[f"ci_{kind}"]]
        if not any(kind in intervals for kind in ("bootstrap", "hierarchical")):
            extent += [abs(v) for arm in panel_arms for entry in rows_of(arm) for v in entry["ci_seeds"]
                       if np.isfinite(v)]
        return max(0.05, 1.15 * max(extent, default=0.05))

    shared_limit = limit_of(arms) if share_x else None

    width = 2.4 + 3.4 * len(arms)
    figure = Figure(figsize=(width, 1.3 + 0.42 * num_rows), layout="constrained")
    axes = figure.subplots(1, len(arms), sharey=True, squeeze=False)[0]
    for axis, arm in zip(axes, arms):
        limit = shared_limit or limit_of([arm])
        for row, entry in enumerate(rows_of(arm)):
            y = num_rows - 1 - row
            for offset, kind in zip(offsets, intervals):
                interval = entry.get(f"ci_{kind}")
                if interval is None or not np.all(np.isfinite(interval)):
                    continue
                colour = INTERVAL_STYLES[kind][0]
                low, high = max(interval[0], -limit), min(interval[1], limit)
                axis.plot([low, high], [y + offset] * 2, color=colour, linewidth=2.2, solid_capstyle="butt")
                for end, clipped, marker in ((low, interval[0] < -limit, "<"), (high, interval[1] > limit, ">")):
                    if clipped:
                        axis.plot([end], [y + offset], marker=marker, color=colour, markersize=5)
            call = entry.get("call") or statistics.call(entry)
            axis.plot([entry["mean"]], [y], marker="o", markersize=6, color="black",
                      markerfacecolor="black" if call != "inconclusive" else "white", zorder=3)
            if "mde" in entry:
                axis.annotate(f"±{entry['mde']['mde']:.2f}", xy=(1.0, y), xycoords=("axes fraction", "data"),
                              xytext=(3, 0), textcoords="offset points", va="center", fontsize=7, color="0.35")
        axis.axvline(0.0, color="0.3", linewidth=0.8, linestyle="--")
        axis.axhline(num_rows - len(overall) - 0.5, color="0.8", linewidth=0.8)
        axis.set_title(arm.replace("_", " "), fontsize=10)
        axis.set_xlabel("change vs baseline")
        axis.grid(axis="x", color="0.92")
        axis.set_ylim(-0.7, num_rows - 0.3)
        axis.set_xlim(-limit, limit)
    axes[0].set_yticks(range(num_rows))
    axes[0].set_yticklabels(labels[::-1], fontsize=8)
    handles = [Line2D([0], [0], color=INTERVAL_STYLES[kind][0], linewidth=2.2, label=INTERVAL_STYLES[kind][1])
               for kind in intervals]
    handles += [
        Line2D([0], [0], marker="o", color="black", linestyle="none", label="mean, called by the verdict rule"),
        Line2D([0], [0], marker="o", color="black", markerfacecolor="white", linestyle="none",
               label="mean, inconclusive"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncol=min(5, len(handles)), fontsize=8, frameon=False)
    confidence = int(round(result["confidence"] * 100))
    figure.suptitle(
        title or f"Change vs baseline, {confidence} % intervals, {len(result['seeds'])} seeds "
        "(right of each panel: minimum detectable change; arrow heads: interval clipped)", fontsize=10,
    )
    return figure
