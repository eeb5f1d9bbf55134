"""The admin's side of the study app: live progress, results and exports behind the admin secret.

Routes (``<token>`` is the admin secret; anything else is a 404):

* ``GET /admin/<token>``: progress per reader (answered / total, last answer), each reader's link,
  the headline results (accuracy, sensitivity, specificity with Wilson intervals, binomial test,
  quality, kappas — as in SHI-GAN, Falahkheirkhah et al. Table 2, and Klang & Carlberg's expert
  reading) and the figure; it refreshes itself every 10 s;
* ``GET /admin/<token>/api/progress``: the progress as JSON;
* ``GET /admin/<token>/answers.csv``: every answer in one flat file (reader, image id, truth,
  answer, quality, label, response time, ...), analysable without stitching;
* ``GET /admin/<token>/results.json``: every statistic;
* ``GET /admin/<token>/figure.png``: per-reader accuracy with Wilson intervals.

Results are not downloadable without the secret, and no file path is sent (the local
``ganaug reader-study analyse`` output has the sources).
"""

import functools
import io
import json

import flask

from ganaug.reader_study import analysis, links, storage
from ganaug.reader_study.db import get_db, get_meta

blueprint = flask.Blueprint("admin", __name__, url_prefix="/admin")


def admin_required(view):
    """Answers 404 unless ``<token>`` is the admin secret (constant-time comparison)."""

    @functools.wraps(view)
    def wrapped(token, **kwargs):
        if not (links.is_token(token) and storage.is_admin(get_db(), token)):
            flask.abort(404, "No such page.")
        return view(**kwargs)

    return wrapped


def public_meta(meta):
    """Returns the study settings without the admin secret and without any file path."""
    hidden = ("admin_token", "real_source", "synthetic_source", "skipped")
    public = {key: value for key, value in meta.items() if key not in hidden}
    public["num_skipped"] = len(meta.get("skipped") or [])
    return public


def _results():
    connection = get_db()
    meta = public_meta(get_meta())
    rows = storage.answer_rows(connection)
    progress = storage.progress(connection)
    results = analysis.analyse(meta, rows, [p["name"] for p in progress])
    return meta, rows, progress, results


@blueprint.get("/<token>")
@admin_required
def page():
    """The admin page."""
    from ganaug.report import markdown_table_to_html

    meta, rows, progress, results = _results()
    token = flask.request.view_args["token"]
    base = flask.request.host_url.rstrip("/")
    reader_links = links.study_links(storage.reader_links(get_db()), token, base)["readers"]
    tables = [
        markdown_table_to_html(table, caption=caption)
        for caption, table in analysis.headline_tables(results, meta["tasks"])
    ]
    return flask.render_template(
        "admin.html",
        meta=meta,
        progress=progress,
        reader_links=reader_links,
        tables=tables,
        num_answers=len(rows),
        csv_url=flask.url_for("admin.answers_csv", token=token),
        json_url=flask.url_for("admin.results_json", token=token),
        figure_url=flask.url_for("admin.figure", token=token),
    )


@blueprint.get("/<token>/api/progress")
@admin_required
def progress_json():
    """Progress per reader as JSON."""
    return flask.jsonify(readers=storage.progress(get_db()))


@blueprint.get("/<token>/answers.csv")
@admin_required
def answers_csv():
    """Every answer, one row each."""
    records = analysis.answer_records(storage.answer_rows(get_db()), get_meta())
    return flask.Response(
        analysis.records_to_csv(records), mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="answers.csv"'},
    )


@blueprint.get("/<token>/results.json")
@admin_required
def results_json():
    """Every statistic, with the study settings and progress."""
    meta, _, progress, results = _results()
    document = analysis.to_jsonable({"study": meta, "progress": progress, "results": results})
    return flask.Response(
        json.dumps(document, indent=2, allow_nan=False), mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="results.json"'},
    )


@blueprint.get("/<token>/figure.png")
@admin_required
def figure():
    """Per-reader accuracy with Wilson intervals."""
    meta, _, _, results = _results()
    buffer = io.BytesIO()
    analysis.accuracy_figure(results, meta["tasks"]).savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return flask.Response(buffer.getvalue(), mimetype="image/png")
