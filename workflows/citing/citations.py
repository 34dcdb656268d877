# ruff: noqa: RUF001 (typographic quotes, CJK punctuation and Cyrillic are what this code reads or writes)
"""Citation bookkeeping: pure text functions, safe to call from workflow code.

Models cite with bracketed numbers, [3] or [1, 2]. Numbers are local to a prompt's source list;
these functions map them to other numbers and drop the ones that point at nothing. They share
one marker grammar with the sanitiser (workflows/citing/sanitise.py): whatever looks like a citation
(`[ 7 ]`, `[7-8]`, `[^7]`, `word[7]`…) is one, so none passes unchecked. Code spans and fenced
blocks are left alone, so that Python indexing like `xs[1]` in code is never taken for a
citation. Every function here is linear-time in its input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from workflows.citing import sanitise
from workflows.labels import EN, Labels
from workflows.models import NumberedSource, Source

PART_MAX_CHARS = 32


def cited_numbers(text: str) -> list[int]:
    """Every number cited in prose, in order of first appearance, without repeats."""
    return sanitise.cited_numbers(text)


# A citation as the finished report prints it: `[3]`, or `[3, p. 2]` naming the part it cites.
REPORT_MARKER = re.compile(r"\[(\d{1,6})(?:, ([^\[\]\n]{1,60}))?\]")


def report_numbers(markdown: str) -> list[int]:
    """The source numbers a finished report cites (its markers may name a part), in order of
    first appearance, without repeats; code is not read."""
    seen: dict[int, None] = {}
    for is_code, piece in sanitise.segments(markdown):
        if not is_code:
            seen.update(dict.fromkeys(int(m.group(1)) for m in REPORT_MARKER.finditer(piece)))
    return list(seen)


def remap_citations(text: str, mapping: Mapping[int, int]) -> tuple[str, int]:
    """Rewrite [n] to [mapping[n]]; a number missing from mapping (or a marker that names no
    number, like [-1]) is removed and counted.

    Returns the new text and how many citations were removed.
    """
    return sanitise.rewrite_citations(text, mapping.get)


def strip_own_sources_section(markdown: str) -> str:
    """Drop every Sources/References list the model wrote, wherever it stands: the product
    writes the real one. A heading that only mentions sources ("Sources of error") stays."""
    return sanitise.drop_source_lists(markdown).strip()


def document_key(source: Source) -> str:
    """What makes two passages one source for the reader: the same file or page."""
    return source.document or source.location


def finalise_citations(
    body: str, known: list[NumberedSource]
) -> tuple[str, list[NumberedSource], int]:
    """The body sanitised (workflows/citing/sanitise.py) with its citations renumbered 1..m per
    document, in order of first use; unknown ones dropped.

    Passages of one document (two sections of one file) become one number, so the Sources list
    has one entry per document. The returned list holds every cited passage with its document's
    number, in order of first use. Only numbers of sources retrieved in this run (`known`)
    survive; every other marker is removed and counted, so no citation in the report can point
    at a source that was not retrieved.
    """
    by_number = {s.number: s.source for s in known}
    documents: dict[str, int] = {}  # document -> new number, in order of first use
    passages: dict[int, int] = {}  # old number -> new number

    def cite(old: int) -> int | str | None:
        if old not in by_number:
            return None
        if old not in passages:
            key = document_key(by_number[old])
            passages[old] = documents.setdefault(key, len(documents) + 1)
        part = short_part(by_number[old].anchor)
        return f"{passages[old]}, {part}" if part else passages[old]

    text, removed = sanitise.sanitise_markdown(body, cite)
    cited = [NumberedSource(number=new, source=by_number[old]) for old, new in passages.items()]
    return text.strip(), cited, removed


_INERT = str.maketrans({"`": "'", "<": "‹", ">": "›", "\\": "/", "*": " "})
_NAME_PREFIX = re.compile(r"^(?:class|def|async def)\s+")
_PAGE = re.compile(r"^pages?\s+(\d+(?:\s*[-–]\s*\d+)?)$", re.IGNORECASE)
_SLIDE = re.compile(r"^(slide \d+)\b", re.IGNORECASE)
_SECTION = re.compile(r"^sections?\s+(.+)$", re.IGNORECASE)


def short_part(anchor: str) -> str:
    """The part of a document a citation relies on, short enough for the marker:
    `page 3` → `p. 3`, `slide 2: Results` → `slide 2`, `section Diet` → `§Diet`."""
    flat = " ".join(anchor.replace("[", "(").replace("]", ")").split())
    flat = flat.translate(_INERT).strip()
    if not flat:
        return ""
    if page := _PAGE.match(flat):
        numbers = page.group(1).replace(" ", "")
        return f"pp. {numbers}" if "-" in numbers or "–" in numbers else f"p. {numbers}"
    if slide := _SLIDE.match(flat):
        return slide.group(1)
    if section := _SECTION.match(flat):
        # A passage over several sections names its first and last: the range it covers.
        names = _section_names(section.group(1))
        flat = "§" + _fitted_name(names[0], PART_MAX_CHARS - 1)
        if len(names) > 1:
            span = f"§{names[0]}–{names[-1]}"
            fitted = _fitted_name(names[0], PART_MAX_CHARS - 5)
            flat = span if len(span) <= PART_MAX_CHARS else f"§{fitted} ff."
    if len(flat) > PART_MAX_CHARS:
        flat = flat[: PART_MAX_CHARS - 1].rstrip() + "…"
    return flat


def _fitted_name(name: str, room: int) -> str:
    """`name` in `room` characters: whole, else its last dotted part (an API entry's own
    name: `push_async_callback`, not `AsyncExitStack.push_async_c`), else cut with "…"."""
    if len(name) <= room:
        return name
    last = name.rsplit(".", 1)[-1]
    if len(last) <= room:
        return last
    return name[: room - 1].rstrip() + "…"


def _section_names(listed: str) -> list[str]:
    """The names of `sections A(x); class B; …` without signatures or kind words."""
    names = [_NAME_PREFIX.sub("", n.split("(")[0].strip()) for n in listed.split(";")]
    return [n for n in names if n and n != "…"] or [""]


def listed_part(anchor: str) -> str:
    """An anchor as the Sources list shows it: a passage over several sections as the range
    it covers (its first and last section names), an API entry by its name, not by every
    signature."""
    section = _SECTION.match(" ".join(anchor.split()))
    names = _section_names(section.group(1)) if section else []
    if len(names) > 1:
        return f"sections {names[0]}–{names[-1]}"
    if section and "(" in section.group(1) and names[0]:
        return f"section {names[0]}()"  # an entry's name, not its whole signature
    return anchor


def sources_section(cited: list[NumberedSource], labels: Labels = EN) -> str:
    """The numbered list the product writes, one entry per document: its title, the parts of
    it that were cited (first: what a reader looks for), then where it is; titles and
    locations come from pages and are made inert (no HTML, links or citation syntax)."""
    if not cited:
        return f"## {labels.sources}\n\n{labels.no_source}"
    entries: dict[int, list[Source]] = {}
    for numbered in cited:
        entries.setdefault(numbered.number, []).append(numbered.source)
    lines = []
    for number in sorted(entries):
        passages = entries[number]
        first = passages[0]
        line = f"{number}. {sanitise.escape_inline(first.title)}"
        anchors = list(dict.fromkeys(listed_part(s.anchor) for s in passages if s.anchor))
        if anchors:
            line += f" — {labels.cited}: " + "; ".join(sanitise.escape_inline(a) for a in anchors)
        lines.append(f"{line} — {sanitise.escape_inline(document_key(first))}")
    return f"## {labels.sources}\n\n" + "\n".join(lines)


def finalise_report(
    body: str, known: list[NumberedSource], note: str = "", labels: Labels = EN
) -> tuple[str, list[NumberedSource], int]:
    """The reader's report: the model's text sanitised (its own reference lists dropped, HTML
    escaped, unsafe links removed, citations checked and renumbered), an optional note on top,
    and the numbered Sources list the product writes."""
    text, cited, removed = finalise_citations(body, known)
    if note:
        text = f"> **{labels.note}:** {note}\n\n{text}"
    return f"{text}\n\n{sources_section(cited, labels)}\n", cited, removed
