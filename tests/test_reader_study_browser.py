"""The reader page in a real headless browser: Debian's chromium driven by playwright.

Two readers take a study by keyboard alone; one leaves halfway and resumes from a fresh browser
context. Skipped, with the reason, where chromium or playwright is missing — except under CI
(``CI`` set), where the browser test must run and fails instead. ``READER_STUDY_SCREENSHOT=path.png``
keeps a screenshot of the reader page.
"""

import csv
import io
import os

import cv2
import pytest

from data_readers.synthetic import render_blood_cell
from ganaug.reader_study import create, storage
from ganaug.reader_study.server import BackgroundServer

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
CLASSES = ("lymphocyte", "neutrophil")


def _require_browser():
    reason = None
    if not os.path.exists(CHROMIUM):
        reason = f"{CHROMIUM} is missing (install Debian's chromium: apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is missing (pip install -e '.[test]')"
    if reason and os.environ.get("CI"):
        pytest.fail(f"CI must run the browser test, but {reason}")
    if reason:
        pytest.skip(reason)


@pytest.fixture
def study(tmp_path):
    for kind, first_seed in (("real", 0), ("synthetic", 100)):
        for class_name in CLASSES:
            folder = tmp_path / kind / class_name
            folder.mkdir(parents=True)
            for i in range(3):
                pixels = render_blood_cell(class_name, image_size=64, seed=first_seed + i)
                cv2.imwrite(str(folder / f"{i}.png"), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
    return create.create_study(
        tmp_path / "study.db", real_dir=tmp_path / "real", synthetic_dir=tmp_path / "synthetic",
        readers=["Ada", "Ben"], per_reader=6, tasks="realness,quality,label", seed=0, name="Blood cells",
    )


def _answer_by_keys(page, expect, keys, answered_before, total):
    for offset, key in enumerate(keys):
        page.wait_for_selector("#image:not(.loading)")
        page.keyboard.press(key)      # real or synthetic
        page.keyboard.press("4")      # quality
        page.keyboard.press("b")      # class 'neutrophil' (keys a, b, ... in class order)
        page.keyboard.press("Enter")
        expect(page.locator("#progress")).to_have_text(f"{answered_before + offset + 1} / {total}")


def test_two_readers_complete_a_study_by_keyboard_one_resuming(study, tmp_path):
    _require_browser()
    from playwright.sync_api import expect, sync_playwright

    tokens = dict(study.readers)
    with BackgroundServer(study.path) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            # Ada: all six images, alternating R and S.
            page = browser.new_context(viewport={"width": 1100, "height": 760}).new_page()
            page.goto(f"{server.url}/r/{tokens['Ada']}")
            expect(page.locator("#progress")).to_have_text("0 / 6")
            expect(page.locator("text=Reader:")).to_contain_text("Ada")
            page.wait_for_selector("#image:not(.loading)")
            page.keyboard.press("s")
            page.keyboard.press("2")
            expect(page.locator("#submit")).to_be_disabled()  # the class is still missing
            page.keyboard.press("a")
            expect(page.locator("#submit")).to_be_enabled()
            expect(page.locator("button[data-field=realness][data-value=synthetic]")).to_have_attribute(
                "aria-pressed", "true")
            screenshot = os.environ.get("READER_STUDY_SCREENSHOT") or str(tmp_path / "reader_page.png")
            page.screenshot(path=screenshot)
            page.keyboard.press("Enter")
            expect(page.locator("#progress")).to_have_text("1 / 6")
            _answer_by_keys(page, expect, ["r", "s", "r", "s", "r"], 1, 6)
            expect(page.locator("#done")).to_be_visible()
            expect(page.locator("#done")).to_contain_text("All images answered")

            # Ben: three images, leaves (the context is closed), comes back in a fresh one.
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{server.url}/r/{tokens['Ben']}")
            _answer_by_keys(page, expect, ["s", "s", "s"], 0, 6)
            context.close()
            page = browser.new_context().new_page()
            page.goto(f"{server.url}/r/{tokens['Ben']}")
            expect(page.locator("#progress")).to_have_text("3 / 6")
            _answer_by_keys(page, expect, ["r", "r", "r"], 3, 6)
            expect(page.locator("#done")).to_be_visible()

            # A wrong link shows nothing; the admin page shows both readers done.
            assert page.goto(f"{server.url}/r/{tokens['Ben'][:-2]}xx").status == 404
            page.goto(f"{server.url}/admin/{study.admin_token}")
            expect(page.locator("#progress-table")).to_contain_text("6 / 6")
            assert page.locator("#progress-table td.count").all_inner_texts() == ["6 / 6", "6 / 6"]
            exported = page.request.get(f"{server.url}/admin/{study.admin_token}/answers.csv").text()
            results = page.request.get(f"{server.url}/admin/{study.admin_token}/results.json").json()["results"]
        finally:
            browser.close()

    connection = storage.connect(study.path)
    rows = storage.answer_rows(connection)
    connection.close()
    by_reader = {name: [r for r in rows if r["reader"] == name] for name in ("Ada", "Ben")}
    assert [r["realness"] for r in by_reader["Ada"]] == ["synthetic", "real", "synthetic", "real", "synthetic", "real"]
    assert [r["quality"] for r in by_reader["Ada"]] == [2, 4, 4, 4, 4, 4]
    assert [r["label"] for r in by_reader["Ada"]] == [0, 1, 1, 1, 1, 1]
    assert [r["realness"] for r in by_reader["Ben"]] == ["synthetic"] * 3 + ["real"] * 3
    assert all(r["response_ms"] > 0 and r["server_ms"] is not None for r in rows)
    assert os.path.getsize(screenshot) > 10_000
    # The exported CSV is the answers, and the analysis is what counting them by hand gives.
    exported = list(csv.DictReader(io.StringIO(exported)))
    assert [(r["reader"], r["answer"], r["truth"]) for r in exported] == [
        (r["reader"], r["realness"], r["truth"]) for r in rows
    ]
    for name in ("Ada", "Ben"):
        mine = by_reader[name]
        correct = sum(r["realness"] == r["truth"] for r in mine)
        synthetic = [r for r in mine if r["truth"] == "synthetic"]
        called = sum(r["realness"] == "synthetic" for r in synthetic)
        entry = results["realness"]["per_reader"][name]
        assert entry["accuracy"]["value"] == pytest.approx(correct / 6)
        assert entry["sensitivity"]["value"] == pytest.approx(called / len(synthetic))
