"""Analysing a reader study: every number of the theses' expert readings, per reader and pooled.

For each reader and for all readers pooled:

* real vs synthetic (Klang & Carlberg: recall 0.88, specificity 0.54 for one technologist; SHI-GAN,
  Falahkheirkhah et al. Table 2: accuracy 0.45-0.63 for four pathologists): accuracy, sensitivity
  and specificity for "synthetic" with Wilson intervals, and an exact binomial test of the accuracy
  against 0.5 — a p-value far from 0 says the readers could not tell;
* quality (SHI-GAN: 4.52 real vs 4.37 synthetic): mean 1-5 score of real and of synthetic images
  with t intervals, and their difference with a Welch interval;
* labels (SHI-GAN's Gleason grades: Cohen's kappa 0.69-0.73, Fleiss' kappa 0.72 real vs 0.66
  synthetic): accuracy and Cohen's kappa against the true class on real and on synthetic images,
  Cohen's kappa for every pair of readers and Fleiss' kappa over all readers, each on real and on
  synthetic images;
* per true class: real-vs-synthetic accuracy and label accuracy.

Agreement is computed on the images that every reader concerned has answered (all of them once the
study is complete). The pooled intervals treat answers as independent, which they are not quite
(the same images are read by several readers): read the per-reader rows first.

``write_analysis`` writes ``answers.csv`` (one flat row per answer), ``summary.csv`` (one row per
reader and a pooled row), ``results.json`` (everything), a figure and ``report.html``/``report.md``.
"""

import csv
import datetime
import io
import itertools
import json
import math
import os

from ganaug.reader_study import stats, storage

ANSWER_COLUMNS = (
    "reader", "image_id", "position", "truth", "answer", "correct", "quality", "truth_label", "label",
    "label_correct", "response_ms", "server_ms", "answered_at",
)


def load_study(db_path):
    """Returns ``(meta, rows, reader_names, progress)`` of a study database (read-only use).

    ``rows`` are :func:`ganaug.reader_study.storage.answer_rows`; ``meta`` has no admin secret.
    """
    connection = storage.connect(db_path)
    try:
        meta = storage.read_meta(connection)
        rows = storage.answer_rows(connection)
        progress = storage.progress(connection)
    finally:
        connection.close()
    meta.pop("admin_token", None)
    return meta, rows, [p["name"] for p in progress], progress


def answer_records(rows, meta, *, include_source=False):
    """Returns one flat dict per answer (the ``answers.csv`` columns), class names spelled out.

    Args:
        rows: :func:`~ganaug.reader_study.storage.answer_rows`.
        meta: the study settings (for the class names).
        include_source: add the image's ``source`` (file path or run); only for local files, never
            for what the web app sends.
    """
    names = meta.get("class_names") or []
    records = []
    for row in rows:
        record = {
            "reader": row["reader"],
            "image_id": row["image_id"],
            "position": row["position"] + 1,
            "truth": row["truth"],
            "answer": row["realness"],
            "correct": None if row["realness"] is None else int(row["realness"] == row["truth"]),
            "quality": row["quality"],
            "truth_label": None if row["truth_label"] is None else names[row["truth_label"]],
            "label": None if row["label"] is None else names[row["label"]],
            "label_correct": (None if row["label"] is None or row["truth_label"] is None
                              else int(row["label"] == row["truth_label"])),
            "response_ms": row["response_ms"],
            "server_ms": row["server_ms"],
            "answered_at": datetime.datetime.fromtimestamp(row["answered_at"], datetime.timezone.utc)
            .isoformat(timespec="milliseconds"),
        }
        if include_source:
            record["source"] = row["source"]
        records.append(record)
    return records


def records_to_csv(records):
    """Returns answer records as CSV text (header first; empty cells for missing values)."""
    buffer = io.StringIO()
    columns = list(ANSWER_COLUMNS) + (["source"] if records and "source" in records[0] else [])
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: "" if record.get(k) is None else record[k] for k in columns})
    return buffer.getvalue()


def _by_reader(rows, readers):
    grouped = {name: [] for name in readers}
    for row in rows:
        grouped.setdefault(row["reader"], []).append(row)
    return grouped


