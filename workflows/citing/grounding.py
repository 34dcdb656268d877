"""Grounding: every (claim, cited source) pair checked against the text that source holds.

Pure functions over bounded text, safe in workflow code. Models write claims as data — a
sentence or a few, with the numbers of the sources they rest on — and this module decides, for
each citation, whether the cited evidence supports the claim (support.py): kept when it
does, moved to the best-supporting source of the run when another one does, removed otherwise.
A claim left without a supported citation is marked, kept or dropped as the config says.
Every decision is counted, so a reader of the report JSON knows how much of it is backed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field, computed_field

from workflows.citing.restating import restates
from workflows.citing.sentences import (
    completed,
    copies_a_label,
    is_fragment,
    is_unfinished,
)
from workflows.citing.support import (
    DEFAULT_THRESHOLD,
    PreparedClaim,
    PreparedPassage,
    coverage_keys,
    prepare,
    prepare_claim,
    support_score,
    weight,
)

UnsupportedPolicy = Literal["mark", "keep", "drop"]
UNSUPPORTED_MARK = "*(no retrieved source supports this)*"
# A citation-like marker inside a claim's own text: the product writes the real ones.
# An inline code span: `xs[1]` in it is code, not a citation (claim_text.py reads it too).
CODE_SPAN = re.compile(r"`[^`\n]*`")
_INLINE_MARKER = re.compile(r"\s*\[\s*\^?[-\d,\s]{1,40}\]")


class Claim(BaseModel):
    """One claim as a model writes it: its text and the numbers of the sources it rests on."""

    text: str = Field(min_length=1, description="one sentence or a few; no citation markers")
    sources: list[int] = Field(default=[], description="numbers of the sources it rests on")


class CheckedClaim(BaseModel):
    text: str
    sources: list[int] = []  # run-wide numbers whose evidence supports the claim
    support: float = 0.0  # best support score among the kept sources
    supported: bool = False


class GroundingFigures(BaseModel):
    """What the checker decided, summed over one report (or one answer)."""

    claims: int = 0
    claims_supported: int = 0
    citations_kept: int = 0
    citations_reattributed: int = 0
    citations_removed: int = 0
    unsupported_claims: int = 0
    support_sum: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def mean_support(self) -> float:
        kept = self.citations_kept + self.citations_reattributed
        return round(self.support_sum / kept, 4) if kept else 0.0

    def plus(self, other: GroundingFigures) -> GroundingFigures:
        return GroundingFigures(
            **{name: getattr(self, name) + getattr(other, name) for name in type(self).model_fields}
        )


@dataclass
class Evidence:
    """The retrieved text of each numbered source, tokenised once per check, with an index
    from words to sources so that finding the best-supporting source scores only the sources
    that could reach the threshold (linear in what they share with the claim)."""

    texts: Mapping[int, str]
    # Each source's title: a copy of it is no claim either (a passage of a page's second
    # section does not hold the page's title line).
    titles: Mapping[int, str] = field(default_factory=dict)
    _prepared: dict[int, PreparedPassage] = field(default_factory=dict)
    _postings: dict[str, list[int]] = field(default_factory=dict)
    _indexed: set[int] = field(default_factory=set)

    def passage(self, number: int) -> PreparedPassage | None:
        if number not in self.texts:
            return None
        if number not in self._prepared:
            self._prepared[number] = prepare(self.texts[number])
        return self._prepared[number]

    def unfinished(self, text: str, numbers: Sequence[int], asked: Sequence[str] = ()) -> bool:
        """No claim for the report a reader gets (sentences.is_unfinished), a copy of a
        heading or title line of a source it cites (sentences.copies_a_label), or a question
        of `asked` said back without its question mark (restates)."""
        return (
            is_unfinished(text)
            or restates(text, asked)
            or copies_a_label(text, self._labelled(numbers))
        )

    def _labelled(self, numbers: Sequence[int]) -> list[str]:
        """The texts of the sources `numbers` that the run holds, and every held source's
        title: the queue-join note "queue (Python standard library module)[1]" copied the
        title of source 2."""
        held = [n for n in numbers if n in self.texts]
        return [self.texts[n] for n in held] + list(self.titles.values())

    def completed(self, text: str, numbers: Sequence[int]) -> str | None:
        """`text` made whole from the sources it cites when it is a cut copy of one of their
        sentences (sentences.completed), else None. A cut copy of another held source's
        sentence after whole ones is dropped, never filled in: the demo's note cited [1] for
        "… This allows common", the start of a sentence of [2], and the rest of [2]'s
        sentence would go out under [1]."""
        cited = [self.texts[n] for n in numbers if n in self.texts]
        whole = completed(text, cited)
        if whole is not None:
            return whole
        others = (t for n, t in self.texts.items() if n not in numbers)
        return completed(text, others, fill=False)

    def score(self, claim: str | PreparedClaim, number: int) -> float:
        passage = self.passage(number)
        return support_score(claim, passage) if passage is not None else 0.0

    def best(
        self, claim: str, among: Sequence[int], threshold: float = 0.0
    ) -> tuple[int, float] | None:
        """The best-supporting source among `among` (lowest number wins a tie), considering
        only sources whose words could lift the claim to `threshold`."""
        said = prepare_claim(claim)
        if not said.content:
            return None
        candidates = self._candidates(said, among, threshold)
        best: tuple[int, float] | None = None
        for number in candidates:
            score = self.score(said, number)
            if best is None or score > best[1]:
                best = (number, score)
        return best

    def _candidates(self, said: PreparedClaim, among: Sequence[int], threshold: float) -> list[int]:
        for number in among:
            if number not in self._indexed and (passage := self.passage(number)) is not None:
                self._indexed.add(number)
                for word in passage.content:
                    self._postings.setdefault(word, []).append(number)
        total = sum(weight(w) for w in said.content)
        gain: dict[int, float] = {}
        for word in said.content:
            holders = {n for key in coverage_keys(word) for n in self._postings.get(key, ())}
            for number in holders:
                gain[number] = gain.get(number, 0.0) + weight(word)
        # support_score <= 0.75 * covered + 0.25 (word pairs count at most a quarter).
        wanted = set(among)
        return sorted(
            n for n, g in gain.items() if n in wanted and 0.75 * g / total + 0.25 >= threshold
        )


def clean_claim_text(text: str) -> str:
    """A claim's text without citation-like markers of its own (code spans left as they are:
    `xs[1]` is code, not a citation)."""
    parts = CODE_SPAN.split(text)
    spans = CODE_SPAN.findall(text)
    cleaned = [_INLINE_MARKER.sub("", part) for part in parts]
    out = cleaned[0] + "".join(span + rest for span, rest in zip(spans, cleaned[1:], strict=True))
    return out.strip()


def check_claims(
    claims: Sequence[Claim],
    evidence: Evidence,
    *,
    pool: Sequence[int],
    threshold: float = DEFAULT_THRESHOLD,
    statements_only: bool = True,
    strict: bool = False,
    asked: Sequence[str] = (),
) -> tuple[list[CheckedClaim], GroundingFigures]:
    """Check every citation of every claim against the evidence of the source it names.

    `pool` is the sources a citation may be moved to (the run's retrieved sources).
    A number with no evidence (unknown, invented) is removed like an unsupported one.
    A question, a heading or a fragment of a few words states nothing, so no source can
    support it (with `statements_only`; a table row is a fragment that may be cited).
    `strict` (the final report only: the loop's drafts decide when to stop, and runs in
    flight must decide as they did): an unfinished text (sentences.is_unfinished) neither, and
    a text copying the start of a sentence its source holds becomes that whole sentence, and
    a text that says a question of `asked` back (restates) is no claim.
    """
    checked: list[CheckedClaim] = []
    figures = GroundingFigures()
    for claim in claims:
        text = clean_claim_text(claim.text)
        if not text:
            continue
        if strict and claim.sources:  # a cut copy of a cited sentence reads as that sentence
            text = evidence.completed(text, claim.sources) or text
        kept: list[int] = []
        best_support = 0.0
        moved_to: int | None = None
        if statements_only and (
            is_fragment(text) or (strict and evidence.unfinished(text, claim.sources, asked))
        ):
            figures.claims += 1
            figures.unsupported_claims += 1
            figures.citations_removed += len(set(claim.sources))
            checked.append(CheckedClaim(text=text))
            continue
        for number in dict.fromkeys(claim.sources):
            score = evidence.score(text, number)
            if score >= threshold:
                if number not in kept:
                    kept.append(number)
                    figures.citations_kept += 1
                    figures.support_sum += score
                best_support = max(best_support, score)
                continue
            figures.citations_removed += 1
        if not kept:
            # No cited source holds the claim: is there one in the run that does?
            found = evidence.best(text, pool, threshold)
            if found is not None and found[1] >= threshold:
                moved_to, score = found
                kept.append(moved_to)
                best_support = score
                figures.citations_reattributed += 1
                figures.support_sum += score
                # The move replaces one removal when the claim cited something.
                if claim.sources:
                    figures.citations_removed -= 1
        figures.claims += 1
        if kept:
            figures.claims_supported += 1
        else:
            figures.unsupported_claims += 1
        checked.append(
            CheckedClaim(
                text=text, sources=sorted(kept), support=best_support, supported=bool(kept)
            )
        )
    return checked, figures


def render_claims(claims: Sequence[CheckedClaim], policy: UnsupportedPolicy = "mark") -> str:
    """Claims as one paragraph, `[n]` after each claim that has support.

    A claim whose text is a block of its own (a list, a table, code) starts a new paragraph,
    so Markdown inside a claim keeps working.
    """
    parts: list[str] = []
    for claim in claims:
        if not claim.supported and policy == "drop":
            continue
        marks = "".join(f"[{n}]" for n in claim.sources)
        if not claim.supported and policy == "mark":
            marks = f" {UNSUPPORTED_MARK}"
        text = claim.text.rstrip()
        if _is_block(text):
            parts.append(f"\n\n{text}\n\n{marks.strip()}" if marks.strip() else f"\n\n{text}\n\n")
        else:
            sep = " " if parts and not parts[-1].endswith("\n") else ""
            parts.append(f"{sep}{text}{marks}")
    return re.sub(r"\n{3,}", "\n\n", "".join(parts)).strip()


def _is_block(text: str) -> bool:
    first = text.lstrip().split("\n", 1)[0]
    return "\n" in text or first.startswith(("- ", "* ", "1. ", "|", "```", "    ", ">"))


def cites_enough(body_cited: set[int], findings_cited: set[int]) -> bool:
    """The appendix rule `auto`: the body cites at least half of what the findings cite."""
    if not findings_cited:
        return True
    return len(body_cited & findings_cited) * 2 >= len(findings_cited)


def draft_is_grounded(figures: GroundingFigures, *, min_supported_share: float = 0.5) -> bool:
    """May the judge stop the loop on this draft? Not when it cites nothing retrieved, or when
    most of its claims have no supporting source, whatever score the judge gave."""
    if figures.claims_supported == 0:
        return False
    return figures.claims_supported >= min_supported_share * figures.claims
