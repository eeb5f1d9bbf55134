"""The reader's side of the study app: one image at a time behind a secret link.

Routes (``<token>`` is the reader's secret; a wrong or malformed one is a plain 404, so a link
cannot be told from a non-existent page):

* ``GET /r/<token>``: the page (HTML + ``static/reader.js``): the image, the questions of the study
  (real or synthetic; optionally a 1-5 quality score and the class from the study's list),
  progress "12 / 40", keyboard shortcuts;
* ``GET /r/<token>/api/state``: ``{"reader", "answered", "total", "done", "current"}``, where
  ``current`` is the first unanswered image in the reader's own seeded order — so reopening the
  link resumes where the reader left off;
* ``GET /r/<token>/image/<image_id>``: the PNG of an image assigned to this reader (404 otherwise);
* ``POST /r/<token>/api/answer``: JSON ``{"image_id", "realness", "quality", "label",
  "response_ms"}`` with exactly the study's fields; 200 with the new state once committed, 400 for
  a malformed or out-of-range value, 404 for an image not assigned to the reader, 409 for an image
  already answered (or not the current one), 413 for an oversized body, 415 for a non-JSON body.

A reader never sees the truth, another reader's images, or any file path. This is the blinded
reading Klang & Carlberg and SHI-GAN (Falahkheirkhah et al., Table 2) ran by hand.
"""

import functools

import flask

from ganaug.reader_study import links, storage
from ganaug.reader_study.db import get_db, get_meta

blueprint = flask.Blueprint("reader", __name__, url_prefix="/r")

CLASS_KEYS = "abcdefghijklmnopqtuvwxyz"  # every letter but r and s (the real/synthetic keys)
ANSWER_FIELDS = {"image_id", "realness", "quality", "label", "response_ms"}


def reader_required(view):
    """Resolves ``<token>`` to ``flask.g.reader`` or answers 404 (before touching the view)."""

    @functools.wraps(view)
    def wrapped(token, **kwargs):
        reader = storage.find_reader(get_db(), token) if links.is_token(token) else None
        if reader is None:
            flask.abort(404, "No such page.")
        flask.g.reader = reader
        return view(**kwargs)

    return wrapped


def _state_json():
    reader = flask.g.reader
    state = storage.reader_state(get_db(), reader["id"])
    return _state_payload(reader, state)


def _state_payload(reader, state):
    current = state["current"]
    return {
        "reader": reader["name"],
        "answered": state["answered"],
        "total": state["total"],
        "done": current is None,
        "current": None if current is None else {
            "image_id": current["image_id"],
            "position": current["position"] + 1,
        },
    }


@blueprint.get("/<token>")
@reader_required
def page():
    """The reader's page."""
    meta = get_meta()
    classes = [
        {"name": name, "key": CLASS_KEYS[i] if i < len(CLASS_KEYS) else ""}
        for i, name in enumerate(meta.get("class_names") or [])
    ]
    token = flask.request.view_args["token"]
    return flask.render_template(
        "reader.html",
        study_name=meta["name"],
        reader=flask.g.reader["name"],
        tasks=meta["tasks"],
        classes=classes,
        image_size=meta["image_size"],
        state_url=flask.url_for("reader.state", token=token),
        answer_url=flask.url_for("reader.answer", token=token),
        image_base=flask.url_for("reader.image", token=token, image_id="_")[:-1],
    )


@blueprint.get("/<token>/api/state")
@reader_required
def state():
    """The reader's progress and current image."""
    return flask.jsonify(_state_json())


@blueprint.get("/<token>/image/<image_id>")
@reader_required
def image(image_id):
    """The PNG of one of the reader's images."""
    if not links.is_token(image_id):
        flask.abort(404, "No such image for this reader.")
    with flask.current_app.config["WRITE_LOCK"]:
        png = storage.image_for_reader(get_db(), flask.g.reader["id"], image_id)
    return flask.Response(png, mimetype="image/png")


@blueprint.post("/<token>/api/answer")
@reader_required
def answer():
    """Stores the answer for the reader's current image."""
    if not flask.request.is_json:
        flask.abort(415, "Send the answer as JSON (Content-Type: application/json).")
    payload = flask.request.get_json(silent=True)
    if not isinstance(payload, dict):
        flask.abort(400, "The body must be a JSON object.")
    unknown = sorted(set(payload) - ANSWER_FIELDS)
    if unknown:
        flask.abort(400, f"Unknown field `{unknown[0]}`. Allowed: {sorted(ANSWER_FIELDS)}")
    image_id = payload.get("image_id")
    if not links.is_token(image_id):
        flask.abort(404, "No such image for this reader.")
    meta = get_meta()
    with flask.current_app.config["WRITE_LOCK"]:
        state = storage.record_answer(
            get_db(), flask.g.reader["id"], image_id, meta=meta,
            realness=payload.get("realness"), quality=payload.get("quality"), label=payload.get("label"),
            response_ms=payload.get("response_ms"),
        )
    return flask.jsonify(_state_payload(flask.g.reader, state))
