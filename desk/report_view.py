"""A finished report as HTML for the run page, from the export's document tree
(export/document.py): the same parse the HTML/PDF/DOCX exports render.

What the export does not have: every citation carries the evidence the product checked it
against — each cited passage's kept text and where it is (page, section, file or URL) — in a
tooltip shown on hover and on keyboard focus (CSS only: it works without script); the Research
notes collapse; each source links to its document (a corpus file through the desk, or the URL).
Every string is escaped (markupsafe); links are only `#source-n`, desk paths and http(s) URLs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from markupsafe import Markup, escape

from export.document import (
    Block,
    Document,
    Heading,
    Run,
    SourceEntry,
    build_document,
    plain_text,
    web_url,
)
from export.html import HtmlBody
from workflows.citing.citations import document_key, short_part
from workflows.results import ResearchReport

EVIDENCE_SHOWN_CHARS = 700
NOTES_HEADING = "research notes"


@dataclass(frozen=True)
class Passage:
    """One cited passage of a source: what the citation was checked against, and where."""

    text: str
    anchor: str  # where in the document: section, page, slide
    location: str  # the document: a corpus file or a URL
    link: str | None


def evidence_by_number(report: ResearchReport) -> dict[int, list[Passage]]:
    out: dict[int, list[Passage]] = {}
    for numbered in report.sources:
        source = numbered.source
        text = " ".join((source.evidence or source.quote).split())
        if len(text) > EVIDENCE_SHOWN_CHARS:
            text = text[:EVIDENCE_SHOWN_CHARS].rsplit(" ", 1)[0] + " …"
        passage = Passage(
            text=text,
            anchor=" ".join(source.anchor.split()),
            location=" ".join(document_key(source).split()),
            link=web_url(document_key(source)),
        )
        out.setdefault(numbered.number, []).append(passage)
    return out


def passages_cited(marker: str, passages: list[Passage]) -> list[Passage]:
    """The passages a marker points at: `[3, p. 2]` names the part of source 3 it relies on
    (workflows/citing/citations.py short_part); `[3]`, or a part no passage matches, means them
    all."""
    _, _, part = marker.strip("[]").partition(", ")
    if not part:
        return passages
    return [p for p in passages if short_part(p.anchor) == part] or passages


class _Renderer(HtmlBody):
    """The export's HTML body, with citations that open their evidence."""

    def __init__(self, evidence: dict[int, list[Passage]]) -> None:
        self.evidence = evidence
        self.ids = itertools.count(1)

    def citation(self, run: Run) -> str:
        number = run.citation
        assert number is not None
        passages = self.evidence.get(number, [])
        passages = passages_cited(run.text, passages)
        tip = f"ev-{next(self.ids)}"
        items = "".join(
            f'<span class="passage"><q>{escape(p.text) or "(no text kept)"}</q>'
            f'<span class="where">{escape(p.anchor or p.location)}'
            f"{escape(' — ' + p.location) if p.anchor and p.location else ''}</span></span>"
            for p in passages
        )
        return (
            f'<span class="cite"><a class="citation" href="#source-{number}" '
            f'aria-describedby="{tip}">{escape(run.text)}</a>'
            f'<span class="evidence" role="tooltip" id="{tip}">'
            f'<span class="evidence-title">Evidence checked for [{number}]</span>'
            f"{items}</span></span>"
        )

    def cell_attributes(self, align: str) -> str:
        return f' class="align-{align}"'  # the desk's CSP allows no inline style

    def table_frame(self, table_html: str) -> str:
        return f'<div class="table-wrap">{table_html}</div>'

    def blocks(self, blocks: list[Block]) -> str:
        """Blocks in order; the Research notes (a level-2 heading and what follows it up to
        the next such heading) collapse into a <details>."""
        out: list[str] = []
        notes: list[str] | None = None
        for block in blocks:
            is_heading = isinstance(block, Heading) and block.level <= 2
            if is_heading and notes is not None:
                out.append(_details(notes))
                notes = None
            if is_heading and plain_text(block.runs).lower() == NOTES_HEADING:  # type: ignore[union-attr]
                notes = [f"<summary>{self.runs(block.runs)}</summary>"]  # type: ignore[union-attr]
                continue
            (notes if notes is not None else out).append(self.block(block))
        if notes is not None:
            out.append(_details(notes))
        return "\n".join(out)


def _details(parts: list[str]) -> str:
    return '<details class="notes">\n' + "\n".join(parts) + "\n</details>"


def _source(entry: SourceEntry, workflow_path: str, local: bool) -> str:
    location = escape(entry.location)
    if entry.link:
        location = Markup(
            f'<a href="{escape(entry.link)}" rel="noopener noreferrer">{location}</a>'
        )
    elif local:
        location = Markup(
            f'<a href="{escape(workflow_path)}/sources/{entry.number}/document">{location}</a>'
        )
    parts = f"; cited: {escape('; '.join(entry.parts))}" if entry.parts else ""
    return (
        f'<li id="source-{entry.number}" value="{entry.number}">{escape(entry.title)} — '
        f'<span class="location">{location}</span>{parts}</li>'
    )


def render_report(
    report: ResearchReport, workflow_path: str, local_numbers: set[int]
) -> tuple[Document, Markup]:
    """The report's body and Sources list as safe HTML. `workflow_path`: the run page's path
    (already URL-quoted); `local_numbers`: the sources the desk can open from the corpus."""
    document = build_document(report)
    body = _Renderer(evidence_by_number(report)).blocks(document.blocks)
    if document.sources:
        items = "\n".join(
            _source(s, workflow_path, s.number in local_numbers) for s in document.sources
        )
        sources = f'<ol class="sources">\n{items}\n</ol>'
    else:
        sources = "<p>No source was cited.</p>"
    html = f'{body}\n<h2 id="sources">Sources</h2>\n{sources}'
    return document, Markup(html)