def _agreement(rows, readers, key, subset=None):
    """Cohen's kappa per reader pair and Fleiss' kappa over all readers, on the images in ``subset``."""
    ratings = {name: {} for name in readers}
    for row in rows:
        if row[key] is not None and (subset is None or row["truth"] == subset):
            ratings.setdefault(row["reader"], {})[row["image_id"]] = row[key]
    pairs = []
    for a, b in itertools.combinations(readers, 2):
        shared = sorted(set(ratings[a]) & set(ratings[b]))
        result = stats.cohen_kappa([ratings[a][i] for i in shared], [ratings[b][i] for i in shared])
        pairs.append({"readers": [a, b], **result})
    fleiss = None
    if len(readers) >= 2:
        shared = set.intersection(*(set(ratings[name]) for name in readers))
        items = [[ratings[name][i] for name in readers] for i in sorted(shared)]
        table, _ = stats.ratings_table(items)
        fleiss = stats.fleiss_kappa(table)
    return {"cohen_pairs": pairs, "fleiss": fleiss}


def _realness(rows, confidence):
    rows = [r for r in rows if r["realness"] is not None]
    return stats.realness_metrics([r["truth"] for r in rows], [r["realness"] for r in rows], confidence=confidence)


def _quality(rows, confidence):
    real = [r["quality"] for r in rows if r["quality"] is not None and r["truth"] == "real"]
    synthetic = [r["quality"] for r in rows if r["quality"] is not None and r["truth"] == "synthetic"]
    return {
        "real": stats.mean_interval(real, confidence=confidence),
        "synthetic": stats.mean_interval(synthetic, confidence=confidence),
        "difference": stats.mean_difference(real, synthetic, confidence=confidence),
    }


def _labels(rows, confidence):
    result = {}
    for truth in storage.TRUTHS:
        chosen = [r for r in rows if r["truth"] == truth and r["label"] is not None and r["truth_label"] is not None]
        correct = sum(r["label"] == r["truth_label"] for r in chosen)
        result[truth] = {
            "accuracy": stats.proportion(correct, len(chosen), confidence=confidence),
            "kappa_vs_truth": stats.cohen_kappa(
                [r["truth_label"] for r in chosen], [r["label"] for r in chosen], confidence=confidence
            ),
        }
    return result


def _response_times(rows):
    result = {}
    for truth in storage.TRUTHS:
        times = sorted(r["response_ms"] for r in rows if r["truth"] == truth)
        result[truth] = {"median_ms": _median(times), "n": len(times)}
    return result


def _median(values):
    if not values:
        return math.nan
    middle = len(values) // 2
    return float(values[middle]) if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def analyse(meta, rows, readers, *, confidence=0.95):
    """Returns every statistic of a study as a nested dict (see the module docstring).

    Args:
        meta: the study settings (tasks, class names).
        rows: :func:`~ganaug.reader_study.storage.answer_rows`.
        readers: every reader's name, in order (readers without answers included).
        confidence: coverage of every interval.

    Returns:
        dict with ``confidence``, ``readers``, ``num_answers``, ``response_times`` and, for the
        study's tasks, ``realness``, ``quality`` and ``label`` sections, each with ``per_reader``
        and ``pooled`` entries (and ``agreement`` / ``per_class`` where they apply).
    """
    tasks = meta["tasks"]
    names = meta.get("class_names") or []
    grouped = _by_reader(rows, readers)
    result = {
        "confidence": confidence,
        "readers": list(readers),
        "num_answers": len(rows),
        "response_times": {"per_reader": {n: _response_times(r) for n, r in grouped.items()},
                           "pooled": _response_times(rows)},
    }
    if "realness" in tasks:
        per_class = {}
        for index, name in enumerate(names):
            chosen = [r for r in rows if r["truth_label"] == index]
            if chosen:
                per_class[name] = _realness(chosen, confidence)
        result["realness"] = {
            "per_reader": {n: _realness(r, confidence) for n, r in grouped.items()},
            "pooled": _realness(rows, confidence),
            "agreement": _agreement(rows, readers, "realness"),
            "per_class": per_class,
        }
    if "quality" in tasks:
        result["quality"] = {
            "per_reader": {n: _quality(r, confidence) for n, r in grouped.items()},
            "pooled": _quality(rows, confidence),
        }
    if "label" in tasks:
        per_class = {}
        for index, name in enumerate(names):
            chosen = [r for r in rows if r["truth_label"] == index]
            if chosen:
                per_class[name] = {
                    truth: value["accuracy"] for truth, value in _labels(chosen, confidence).items()
                }
        result["label"] = {
            "per_reader": {n: _labels(r, confidence) for n, r in grouped.items()},
            "pooled": _labels(rows, confidence),
            "agreement": {truth: _agreement(rows, readers, "label", subset=truth) for truth in storage.TRUTHS},
            "per_class": per_class,
        }
    return result


