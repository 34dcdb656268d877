"""What a parser returns: the document's title and its sections, each with a locator."""

from __future__ import annotations

from dataclasses import dataclass, field

# Extracted text kept per file; the rest is dropped with a warning (bounded memory: a 60 MB
# CSV is still indexed, in part, without holding a billion characters).
MAX_TEXT_CHARS = 20_000_000
# Sum of the uncompressed sizes of a zip container's members (DOCX, PPTX, XLSX); above it the
# file is treated as a zip bomb and skipped before anything is inflated.
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024
# The XML parts of such a container (what the readers parse into memory; media are never
# decoded) are capped lower: parsed XML takes several times its size in memory.
MAX_UNZIPPED_XML_BYTES = 96 * 1024 * 1024


@dataclass(frozen=True)
class Section:
    """A part of a document that passages never straddle: a page, a slide, a group of rows, or
    the whole text of a flowing document (whose headings then name the passages' sections).

    `text` may hold markdown `#` headings; `locator` says where it is ("page 3", "slide 2:
    Results", "sheet Sales, rows 2-40"); empty means "use the nearest heading"."""

    text: str = ""
    locator: str = ""
    # Rows of a table as (row number, "header: value; …"): passages hold whole rows and name
    # their range ("rows 2-14"); `text` is unused then.
    rows: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class Document:
    title: str | None
    sections: list[Section] = field(default_factory=list)
