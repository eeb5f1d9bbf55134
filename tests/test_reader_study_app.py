"""The reader-study web app through Flask's test client: secrets, progress, resume, refusals, admin, analysis."""

import csv
import io
import itertools
import json
import math
import os

import cv2
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from ganaug.cli import main
from ganaug.reader_study import create, links, storage
from ganaug.reader_study.app import create_app

READERS = ["A", "B", "C", "D"]


def _make_folders(root):
    rng = np.random.default_rng(1)
    for kind, size, extension in (("real", 20, "jpg"), ("synthetic", 16, "png")):
        for name in ("benign", "tumour"):
            folder = root / kind / name
            folder.mkdir(parents=True)
            for i in range(4):
                cv2.imwrite(str(folder / f"{i}.{extension}"), rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    return root / "real", root / "synthetic"


@pytest.fixture
def study(tmp_path):
    real_dir, synthetic_dir = _make_folders(tmp_path / "images")
    info = create.create_study(
        tmp_path / "study.db", real_dir=real_dir, synthetic_dir=synthetic_dir, readers=READERS, per_reader=6,
        tasks="realness,quality,label", seed=0,
    )
    app = create_app(info.path, testing=True)
    return info, app.test_client()


def _token(info, name):
    return dict(info.readers)[name]


def _truths(info):
    connection = storage.connect(info.path)
    try:
        return {r["id"]: (r["truth"], r["label"]) for r in storage.image_rows(connection)}
    finally:
        connection.close()


def _count_answers(info):
    connection = storage.connect(info.path)
    try:
        return connection.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    finally:
        connection.close()


def _answer(client, token, image_id, **fields):
    body = {"image_id": image_id, "response_ms": 1500, **fields}
    return client.post(f"/r/{token}/api/answer", json=body)


def test_secret_links_are_required(study):
    info, client = study
    assert client.get("/").status_code == 200
    wrong = links.new_reader_token()
    for path in (f"/r/{wrong}", f"/r/{wrong}/api/state", "/r/short", f"/admin/{_token(info, 'A')}",
                 f"/admin/{wrong}", "/admin/", f"/admin/{info.admin_token[:-1]}", f"/admin/{info.admin_token}x"):
        assert client.get(path).status_code == 404, path
    response = client.get(f"/r/{wrong}/api/state")
    assert response.get_json()["error"] == "No such page."
    page = client.get(f"/r/{_token(info, 'A')}")
    assert page.status_code == 200 and b"Reader: <strong>A</strong>" in page.data
    assert b"Is this image real or synthetic?" in page.data and b"tumour" in page.data
    assert client.get(f"/admin/{info.admin_token}").status_code == 200
    assert _count_answers(info) == 0


def test_progress_resume_and_one_answer_per_image(study):
    info, client = study
    token_a, token_b = _token(info, "A"), _token(info, "B")
    state = client.get(f"/r/{token_a}/api/state").get_json()
    assert set(state) == {"reader", "answered", "total", "done", "current"}
    assert (state["reader"], state["answered"], state["total"], state["done"]) == ("A", 0, 6, False)
    assert set(state["current"]) == {"image_id", "position"} and state["current"]["position"] == 1
    first = state["current"]["image_id"]
    image = client.get(f"/r/{token_a}/image/{first}")
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert image.headers["Cache-Control"] == "no-store" and "ETag" not in image.headers

    answer = dict(realness="real", quality=4, label=1)
    response = _answer(client, token_a, first, **answer)
    assert response.status_code == 200
    assert (response.get_json()["answered"], response.get_json()["current"]["position"]) == (1, 2)
    again = _answer(client, token_a, first, **answer)
    assert again.status_code == 409 and "answered already" in again.get_json()["error"]
    # Not the current image: refused, so the reader's order is kept.
    order_b = [client.get(f"/r/{token_b}/api/state").get_json()["current"]["image_id"]]
    connection = storage.connect(info.path)
    ahead = connection.execute(
        "SELECT a.image_id FROM assignments a JOIN readers r ON r.id = a.reader_id WHERE r.name = 'A' AND a.position = 4"
    ).fetchone()[0]
    connection.close()
    assert _answer(client, token_a, ahead, **answer).status_code == 409
    assert _count_answers(info) == 1

    # Leaving and coming back (a fresh client, as a new browser) resumes at image 2 of 6.
    fresh = create_app(info.path, testing=True).test_client()
    resumed = fresh.get(f"/r/{token_a}/api/state").get_json()
    assert (resumed["answered"], resumed["current"]["position"]) == (1, 2)
    for _ in range(5):
        current = fresh.get(f"/r/{token_a}/api/state").get_json()["current"]["image_id"]
        assert _answer(fresh, token_a, current, **answer).status_code == 200
    done = fresh.get(f"/r/{token_a}/api/state").get_json()
    assert done == {"reader": "A", "answered": 6, "total": 6, "done": True, "current": None}
    assert _answer(fresh, token_a, first, **answer).status_code == 409
    # Reader B's progress is their own.
    assert client.get(f"/r/{token_b}/api/state").get_json()["answered"] == 0
    assert order_b[0] in _truths(info)
    assert _count_answers(info) == 6


def test_bad_requests_are_refused_and_nothing_is_written(study):
    info, client = study
    token = _token(info, "A")
    current = client.get(f"/r/{token}/api/state").get_json()["current"]["image_id"]
    url = f"/r/{token}/api/answer"
    good = {"image_id": current, "realness": "real", "quality": 3, "label": 0, "response_ms": 900}
    cases = [
        (dict(data="realness=real", content_type="application/x-www-form-urlencoded"), 415),
        (dict(data="{not json", content_type="application/json"), 400),
        (dict(json=[good]), 400),
        (dict(json={**good, "truth": "real"}), 400),
        (dict(json={**good, "realness": "fake"}), 400),
        (dict(json={**good, "quality": 6}), 400),
        (dict(json={**good, "quality": True}), 400),
        (dict(json={**good, "quality": "4"}), 400),
        (dict(json={**good, "label": 2}), 400),
        (dict(json={k: v for k, v in good.items() if k != "quality"}), 400),
        (dict(json={**good, "response_ms": -1}), 400),
        (dict(json={**good, "response_ms": 10 ** 12}), 400),
        (dict(json={**good, "image_id": "../../etc/passwd"}), 404),
        (dict(json={**good, "image_id": links.new_image_id()}), 404),
        (dict(json={**good, "image_id": None}), 404),
        (dict(data=json.dumps({**good, "pad": "x" * 5000}), content_type="application/json"), 413),
    ]
    for kwargs, status in cases:
        response = client.post(url, **kwargs)
        assert response.status_code == status, (kwargs, response.data)
        assert "error" in response.get_json()
    assert client.get(url).status_code == 405
    for bad in ("..%2F..%2Fetc%2Fpasswd", "..", links.new_image_id(), "x" * 65):
        assert client.get(f"/r/{token}/image/{bad}").status_code == 404, bad
    assert _count_answers(info) == 0
    assert client.post(url, json=good).status_code == 200
    assert _count_answers(info) == 1


def test_reader_never_sees_truth_paths_or_size_differences(study, tmp_path):
    info, client = study
    token = _token(info, "C")
    truths = _truths(info)
    page = client.get(f"/r/{token}")
    for header in ("Content-Security-Policy", "Referrer-Policy", "X-Content-Type-Options"):
        assert header in page.headers
    assert page.headers["Referrer-Policy"] == "no-referrer"
    sizes = {}
    seen = [page.data]
    for _ in range(6):
        state = client.get(f"/r/{token}/api/state")
        image_id = state.get_json()["current"]["image_id"]
        image = client.get(f"/r/{token}/image/{image_id}")
        sizes.setdefault(truths[image_id][0], set()).add(int(image.headers["Content-Length"]))
        assert sorted(image.headers.keys()) == sorted(
            ["Content-Type", "Content-Length", "Content-Security-Policy", "Referrer-Policy",
             "X-Content-Type-Options", "X-Frame-Options", "Cross-Origin-Resource-Policy", "Cache-Control"]
        )
        response = _answer(client, token, image_id, realness="synthetic", quality=2, label=1)
        seen += [state.data, response.data]
    assert sizes["real"] == sizes["synthetic"] and len(sizes["real"]) == 1
    for body in seen:
        assert str(tmp_path).encode() not in body
        assert b'"truth"' not in body and b"source" not in body
    admin_csv = client.get(f"/admin/{info.admin_token}/answers.csv").data
    admin_page = client.get(f"/admin/{info.admin_token}").data
    admin_json = client.get(f"/admin/{info.admin_token}/results.json").data
    assert str(tmp_path).encode() not in admin_csv + admin_page + admin_json
    assert info.admin_token.encode() not in admin_json


def _policy(name, truth, label, position):
    """Scripted readers: A knows everything, B always says synthetic, C is wrong on odd positions."""
    if name == "A":
        return dict(realness=truth, quality=5 if truth == "real" else 4, label=label)
    if name == "B":
        return dict(realness="synthetic", quality=3, label=0)
    flipped = {"real": "synthetic", "synthetic": "real"}[truth]
    return dict(realness=flipped if position % 2 else truth, quality=4 if truth == "real" else 2,
                label=label if truth == "real" else 1 - label)


def _answer_as(client, info, name, limit=None):
    token, truths, posted = _token(info, name), _truths(info), {}
    while limit is None or len(posted) < limit:
        state = client.get(f"/r/{token}/api/state").get_json()
        if state["done"]:
            break
        image_id, position = state["current"]["image_id"], state["current"]["position"]
        truth, label = truths[image_id]
        answer = _policy(name, truth, label, position)
        assert _answer(client, token, image_id, **answer).status_code == 200
        posted[image_id] = answer
    return posted


def test_admin_exports_and_analysis_match_the_answers(study, tmp_path, capsys):
    info, client = study
    truths = _truths(info)
    posted = {name: _answer_as(client, info, name, limit=3 if name == "D" else None) for name in READERS}
    admin = client.get(f"/admin/{info.admin_token}")
    text = admin.data.decode()
    for name, count in (("A", 6), ("B", 6), ("C", 6), ("D", 3)):
        assert f"<td>{name}</td>\n      <td class=\"count\">{count} / 6</td>" in text
    assert "Real or synthetic?" in text and "answers.csv" in text and _token(info, "B") in text
    assert client.get(f"/admin/{info.admin_token}/api/progress").get_json()["readers"][3]["answered"] == 3
    figure = client.get(f"/admin/{info.admin_token}/figure.png")
    assert figure.status_code == 200 and figure.data.startswith(b"\x89PNG")

    # The flat CSV: one row per answer, exactly what was posted.
    rows = list(csv.DictReader(io.StringIO(client.get(f"/admin/{info.admin_token}/answers.csv").data.decode())))
    assert len(rows) == 21 and "source" not in rows[0]
    names = ["benign", "tumour"]
    for row in rows:
        answer = posted[row["reader"]][row["image_id"]]
        truth, label = truths[row["image_id"]]
        assert (row["truth"], row["answer"], int(row["quality"])) == (truth, answer["realness"], answer["quality"])
        assert (row["truth_label"], row["label"]) == (names[label], names[answer["label"]])
        assert row["correct"] == str(int(answer["realness"] == truth)) and row["response_ms"] == "1500"

    results = json.loads(client.get(f"/admin/{info.admin_token}/results.json").data)["results"]
    realness = results["realness"]["per_reader"]
    assert realness["A"]["accuracy"]["value"] == 1.0 and realness["A"]["p_value"] == pytest.approx(2 / 64)
    assert (realness["B"]["sensitivity"]["value"], realness["B"]["specificity"]["value"]) == (1.0, 0.0)
    assert realness["B"]["accuracy"]["value"] == 0.5 and realness["B"]["p_value"] == 1.0
    c_correct = sum(a["realness"] == truths[i][0] for i, a in posted["C"].items())
    assert realness["C"]["accuracy"]["value"] == pytest.approx(c_correct / 6)
    assert results["realness"]["pooled"]["n"] == 21
    quality = results["quality"]["per_reader"]["A"]
    assert (quality["real"]["mean"], quality["synthetic"]["mean"], quality["difference"]["difference"]) == (5, 4, 1)
    labels = results["label"]["per_reader"]
    assert labels["A"]["real"]["kappa_vs_truth"]["kappa"] == 1.0
    assert labels["C"]["real"]["accuracy"]["value"] == 1.0 and labels["C"]["synthetic"]["accuracy"]["value"] == 0.0

    # Cohen's kappa per pair on the images both answered, against scikit-learn.
    pairs = {tuple(p["readers"]): p for p in results["realness"]["agreement"]["cohen_pairs"]}
    assert len(pairs) == 6
    for a, b in itertools.combinations(READERS, 2):
        shared = sorted(set(posted[a]) & set(posted[b]))
        x = [posted[a][i]["realness"] for i in shared]
        y = [posted[b][i]["realness"] for i in shared]
        expected = cohen_kappa_score(x, y) if len(set(x) | set(y)) > 1 else math.nan
        got = pairs[(a, b)]["kappa"]
        assert (got is None and math.isnan(expected)) or got == pytest.approx(expected, abs=1e-12), (a, b)
    assert pairs[("A", "B")]["kappa"] == pytest.approx(0.0)  # B's constant answer agrees only by chance
    # Fleiss' kappa over all four readers on the three images D answered, from the counts by hand.
    items = sorted(posted["D"])
    counts = [[sum(posted[r][i]["realness"] == c for r in READERS) for c in ("real", "synthetic")] for i in items]
    m = 4
    p_bar = sum((sum(n * n for n in row) - m) / (m * (m - 1)) for row in counts) / len(items)
    shares = [sum(row[j] for row in counts) / (m * len(items)) for j in range(2)]
    p_e = sum(s * s for s in shares)
    fleiss = results["realness"]["agreement"]["fleiss"]
    assert fleiss["n_items"] == 3 and fleiss["kappa"] == pytest.approx((p_bar - p_e) / (1 - p_e))

    # The command line writes the same numbers, the flat CSV with sources, a figure and a report.
    out = tmp_path / "analysis"
    assert main(["reader-study", "analyse", info.path, "--out", str(out)]) == 0
    assert "Real or synthetic?" in capsys.readouterr().out
    for name in ("answers.csv", "summary.csv", "results.json", "accuracy_by_reader.png", "report.html", "report.md"):
        assert (out / name).is_file(), name
    local = list(csv.DictReader(open(out / "answers.csv")))
    assert len(local) == 21 and all(os.path.isfile(r["source"]) for r in local)
    summary = {r["reader"]: r for r in csv.DictReader(open(out / "summary.csv"))}
    assert set(summary) == {"A", "B", "C", "D", "pooled"} and float(summary["A"]["accuracy"]) == 1.0
    written = json.load(open(out / "results.json"))
    assert written["results"]["realness"]["per_reader"] == results["realness"]["per_reader"]
    assert "admin_token" not in written["study"]
    assert "Cohen" in (out / "report.md").read_text()


def test_create_app_names_a_missing_or_foreign_database(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.db"):
        create_app(tmp_path / "nope.db")
    (tmp_path / "other.db").write_bytes(b"")
    with pytest.raises(ValueError, match="Not a ganaug reader study"):
        create_app(tmp_path / "other.db")


def test_server_binds_loopback_by_default_and_load_driver_refuses_other_hosts(study):
    from ganaug.cli import build_parser
    from ganaug.reader_study import loadtest, server

    info, _ = study
    assert build_parser().parse_args(["reader-study", "serve", info.path]).host == "127.0.0.1"
    httpd = server.make_study_server(info.path, port=0)
    try:
        assert httpd.host == "127.0.0.1" and httpd.port > 0
    finally:
        httpd.server_close()
    assert server.is_loopback("127.0.0.1") and server.is_loopback("::1") and server.is_loopback("localhost")
    assert not server.is_loopback("0.0.0.0") and not server.is_loopback("192.168.1.2")
    with pytest.raises(ValueError, match="loopback"):
        loadtest.simulate_readers("http://192.168.1.2:8000", [])


@pytest.mark.parametrize("tasks", ["realness", "label", "quality,label"])
def test_analysis_of_studies_with_other_tasks(tmp_path, tasks):
    from ganaug.reader_study import analysis

    real_dir, synthetic_dir = _make_folders(tmp_path / "images")
    info = create.create_study(tmp_path / "s.db", real_dir=real_dir, synthetic_dir=synthetic_dir,
                               readers=["A", "B"], per_reader=4, tasks=tasks)
    connection = storage.connect(info.path)
    try:
        for reader_id in (1, 2):
            state = storage.reader_state(connection, reader_id)
            while state["current"] is not None:
                answer = {"response_ms": 10, "realness": "real" if "realness" in tasks else None,
                          "quality": 3 if "quality" in tasks else None, "label": 0 if "label" in tasks else None}
                state = storage.record_answer(connection, reader_id, state["current"]["image_id"], **answer)
        with pytest.raises(storage.BadAnswer, match="does not ask for `realness`" if "realness" not in tasks
                           else "asks for `realness`"):
            storage.validate_answer(storage.read_meta(connection), response_ms=1,
                                    realness=None if "realness" in tasks else "real")
    finally:
        connection.close()
    paths = analysis.write_analysis(info.path, tmp_path / "out")
    results = json.load(open(paths["results_json"]))["results"]
    assert ("realness" in results) == ("realness" in tasks) and ("label" in results) == ("label" in tasks)
    assert os.path.getsize(paths["figure"]) > 1000 and os.path.isfile(paths["html"])