def summary_rows(results, tasks):
    """Returns ``(header, rows)``: one row per reader and a pooled row, the headline numbers."""
    header = ["reader"]
    if "realness" in tasks:
        header += ["n", "accuracy", "accuracy_low", "accuracy_high", "p_value", "sensitivity",
                   "sensitivity_low", "sensitivity_high", "specificity", "specificity_low", "specificity_high"]
    if "quality" in tasks:
        header += ["quality_real", "quality_synthetic", "quality_difference", "difference_low", "difference_high"]
    if "label" in tasks:
        header += ["label_accuracy_real", "label_accuracy_synthetic", "label_kappa_real", "label_kappa_synthetic"]
    rows = []
    for name in results["readers"] + ["pooled"]:

        def part(section):
            return results[section]["pooled"] if name == "pooled" else results[section]["per_reader"][name]

        row = [name]
        if "realness" in tasks:
            r = part("realness")
            row += [r["n"], r["accuracy"]["value"], r["accuracy"]["low"], r["accuracy"]["high"], r["p_value"]]
            for key in ("sensitivity", "specificity"):
                row += [r[key]["value"], r[key]["low"], r[key]["high"]]
        if "quality" in tasks:
            q = part("quality")
            row += [q["real"]["mean"], q["synthetic"]["mean"], q["difference"]["difference"],
                    q["difference"]["low"], q["difference"]["high"]]
        if "label" in tasks:
            lab = part("label")
            row += [lab["real"]["accuracy"]["value"], lab["synthetic"]["accuracy"]["value"],
                    lab["real"]["kappa_vs_truth"]["kappa"], lab["synthetic"]["kappa_vs_truth"]["kappa"]]
        rows.append(row)
    return header, rows


def to_jsonable(value):
    """Returns ``value`` with NaN and infinities replaced by None (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "item"):
        return to_jsonable(value.item())
    return value


def format_number(value, digits=3):
    """Returns a cell for a table: floats with ``digits`` decimals, missing values as "–"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        if value != 0 and abs(value) < 10 ** -digits:
            return f"{value:.1e}"
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(header, rows):
    """Returns a Markdown pipe table (a ``|`` inside a cell, e.g. in a reader's name, becomes ``¦``)."""

    def cell(value):
        return format_number(value).replace("|", "¦")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _interval(entry, key="value"):
    return f"{format_number(entry[key])} [{format_number(entry['low'])}, {format_number(entry['high'])}]"


def headline_tables(results, tasks):
    """Returns ``[(caption, markdown_table), ...]`` for the report and the admin page."""
    tables = []
    readers = results["readers"] + ["pooled"]

    def part(section, name):
        return results[section]["pooled"] if name == "pooled" else results[section]["per_reader"][name]

    level = f"{round(results['confidence'] * 100)} %"
    if "realness" in tasks:
        rows = []
        for name in readers:
            r = part("realness", name)
            rows.append([name, r["n"], _interval(r["accuracy"]), format_number(r["p_value"]),
                         _interval(r["sensitivity"]), _interval(r["specificity"])])
        tables.append((
            f"Real or synthetic? ('synthetic' is positive; Wilson {level} intervals; p: exact binomial test vs 0.5)",
            markdown_table(["reader", "n", "accuracy", "p", "sensitivity", "specificity"], rows),
        ))
        agreement = results["realness"]["agreement"]
        if agreement["cohen_pairs"]:
            rows = [[" & ".join(p["readers"]), p["n"], _interval(p, "kappa")] for p in agreement["cohen_pairs"]]
            fleiss = agreement["fleiss"]
            rows.append(["Fleiss (all readers)", fleiss["n_items"], format_number(fleiss["kappa"])])
            tables.append(("Agreement on real vs synthetic (Cohen's kappa per pair, Fleiss' kappa)",
                           markdown_table(["readers", "images", "kappa"], rows)))
    if "quality" in tasks:
        rows = []
        for name in readers:
            q = part("quality", name)
            rows.append([name, _interval(q["real"], "mean"), _interval(q["synthetic"], "mean"),
                         _interval(q["difference"], "difference")])
        tables.append((f"Quality 1-5 (mean, t {level} interval; difference real - synthetic, Welch)",
                       markdown_table(["reader", "real", "synthetic", "real - synthetic"], rows)))
    if "label" in tasks:
        rows = []
        for name in readers:
            lab = part("label", name)
            rows.append([name, _interval(lab["real"]["accuracy"]), _interval(lab["synthetic"]["accuracy"]),
                         _interval(lab["real"]["kappa_vs_truth"], "kappa"),
                         _interval(lab["synthetic"]["kappa_vs_truth"], "kappa")])
        tables.append(("Class labels against the true class (accuracy, Cohen's kappa)",
                       markdown_table(["reader", "accuracy real", "accuracy synthetic", "kappa real",
                                       "kappa synthetic"], rows)))
        rows = []
        for truth in storage.TRUTHS:
            agreement = results["label"]["agreement"][truth]
            for p in agreement["cohen_pairs"]:
                rows.append([truth, " & ".join(p["readers"]), p["n"], _interval(p, "kappa")])
            if agreement["fleiss"] is not None:
                rows.append([truth, "Fleiss (all readers)", agreement["fleiss"]["n_items"],
                             format_number(agreement["fleiss"]["kappa"])])
        if rows:
            tables.append(("Agreement on class labels between readers (SHI-GAN: Fleiss 0.72 real vs 0.66 synthetic)",
                           markdown_table(["images", "readers", "n", "kappa"], rows)))
    per_class = sorted(
        set(results.get("realness", {}).get("per_class", {})) | set(results.get("label", {}).get("per_class", {}))
    )
    if per_class:
        header, rows = ["true class"], []
        if "realness" in tasks:
            header += ["n", "real vs synthetic accuracy"]
        if "label" in tasks:
            header += ["label accuracy real", "label accuracy synthetic"]
        for name in per_class:
            row = [name]
            if "realness" in tasks:
                entry = results["realness"]["per_class"].get(name)
                row += [entry["n"], _interval(entry["accuracy"])] if entry else [0, "–"]
            if "label" in tasks:
                entry = results["label"]["per_class"].get(name)
                row += [_interval(entry["real"]), _interval(entry["synthetic"])] if entry else ["–", "–"]
            rows.append(row)
        tables.append(("Per true class (all readers pooled)", markdown_table(header, rows)))
    return tables


