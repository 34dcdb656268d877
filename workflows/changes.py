"""Pure text work of a continued run (workflow-safe, linear in bounded texts):

- `parent_body`: a finished report as the next run's draft (the product's own parts dropped);
- `compute_changes` / `what_changed`: what a watched topic's run found against the previous
  report — claims added, changed, and no longer supported by the current text of their
  documents — and the section that says so;
- `keep_numbering`: the final report re-numbered so that every document the parent cited keeps
  the parent's number (old and new sources under one numbering), with the "Follow-up of" line
  or the "What changed since" section written in after the title.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from workflows.citing.citations import document_key, sources_section
from workflows.citing.claim_text import claims_of
from workflows.citing.grounding import UNSUPPORTED_MARK, Evidence
from workflows.citing.sanitise import _map_prose, escape_inline  # _map_prose: prose outside code
from workflows.continuation_models import (
    MAX_CHANGES_LISTED,
    ChangeItem,
    Changes,
    PreviousClaim,
)
from workflows.labels import Labels, labels_for
from workflows.models import NumberedSource, QAPair, Source
from workflows.results import ResearchReport

FOLLOW_UP_LINE = "> **Follow-up of**"
_FINAL_MARKER = re.compile(r"(?<!\\)\[(\d{1,6})(, [^\[\]\n]{1,64})?\]")
WHAT_CHANGED = "## What changed since"
SECTION_END = "---"  # after the What-changed section: the report's own text follows
# A new claim this alike (word overlap) to a no-longer-supported one of the same document
# replaces it: a change, not an addition and a retraction.
CHANGED_SIMILARITY = 0.5
_WORD = re.compile(r"[^\W_]{3,}|\d+")


def parent_body(markdown: str, labels: Labels) -> str:
    """The report's body as a draft, citing plain [n]: without the note, the title, the
    follow-up line, the What-changed section, the appendices and the Sources list (the product
    writes those again), and without the unsupported-claim marks (the claims are checked
    again). `labels`: the words the report was written with (its question's language)."""
    text = _without_sources(markdown)
    dropped = (WHAT_CHANGED, f"## {labels.research_notes}", f"## {labels.unsupported}")
    own_lines = ("# ", f"> **{labels.note}:**", FOLLOW_UP_LINE, f"*{labels.extracted_note}*")
    kept: list[str] = []
    skipping = False
    for block in text.split("\n\n"):
        first = block.strip()
        if first.startswith("## "):
            skipping = first.startswith(dropped)
        elif skipping and first == SECTION_END:  # the What-changed section ends here
            skipping = False
            continue
        if skipping or first.startswith(own_lines):
            continue
        kept.append(block)
    body = "\n\n".join(kept).replace(f" {UNSUPPORTED_MARK}", "").replace(UNSUPPORTED_MARK, "")
    return rewrite_final_markers(body, lambda n: n, keep_parts=False)


def _without_sources(markdown: str) -> str:
    """The report without its Sources list: the product writes it last, as the last `##`."""
    at = markdown.rfind("\n\n## ")
    return markdown[:at] if at >= 0 else markdown


def rewrite_final_markers(
    text: str, number: Callable[[int], int], *, keep_parts: bool = True
) -> str:
    """Every citation marker of a finished report ([3], [3, §Part], [3, p. 2]) renumbered by
    `number`, its part kept or dropped, outside code (the report was sanitised: every other
    bracket in its prose is escaped)."""

    def marker(match: re.Match[str]) -> str:
        part = (match.group(2) or "") if keep_parts else ""
        return f"[{number(int(match.group(1)))}{part}]"

    return _map_prose(text, lambda prose: _FINAL_MARKER.sub(marker, prose))


def source_label(source: Source) -> str:
    return f"{source.title} — {document_key(source)}"


def cited_claims(markdown: str) -> list[tuple[str, list[int]]]:
    """(text, cited numbers) of every cited claim of the text, marks and markup stripped."""
    found = []
    for block in markdown.split("\n"):
        line = re.sub(r"^\s*(?:[-*+]|\d{1,3}[.)]|>|#+)\s*", "", block)
        for claim in claims_of(line):
            text = claim.text.replace(UNSUPPORTED_MARK, "").strip(" *_")
            if claim.sources and len(text) > 3:
                found.append((text, sorted(set(claim.sources))))
    return found


def document_numbers(sources: Sequence[Source]) -> dict[str, list[int]]:
    """document key -> the registry numbers of its passages (number n is sources[n-1])."""
    by_document: dict[str, list[int]] = {}
    for number, source in enumerate(sources, 1):
        by_document.setdefault(document_key(source), []).append(number)
    return by_document


def claim_support(text: str, numbers: Iterable[int], evidence: Evidence, threshold: float) -> bool:
    best = evidence.best(text, sorted(set(numbers)), threshold)
    return best is not None and best[1] >= threshold


def finding_claims(findings: Sequence[QAPair]) -> list[tuple[str, list[int]]]:
    """The supported, cited claims of the findings, each text once."""
    seen: set[str] = set()
    claims = []
    for qa in findings:
        for text, numbers in cited_claims(qa.answer):
            if text.casefold() not in seen:
                seen.add(text.casefold())
                claims.append((text, numbers))
    return claims


def compute_changes(
    previous: Sequence[PreviousClaim],
    found: Sequence[tuple[str, list[int]]],
    sources: Sequence[Source],
    threshold: float,
    since: str,
    previous_run: str,
) -> Changes:
    """What this run found against the previous report: a finding claim no previous claim
    says is added; a previous claim its re-read documents no longer support (and no finding
    says again) is no longer supported; such a pair on one document, alike in wording, is a
    change."""
    said_before = Evidence({i: claim.text for i, claim in enumerate(previous, 1)})
    everyone = range(1, len(previous) + 1)
    added = [
        ChangeItem(text=text, numbers=numbers, sources=_labels(numbers, sources))
        for text, numbers in found
        if not claim_support(text, everyone, said_before, threshold)
    ]
    said_now = Evidence({i: text for i, (text, _) in enumerate(found, 1)})
    removed = [
        ChangeItem(text=claim.text, numbers=claim.numbers, sources=_labels(claim.numbers, sources))
        for claim in previous
        if claim.rechecked
        and not claim.supported_now
        and not claim_support(claim.text, range(1, len(found) + 1), said_now, threshold)
    ]
    changed: list[ChangeItem] = []
    for old in list(removed):
        documents = {document_key(sources[n - 1]) for n in old.numbers}
        pairs = [
            (_alike(new.text, old.text), at)
            for at, new in enumerate(added)
            if documents & {document_key(sources[n - 1]) for n in new.numbers}
        ]
        if pairs and (best := max(pairs))[0] >= CHANGED_SIMILARITY:
            new = added.pop(best[1])
            changed.append(new.model_copy(update={"previous": old.text}))
            removed.remove(old)
    cap = MAX_CHANGES_LISTED
    return Changes(
        since=since,
        previous_run=previous_run,
        added=added[:cap],
        changed=changed[:cap],
        removed=removed[:cap],
    )


def _alike(one: str, other: str) -> float:
    """Word overlap (Jaccard) of two claims: a changed figure still leaves them alike, where
    the support score would call a different number unsupported."""
    a, b = set(_WORD.findall(one.casefold())), set(_WORD.findall(other.casefold()))
    return len(a & b) / len(a | b) if a | b else 0.0


def _labels(numbers: Iterable[int], sources: Sequence[Source]) -> list[str]:
    return list(dict.fromkeys(source_label(sources[n - 1]) for n in numbers))


Cite = Callable[[int], int]


def keep_numbering(
    report: ResearchReport,
    numbers: dict[str, int],
    registry: Sequence[Source],
    intro: Callable[[Cite], str],
) -> ResearchReport:
    """The report with every cited document under the parent's number (new documents after
    the parent's largest), the text `intro(cite)` after the title — `cite` gives a registry
    number's final number, and its source joins the Sources list — and the list written
    again."""
    head = _without_sources(report.markdown)
    targets = dict(numbers)
    next_free = max(targets.values(), default=0) + 1

    def target(source: Source) -> int:
        nonlocal next_free
        key = document_key(source)
        if key not in targets:
            targets[key] = next_free
            next_free += 1
        return targets[key]

    ordered = sorted(report.sources, key=lambda s: s.number)
    mapping = {ns.number: target(ns.source) for ns in ordered}
    head = rewrite_final_markers(head, lambda n: mapping.get(n, n))
    cited = [NumberedSource(number=mapping[ns.number], source=ns.source) for ns in ordered]
    listed = {document_key(ns.source) for ns in cited}

    def cite(registry_number: int) -> int:
        source = registry[registry_number - 1]
        number = target(source)
        if document_key(source) not in listed:
            listed.add(document_key(source))
            cited.append(NumberedSource(number=number, source=source))
        return number

    text = intro(cite).strip()
    if text:
        head = _after_title(head, text)
    cited.sort(key=lambda ns: ns.number)
    labels = labels_for(report.question)
    markdown = f"{head.rstrip()}\n\n{sources_section(cited, labels)}\n"
    return report.model_copy(update={"markdown": markdown, "sources": cited})


def _after_title(head: str, intro: str) -> str:
    lines = head.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("# "):
            return "\n".join([*lines[: i + 1], "", intro, "", *lines[i + 1 :]]).replace(
                "\n\n\n", "\n\n"
            )
    return f"{intro}\n\n{head}"


def follow_up_line(parent_id: str, parent_question: str) -> str:
    return f"{FOLLOW_UP_LINE} run {escape_inline(parent_id)}: {escape_inline(parent_question)}"


def what_changed(changes: Changes, cite: Cite) -> str:
    """The section a watched topic's report opens with; untrusted texts made inert."""
    heading = f"{WHAT_CHANGED} {escape_inline(changes.since)}"
    if changes.nothing_new:
        return (
            f"{heading}\n\nNothing new: every claim found repeats the report of run "
            f"{escape_inline(changes.previous_run)}, and every re-checked claim still holds."
            f"\n\n{SECTION_END}"
        )

    def cites(item: ChangeItem) -> str:
        return "".join(f"[{n}]" for n in sorted({cite(n) for n in item.numbers}))

    parts = [heading, f"Compared with the report of run {escape_inline(changes.previous_run)}."]
    if changes.added:
        lines = [f"- {escape_inline(i.text)}{cites(i)}" for i in changes.added]
        parts.append("**Claims added**\n\n" + "\n".join(lines))
    if changes.changed:
        lines = [
            f"- {escape_inline(i.text)}{cites(i)} (was: {escape_inline(i.previous)})"
            for i in changes.changed
        ]
        parts.append("**Claims changed**\n\n" + "\n".join(lines))
    if changes.removed:
        lines = [
            f"- ~~{escape_inline(i.text)}~~ — not in the current text of {cites(i)}"
            for i in changes.removed
        ]
        parts.append("**Claims no longer supported**\n\n" + "\n".join(lines))
    return "\n\n".join([*parts, SECTION_END])
