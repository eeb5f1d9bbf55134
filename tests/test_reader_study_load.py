"""Load on loopback: 20 concurrent readers x 40 answers, the server killed with -9 once and restarted.

Afterwards every acknowledged answer must be in the database exactly once (WAL, committed before
the reply). Bounded in requests and time; only 127.0.0.1 is contacted.
"""

import time

import cv2
import numpy as np

from ganaug.reader_study import create, loadtest, storage

NUM_READERS = 20
PER_READER = 40


def _make_study(tmp_path):
    rng = np.random.default_rng(0)
    for kind in ("real", "synthetic"):
        folder = tmp_path / kind
        folder.mkdir()
        for i in range(PER_READER // 2):
            cv2.imwrite(str(folder / f"{i:02d}.png"), rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    return create.create_study(
        tmp_path / "load.db", real_dir=tmp_path / "real", synthetic_dir=tmp_path / "synthetic",
        readers=[f"reader{i:02d}" for i in range(NUM_READERS)], per_reader=PER_READER, seed=0,
    )


def test_killed_server_keeps_every_acknowledged_answer_exactly_once(tmp_path):
    info = _make_study(tmp_path)
    tokens = [token for _, token in info.readers]
    port = loadtest.free_port()
    server = loadtest.start_server_process(info.path, port)
    restarted = None
    try:
        thread, result = loadtest.run_in_background(
            f"http://127.0.0.1:{port}", tokens, tasks=info.tasks, seed=0, time_limit_s=150,
        )
        deadline = time.monotonic() + 60
        while len(result.acknowledged) < NUM_READERS * PER_READER // 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        acknowledged_before_kill = len(result.acknowledged)
        server.kill()  # SIGKILL: no clean shutdown, no chance to flush anything
        server.wait()
        time.sleep(0.3)
        restarted = loadtest.start_server_process(info.path, port)
        thread.join(170)
        assert not thread.is_alive()
    finally:
        for process in (server, restarted):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(10)

    connection = storage.connect(info.path)
    try:
        stored = connection.execute(
            "SELECT r.token, s.image_id, COUNT(*) AS n FROM answers s JOIN readers r ON r.id = s.reader_id "
            "GROUP BY s.reader_id, s.image_id"
        ).fetchall()
        total = connection.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    finally:
        connection.close()
    counts = {(row["token"], row["image_id"]): row["n"] for row in stored}
    missing = [key for key in result.acknowledged if key not in counts]
    print(
        f"\nload: {NUM_READERS} readers x {PER_READER}; acknowledged {len(result.acknowledged)} "
        f"({acknowledged_before_kill} before the kill -9); stored {total}; stored but reply lost (409 on retry) "
        f"{result.conflicts}; connection errors while down {result.connection_errors}; missing {len(missing)}; "
        f"duplicates {sum(n > 1 for n in counts.values())}; finished readers {result.finished}; "
        f"{result.answers_per_second():.0f} answers/s, p95 {result.latency_percentile(95):.1f} ms"
    )
    assert 0 < acknowledged_before_kill < NUM_READERS * PER_READER
    assert result.connection_errors > 0  # the kill really hit the run
    assert not missing
    assert all(n == 1 for n in counts.values())
    assert len(set(result.acknowledged)) == len(result.acknowledged)
    assert result.finished == NUM_READERS and total == NUM_READERS * PER_READER
    assert len(result.acknowledged) + result.conflicts >= total - NUM_READERS  # at most one lost reply each
    assert result.other_errors == 0
