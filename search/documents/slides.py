"""PPTX (python-pptx): one section per slide, cited as "slide N: its title"; the text of every
shape (tables and groups too) and the speaker notes.

python-pptx opens the package and resolves slide order and notes the way PowerPoint does; each
slide's shape tree is then walked as XML with lxml, once, giving the same text python-pptx's shape
objects would (a paragraph's runs and fields, a line break as "\\v", paragraphs joined by "\\n").
Building a shape object per shape cost about 0.2 ms each: 38 s per MB for a deck of many small
text boxes (bench/hostile_documents.py). python-pptx pulls in Pillow (about 22 MB), the price of
not re-implementing OOXML relationships ourselves."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from pptx import Presentation

from search.documents.base import Document, Section

_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
_SHAPE, _GROUP, _FRAME = f"{_P}sp", f"{_P}grpSp", f"{_P}graphicFrame"
_SHAPES = frozenset({_SHAPE, _GROUP, _FRAME, f"{_P}cxnSp", f"{_P}pic", f"{_P}contentPart"})
_RUN, _BREAK, _FIELD = f"{_A}r", f"{_A}br", f"{_A}fld"


def parse(data: bytes) -> Document:
    deck = Presentation(io.BytesIO(data))
    sections = []
    first_title = None
    for number, slide in enumerate(deck.slides, 1):
        tree = slide.shapes._spTree
        title_shape = _title_shape(tree)
        title = " ".join(_frame_text(title_shape).split()) if title_shape is not None else ""
        first_title = first_title or title or None
        texts = [t for shape in _shapes(tree) if shape is not title_shape for t in _texts(shape)]
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


def _shapes(tree: Any) -> Iterator[Any]:
    return (child for child in tree.iterchildren() if child.tag in _SHAPES)


def _title_shape(tree: Any) -> Any | None:
    """The first placeholder with index 0 (python-pptx's `shapes.title`)."""
    for shape in _shapes(tree):
        placeholder = next(shape.iter(f"{_P}ph"), None)
        if placeholder is not None and placeholder.get("idx", "0") == "0":
            return shape
    return None


def _frame_text(shape: Any) -> str:
    """A text frame's text: its paragraphs joined by newlines."""
    body = shape.find(f"{_P}txBody")
    if body is None:
        body = shape.find(f"{_A}txBody")  # a table cell's
    if body is None:
        return ""
    return "\n".join(_paragraph_text(p) for p in body.iterchildren(f"{_A}p"))


def _paragraph_text(paragraph: Any) -> str:
    parts = []
    for child in paragraph.iterchildren(_RUN, _BREAK, _FIELD):
        if child.tag == _BREAK:
            parts.append("\v")
        else:
            parts.append("".join(t.text or "" for t in child.iterchildren(f"{_A}t")))
    return "".join(parts)


def _texts(shape: Any) -> Iterator[str]:
    if shape.tag == _SHAPE and shape.find(f"{_P}txBody") is not None:
        yield _frame_text(shape)
    elif shape.tag == _FRAME:
        for table in shape.iter(f"{_A}tbl"):
            for row in table.iterchildren(f"{_A}tr"):
                cells = row.iterchildren(f"{_A}tc")
                yield " | ".join(" ".join(_frame_text(c).split()) for c in cells)
    elif shape.tag == _GROUP:
        for child in _shapes(shape):
            yield from _texts(child)
