"""The report of a run: one self-contained ``report.html`` and a ``report.md`` beside it.

A report is a list of sections; each has paragraphs, Markdown pipe tables (as produced by
``ganaug.evaluation.classification.format_table``), figures (PNG files) and bullet lists. The
HTML embeds every figure as a data URI, so the single file can be mailed or archived; the Markdown
links the PNGs by relative path.
"""

import base64
import dataclasses
import datetime
import html
import os

from ganaug import __version__


@dataclasses.dataclass
class Section:
    """One section of a report: a title and an ordered list of blocks."""

    title: str
    blocks: list = dataclasses.field(default_factory=list)

    def text(self, paragraph):
        """Adds a paragraph of plain text and returns the section."""
        self.blocks.append(("text", str(paragraph)))
        return self

    def bullets(self, items):
        """Adds a bullet list and returns the section."""
        self.blocks.append(("bullets", [str(item) for item in items]))
        return self

    def table(self, markdown_table, *, caption=None):
        """Adds a Markdown pipe table (header, separator, rows) and returns the section."""
        self.blocks.append(("table", (markdown_table, caption)))
        return self

    def figure(self, path, *, caption=None, width=None):
        """Adds a PNG/GIF figure (must exist) and returns the section."""
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Figure not found: {path}")
        self.blocks.append(("figure", (os.fspath(path), caption, width)))
        return self

    def code(self, text):
        """Adds a preformatted block (configuration, commands) and returns the section."""
        self.blocks.append(("code", str(text)))
        return self


class Report:
    """A report under construction; ``write(out_dir)`` renders it.

    Args:
        title: the page title.
        subtitle: a line under the title (e.g. the command that produced the run).
    """

    def __init__(self, title, *, subtitle=None):
        self.title = title
        self.subtitle = subtitle
        self.sections = []

    def section(self, title):
        """Adds and returns a new ``Section``."""
        section = Section(title)
        self.sections.append(section)
        return section

    def write(self, out_dir, *, name="report"):
        """Writes ``<name>.html`` (self-contained) and ``<name>.md`` into ``out_dir``.

        Returns:
            dict with the paths of ``html`` and ``markdown``.
        """
        os.makedirs(out_dir, exist_ok=True)
        html_path = os.path.join(out_dir, f"{name}.html")
        markdown_path = os.path.join(out_dir, f"{name}.md")
        with open(html_path, "w", encoding="utf-8") as f:
            f.write(self.to_html())
        with open(markdown_path, "w", encoding="utf-8") as f:
            f.write(self.to_markdown(relative_to=out_dir))
        return {"html": html_path, "markdown": markdown_path}

    # ------------------------------------------------------------------------------ rendering
    def to_markdown(self, *, relative_to="."):
        """Returns the report as Markdown; figures are linked relative to ``relative_to``."""
        lines = [f"# {self.title}", ""]
        if self.subtitle:
            lines += [f"_{self.subtitle}_", ""]
        lines += [f"Generated {_now()} by ganaug {__version__}.", ""]
        for section in self.sections:
            lines += [f"## {section.title}", ""]
            for kind, value in section.blocks:
                if kind == "text":
                    lines += [value, ""]
                elif kind == "bullets":
                    lines += [f"- {item}" for item in value] + [""]
                elif kind == "table":
                    table, caption = value
                    if caption:
                        lines += [f"**{caption}**", ""]
                    lines += [table, ""]
                elif kind == "figure":
                    path, caption, _ = value
                    relative = os.path.relpath(path, relative_to)
                    lines += [f"![{caption or ''}]({relative})", ""]
                    if caption:
                        lines += [f"_{caption}_", ""]
                elif kind == "code":
                    lines += ["```", value, "```", ""]
        return "\n".join(lines)

    def to_html(self):
        """Returns the report as one HTML page with every figure embedded."""
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(self.title)}</title>",
            f"<style>{_CSS}</style></head><body>",
            f"<h1>{html.escape(self.title)}</h1>",
        ]
        if self.subtitle:
            parts.append(f'<p class="subtitle">{html.escape(self.subtitle)}</p>')
        parts.append(f'<p class="meta">Generated {_now()} by ganaug {__version__}.</p>')
        parts.append('<nav><ol>')
        for index, section in enumerate(self.sections):
            parts.append(f'<li><a href="#s{index}">{html.escape(section.title)}</a></li>')
        parts.append("</ol></nav>")
        for index, section in enumerate(self.sections):
            parts.append(f'<section id="s{index}"><h2>{html.escape(section.title)}</h2>')
            for kind, value in section.blocks:
                if kind == "text":
                    parts.append(f"<p>{html.escape(value)}</p>")
                elif kind == "bullets":
                    parts.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in value) + "</ul>")
                elif kind == "table":
                    table, caption = value
                    parts.append(markdown_table_to_html(table, caption=caption))
                elif kind == "figure":
                    path, caption, width = value
                    style = f' style="max-width:{int(width)}px"' if width else ""
                    parts.append(
                        f'<figure><img alt="{html.escape(caption or os.path.basename(path))}" '
                        f'src="{_data_uri(path)}"{style}>'
                        + (f"<figcaption>{html.escape(caption)}</figcaption>" if caption else "")
                        + "</figure>"
                    )
                elif kind == "code":
                    parts.append(f"<pre>{html.escape(value)}</pre>")
            parts.append("</section>")
        parts.append("</body></html>")
        return "\n".join(parts)


def markdown_table_to_html(table, *, caption=None):
    """Returns an HTML ``<table>`` for a Markdown pipe table (first line header, second separator).

    Raises:
        ValueError: if ``table`` is not a pipe table.
    """
    lines = [line.strip() for line in table.strip().splitlines() if line.strip()]
    if len(lines) < 2 or not lines[0].startswith("|") or set(lines[1].replace("|", "").strip()) - set("-: "):
        raise ValueError(f"`table` must be a Markdown pipe table. Received: {table[:80]!r}")

    def cells(line):
        return [html.escape(cell.strip()) for cell in line.strip("|").split("|")]

    rows = ["<tr>" + "".join(f"<th>{c}</th>" for c in cells(lines[0])) + "</tr>"]
    rows += ["<tr>" + "".join(f"<td>{c}</td>" for c in cells(line)) + "</tr>" for line in lines[2:]]
    head = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{head}{''.join(rows)}</table>"


def _data_uri(path):
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    mime = {"png": "image/png", "gif": "image/gif", "jpg": "image/jpeg", "jpeg": "image/jpeg",
            "svg": "image/svg+xml"}.get(extension, "application/octet-stream")
    with open(path, "rb") as f:
        return f"data:{mime};base64,{base64.b64encode(f.read()).decode('ascii')}"


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
.subtitle{color:#555;margin-top:0}.meta{color:#888;font-size:.85em}
nav ol{columns:2;font-size:.9em}
table{border-collapse:collapse;margin:1em 0;font-size:.88em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#f3f3f3}
caption{font-weight:bold;text-align:left;padding-bottom:.3em}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:.88em}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.85em}
"""