def _interval_series(axis, names, entries, *, value_key, offset, colour, marker, label):
    """Plots one series of points with asymmetric error bars (missing or empty entries skipped)."""
    xs, ys, low, high = [], [], [], []
    for i, entry in enumerate(entries):
        value = entry.get(value_key)
        if value is None or not math.isfinite(value) or not entry.get("n"):
            continue
        finite = math.isfinite(entry["low"]) and math.isfinite(entry["high"])
        xs.append(i + offset)
        ys.append(value)
        low.append(max(0.0, value - entry["low"]) if finite else 0.0)
        high.append(max(0.0, entry["high"] - value) if finite else 0.0)
    axis.errorbar(xs, ys, yerr=[low, high], fmt=marker, color=colour, capsize=3, label=label)


def accuracy_figure(results, tasks):
    """Returns a matplotlib Figure with one panel per task, per reader and pooled, with intervals.

    Panels: real vs synthetic (accuracy, sensitivity, specificity with Wilson intervals and the 0.5
    chance line); mean quality of real vs synthetic images (t intervals); label accuracy on real vs
    synthetic images (Wilson intervals) — each when the study asked for it.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    names = results["readers"] + ["pooled"]
    panels = [t for t in ("realness", "quality", "label") if t in tasks and t in results]
    figure = Figure(figsize=(max(4.5, 0.9 * len(names) + 2) * max(1, len(panels)), 4.0))
    if not panels:
        figure.text(0.5, 0.5, "no answers to plot", ha="center")
        return figure
    axes = [figure.add_subplot(1, len(panels), i + 1) for i in range(len(panels))]

    def entries(section, pick):
        return [pick(results[section]["pooled"] if n == "pooled" else results[section]["per_reader"][n]) for n in names]

    for axis, panel in zip(axes, panels):
        if panel == "realness":
            for key, colour, offset in (("accuracy", "#1f77b4", -0.22), ("sensitivity", "#d62728", 0.0),
                                        ("specificity", "#2ca02c", 0.22)):
                _interval_series(axis, names, entries("realness", lambda r, k=key: r[k]), value_key="value",
                                 offset=offset, colour=colour, marker="o", label=key)
            axis.axhline(0.5, color="#777", linestyle="--", linewidth=1, label="chance")
            axis.set_ylim(-0.02, 1.02)
            axis.set_ylabel("proportion ('synthetic' = positive)")
            axis.set_title("Can the readers tell real from synthetic?")
        elif panel == "quality":
            for key, colour, offset in (("real", "#1f77b4", -0.15), ("synthetic", "#ff7f0e", 0.15)):
                _interval_series(axis, names, entries("quality", lambda r, k=key: r[k]), value_key="mean",
                                 offset=offset, colour=colour, marker="s", label=key)
            axis.set_ylim(0.8, 5.2)
            axis.set_ylabel("mean quality (1-5)")
            axis.set_title("Quality: real vs synthetic")
        else:
            for key, colour, offset in (("real", "#1f77b4", -0.15), ("synthetic", "#ff7f0e", 0.15)):
                _interval_series(axis, names, entries("label", lambda r, k=key: r[k]["accuracy"]), value_key="value",
                                 offset=offset, colour=colour, marker="D", label=key)
            axis.set_ylim(-0.02, 1.02)
            axis.set_ylabel("label accuracy")
            axis.set_title("Class labels: real vs synthetic images")
        axis.set_xticks(range(len(names)))
        axis.set_xticklabels(names)
        axis.set_xlim(-0.6, len(names) - 0.4)
        axis.grid(axis="y", alpha=0.3)
        axis.axvline(len(names) - 1.5, color="#bbb", linewidth=0.8)  # readers | pooled
        axis.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4, frameon=False)
    figure.tight_layout()
    return figure


def write_analysis(db_path, out_dir, *, confidence=0.95):
    """Analyses a study database and writes the results.

    Args:
        db_path: the study database (it may still be running: this reads a consistent snapshot).
        out_dir: folder for ``answers.csv``, ``summary.csv``, ``results.json``,
            ``accuracy_by_reader.png``, ``report.html`` and ``report.md``.
        confidence: coverage of every interval.

    Returns:
        dict of the written paths (``answers_csv``, ``summary_csv``, ``results_json``, ``figure``,
        ``html``, ``markdown``) and ``results`` (the dict written to ``results.json``).

    Raises:
        FileNotFoundError: if ``db_path`` does not exist.
        ValueError: if it is not a study database.
    """
    from ganaug import figures
    from ganaug.report import Report

    meta, rows, readers, progress = load_study(db_path)
    results = analyse(meta, rows, readers, confidence=confidence)
    os.makedirs(out_dir, exist_ok=True)
    paths = {
        "answers_csv": os.path.join(out_dir, "answers.csv"),
        "summary_csv": os.path.join(out_dir, "summary.csv"),
        "results_json": os.path.join(out_dir, "results.json"),
        "figure": os.path.join(out_dir, "accuracy_by_reader.png"),
    }
    with open(paths["answers_csv"], "w", newline="", encoding="utf-8") as f:
        f.write(records_to_csv(answer_records(rows, meta, include_source=True)))
    header, summary = summary_rows(results, meta["tasks"])
    with open(paths["summary_csv"], "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([["" if v is None or (isinstance(v, float) and not math.isfinite(v)) else v for v in row]
                          for row in summary])
    document = {"study": meta, "progress": progress, "results": results}
    with open(paths["results_json"], "w", encoding="utf-8") as f:
        json.dump(to_jsonable(document), f, indent=2, allow_nan=False)
        f.write("\n")
    figures.save_figure(accuracy_figure(results, meta["tasks"]), paths["figure"])

    report = Report(f"Reader study: {meta['name']}",
                    subtitle=f"{os.path.basename(os.fspath(db_path))}, created {meta['created']}")
    done = sum(p["answered"] for p in progress)
    total = sum(p["total"] for p in progress)
    section = report.section("Study")
    section.bullets([
        f"{meta['num_real']} real + {meta['num_synthetic']} synthetic images, {meta['image_size'][0]}x"
        f"{meta['image_size'][1]} px, every reader reads all of them in their own seeded order (seed {meta['seed']})",
        f"tasks: {', '.join(meta['tasks'])}" + (f"; classes: {', '.join(meta['class_names'])}"
                                                 if meta.get("class_names") else ""),
        f"answers: {done} of {total} (" + ", ".join(
            "{} {}/{}".format(p["name"], p["answered"], p["total"]) for p in progress) + ")",
        f"real images from {meta['real_source']}; synthetic from {meta['synthetic_source']}",
    ])
    section = report.section("Results")
    for caption, table in headline_tables(results, meta["tasks"]):
        section.table(table, caption=caption)
    level = f"{round(confidence * 100)} %"
    section.figure(paths["figure"], caption=f"Per reader and pooled, with {level} intervals; dashed: chance (0.5).")
    section.text(
        "Pooled intervals treat every answer as independent; the same images are read by every reader, "
        "so they are narrower than they should be. Agreement uses the images every reader concerned "
        "has answered."
    )
    report.section("Files").bullets([
        "answers.csv: one row per answer (reader, image id, truth, answer, quality, label, response time)",
        "summary.csv: one row per reader and a pooled row", "results.json: every number above and more",
    ])
    written = report.write(out_dir)
    paths.update(html=written["html"], markdown=written["markdown"], results=to_jsonable(results))
    return paths
