"""Serving a reader study: Werkzeug's threaded WSGI server on loopback by default.

A study is read by a handful of experts at once (SHI-GAN: four pathologists, Falahkheirkhah et al.
Table 2; Klang & Carlberg: one technologist), so a threaded server in the lab's own machine is
enough; ``benchmarks/bench_reader_study.py`` measures it under 20 concurrent readers. It binds
``127.0.0.1`` unless told otherwise — reaching it from other machines is a deliberate choice
(``--host 0.0.0.0``, ideally behind a TLS proxy), not an accident. Request logging is off by
default because every request path carries a reader's secret.
"""

import ipaddress
import logging
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from ganaug.reader_study.app import create_app

logger = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without the per-request access log (paths hold secrets)."""

    def log_request(self, code="-", size="-"):
        pass


def is_loopback(host):
    """Returns whether ``host`` names this machine only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_study_server(db_path, *, host="127.0.0.1", port=8000, log_requests=False):
    """Returns a threaded Werkzeug server for the study (not started); ``server.port`` is the bound port.

    Args:
        db_path: the study database.
        host: the address to bind; loopback by default.
        port: the port; 0 picks a free one.
        log_requests: log every request (with its secret-bearing path) to stderr.

    Raises:
        FileNotFoundError / ValueError: if ``db_path`` is not a study database.
        OSError: if the address cannot be bound.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"`port` must be an integer in [0, 65535]. Received: port={port!r}")
    app = create_app(db_path)
    handler = WSGIRequestHandler if log_requests else _QuietHandler
    return make_server(host, port, app, threaded=True, request_handler=handler)


def base_url(server, host=None):
    """Returns ``http://host:port`` of a server from :func:`make_study_server`."""
    host = host or server.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{server.port}"


def serve(db_path, *, host="127.0.0.1", port=8000, log_requests=False, on_ready=None):
    """Serves the study until interrupted (Ctrl-C).

    Args:
        db_path: the study database.
        host: the address to bind (loopback by default; a warning is logged otherwise).
        port: the port.
        log_requests: log every request.
        on_ready: optional callable receiving the server once it listens (e.g. to print links).
    """
    if not is_loopback(host):
        logger.warning(
            "Serving the study on %s: anyone who can reach this address and has a link can answer. "
            "Put it behind TLS if it leaves this machine.", host,
        )
    server = make_study_server(db_path, host=host, port=port, log_requests=log_requests)
    if on_ready is not None:
        on_ready(server)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


class BackgroundServer:
    """A study server in a daemon thread, for tests, notebooks and benchmarks.

    Use as a context manager: ``with BackgroundServer(db) as server: requests to server.url``.
    """

    def __init__(self, db_path, *, host="127.0.0.1", port=0):
        self.server = make_study_server(db_path, host=host, port=port)
        self.url = base_url(self.server, "127.0.0.1" if host in ("0.0.0.0", "") else host)
        self.thread = threading.Thread(target=self.server.serve_forever, name="reader-study-server", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        return False
