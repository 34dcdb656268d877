"""DOCX (python-docx): paragraphs and tables in document order; heading styles become markdown
headings, so passages are cut at sections and cited by their heading.

python-docx is the maintained reader for Word's XML (lxml, already installed for trafilatura)."""

from __future__ import annotations

import io

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from activities.search.documents.base import Document, Section


def parse(data: bytes) -> Document:
    document = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    first_heading = None
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            text = " ".join(item.text.split())
            level = _heading_level(item)
            if text and level:
                first_heading = first_heading or text
                lines.append(f"\n{'#' * level} {text}\n")
            elif text:
                lines.append(f"{text}\n")
        elif isinstance(item, Table):
            lines.extend(f"{row}\n" for row in _table_rows(item))
    title = (document.core_properties.title or "").strip() or first_heading
    return Document(title=title, sections=[Section("\n".join(lines))])


def _heading_level(paragraph: Paragraph) -> int:
    """Markdown level: 1 for the "Title" style, N+1 for "Heading N" (Word puts Heading 1 under
    the title), else 0 (not a heading)."""
    name = (paragraph.style.name if paragraph.style is not None else "") or ""
    if name == "Title":
        return 1
    if name.startswith("Heading "):
        digits = name.removeprefix("Heading ").strip()
        if digits.isdigit():
            return min(max(int(digits), 1) + 1, 6)
    return 0


def _table_rows(table: Table) -> list[str]:
    """Each row as "header: value; …" when the first row looks like a header."""
    rows = [[" ".join(c.text.split()) for c in row.cells] for row in table.rows]
    if len(rows) < 2:
        return [" | ".join(r) for r in rows]
    header, body = rows[0], rows[1:]
    return [
        "; ".join(f"{h}: {v}" if h else v for h, v in zip(header, row, strict=False) if v)
        for row in body
    ]
