"""Answers per second and latency of the reader-study server under 20 concurrent readers.

Each round creates a fresh study (``--readers`` readers x ``--per-reader`` images, 64 px), starts
``ganaug reader-study serve`` on a free loopback port in its own process, and lets
``ganaug.reader_study.loadtest`` run one thread per reader: ask for the current image, post a
random answer, until every reader is done. Printed per round and as the median over rounds:
acknowledged answers/s and the p50/p95/p99 latency of the answer POSTs — and, as the machine-independent
figure, the ratio of served answers/s to the storage floor: the same answers written by
``storage.record_answer`` in one process with the same SQLite settings (WAL, synchronous=FULL), no
HTTP. Only 127.0.0.1 is contacted; every loop is bounded.

Usage::

    python benchmarks/bench_reader_study.py                    # 20 readers x 40 answers, 3 rounds
    python benchmarks/bench_reader_study.py --readers 50 --per-reader 40 --rounds 5
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_study(directory, readers, per_reader, seed):
    import cv2
    import numpy as np

    from ganaug.reader_study import create

    rng = np.random.default_rng(seed)
    for kind in ("real", "synthetic"):
        folder = os.path.join(directory, kind)
        os.makedirs(folder, exist_ok=True)
        for i in range(per_reader // 2):
            cv2.imwrite(os.path.join(folder, f"{i:04d}.png"), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    return create.create_study(
        os.path.join(directory, "bench.db"), real_dir=os.path.join(directory, "real"),
        synthetic_dir=os.path.join(directory, "synthetic"), readers=[f"r{i:03d}" for i in range(readers)],
        per_reader=per_reader, tasks="realness,quality", seed=seed, overwrite=True,
    )


def storage_floor(info, seed):
    """Answers/s of ``storage.record_answer`` alone, every reader in turn, one process."""
    import numpy as np

    from ganaug.reader_study import loadtest, storage

    connection = storage.connect(info.path)
    meta = storage.read_meta(connection)
    rng = np.random.default_rng(seed)
    readers = [(r["id"]) for r in connection.execute("SELECT id FROM readers ORDER BY id")]
    started = time.perf_counter()
    count = 0
    for reader_id in readers:
        state = storage.reader_state(connection, reader_id)
        while state["current"] is not None:
            answer = loadtest.random_answer(rng, meta["tasks"], 0)
            state = storage.record_answer(connection, reader_id, state["current"]["image_id"], meta=meta, **answer)
            count += 1
    elapsed = time.perf_counter() - started
    connection.close()
    return count / elapsed


def one_round(args, seed):
    from ganaug.reader_study import loadtest

    with tempfile.TemporaryDirectory() as directory:
        info = make_study(directory, args.readers, args.per_reader, seed)
        port = loadtest.free_port()
        server = loadtest.start_server_process(info.path, port)
        try:
            result = loadtest.simulate_readers(
                f"http://127.0.0.1:{port}", [t for _, t in info.readers], tasks=info.tasks, seed=seed,
                time_limit_s=args.time_limit,
            )
        finally:
            server.terminate()
            server.wait(10)
        expected = args.readers * args.per_reader
        if len(result.acknowledged) != expected or result.other_errors:
            raise RuntimeError(
                f"Round {seed}: {len(result.acknowledged)} of {expected} answers acknowledged, "
                f"{result.other_errors} errors"
            )
        served = result.answers_per_second()
        fresh = make_study(directory, args.readers, args.per_reader, seed)
        floor = storage_floor(fresh, seed)
    return {
        "answers_per_s": served,
        "p50_ms": result.latency_percentile(50),
        "p95_ms": result.latency_percentile(95),
        "p99_ms": result.latency_percentile(99),
        "floor_per_s": floor,
        "ratio": served / floor,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--per-reader", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds per round at most")
    args = parser.parse_args(argv)
    print(f"reader-study server: {args.readers} concurrent readers x {args.per_reader} answers, "
          f"{args.rounds} rounds, loopback, {os.cpu_count()} CPUs")
    rounds = []
    for seed in range(args.rounds):
        figures = one_round(args, seed)
        rounds.append(figures)
        print(f"  round {seed}: {figures['answers_per_s']:7.1f} answers/s   p50 {figures['p50_ms']:6.1f} ms   "
              f"p95 {figures['p95_ms']:6.1f} ms   p99 {figures['p99_ms']:6.1f} ms   "
              f"storage floor {figures['floor_per_s']:7.1f}/s   served/floor {figures['ratio']:.2f}")
    median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    print(f"median: {median['answers_per_s']:.1f} answers/s, p95 latency {median['p95_ms']:.1f} ms "
          f"(p50 {median['p50_ms']:.1f}, p99 {median['p99_ms']:.1f}); served/storage-floor ratio "
          f"{median['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
