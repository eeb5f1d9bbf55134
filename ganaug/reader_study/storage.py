"""The SQLite storage of a reader study: one file holds the images, the readers and every answer.

A study is a single ``STUDY.db`` a lab can copy, archive and analyse without the server. Tables:

* ``meta``: the study's settings as JSON values (tasks, class names, image size, seed, admin token);
* ``images``: the re-encoded PNG of every image under an opaque random id, its truth
  (``real``/``synthetic``), its true class if known, and where it came from (``source`` never
  leaves the server: no file path reaches a browser);
* ``readers``: name and secret link token;
* ``assignments``: which images each reader reads and in which (seeded, per-reader) position;
* ``answers``: at most one per (reader, image) — the primary key refuses a second one — with the
  real/synthetic call, the 1-5 quality score and the class given, the response time measured in
  the browser and the server's own time since the image was first sent.

Durability: the database is in WAL mode with ``synchronous=FULL``, and an answer's transaction
(``BEGIN IMMEDIATE`` … ``COMMIT``) has finished before the web app acknowledges it, so a server killed
with ``-9`` loses nothing it acknowledged. Secrets are compared with ``hmac.compare_digest`` against
every reader's token, so the time taken does not depend on which one (if any) matched.

The design follows the studies it reproduces: Klang & Carlberg's technologist sorting real from
generated blood cells, and the four pathologists of SHI-GAN (Falahkheirkhah et al., Table 2) who
rated 160 real + 160 synthetic images for realness, quality and Gleason grade.
"""

import hmac
import json
import os
import sqlite3
import time

SCHEMA_VERSION = 1
TASKS = ("realness", "quality", "label")
TRUTHS = ("real", "synthetic")
QUALITY_SCORES = (1, 2, 3, 4, 5)
MAX_RESPONSE_MS = 24 * 3600 * 1000

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE images (
    id TEXT PRIMARY KEY,
    truth TEXT NOT NULL CHECK (truth IN ('real', 'synthetic')),
    label INTEGER,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    png BLOB NOT NULL
);
CREATE TABLE readers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    token TEXT NOT NULL UNIQUE
);
CREATE TABLE assignments (
    reader_id INTEGER NOT NULL REFERENCES readers(id),
    image_id TEXT NOT NULL REFERENCES images(id),
    position INTEGER NOT NULL,
    first_shown_at REAL,
    PRIMARY KEY (reader_id, image_id),
    UNIQUE (reader_id, position)
);
CREATE TABLE answers (
    reader_id INTEGER NOT NULL,
    image_id TEXT NOT NULL,
    realness TEXT CHECK (realness IS NULL OR realness IN ('real', 'synthetic')),
    quality INTEGER CHECK (quality IS NULL OR quality BETWEEN 1 AND 5),
    label INTEGER,
    response_ms INTEGER NOT NULL CHECK (response_ms >= 0),
    server_ms INTEGER,
    answered_at REAL NOT NULL,
    PRIMARY KEY (reader_id, image_id),
    FOREIGN KEY (reader_id, image_id) REFERENCES assignments(reader_id, image_id)
);
"""


class StudyError(Exception):
    """A refused request; ``status`` is the HTTP status the web app answers with."""

    status = 400


class BadAnswer(StudyError):
    """An answer with a missing or out-of-range value (HTTP 400)."""

    status = 400


class NotFound(StudyError):
    """An image that does not exist or is not assigned to this reader (HTTP 404)."""

    status = 404


class Conflict(StudyError):
    """An image answered already, or not the reader's current image (HTTP 409)."""

    status = 409


def connect(path, *, create=False):
    """Opens a study database and returns the ``sqlite3.Connection`` (autocommit, WAL).

    Args:
        path: the ``.db`` file.
        create: create a new, empty file (which must not exist) and its schema.

    Raises:
        FileNotFoundError: if ``create`` is False and the file does not exist.
        FileExistsError: if ``create`` is True and the file exists.
        ValueError: if the file is not a ganaug reader study.
    """
    path = os.fspath(path)
    if create and os.path.exists(path):
        raise FileExistsError(f"Study database already exists: {path}")
    if not create and not os.path.isfile(path):
        raise FileNotFoundError(f"Study database not found: {path}")
    connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA busy_timeout = 30000")
    connection.execute("PRAGMA foreign_keys = ON")
    connection.execute("PRAGMA synchronous = FULL")
    if create:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.executescript(_SCHEMA)
        return connection
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError:
        row = None
    if row is None:
        connection.close()
        raise ValueError(f"Not a ganaug reader study database: {path}")
    return connection


