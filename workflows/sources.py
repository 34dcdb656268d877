"""The run-wide source registry: every source an answer cites gets one number for the whole run,
and answers, findings and drafts cite those numbers. Pure code over RunState (no Temporal API).

Numbers are handed out in the order the workflow calls `globalise` — question order, then
variant order, never completion order — so the same answers always give the same numbers.
Every text is cut to its bound *before* any citation regex runs over it: model output of any
size costs the workflow task a bounded, linear amount of work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from workflows.citing.citations import cited_numbers, remap_citations
from workflows.citing.claim_text import ground_markdown
from workflows.citing.evidence_fill import quote_for, quoted_claim
from workflows.citing.grounding import Evidence, GroundingFigures
from workflows.config import ReportConfig
from workflows.models import (
    ANSWER_MAX_CHARS,
    EVIDENCE_RUN_MAX_CHARS,
    NumberedSource,
    QAPair,
    RetrievalOutput,
    Source,
    cap_text,
)
from workflows.state import RunState


def as_listed(
    state: RunState, sources: Iterable[NumberedSource], *, quotes: bool = True
) -> list[NumberedSource]:
    """The sources as a node that lists or quotes them reads them: number, title, location and
    (with `quotes`) quote, without the evidence (up to EVIDENCE_MAX_CHARS each) that only
    grounding reads. The integrator (no quotes) and the self-evolution judges get these, so
    their inputs (and the history) do not grow by the evidence of every source the run holds.
    Runs started before BARE_SOURCES_PATCH (`state.bare_sources` False) get them whole."""
    if not state.bare_sources:
        return list(sources)
    update = {"evidence": ""} if quotes else {"evidence": "", "quote": ""}
    return [
        NumberedSource(number=s.number, source=s.source.model_copy(update=update)) for s in sources
    ]


class _SourceTexts(Mapping[int, str]):
    """Source number → one text of that source (a live view of the state): by default the
    text its citations are checked against."""

    def __init__(self, sources: list[Source], read: Callable[[Source], str] | None = None) -> None:
        self._sources = sources
        self._read = read or (lambda source: source.evidence or source.quote)

    def __getitem__(self, number: int) -> str:
        if not 1 <= number <= len(self._sources):
            raise KeyError(number)
        return self._read(self._sources[number - 1])

    def __iter__(self) -> Iterator[int]:
        return iter(range(1, len(self._sources) + 1))

    def __len__(self) -> int:
        return len(self._sources)


class SourceRegistry:
    """A view over the state's source list (number n is sources[n-1]) with an index by id."""

    def __init__(self, state: RunState, report: ReportConfig | None = None) -> None:
        self._state = state
        self._report = report or ReportConfig()
        self._numbers = {source.id: n for n, source in enumerate(state.sources, 1)}
        self._evidence_chars = sum(len(s.evidence) for s in state.sources)
        # Tokenised passages are cached here, not in the state: they are derived data.
        self.evidence = Evidence(
            _SourceTexts(state.sources), titles=_SourceTexts(state.sources, lambda s: s.title)
        )

    def __len__(self) -> int:
        return len(self._state.sources)

    def number_of(self, source: Source) -> int:
        """The source's run-wide number, registering it if it is new."""
        if source.id not in self._numbers:
            if self._evidence_chars + len(source.evidence) > EVIDENCE_RUN_MAX_CHARS:
                source = source.model_copy(update={"evidence": ""})  # its quote stands in
            self._evidence_chars += len(source.evidence)
            self._state.sources.append(source)
            self._numbers[source.id] = len(self._state.sources)
        return self._numbers[source.id]

    def globalise(self, answer: RetrievalOutput) -> str:
        """The answer (cut to ANSWER_MAX_CHARS) with its local [i] rewritten to run-wide numbers;
        a citation of no retrieved document is dropped. Every retrieved source counts as
        retrieved, cited or not."""
        text = cap_text(answer.answer, ANSWER_MAX_CHARS)
        mapping: dict[int, int] = {}
        for local in cited_numbers(text):
            if 1 <= local <= len(answer.sources):
                mapping[local] = self.number_of(answer.sources[local - 1])
        for source in answer.sources:
            self._state.add_retrieved(source.id)
            if self._state.anchored:  # every passage retrieved is evidence the report may quote
                self.number_of(source)
        remapped, _ = remap_citations(text, mapping)
        return remapped

    def numbered(self, numbers: Iterable[int]) -> list[NumberedSource]:
        return [NumberedSource(number=n, source=self._state.sources[n - 1]) for n in numbers]

    def all(self) -> list[NumberedSource]:
        return self.numbered(range(1, len(self) + 1))

    def listed(
        self, numbers: Iterable[int] | None = None, *, quotes: bool = True
    ) -> list[NumberedSource]:
        """The sources (all by default) as a node that lists or quotes them gets them
        (`as_listed`)."""
        numbered = self.all() if numbers is None else self.numbered(numbers)
        return as_listed(self._state, numbered, quotes=quotes)

    def cited_in(self, texts: Iterable[str]) -> list[NumberedSource]:
        """The registered sources the texts cite, by number (texts are already bounded), as
        a judge of them gets them (`as_listed`)."""
        cited = sorted({n for text in texts for n in cited_numbers(text) if 1 <= n <= len(self)})
        return self.listed(cited)

    def finding(
        self, iteration: int, question: str, text: str, retrieved: Sequence[Source] = ()
    ) -> QAPair:
        """An answer as kept for the rest of the run, a citation that is not a registered source
        (a revision or merge may invent one) dropped, every claim checked. The text is bounded
        already: a sampled answer by `globalise`, an evolved one when the workflow received it
        (evolution.py). An answer none of whose claims is backed gets the retrieved sentence
        that best matches the question, quoted and cited (workflows/citing/evidence_fill.py)."""
        # ground() drops (and counts) numbers that are no registered source first.
        grounded, figures = self.ground(text)
        on_subject = self._state.quote_on_subject
        if figures.claims_supported == 0 and (found := quote_for(question, retrieved, on_subject)):
            source, sentence = found
            quote, quoted = self.ground(quoted_claim(sentence, self.number_of(source)))
            grounded, figures = f"{grounded}\n\n{quote}".strip(), figures.plus(quoted)
        self._state.findings_grounding = self._state.findings_grounding.plus(figures)
        return QAPair(
            iteration=iteration,
            question=question,
            answer=grounded,
            source_numbers=sorted(set(cited_numbers(grounded))),
        )

    def ground(
        self,
        markdown: str,
        *,
        policy: str | None = None,
        dropped: list[str] | None = None,
        strict: bool = False,
        asked: Sequence[str] = (),
    ) -> tuple[str, GroundingFigures]:
        """Every claim of `markdown` checked against the evidence of the sources it cites
        (workflows/citing/grounding.py); any source of the run may take over a citation. `strict`
        and `asked`: the final report's check (grounding.check_claims)."""
        # Every number-like marker ([ 7 ], [7-8], word[7]…) read as the sanitiser reads it.
        known = {n: n for n in range(1, len(self) + 1)}
        normalised, unknown = remap_citations(markdown, known)
        grounded, figures = ground_markdown(
            normalised,
            self.evidence,
            pool=range(1, len(self) + 1),
            threshold=self._report.support_threshold,
            policy=policy or self._report.unsupported,  # type: ignore[arg-type]
            dropped=dropped,
            strict=strict,
            asked=asked,
        )
        figures.citations_removed += unknown
        return grounded, figures
