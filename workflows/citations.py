"""Citation bookkeeping: pure text functions, safe to call from workflow code.

Models cite with bracketed numbers, [3] or [1, 2]. Numbers are local to a prompt's source list;
these functions map them to other numbers and drop the ones that point at nothing. They share
one marker grammar with the sanitiser (workflows/sanitise.py): whatever looks like a citation
(`[ 7 ]`, `[7-8]`, `[^7]`, `word[7]`…) is one, so none passes unchecked. Code spans and fenced
blocks are left alone, so that Python indexing like `xs[1]` in code is never taken for a
citation. Every function here is linear-time in its input.
"""

from __future__ import annotations

from collections.abc import Mapping

from workflows import sanitise
from workflows.models import NumberedSource, Source


def cited_numbers(text: str) -> list[int]:
    """Every number cited in prose, in order of first appearance, without repeats."""
    return sanitise.cited_numbers(text)


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
    """The body sanitised (workflows/sanitise.py) with its citations renumbered 1..m per
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

    def cite(old: int) -> int | None:
        if old not in by_number:
            return None
        if old not in passages:
            key = document_key(by_number[old])
            passages[old] = documents.setdefault(key, len(documents) + 1)
        return passages[old]

    text, removed = sanitise.sanitise_markdown(body, cite)
    cited = [NumberedSource(number=new, source=by_number[old]) for old, new in passages.items()]
    return text.strip(), cited, removed


def sources_section(cited: list[NumberedSource]) -> str:
    """The numbered list the product writes, one entry per document with the parts of it that
    were cited; titles and locations come from pages and are made inert (no HTML, links or
    citation syntax)."""
    if not cited:
        return "## Sources\n\nNo source was cited."
    entries: dict[int, list[Source]] = {}
    for numbered in cited:
        entries.setdefault(numbered.number, []).append(numbered.source)
    lines = []
    for number in sorted(entries):
        passages = entries[number]
        first = passages[0]
        line = (
            f"{number}. {sanitise.escape_inline(first.title)} — "
            f"{sanitise.escape_inline(document_key(first))}"
        )
        anchors = list(dict.fromkeys(s.anchor for s in passages if s.anchor))
        if anchors:
            line += "; cited: " + "; ".join(sanitise.escape_inline(a) for a in anchors)
        lines.append(line)
    return "## Sources\n\n" + "\n".join(lines)


def finalise_report(
    body: str, known: list[NumberedSource], note: str = ""
) -> tuple[str, list[NumberedSource], int]:
    """The reader's report: the model's text sanitised (its own reference lists dropped, HTML
    escaped, unsafe links removed, citations checked and renumbered), an optional note on top,
    and the numbered Sources list the product writes."""
    text, cited, removed = finalise_citations(body, known)
    if note:
        text = f"> **Note:** {note}\n\n{text}"
    return f"{text}\n\n{sources_section(cited)}\n", cited, removed
