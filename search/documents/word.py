"""DOCX (python-docx): paragraphs and tables in document order; heading styles become markdown
headings, so passages are cut at sections and cited by their heading.

python-docx opens the package (relationships, core properties, styles); the body is then walked
as XML with lxml, once. python-docx's per-paragraph API costs far more than the text it returns:
`paragraph.style` looks its id up among every style, and `paragraph.text` compiles an XPath on
each call, so a 38 KB DOCX of 20,000 one-word paragraphs took 44 s and a 311 KB one hours
(issue 26). The walk is linear in the XML.

python-docx is the maintained reader for Word's XML (lxml, already installed for trafilatura)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import docx
from docx.document import Document as WordDocument
from docx.enum.style import WD_STYLE_TYPE

from search.documents.base import Document, Section

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_P, _TBL, _TR, _TC = f"{_W}p", f"{_W}tbl", f"{_W}tr", f"{_W}tc"
_T, _TAB, _BR, _CR = f"{_W}t", f"{_W}tab", f"{_W}br", f"{_W}cr"
_SDT, _SDT_CONTENT = f"{_W}sdt", f"{_W}sdtContent"
_VAL = f"{_W}val"


def parse(data: bytes) -> Document:
    document = docx.Document(io.BytesIO(data))
    levels = _heading_levels(document)
    default_level = levels.get(None, 0)
    lines: list[str] = []
    first_heading = None
    for block in _blocks(document.element.body):
        if block.tag == _P:
            text = _text(block)
            level = levels.get(_style_id(block), default_level)
            if text and level:
                first_heading = first_heading or text
                lines.append(f"\n{'#' * level} {text}\n")
            elif text:
                lines.append(f"{text}\n")
        else:
            lines.extend(f"{row}\n" for row in _table_rows(block))
    title = (document.core_properties.title or "").strip() or first_heading
    return Document(title=title, sections=[Section("\n".join(lines))])


def _blocks(container: Any) -> Iterator[Any]:
    """The body's paragraphs and tables in order, also those inside block content controls."""
    for child in container.iterchildren():
        if child.tag in (_P, _TBL):
            yield child
        elif child.tag == _SDT:
            for content in child.iterchildren(_SDT_CONTENT):
                yield from _blocks(content)


def _text(element: Any) -> str:
    """The visible text under `element`, whitespace collapsed (tabs, breaks and the paragraphs
    of a text box inside it are separated by spaces)."""
    parts = [
        (node.text or "") if node.tag == _T else " "
        for node in element.iter(_T, _TAB, _BR, _CR, _P)
    ]
    return " ".join("".join(parts).split())


def _style_id(paragraph: Any) -> str | None:
    properties = paragraph.find(f"{_W}pPr")
    style = properties.find(f"{_W}pStyle") if properties is not None else None
    return style.get(_VAL) if style is not None else None


def _heading_levels(document: WordDocument) -> dict[str | None, int]:
    """The markdown level of each paragraph style id, read once per document (None: the default
    style, also used for an unknown id, as Word does)."""
    levels: dict[str | None, int] = {}
    for style in document.styles:
        if style.type == WD_STYLE_TYPE.PARAGRAPH and style.style_id not in levels:
            levels[style.style_id] = _heading_level(style.name or "")
    default = document.styles.default(WD_STYLE_TYPE.PARAGRAPH)
    levels[None] = _heading_level(default.name or "") if default is not None else 0
    return levels


def _heading_level(name: str) -> int:
    """Markdown level of a style name: 1 for "Title", N+1 for "Heading N" (Word puts Heading 1
    under the title), else 0 (not a heading)."""
    if name == "Title":
        return 1
    if name.startswith("Heading "):
        digits = name.removeprefix("Heading ").strip()
        if digits.isdigit():
            return min(max(int(digits), 1) + 1, 6)
    return 0


# A hostile gridSpan ("span 10,000,000 columns") must not become that many cells.
_MAX_SPAN = 64


def _cells(table: Any) -> list[list[str]]:
    """Each row's cell texts by grid column, as Word shows them: a cell spanning columns is
    repeated in each, a vertically merged one continues the text of the cell above."""
    rows: list[list[str]] = []
    for row in table.iterchildren(_TR):
        cells: list[str] = []
        for cell in row.iterchildren(_TC):
            properties = cell.find(f"{_W}tcPr")
            span, merged = 1, False
            if properties is not None:
                grid_span = properties.find(f"{_W}gridSpan")
                raw = grid_span.get(_VAL, "1") if grid_span is not None else "1"
                span = min(max(int(raw), 1), _MAX_SPAN) if raw.isdigit() else 1
                v_merge = properties.find(f"{_W}vMerge")
                merged = v_merge is not None and v_merge.get(_VAL, "continue") == "continue"
            column = len(cells)
            above = rows[-1][column] if merged and rows and column < len(rows[-1]) else None
            text = above if above is not None else _cell_text(cell)
            cells.extend([text] * span)
        rows.append(cells)
    return rows


def _cell_text(cell: Any) -> str:
    return " ".join(text for p in cell.iterchildren(_P) if (text := _text(p)))


def _table_rows(table: Any) -> list[str]:
    """Each row as "header: value; …" when the first row looks like a header."""
    rows = _cells(table)
    if len(rows) < 2:
        return [" | ".join(r) for r in rows]
    header, body = rows[0], rows[1:]
    return [
        "; ".join(f"{h}: {v}" if h else v for h, v in zip(header, row, strict=False) if v)
        for row in body
    ]
