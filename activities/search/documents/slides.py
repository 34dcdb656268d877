"""PPTX (python-pptx): one section per slide, cited as "slide N: its title"; the text of every
shape (tables too) and the speaker notes.

python-pptx resolves slide order and placeholders the way PowerPoint does; it pulls in Pillow
(about 22 MB), the price of not re-implementing OOXML relationships ourselves."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from pptx import Presentation

from activities.search.documents.base import Document, Section


def parse(data: bytes) -> Document:
    deck = Presentation(io.BytesIO(data))
    sections = []
    first_title = None
    for number, slide in enumerate(deck.slides, 1):
        title_shape = slide.shapes.title
        title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None else ""
        first_title = first_title or title or None
        texts = [t for shape in slide.shapes if shape is not title_shape for t in _texts(shape)]
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text.strip()
            if notes:
                texts.append(f"Notes: {notes}")
        body = "\n\n".join(t for t in texts if t.strip())
        text = f"# {title}\n\n{body}" if title else body
        locator = f"slide {number}: {title}" if title else f"slide {number}"
        sections.append(Section(text, locator=locator))
    title = (deck.core_properties.title or "").strip() or first_title
    return Document(title=title, sections=[s for s in sections if s.text.strip()])


def _texts(shape: Any) -> Iterator[str]:
    if getattr(shape, "has_text_frame", False):
        yield shape.text_frame.text
    if getattr(shape, "has_table", False):
        for row in shape.table.rows:
            yield " | ".join(" ".join(c.text.split()) for c in row.cells)
    for child in getattr(shape, "shapes", ()):  # group shapes
        yield from _texts(child)
