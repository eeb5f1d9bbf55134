"""Simulated readers for a served study: concurrent, seeded, on loopback only.

Before a real study (SHI-GAN's four pathologists, Falahkheirkhah et al. Table 2; Klang &
Carlberg's technologist) a lab wants to know that the server keeps every answer. This module runs
one thread per reader against a live server: each asks for its current image, posts a random valid
answer and records whether the server acknowledged it (200), refused it as already answered (409:
an earlier post was stored but its reply was lost) or could not be reached (the server was down:
wait and retry). The tests kill the server with ``-9`` in the middle and check that every
acknowledged answer is in the database exactly once; ``benchmarks/bench_reader_study.py`` prints
answers/s and latency percentiles. Requests go only to loopback addresses, and every loop is
bounded in count and time.
"""

import dataclasses
import http.client
import json
import threading
import time
import urllib.parse

import numpy as np


@dataclasses.dataclass
class LoadResult:
    """What :func:`simulate_readers` saw.

    Attributes:
        acknowledged: ``(token, image_id)`` of every answer the server acknowledged with 200.
        latencies_ms: the time of every acknowledged POST, in milliseconds.
        conflicts: POSTs refused with 409 (the answer was stored by an earlier, unacknowledged POST).
        connection_errors: requests that found no server (refused, reset, timed out).
        other_errors: unexpected statuses.
        finished: readers that reached the end of their study.
        elapsed_s: wall time.
    """

    acknowledged: list
    latencies_ms: list
    conflicts: int
    connection_errors: int
    other_errors: int
    finished: int
    elapsed_s: float

    def answers_per_second(self):
        """Acknowledged answers per second of wall time."""
        return len(self.acknowledged) / self.elapsed_s if self.elapsed_s > 0 else float("nan")

    def latency_percentile(self, q):
        """The ``q``-th percentile (0-100) of the acknowledged POSTs' latency, in ms."""
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")


def _loopback_address(base_url):
    from ganaug.reader_study.server import is_loopback

    parsed = urllib.parse.urlsplit(base_url)
    if parsed.scheme != "http" or not parsed.hostname or not is_loopback(parsed.hostname):
        raise ValueError(
            f"`base_url` must be an http:// URL on a loopback address (127.0.0.0/8, ::1, localhost). "
            f"Received: base_url={base_url!r}"
        )
    return parsed.hostname, parsed.port or 80


def _request(host, port, method, path, body=None, timeout=10.0):
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def random_answer(rng, tasks, num_classes):
    """Returns a valid random answer for a study with these tasks (the fields ``image_id`` aside)."""
    answer = {"response_ms": int(rng.integers(200, 5000))}
    if "realness" in tasks:
        answer["realness"] = "real" if rng.random() < 0.5 else "synthetic"
    if "quality" in tasks:
        answer["quality"] = int(rng.integers(1, 6))
    if "label" in tasks:
        answer["label"] = int(rng.integers(0, num_classes))
    return answer


def simulate_readers(base_url, tokens, *, tasks=("realness",), num_classes=0, seed=0, time_limit_s=120.0,
                     retry_delay_s=0.05, max_requests_per_reader=2000, stop=None, result=None):
    """Runs one thread per reader token until every reader has finished (or the time limit).

    Args:
        base_url: the server, e.g. ``"http://127.0.0.1:8000"`` (loopback only).
        tokens: the readers' secrets.
        tasks: the study's tasks (what an answer must contain).
        num_classes: the study's number of classes (for the label task).
        seed: seeds the answers (reader ``i`` uses ``[seed, i]``).
        time_limit_s: stop after this long, finished or not.
        retry_delay_s: pause after a connection error before retrying.
        max_requests_per_reader: a bound on each reader's requests.
        stop: optional ``threading.Event`` that stops every reader early.
        result: optional :class:`LoadResult` to fill while running (to watch progress live).

    Returns:
        A :class:`LoadResult`.

    Raises:
        ValueError: if ``base_url`` is not a loopback http URL.
    """
    host, port = _loopback_address(base_url)
    prefix = urllib.parse.urlsplit(base_url).path.rstrip("/")
    deadline = time.monotonic() + float(time_limit_s)
    stop = stop or threading.Event()
    lock = threading.Lock()
    result = result if result is not None else new_result()

    def reader(index, token):
        rng = np.random.default_rng([seed, index])
        base = f"{prefix}/r/{token}"
        for _ in range(max_requests_per_reader):
            if stop.is_set() or time.monotonic() > deadline:
                return
            try:
                status, body = _request(host, port, "GET", f"{base}/api/state")
                if status != 200:
                    with lock:
                        result.other_errors += 1
                    time.sleep(retry_delay_s)
                    continue
                state = json.loads(body)
                if state["done"]:
                    with lock:
                        result.finished += 1
                    return
                image_id = state["current"]["image_id"]
                answer = {"image_id": image_id, **random_answer(rng, tasks, num_classes)}
                started = time.perf_counter()
                status, body = _request(host, port, "POST", f"{base}/api/answer", answer)
                latency = (time.perf_counter() - started) * 1000
            except (OSError, http.client.HTTPException, ValueError):
                with lock:
                    result.connection_errors += 1
                time.sleep(retry_delay_s)
                continue
            with lock:
                if status == 200:
                    result.acknowledged.append((token, image_id))
                    result.latencies_ms.append(latency)
                elif status == 409:
                    result.conflicts += 1
                else:
                    result.other_errors += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=reader, args=(i, t), daemon=True) for i, t in enumerate(tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + 15)
    result.elapsed_s = time.perf_counter() - started
    return result


def new_result():
    """Returns an empty :class:`LoadResult`."""
    return LoadResult([], [], 0, 0, 0, 0, 0.0)


def run_in_background(*args, **kwargs):
    """Starts :func:`simulate_readers` in a thread; returns ``(thread, result)``, ``result`` filled live."""
    result = new_result()
    thread = threading.Thread(target=simulate_readers, args=args, kwargs={**kwargs, "result": result}, daemon=True)
    thread.start()
    return thread, result


def free_port():
    """Returns a TCP port on 127.0.0.1 that was free a moment ago."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server_process(db_path, port, *, timeout_s=60.0):
    """Starts ``ganaug reader-study serve`` on 127.0.0.1:port in a child process; returns it once it answers.

    The child is this Python running ``-m ganaug.cli``, so it is the command a lab runs.

    Raises:
        RuntimeError: if the server does not answer within ``timeout_s`` (the child is killed).
    """
    import subprocess
    import sys
    import tempfile

    errors = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", "ganaug.cli", "reader-study", "serve", str(db_path), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=errors, stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            errors.seek(0)
            raise RuntimeError(f"The study server exited with {process.returncode}: {errors.read().decode()[-2000:]}")
        try:
            if _request("127.0.0.1", port, "GET", "/", timeout=1.0)[0] == 200:
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    process.wait()
    raise RuntimeError(f"The study server did not answer on port {port} within {timeout_s} s")
