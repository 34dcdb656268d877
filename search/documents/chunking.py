"""Text to passages of roughly 400-1200 characters, cut at headings and paragraph breaks, each
with the heading it falls under (its section)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

MIN_CHARS = 400
MAX_CHARS = 1200


@dataclass(frozen=True)
class Block:
    text: str
    heading: str | None = None  # the heading's words, when this block is a heading


@dataclass(frozen=True)
class Chunk:
    text: str
    # The headings the chunk falls under: the one in effect at its start, then any it contains.
    headings: tuple[str, ...] = ()


_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+:.<>_])\1{2,}\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def blocks(text: str) -> list[Block]:
    """Paragraphs and headings: markdown `#` headings, and underlined (setext / reST) ones."""
    out: list[Block] = []
    para: list[str] = []
    in_fence = False

    def flush() -> None:
        if para:
            out.append(Block("\n".join(para)))
            para.clear()

    for line in text.split("\n"):
        line = line.rstrip()
        if _FENCE.match(line):
            in_fence = not in_fence
        elif in_fence:
            pass  # code: no headings, blank lines do not end the block
        elif not line.strip():
            flush()
            continue
        elif atx := _ATX.match(line):
            flush()
            out.append(Block(line.strip(), heading=atx.group(2)))
            continue
        elif _ADORNMENT.match(line) and _is_heading_text(para, line):
            heading = para[-2] if len(para) == 2 else para[0]
            out.append(Block("\n".join([*para, line]), heading=heading.strip()))
            para.clear()
            continue
        if para and not in_fence and _WRAPPED.search(para[-1]) and _GOES_ON.match(line):
            para[-1] += line.lstrip()  # "pre-" / "existing": one word wrapped at its hyphen
            continue
        para.append(line)
    flush()
    return out


# A line ending in a word and a hyphen, and the next starting in lower case: a text wrapped at
# the hyphen of a compound ("must not collide with pre-\n   existing bindings" in Python's own
# docs), which read "pre- existing" once the lines were joined.
_WRAPPED = re.compile(r"(?<![\w-])[^\W\d_]{2,}-$")
_GOES_ON = re.compile(r"^\s*[a-z]")


def _is_heading_text(para: list[str], underline: str) -> bool:
    """Whether `para` + `underline` is a heading: one text line, optionally over-lined too."""
    if len(para) == 1:
        return not _ADORNMENT.match(para[0])
    return len(para) == 2 and para[0].strip() == underline.strip() and not _ADORNMENT.match(para[1])


def chunks(found: list[Block]) -> list[Chunk]:
    """Pack blocks into ~400-1200 character chunks, starting a new one at a heading if the
    current chunk is already big enough."""
    out: list[Chunk] = []
    current: list[str] = []
    headings: list[str] = []
    heading: str | None = None  # the heading in effect
    size = 0
    for text, section, starts_section in _units(found):
        if current and (size + len(text) > MAX_CHARS or (starts_section and size >= MIN_CHARS)):
            out.append(Chunk("\n\n".join(current), tuple(headings)))
            current, headings, size = [], [], 0
        heading = section or heading
        if heading and (not headings or headings[-1] != heading):
            headings.append(heading)
        current.append(text)
        size += len(text) + 2
    if current:
        tail = "\n\n".join(current)
        # A short tail (end of file) reads better as part of the chunk before it.
        if out and size < MIN_CHARS and len(out[-1].text) + size <= MAX_CHARS:
            merged = out[-1].headings + tuple(h for h in headings if h not in out[-1].headings)
            out[-1] = Chunk(f"{out[-1].text}\n\n{tail}", merged)
        else:
            out.append(Chunk(tail, tuple(headings)))
    return [Chunk(c.text.strip(), c.headings) for c in out if re.search(r"\w", c.text)]


def _units(found: list[Block]) -> Iterator[tuple[str, str | None, bool]]:
    """(text, its heading, starts a section) pieces no longer than the maximum; a heading is
    kept together with the paragraph that follows it, so it never ends a chunk on its own,
    and so is a definition-list term with its definition (below)."""
    headings: list[Block] = []
    term: str | None = None
    for at, block in enumerate(found):
        if block.heading is not None:
            headings.append(block)
            continue
        if term is None and _is_term(block, found[at + 1 : at + 2]):
            term = block.text
            continue
        lead = [*(h.text for h in headings), *([term] if term is not None else [])]
        term = None
        text = "\n\n".join([*lead, block.text])
        last = headings[-1].heading if headings else None
        for i, piece in enumerate(split_long(text)):
            yield piece, last if i == 0 else None, bool(headings) and i == 0
        headings = []
    if headings:  # a term is never pending here: it is one only when a paragraph follows
        yield "\n\n".join(h.text for h in headings), headings[-1].heading, True


def _is_term(block: Block, following: list[Block]) -> bool:
    """A reST definition-list term: one unindented line followed by an indented paragraph
    (`object.__exit__(self, …)` and what it does). A chunk ending on the term would hold a
    name without its definition, and the next one a definition without its name."""
    if "\n" in block.text or block.text[:1].isspace() or not following:
        return False
    after = following[0]
    return after.heading is None and after.text[:1] == " "


def row_chunks(rows: list[tuple[int, str]]) -> list[tuple[str, int, int]]:
    """(row number, line) pairs packed into chunks of whole lines up to the maximum size, each
    with the numbers of its first and last row. A line longer than a passage is cut."""
    out: list[tuple[str, int, int]] = []
    current: list[str] = []
    start = end = 0
    size = 0
    for number, line in rows:
        line = line[:MAX_CHARS]
        if current and size + len(line) > MAX_CHARS:
            out.append(("\n".join(current), start, end))
            current, size = [], 0
        if not current:
            start = number
        current.append(line)
        end = number
        size += len(line) + 1
    if current:
        out.append(("\n".join(current), start, end))
    return out


_SEPARATORS = ("\n", ". ", " ")


def split_long(text: str, level: int = 0) -> list[str]:
    """Split `text` into pieces of at most the maximum size: at lines, then sentences, then
    words, and as a last resort anywhere."""
    if len(text) <= MAX_CHARS:
        return [text]
    if level == len(_SEPARATORS):
        return [text[i : i + MAX_CHARS] for i in range(0, len(text), MAX_CHARS)]
    sep = _SEPARATORS[level]
    parts = text.split(sep)
    pieces = [p + sep for p in parts[:-1]] + [parts[-1]]
    out: list[str] = []
    current = ""
    for piece in pieces:
        if len(piece) > MAX_CHARS:
            out.append(current)
            out.extend(split_long(piece, level + 1))
            current = ""
            continue
        if len(current) + len(piece) > MAX_CHARS:
            out.append(current)
            current = ""
        current += piece
    out.append(current)
    return [p.strip() for p in out if p.strip()]