def write_study(connection, *, meta, images, readers, assignments):
    """Writes a whole new study in one transaction.

    Args:
        connection: from ``connect(path, create=True)``.
        meta: dict of settings (JSON-serialisable values); ``schema_version`` is added.
        images: dicts with ``id``, ``truth``, ``label`` (int or None), ``source``, ``sha256``, ``png``.
        readers: dicts with ``name`` and ``token``, in reader order.
        assignments: one list of image ids per reader (same order as ``readers``), in reading order.
    """
    meta = {**meta, "schema_version": SCHEMA_VERSION}
    with _transaction(connection):
        connection.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [(key, json.dumps(value)) for key, value in meta.items()],
        )
        connection.executemany(
            "INSERT INTO images (id, truth, label, source, sha256, png) VALUES (?, ?, ?, ?, ?, ?)",
            [(i["id"], i["truth"], i["label"], i["source"], i["sha256"], i["png"]) for i in images],
        )
        for reader, image_ids in zip(readers, assignments):
            cursor = connection.execute(
                "INSERT INTO readers (name, token) VALUES (?, ?)", (reader["name"], reader["token"])
            )
            connection.executemany(
                "INSERT INTO assignments (reader_id, image_id, position) VALUES (?, ?, ?)",
                [(cursor.lastrowid, image_id, position) for position, image_id in enumerate(image_ids)],
            )


def read_meta(connection):
    """Returns the study's settings as a dict."""
    return {row["key"]: json.loads(row["value"]) for row in connection.execute("SELECT key, value FROM meta")}


def find_reader(connection, token):
    """Returns ``{"id", "name"}`` of the reader whose secret is ``token``, or None.

    Every reader's token is compared (constant-time per comparison, no early exit), so the time
    taken does not reveal whether or which token matched.
    """
    if not isinstance(token, str):
        return None
    given = token.encode("utf-8", "replace")
    found = None
    for row in connection.execute("SELECT id, name, token FROM readers"):
        if hmac.compare_digest(given, row["token"].encode("utf-8")):
            found = {"id": row["id"], "name": row["name"]}
    return found


def is_admin(connection, token):
    """Returns whether ``token`` is the study's admin secret (constant-time comparison)."""
    if not isinstance(token, str):
        return False
    secret = read_meta(connection)["admin_token"]
    return hmac.compare_digest(token.encode("utf-8", "replace"), secret.encode("utf-8"))


def reader_links(connection):
    """Returns ``[(name, token), ...]`` in reader order (for the admin, never a reader)."""
    return [(r["name"], r["token"]) for r in connection.execute("SELECT name, token FROM readers ORDER BY id")]


def reader_state(connection, reader_id):
    """Returns a reader's progress and current image.

    Returns:
        dict with ``total``, ``answered`` and ``current``: ``{"image_id", "position"}`` of the first
        unanswered image in the reader's order, or None when the reader has finished.
    """
    total = connection.execute(
        "SELECT COUNT(*) FROM assignments WHERE reader_id = ?", (reader_id,)
    ).fetchone()[0]
    answered = connection.execute(
        "SELECT COUNT(*) FROM answers WHERE reader_id = ?", (reader_id,)
    ).fetchone()[0]
    return {"total": total, "answered": answered, "current": _current(connection, reader_id)}


def _current(connection, reader_id):
    row = connection.execute(
        "SELECT a.image_id, a.position FROM assignments a LEFT JOIN answers s "
        "ON s.reader_id = a.reader_id AND s.image_id = a.image_id "
        "WHERE a.reader_id = ? AND s.image_id IS NULL ORDER BY a.position LIMIT 1",
        (reader_id,),
    ).fetchone()
    return None if row is None else {"image_id": row["image_id"], "position": row["position"]}


def image_for_reader(connection, reader_id, image_id):
    """Returns the PNG bytes of an image assigned to the reader, noting when it was first sent.

    Raises:
        NotFound: if the image does not exist or is not assigned to this reader.
    """
    row = connection.execute(
        "SELECT i.png FROM assignments a JOIN images i ON i.id = a.image_id "
        "WHERE a.reader_id = ? AND a.image_id = ?",
        (reader_id, image_id),
    ).fetchone()
    if row is None:
        raise NotFound("No such image for this reader.")
    connection.execute(
        "UPDATE assignments SET first_shown_at = ? "
        "WHERE reader_id = ? AND image_id = ? AND first_shown_at IS NULL",
        (time.time(), reader_id, image_id),
    )
    return bytes(row["png"])


def validate_answer(meta, *, realness=None, quality=None, label=None, response_ms=None):
    """Checks an answer against the study's tasks and returns it as a dict of clean values.

    Every task of the study needs its value and no other value is accepted: ``realness`` in
    ``("real", "synthetic")``, ``quality`` an int 1-5, ``label`` a class index of the study's class
    list; ``response_ms`` an int in [0, 24 h].

    Raises:
        BadAnswer: naming the field and the value received.
    """
    tasks = meta["tasks"]
    values = {"realness": realness, "quality": quality, "label": label}
    for task, value in values.items():
        if task in tasks and value is None:
            raise BadAnswer(f"This study asks for `{task}`. Received: {task}=None")
        if task not in tasks and value is not None:
            raise BadAnswer(f"This study does not ask for `{task}`. Received: {task}={value!r}")
    if realness is not None and realness not in TRUTHS:
        raise BadAnswer(f"`realness` must be 'real' or 'synthetic'. Received: realness={realness!r}")
    if quality is not None and (not _is_int(quality) or quality not in QUALITY_SCORES):
        raise BadAnswer(f"`quality` must be an integer 1-5. Received: quality={quality!r}")
    num_classes = len(meta.get("class_names") or [])
    if label is not None and (not _is_int(label) or not 0 <= label < num_classes):
        raise BadAnswer(f"`label` must be a class index in [0, {num_classes}). Received: label={label!r}")
    if not _is_int(response_ms) or not 0 <= response_ms <= MAX_RESPONSE_MS:
        raise BadAnswer(
            f"`response_ms` must be an integer in [0, {MAX_RESPONSE_MS}]. Received: response_ms={response_ms!r}"
        )
    return {"realness": realness, "quality": quality, "label": label, "response_ms": int(response_ms)}


