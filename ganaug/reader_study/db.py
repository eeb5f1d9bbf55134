"""One SQLite connection per web request (the shape of Flask's ``flaskr`` tutorial ``db.py``).

The connection is opened on first use inside a request, kept on ``flask.g`` and closed when the
request ends, so the threaded server never shares a connection between threads. The study's
settings are read once per request with it. Part of the reader-study app that reproduces the expert
readings of Klang & Carlberg and of SHI-GAN (Falahkheirkhah et al., Table 2).
"""

import flask

from ganaug.reader_study import storage


def get_db():
    """Returns this request's connection to the study database (opened on first use)."""
    if "db" not in flask.g:
        flask.g.db = storage.connect(flask.current_app.config["STUDY_DB"])
    return flask.g.db


def get_meta():
    """Returns the study settings, read once per request."""
    if "meta" not in flask.g:
        flask.g.meta = storage.read_meta(get_db())
    return flask.g.meta


def close_db(error=None):
    """Closes this request's connection, if one was opened (registered as a teardown)."""
    connection = flask.g.pop("db", None)
    if connection is not None:
        connection.close()
