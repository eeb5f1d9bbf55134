"""The run report: self-contained HTML, Markdown with relative figure links, tables."""

import base64
import os

import numpy as np
import pytest

from ganaug import figures
from ganaug.report import Report, markdown_table_to_html


def test_report_embeds_figures_and_renders_tables(tmp_path):
    picture = figures.save_image_grid(tmp_path / "figs" / "grid.png", np.zeros((4, 8, 8, 3), np.float32))
    report = Report("Demo", subtitle="ganaug demo --out x")
    report.section("Data").text("Some <b>text</b> & more.").bullets(["one", "two"]).figure(picture, caption="A grid")
    report.section("Numbers").table("| arm | F1 |\n|---|---|\n| baseline | 0.9 |", caption="Headline").code("a = 1")
    paths = report.write(tmp_path / "out")
    page = open(paths["html"]).read()
    with open(picture, "rb") as f:
        assert base64.b64encode(f.read()).decode() in page
    assert "Some &lt;b&gt;text&lt;/b&gt; &amp; more." in page
    assert "<th>arm</th>" in page and "<td>baseline</td>" in page and "<caption>Headline</caption>" in page
    markdown = open(paths["markdown"]).read()
    assert "](../figs/grid.png)" in markdown
    assert "| baseline | 0.9 |" in markdown
    assert os.path.exists(os.path.join(tmp_path / "out", "../figs/grid.png"))


def test_report_rejects_missing_figures_and_bad_tables(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        Report("x").section("s").figure(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="pipe table"):
        markdown_table_to_html("not a table")
