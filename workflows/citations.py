"""Citation bookkeeping: pure text functions, safe to call from workflow code.

Models cite with bracketed numbers, [3] or [1, 2]. Numbers are local to a prompt's source list;
these functions map them to other numbers and drop the ones that point at nothing. Code spans and
fenced blocks are left alone so that Python indexing like `xs[1]` is never taken for a citation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from workflows.models import NumberedSource

# A run of one or more bracket groups, each holding comma-separated numbers, not glued to a
# preceding word (`xs[1]`) or closing bracket/parenthesis.
_CITATION_RUN = re.compile(r"(?<![\w)\]])((?:\[\d{1,4}(?:\s*,\s*\d{1,4})*\])+)")
_GROUP = re.compile(r"\[([\d,\s]+)\]")
_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`", re.DOTALL)
_REMOVED = "\x00"
_ANY_HEADING = re.compile(r"^\s{0,3}#{1,6}\s", re.MULTILINE)
_OWN_SOURCES_HEADING = re.compile(
    r"^\s{0,3}#{1,6}\s*(sources|references|bibliography|citations|works cited)\b.*$",
    re.IGNORECASE | re.MULTILINE,
)


def _map_prose(text: str, rewrite_run: Callable[[str], str]) -> str:
    """Apply rewrite_run to every citation run outside code."""
    out: list[str] = []
    last = 0
    for code in _CODE.finditer(text):
        out.append(_CITATION_RUN.sub(lambda m: rewrite_run(m.group(1)), text[last : code.start()]))
        out.append(code.group(0))
        last = code.end()
    out.append(_CITATION_RUN.sub(lambda m: rewrite_run(m.group(1)), text[last:]))
    return "".join(out)


def _numbers(run: str) -> list[int]:
    return [int(n) for group in _GROUP.findall(run) for n in group.split(",") if n.strip()]


def cited_numbers(text: str) -> list[int]:
    """Every number cited in prose, in order of first appearance, without repeats."""
    seen: list[int] = []

    def collect(run: str) -> str:
        for n in _numbers(run):
            if n not in seen:
                seen.append(n)
        return run

    _map_prose(text, collect)
    return seen


def remap_citations(text: str, mapping: Mapping[int, int]) -> tuple[str, int]:
    """Rewrite [n] to [mapping[n]]; a number missing from mapping is removed and counted.

    Returns the new text and how many citations were removed.
    """
    removed = 0

    def rewrite(run: str) -> str:
        nonlocal removed
        kept: list[int] = []
        for n in _numbers(run):
            if n in mapping:
                if mapping[n] not in kept:
                    kept.append(mapping[n])
            else:
                removed += 1
        # A run that loses every number becomes a marker, removed with the space before it.
        return "".join(f"[{n}]" for n in kept) or _REMOVED

    new_text = _map_prose(text.replace(_REMOVED, ""), rewrite)
    return re.sub(rf"[ \t]*{_REMOVED}", "", new_text), removed


def strip_own_sources_section(markdown: str) -> str:
    """Drop a closing Sources/References section the model wrote: the product writes the real one.

    Only a section that is the last one counts, so a "## Sources of error" mid-report survives.
    """
    matches = list(_OWN_SOURCES_HEADING.finditer(markdown))
    if matches and not _ANY_HEADING.search(markdown, matches[-1].end()):
        return markdown[: matches[-1].start()].strip()
    return markdown.strip()


def finalise_citations(
    body: str, known: list[NumberedSource]
) -> tuple[str, list[NumberedSource], int]:
    """Renumber the report's citations 1..m in order of first use; drop unknown ones.

    Only numbers of sources retrieved in this run (`known`) survive; every other [n] is removed
    and counted, so no citation in the report can point at a source that was not retrieved.
    """
    by_number = {s.number: s.source for s in known}
    order = [n for n in cited_numbers(body) if n in by_number]
    mapping = {old: new for new, old in enumerate(order, 1)}
    text, removed = remap_citations(body, mapping)
    cited = [NumberedSource(number=mapping[old], source=by_number[old]) for old in order]
    return text, cited, removed


def sources_section(cited: list[NumberedSource]) -> str:
    if not cited:
        return "## Sources\n\nNo source was cited."
    lines = [f"{s.number}. {s.source.title} — {s.source.location}" for s in cited]
    return "## Sources\n\n" + "\n".join(lines)


def finalise_report(
    body: str, known: list[NumberedSource], note: str = ""
) -> tuple[str, list[NumberedSource], int]:
    """The reader's report: the model's own reference list dropped, citations checked and
    renumbered, an optional note on top, and the numbered Sources list the product writes."""
    text, cited, removed = finalise_citations(strip_own_sources_section(body), known)
    if note:
        text = f"> **Note:** {note}\n\n{text}"
    return f"{text}\n\n{sources_section(cited)}\n", cited, removed
