"""A corpus file to its passages: read it safely, parse it by its suffix, cut its sections into
passages, and give each a stable id and a locator (page / slide / sheet and rows / section)."""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict

from search.documents import registry
from search.documents.base import MAX_TEXT_CHARS, Document, Section
from search.documents.chunking import blocks, chunks, row_chunks
from search.documents.files import CorpusFile, SkipFile, read_bytes
from search.documents.secrets import Secret, secret_in

_MAX_LOCATOR_HEADING = 80
_MAX_SECTIONS_NAMED = 3


class Passage(BaseModel):
    """One searchable chunk of a file."""

    model_config = ConfigDict(frozen=True)

    id: str
    source_path: str  # the file on this machine
    rel_path: str = ""  # the file relative to its corpus folder: what a citation names
    locator: str = ""  # where in the file: "page 3", "slide 2: Results", "section Setup"
    title: str
    text: str

    @property
    def citation(self) -> str:
        """The file relative to its corpus folder, and where in it."""
        name = self.rel_path or self.source_path
        return f"{name}, {self.locator}" if self.locator else name


def passage_id(rel: str, ordinal: int, text: str) -> str:
    """Depends only on the file's name in its folder, its place in the file and its text: the
    same files give the same ids on every machine and every rebuild."""
    return hashlib.sha256(f"{rel}\0{ordinal}\0{text}".encode()).hexdigest()[:16]


def file_passages(
    file: CorpusFile, display_rel: str, max_bytes: int, secrets: tuple[Secret, ...] = ()
) -> list[Passage]:
    """The passages of `file`; SkipFile (with the reason) if it cannot or must not be used."""
    document = registry.parse(file.suffix, read_bytes(file, max_bytes))
    title = " ".join((document.title or file.stem).split())[:200]
    pieces = list(_pieces(_bounded(document), title))
    leaked = secret_in([title, *(part for piece in pieces for part in piece)], secrets)
    if leaked:
        raise SkipFile(f"contains the value of the configured secret {leaked}")
    return [
        Passage(
            id=passage_id(file.rel, ordinal, text),
            source_path=file.path,
            rel_path=display_rel,
            locator=locator,
            title=title,
            text=text,
        )
        for ordinal, (text, locator) in enumerate(pieces)
    ]


def _bounded(document: Document) -> list[Section]:
    """The sections up to the text cap (the rest of an enormous file is dropped)."""
    kept: list[Section] = []
    budget = MAX_TEXT_CHARS
    for section in document.sections:
        size = len(section.text) + sum(len(r) for _, r in section.rows)
        if size > budget:
            kept.append(Section(section.text[:budget], section.locator, section.rows))
            break
        kept.append(section)
        budget -= size
    return kept


def _pieces(sections: list[Section], title: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for section in sections:
        if section.rows:
            for text, first, last in row_chunks(list(section.rows)):
                rows = f"row {first}" if first == last else f"rows {first}-{last}"
                out.append((text, f"{section.locator}, {rows}" if section.locator else rows))
            continue
        for chunk in chunks(blocks(section.text)):
            out.append((chunk.text, section.locator or _section_locator(chunk.headings, title)))
    return out


def _section_locator(headings: tuple[str, ...], title: str) -> str:
    """ "section Setup", or "sections Setup; Usage" for a passage spanning short sections; the
    document's own title is not a section."""
    names = [_short(h) for h in headings if h != title]
    if not names:
        return ""
    if len(names) == 1:
        return f"section {names[0]}"
    shown = names[:_MAX_SECTIONS_NAMED] + (["…"] if len(names) > _MAX_SECTIONS_NAMED else [])
    return "sections " + "; ".join(shown)


def _short(heading: str) -> str:
    heading = " ".join(heading.split())
    if len(heading) > _MAX_LOCATOR_HEADING:
        return heading[: _MAX_LOCATOR_HEADING - 1] + "…"
    return heading
