"""The run-wide source registry's findings and checks (workflows/sources.py), pure: which
citations an answer keeps, the quote that stands in when the model backs nothing, and the report
settings (threshold, policy) reaching every check. tests/test_sources.py covers numbering,
registration and bounds; these are the edges bench/mutation.py found unkilled.
"""

from __future__ import annotations

from workflows.config import ReportConfig
from workflows.grounding import UNSUPPORTED_MARK
from workflows.models import EVIDENCE_MAX_CHARS, EVIDENCE_RUN_MAX_CHARS, Source
from workflows.sources import SourceRegistry
from workflows.state import RunState

HEAP = "Heaps keep the smallest element at the root."
JSON = "json.dumps serializes objects to JSON text with an optional indent."


def source(n: int, evidence: str) -> Source:
    return Source(
        id=f"s{n}",
        title=f"T{n}",
        location=f"/c/{n}.md",
        provider="local",
        retrieved_at="2026-01-01T00:00:00Z",
        evidence=evidence,
    )


def registry(report: ReportConfig | None = None) -> tuple[RunState, SourceRegistry]:
    state = RunState()
    sources = SourceRegistry(state, report)
    assert sources.number_of(source(1, HEAP)) == 1
    assert sources.number_of(source(2, JSON)) == 2
    return state, sources


def test_a_backed_answer_keeps_every_registered_citation_and_no_quote() -> None:
    state, sources = registry()
    qa = sources.finding(3, "What do heaps keep?", f"{HEAP}[1] {JSON}[2]", [source(1, HEAP)])
    assert qa.answer == f"{HEAP}[1] {JSON}[2]"
    assert (qa.iteration, qa.question, qa.source_numbers) == (3, "What do heaps keep?", [1, 2])
    figures = state.findings_grounding
    assert (figures.claims, figures.claims_supported, figures.citations_kept) == (2, 2, 2)


def test_numbers_that_are_not_registered_sources_are_dropped() -> None:
    _, sources = registry()
    qa = sources.finding(1, "q", f"{HEAP}[3]\n\n{JSON}[0][2]")
    # [3] and [0] name no source: dropped; the heap claim then goes to the source that backs it.
    assert qa.answer == f"{HEAP}[1]\n\n{JSON}[2]"
    assert qa.source_numbers == [1, 2]


def test_an_answer_that_backs_nothing_gets_the_best_retrieved_sentence_as_a_quote() -> None:
    state, sources = registry()
    retrieved = [source(3, "Unrelated words here. Heaps keep the smallest element at the root.")]
    qa = sources.finding(1, "What do heaps keep at the root?", "Tomatoes grow in soil.", retrieved)
    assert qa.answer == (
        f"Tomatoes grow in soil. {UNSUPPORTED_MARK}\n\n"
        '> "Heaps keep the smallest element at the root."[3]'
    )
    assert qa.source_numbers == [3] and len(sources) == 3
    figures = state.findings_grounding
    assert (figures.claims, figures.claims_supported, figures.unsupported_claims) == (2, 1, 1)
    # Figures add up over findings.
    sources.finding(2, "q", f"{HEAP}[1]")
    assert (state.findings_grounding.claims, state.findings_grounding.claims_supported) == (3, 2)


def test_nothing_retrieved_means_no_quote() -> None:
    _, sources = registry()
    qa = sources.finding(1, "What do heaps keep?", "Tomatoes grow in soil.", [])
    assert qa.answer == f"Tomatoes grow in soil. {UNSUPPORTED_MARK}" and qa.source_numbers == []


def test_the_report_settings_reach_every_check() -> None:
    _, dropping = registry(ReportConfig(unsupported="drop"))
    assert dropping.ground("Tomatoes grow in soil.") == ("", dropping.ground("x")[1])
    assert dropping.ground("Tomatoes grow in soil.", policy="keep")[0] == "Tomatoes grow in soil."
    _, strict = registry(ReportConfig(support_threshold=1.0))
    text, figures = strict.ground("Heaps keep the smallest element first.[1]")
    assert text == f"Heaps keep the smallest element first. {UNSUPPORTED_MARK}"
    assert figures.citations_removed == 1
    _, default = registry()
    assert default.ground("Heaps keep the smallest element first.[1]")[0].endswith("[1]")


def test_any_registered_source_may_take_over_a_citation() -> None:
    _, sources = registry()
    text, figures = sources.ground(f"{HEAP}[2] and [7]")
    assert text.startswith(f"{HEAP}[1]")
    assert figures.citations_reattributed == 1 and figures.citations_removed >= 1


def test_the_run_wide_evidence_bound_is_exact_and_a_quote_stands_in_after_it() -> None:
    state = RunState()
    sources = SourceRegistry(state)
    size = 1_000
    assert size <= EVIDENCE_MAX_CHARS and EVIDENCE_RUN_MAX_CHARS % size == 0
    full = "e" * size
    fits = EVIDENCE_RUN_MAX_CHARS // size
    for n in range(1, fits + 1):
        assert sources.number_of(source(n, full)) == n
    assert sum(len(s.evidence) for s in state.sources) == EVIDENCE_RUN_MAX_CHARS  # at the bound
    over = source(fits + 1, "x").model_copy(update={"quote": "the quote"})
    assert sources.number_of(over) == fits + 1
    assert state.sources[-1].evidence == "" and state.sources[-1].quote == "the quote"
    # The bound holds for the registry rebuilt from the state (continue-as-new).
    again = SourceRegistry(state)
    assert again.number_of(source(fits + 2, "y")) == fits + 2
    assert state.sources[-1].evidence == ""
    assert again.evidence.texts[fits + 1] == "the quote"  # what its citations are checked against


def test_numbers_views_and_evidence_texts_agree() -> None:
    _, sources = registry()
    assert [(s.number, s.source.id) for s in sources.all()] == [(1, "s1"), (2, "s2")]
    assert [s.source.id for s in sources.numbered([2])] == ["s2"]
    assert dict(sources.evidence.texts) == {1: HEAP, 2: JSON}
    assert 0 not in sources.evidence.texts and 3 not in sources.evidence.texts
