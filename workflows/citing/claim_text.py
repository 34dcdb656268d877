"""Markdown ↔ claims: read the claims out of cited Markdown, check them, write it back.

Nodes render the claims a model returns as `claim text[1][2] next claim[3]`; revisions and
merges of self-evolution may write free Markdown with inline markers. Either way a claim is the
text up to and including its citation markers, so reading the Markdown back gives the same
claims. Headings and code blocks are kept as they are; paragraphs are checked claim by claim;
list items, table rows and quotes are checked line by line so their Markdown survives.
Linear in the text; safe in workflow code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from workflows.citing.grounding import (
    CODE_SPAN,
    Claim,
    Evidence,
    GroundingFigures,
    UnsupportedPolicy,
    check_claims,
    render_claims,
)
from workflows.citing.support import DEFAULT_THRESHOLD

# One or more [n] / [n, m] groups. Glued to a word (`python[1]`) it is a citation too, as the
# sanitiser reads it (workflows/citing/sanitise.py): only inside an inline code span is it code.
_MARKERS = re.compile(r"((?:\[\d{1,4}(?:\s*,\s*\d{1,4})*\])+)")
_NUMBER = re.compile(r"\d+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(*_`])")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_LINE_ITEM = re.compile(r"^(\s*(?:[-*+]|\d{1,3}[.)]|>|\|)\s?)(.*)$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")


def claims_of(text: str) -> list[Claim]:
    """The claims of one paragraph or line: text up to each run of markers, then the rest
    split into sentences (which cite nothing)."""
    claims: list[Claim] = []
    last = 0
    for match in _markers(text):
        chunk = text[last : match.start()].strip()
        numbers = [int(n) for n in _NUMBER.findall(match.group(1))]
        last = match.end()
        # `B holds [3].`: the full stop after the marker ends the claim it cites.
        while last < len(text) and text[last] in ".,;:!?":
            chunk += text[last]
            last += 1
        if chunk.strip(" .,;:!?"):
            claims.append(Claim(text=chunk, sources=numbers))
        elif claims:
            claims[-1].sources.extend(numbers)  # `claim [1] [2]` written with a space
    rest = text[last:].strip()
    if rest:
        claims.extend(Claim(text=s) for s in _SENTENCE_END.split(rest) if s.strip())
    return claims


def _markers(text: str) -> list[re.Match[str]]:
    """The citation runs of `text` outside inline code spans (linear: both lists are in
    text order, walked once together)."""
    code = [span.span() for span in CODE_SPAN.finditer(text)]
    found, at = [], 0
    for match in _MARKERS.finditer(text):
        while at < len(code) and code[at][1] <= match.start():
            at += 1
        if not (at < len(code) and code[at][0] <= match.start()):
            found.append(match)
    return found


def cited_in(markdown: str) -> set[int]:
    return {int(n) for m in _markers(markdown) for n in _NUMBER.findall(m.group(1))}


def ground_markdown(
    markdown: str,
    evidence: Evidence,
    *,
    pool: Sequence[int],
    threshold: float = DEFAULT_THRESHOLD,
    policy: UnsupportedPolicy = "mark",
    dropped: list[str] | None = None,
    strict: bool = False,
    asked: Sequence[str] = (),
) -> tuple[str, GroundingFigures]:
    """Check every claim of `markdown` against the evidence of the sources it cites; with
    policy `drop`, the text of each claim left out is appended to `dropped` when given;
    `strict` and `asked` as in check_claims; with `strict`, a code fence that never closes
    opens no code (without_unclosed_fence)."""
    figures = GroundingFigures()
    out: list[str] = []
    if strict:
        markdown = without_unclosed_fence(markdown)

    def check(text: str, statements_only: bool = True) -> str:
        nonlocal figures
        checked, found = check_claims(
            claims_of(text),
            evidence,
            pool=pool,
            threshold=threshold,
            statements_only=statements_only,
            strict=strict,
            asked=asked,
        )
        figures = figures.plus(found)
        if dropped is not None and policy == "drop":
            dropped.extend(c.text for c in checked if not c.supported)
        return render_claims(checked, policy)

    for block in _blocks(markdown):
        first = block.lstrip("\n").split("\n", 1)[0]
        if _FENCE.match(first) or _HEADING.match(first) or not block.strip():
            out.append(block.strip("\n"))
        elif all(_LINE_ITEM.match(line) for line in block.splitlines() if line.strip()):
            rows = [line for line in block.splitlines() if line.strip()]
            lines = []
            for at, line in enumerate(rows):
                prefix, body = _LINE_ITEM.match(line).groups()  # type: ignore[union-attr]
                if prefix.strip() == "|":
                    # A table row is one claim, its pipes kept; rule and header rows stay.
                    following = rows[at + 1] if at + 1 < len(rows) else ""
                    if _is_table_rule(body) or _is_table_rule(following.strip("| ") or "x"):
                        lines.append(line)
                        continue
                    content = body.rstrip().removesuffix("|").rstrip()
                    rendered = check(content, statements_only=False)
                    if rendered:
                        lines.append(f"| {rendered} |")
                    continue
                rendered = check(body) if body.strip() else body
                if rendered:
                    lines.append(f"{prefix}{rendered}")
            out.append("\n".join(lines))
        else:
            out.append(check(" ".join(block.split())))
    return "\n\n".join(part for part in out if part), figures


def without_unclosed_fence(markdown: str) -> str:
    """`markdown` without the opening line of a code fence that never closes. Markdown reads
    all that follows such a line as code, so the claims after it went unchecked and printed
    verbatim: the embedded model's semaphore answer opened with a lone "```" and then made up
    four paragraphs about "the code" (in the Research notes, and swallowing the Sources list
    as a renderer shows it)."""
    lines = markdown.split("\n")
    opened: int | None = None
    for at, line in enumerate(lines):
        if _FENCE.match(line):
            opened = at if opened is None else None
    if opened is None:
        return markdown
    return "\n".join(lines[:opened] + lines[opened + 1 :])


def _is_table_rule(body: str) -> bool:
    return set(body.replace(" ", "")) <= set("|-:")


def _blocks(markdown: str) -> list[str]:
    """Paragraph-level blocks; a fenced code block is one block, blank lines and all;
    a heading is a block of its own."""
    blocks: list[str] = []
    current: list[str] = []
    fenced = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            if not fenced:
                if current:
                    blocks.append("\n".join(current))
                current = [line]
                fenced = True
                continue
            current.append(line)
            blocks.append("\n".join(current))
            current, fenced = [], False
            continue
        if fenced:
            current.append(line)
        elif _HEADING.match(line):
            if current:
                blocks.append("\n".join(current))
            blocks.append(line)
            current = []
        elif not line.strip():
            if current:
                blocks.append("\n".join(current))
            current = []
        else:
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks
