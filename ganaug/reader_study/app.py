"""The reader-study web app: ``create_app(db_path)``, a Flask application factory.

Two blueprints sit on one study database: ``reader_views`` (the reader's page, one image at a
time, and its small JSON API) and ``admin_views`` (live progress, results, exports). This module
only wires them together and applies what every response needs:

* a body limit (``MAX_CONTENT_LENGTH``: an oversized post is refused with 413 before it is read);
* security headers: a Content-Security-Policy that allows only the app's own script, style and
  images, ``Referrer-Policy: no-referrer`` (secret links must not leak through the Referer header),
  ``nosniff``, no framing, and ``Cache-Control: no-store`` on every page, image and export;
* errors as short JSON for the API and short text pages otherwise, never a traceback.

The web layer is kept thin on purpose: sampling, storage and the statistics (kappa, Wilson
intervals) are plain modules with their own tests. The expert readings this reproduces are
Klang & Carlberg's (real vs generated blood cells) and SHI-GAN's (Falahkheirkhah et al., Table 2).
"""

import datetime
import os
import threading

import flask
from werkzeug.exceptions import HTTPException

from ganaug.reader_study import admin_views, db, reader_views, storage

MAX_BODY_BYTES = 4096
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def create_app(db_path, *, testing=False):
    """Returns the Flask app serving the study in ``db_path``.

    Args:
        db_path: a study database made by :func:`ganaug.reader_study.create_study`.
        testing: Flask's testing mode (exceptions propagate to the test client).

    Raises:
        FileNotFoundError: if ``db_path`` does not exist.
        ValueError: if it is not a study database.
    """
    db_path = os.path.abspath(os.fspath(db_path))
    storage.connect(db_path).close()  # fail now, not on the first request
    app = flask.Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        STUDY_DB=db_path,
        # One writer at a time inside this process: writers queue on a lock instead of polling
        # SQLite's busy handler, whose back-off sleeps made the slowest answers wait seconds.
        WRITE_LOCK=threading.Lock(),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        TESTING=bool(testing),
        SEND_FILE_MAX_AGE_DEFAULT=0,
    )
    app.json.sort_keys = False
    app.teardown_appcontext(db.close_db)
    app.register_blueprint(reader_views.blueprint)
    app.register_blueprint(admin_views.blueprint)
    app.add_template_filter(_utc, "utc")
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(storage.StudyError, _study_error)

    @app.get("/")
    def index():
        return flask.Response(
            "ganaug reader study: open the link you were given.\n", mimetype="text/plain"
        )

    return app


def _utc(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _security_headers(response):
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if not flask.request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _wants_json():
    return "/api/" in flask.request.path or flask.request.method != "GET"


def _error_response(status, message):
    if _wants_json():
        return flask.jsonify(error=message, status=status), status
    return flask.Response(f"{status}: {message}\n", status=status, mimetype="text/plain")


def _http_error(error):
    return _error_response(error.code or 500, error.description or error.name)


def _study_error(error):
    return _error_response(error.status, str(error))
