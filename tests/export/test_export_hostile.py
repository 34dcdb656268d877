"""Hostile report text against every export format, read back with the real readers.

An ESC in a claim or a corpus file name made python-docx refuse the whole document ("All
strings must be XML compatible") and the CLI then wrote no format at all; a table cell or a
quote taller than a page made ReportLab's PDF fail the same way. Each format is now made, or
reported, on its own, and text an export cannot hold is replaced by U+FFFD.
"""

from __future__ import annotations

import io
import itertools
import re

import docx
from pypdf import PdfReader

import export
from cli.export import write_exports
from export.document import REPLACEMENT
from tests.export.test_export import make_report, read_html
from workflows.results import ResearchReport

HOSTILE = "ESC\x1b[31m NUL\x00 BEL\x07 DEL\x7f CSI\x9b FFFE\ufffe lone\ud800"
BAD_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def hostile_report() -> ResearchReport:
    report = make_report()
    first = report.sources[0]
    source = first.source.model_copy(
        update={
            "title": f"title {HOSTILE}",
            "location": f"/corpus/file\x1b[2J{HOSTILE}.md",
            "document": f"/corpus/file\x1b[2J{HOSTILE}.md",
            "anchor": f"section {HOSTILE}",
        }
    )
    markdown = report.markdown.replace("## Mechanism", f"## Mechanism {HOSTILE}").replace(
        "first [1].", f"first [1]. A claim with {HOSTILE} in it."
    )
    return report.model_copy(
        update={
            "markdown": markdown,
            "question": f"How do context managers work? {HOSTILE}",
            "sources": [first.model_copy(update={"source": source}), *report.sources[1:]],
        }
    )


def test_control_characters_reach_no_format_and_lose_none() -> None:
    report = hostile_report()
    rendered = export.render_all(report, ["md", "html", "pdf", "docx"])
    failures = {name: data for name, data in rendered.items() if not isinstance(data, bytes)}
    assert not failures, failures

    markdown = rendered["md"].decode("utf-8")
    assert not BAD_CHARACTERS.search(markdown) and "A claim with ESC" in markdown

    page = read_html(rendered["html"])
    html_text = "".join(page.text)
    assert not BAD_CHARACTERS.search(html_text)
    assert f"ESC{REPLACEMENT}[31m" in html_text and "/corpus/file" in html_text

    word = docx.Document(io.BytesIO(rendered["docx"]))
    body = "\n".join(p.text for p in word.paragraphs)
    assert "A claim with ESC" in body and f"/corpus/file{REPLACEMENT}[2J" in body
    assert not BAD_CHARACTERS.search(word.element.xml)

    reader = PdfReader(io.BytesIO(rendered["pdf"]))
    pdf_text = "\n".join(p.extract_text() for p in reader.pages)
    assert "A claim with ESC" in pdf_text and "/corpus/file" in pdf_text


def test_a_format_that_cannot_be_written_costs_no_other(tmp_path, capsys) -> None:
    blocked = tmp_path / "run.docx"
    blocked.mkdir()  # appears after the check before the run: the write itself fails
    (blocked / "keep").write_text("x")
    targets = {
        "docx": blocked,
        "md": tmp_path / "run.md",
        "html": tmp_path / "run.html",
        "pdf": tmp_path / "run.pdf",
    }
    failed = write_exports(hostile_report(), targets)
    assert failed == ["docx"]
    for name in ("md", "html", "pdf"):
        assert targets[name].stat().st_size > 0, name
    out, err = capsys.readouterr()
    assert f"html: {targets['html']}" in out and f"cannot write {blocked}" in err


def test_a_table_cell_or_quote_taller_than_a_page_goes_on_over_pages_in_pdf() -> None:
    long_text = " ".join(["word"] * 20_000)
    report = make_report()
    markdown = report.markdown.replace("| `__exit__` | a flag |", f"| `__exit__` | {long_text} |")
    markdown = markdown.replace("> A quoted remark [3].", f"> {long_text}")
    data = export.render(report.model_copy(update={"markdown": markdown}), "pdf")
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) > 20
    assert "Sources" in reader.pages[-1].extract_text()


def test_docx_heading_levels_follow_the_title_without_a_gap() -> None:
    report = make_report()
    skipping = report.markdown.replace("## Protocol", "#### Protocol")
    for markdown in (report.markdown, skipping):
        data = export.render(report.model_copy(update={"markdown": markdown}), "docx")
        word = docx.Document(io.BytesIO(data))
        styles = [
            p.style.name for p in word.paragraphs if p.style.name.startswith(("Title", "Heading"))
        ]
        assert styles[0] == "Title"
        levels = [0] + [int(style.split()[-1]) for style in styles[1:]]
        assert levels[1] == 1, styles
        assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), styles
        headings = [p.text for p in word.paragraphs if p.style.name == "Heading 1"]
        assert headings == ["Mechanism", "Protocol", "Pitfalls", "Sources"] or (
            markdown is skipping and headings == ["Mechanism", "Pitfalls", "Sources"]
        )