def record_answer(connection, reader_id, image_id, *, meta=None, **answer):
    """Stores a reader's answer for their current image and returns the new :func:`reader_state`.

    The checks and the insert run in one ``BEGIN IMMEDIATE`` transaction, committed before this
    returns; a refused answer writes nothing.

    Args:
        connection: an open study connection.
        reader_id: the reader (from :func:`find_reader`).
        image_id: the image answered.
        meta: the study settings (read from the database when None).
        **answer: ``realness``, ``quality``, ``label``, ``response_ms`` (see :func:`validate_answer`).

    Raises:
        BadAnswer: for a missing or out-of-range value.
        NotFound: if the image is not assigned to this reader.
        Conflict: if the image was answered already or is not the reader's current image.
    """
    meta = meta if meta is not None else read_meta(connection)
    answer = validate_answer(meta, **answer)
    with _transaction(connection):
        assigned = connection.execute(
            "SELECT first_shown_at FROM assignments WHERE reader_id = ? AND image_id = ?",
            (reader_id, image_id),
        ).fetchone()
        if assigned is None:
            raise NotFound("No such image for this reader.")
        if connection.execute(
            "SELECT 1 FROM answers WHERE reader_id = ? AND image_id = ?", (reader_id, image_id)
        ).fetchone():
            raise Conflict("This image has been answered already.")
        current = _current(connection, reader_id)
        if current is None or current["image_id"] != image_id:
            raise Conflict("This is not the current image; reload the page.")
        now = time.time()
        shown = assigned["first_shown_at"]
        server_ms = None if shown is None else max(0, int(round((now - shown) * 1000)))
        connection.execute(
            "INSERT INTO answers (reader_id, image_id, realness, quality, label, response_ms, server_ms, "
            "answered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (reader_id, image_id, answer["realness"], answer["quality"], answer["label"],
             answer["response_ms"], server_ms, now),
        )
    return reader_state(connection, reader_id)


def progress(connection):
    """Returns one dict per reader: ``name``, ``answered``, ``total``, ``last_answer_at`` (or None)."""
    rows = connection.execute(
        "SELECT r.id, r.name, "
        "(SELECT COUNT(*) FROM assignments a WHERE a.reader_id = r.id) AS total, "
        "(SELECT COUNT(*) FROM answers s WHERE s.reader_id = r.id) AS answered, "
        "(SELECT MAX(answered_at) FROM answers s WHERE s.reader_id = r.id) AS last_answer_at "
        "FROM readers r ORDER BY r.id"
    )
    return [
        {"name": r["name"], "answered": r["answered"], "total": r["total"], "last_answer_at": r["last_answer_at"]}
        for r in rows
    ]


def answer_rows(connection):
    """Returns every answer joined with its image and reader, in reader and reading order.

    Returns:
        dicts with ``reader``, ``image_id``, ``position``, ``truth``, ``truth_label`` (int or None),
        ``realness``, ``quality``, ``label``, ``response_ms``, ``server_ms``, ``answered_at`` and
        ``source`` (for local analysis only; the web app leaves it out).
    """
    rows = connection.execute(
        "SELECT r.name AS reader, s.image_id, a.position, i.truth, i.label AS truth_label, i.source, "
        "s.realness, s.quality, s.label, s.response_ms, s.server_ms, s.answered_at "
        "FROM answers s JOIN readers r ON r.id = s.reader_id "
        "JOIN images i ON i.id = s.image_id "
        "JOIN assignments a ON a.reader_id = s.reader_id AND a.image_id = s.image_id "
        "ORDER BY r.id, a.position"
    )
    return [dict(row) for row in rows]


def image_rows(connection):
    """Returns ``{"id", "truth", "label", "source", "sha256", "size"}`` for every image of the study."""
    rows = connection.execute("SELECT id, truth, label, source, sha256, LENGTH(png) AS size FROM images ORDER BY id")
    return [dict(row) for row in rows]


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class _transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on an exception) on an autocommit connection."""

    def __init__(self, connection):
        self.connection = connection

    def __enter__(self):
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.connection.execute("COMMIT")
        else:
            self.connection.execute("ROLLBACK")
        return False
