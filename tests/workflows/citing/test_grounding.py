"""The citation checker and claim rendering (workflows/citing/grounding.py, support.py), and
check_claims at its thresholds: a citation at exactly the threshold, figures summed over many
claims, ties, the candidate pool (the cases bench/mutation.py found unkilled)."""

from __future__ import annotations

import json

from activities.llm_answers import parse_structured
from activities.prompts._claims import (
    CitedClaim as CitedClaimAnswer,
)
from activities.prompts._claims import (
    claims_markdown,
    report_markdown,
    with_allowed_sources,
)
from activities.prompts.report_synthesizer import ReportAnswer
from tests.support.paths import ROOT
from workflows.citing.claim_text import claims_of, ground_markdown
from workflows.citing.evidence_fill import fill_uncited_sections, quote_for, quoted_claim
from workflows.citing.grounding import (
    UNSUPPORTED_MARK,
    CheckedClaim,
    Claim,
    Evidence,
    GroundingFigures,
    check_claims,
    cites_enough,
    clean_claim_text,
    draft_is_grounded,
    render_claims,
)
from workflows.citing.support import DEFAULT_THRESHOLD, support_score
from workflows.models import QAPair, Source

HEAPQ = (
    "heapq -- Heap queue algorithm. Heaps are binary trees for which every parent node has a "
    "value less than or equal to any of its children. The smallest element is always the root, "
    "heap[0]. heappush(heap, item) pushes the value item onto the heap, maintaining the heap "
    "invariant."
)
JSON = (
    "json.dumps(obj, *, skipkeys=False, ensure_ascii=True, indent=None) serializes obj to a JSON "
    "formatted str. If indent is a non-negative integer or string, then JSON array elements and "
    "object members will be pretty-printed with that indent level."
)
EVIDENCE = {1: HEAPQ, 2: JSON}
LABELS = ROOT / "eval" / "support_labels.jsonl"


def test_support_separates_a_stated_fact_from_an_unstated_one() -> None:
    assert support_score("The smallest element of a heap is always the root, heap[0].", HEAPQ) > 0.7
    assert support_score("json.dumps pretty-prints with an indent level.", HEAPQ) < 0.3
    # Same vocabulary, a number the passage never states.
    stated = support_score("json.dumps pretty-prints members with the indent level.", JSON)
    invented = support_score("json.dumps pretty-prints members with 4 spaces of indent.", JSON)
    assert invented < stated


def test_a_supported_citation_is_kept() -> None:
    claims = [Claim(text="The smallest element is always the root of the heap.", sources=[1])]
    checked, figures = check_claims(claims, Evidence(EVIDENCE), pool=[1, 2])
    assert checked[0].sources == [1] and checked[0].supported
    assert (figures.citations_kept, figures.citations_removed) == (1, 0)
    assert figures.claims_supported == 1 and figures.mean_support > 0.5


def test_a_wrong_citation_is_moved_to_the_source_that_supports_the_claim() -> None:
    claims = [Claim(text="json.dumps pretty-prints object members with an indent.", sources=[1])]
    checked, figures = check_claims(claims, Evidence(EVIDENCE), pool=[1, 2])
    assert checked[0].sources == [2]
    assert figures.citations_reattributed == 1 and figures.citations_removed == 0


def test_an_unknown_or_unsupported_number_never_survives() -> None:
    claims = [
        Claim(text="The heap root holds its smallest element.", sources=[99]),
        Claim(text="Tomatoes grow best in volcanic soil near the sea.", sources=[1, 2]),
    ]
    checked, figures = check_claims(claims, Evidence(EVIDENCE), pool=[1, 2])
    assert checked[0].sources == [1]  # 99 is unknown: re-attributed to the real one
    assert checked[1].sources == [] and not checked[1].supported
    assert figures.citations_removed == 2 and figures.unsupported_claims == 1


def test_claims_render_as_a_paragraph_with_citations_after_each() -> None:
    claims = [
        CheckedClaim(text="Heaps keep the smallest item first.", sources=[1], supported=True),
        CheckedClaim(text="dumps can indent.", sources=[2, 1], supported=True),
        CheckedClaim(text="Nothing backs this.", sources=[], supported=False),
    ]
    text = render_claims(claims, "mark")
    assert text == (
        "Heaps keep the smallest item first.[1] dumps can indent.[2][1] "
        f"Nothing backs this. {UNSUPPORTED_MARK}"
    )
    assert "Nothing backs this" not in render_claims(claims, "drop")
    assert render_claims(claims, "keep").endswith("Nothing backs this.")


def test_a_claim_that_is_a_list_keeps_its_markdown() -> None:
    claims = [
        CheckedClaim(text="Two functions matter:", sources=[1], supported=True),
        CheckedClaim(text="- heappush\n- heappop", sources=[1], supported=True),
    ]
    assert "\n\n- heappush\n- heappop\n\n[1]" in render_claims(claims)


def test_claim_text_loses_its_own_citation_markers() -> None:
    assert clean_claim_text("Heaps are trees [3] [ 7 ] [^2] [1-2].") == "Heaps are trees."


def test_appendix_rule_needs_half_of_the_findings_sources() -> None:
    assert cites_enough({1, 2}, {1, 2, 3, 4})
    assert not cites_enough({1}, {1, 2, 3})
    assert cites_enough(set(), set())


def test_a_draft_that_cites_nothing_cannot_stop_the_loop() -> None:
    _, none_cited = check_claims(
        [Claim(text="Tomatoes grow in soil.", sources=[])], Evidence(EVIDENCE), pool=[1, 2]
    )
    assert not draft_is_grounded(none_cited)
    _, cited = check_claims(
        [Claim(text="The smallest element is always the root of the heap.", sources=[1])],
        Evidence(EVIDENCE),
        pool=[1, 2],
    )
    assert draft_is_grounded(cited)


def test_markdown_is_checked_claim_by_claim_and_keeps_its_shape() -> None:
    markdown = (
        "# Heaps and JSON\n\n"
        "The smallest element is always the root of the heap.[2] "
        "json.dumps pretty-prints object members with an indent level.[2]\n\n"
        "- heappush pushes the item onto the heap, maintaining the invariant.[1]\n"
        "- Tomatoes grow in volcanic soil.[1]\n\n"
        "```python\nxs[1]  # not a citation [1]\n```"
    )
    text, figures = ground_markdown(markdown, Evidence(EVIDENCE), pool=[1, 2])
    assert text.startswith("# Heaps and JSON\n\n")
    assert "root of the heap.[1] json.dumps" in text  # moved from [2] to the heap passage
    assert "indent level.[2]" in text
    assert "- heappush pushes the item onto the heap, maintaining the invariant.[1]" in text
    assert f"- Tomatoes grow in volcanic soil. {UNSUPPORTED_MARK}" in text
    assert "```python\nxs[1]  # not a citation [1]\n```" in text
    assert figures.claims == 4 and figures.claims_supported == 3
    assert figures.citations_reattributed == 1 and figures.citations_removed == 1


def test_claims_are_read_back_as_they_were_rendered() -> None:
    claims = claims_of("A is true.[1][2] B holds [3]. C has no source. D neither.")
    assert [(c.text, c.sources) for c in claims] == [
        ("A is true.", [1, 2]),
        ("B holds.", [3]),
        ("C has no source.", []),
        ("D neither.", []),
    ]


def test_scorer_precision_and_recall_on_the_hand_labelled_pairs() -> None:
    """The figures docs/use/citations.md states (eval/support_labels.jsonl, written by reading the
    docs)."""
    rows = [json.loads(line) for line in LABELS.read_text().splitlines() if line.strip()]
    said = [
        (support_score(r["claim"], r["passage"]) >= DEFAULT_THRESHOLD, r["supported"]) for r in rows
    ]
    true_pos = sum(1 for got, want in said if got and want)
    precision = true_pos / sum(1 for got, _ in said if got)
    recall = true_pos / sum(1 for _, want in said if want)
    assert len(rows) >= 100
    assert precision >= 0.8 and recall >= 0.8, (precision, recall)


def test_an_answer_nothing_backs_gets_the_best_retrieved_sentence_quoted() -> None:
    source = Source(
        id="p1",
        title="heapq",
        location="modules/heapq.md",
        provider="local",
        retrieved_at="2026-01-01T00:00:00",
        evidence=HEAPQ,
    )
    found = quote_for("What is always the root of a heap?", [source])
    assert found is not None and found[0] is source
    assert found[1] == "The smallest element is always the root, heap[0]."
    quote = quoted_claim(found[1], 4)
    text, figures = ground_markdown(quote, Evidence({4: HEAPQ}), pool=[4])
    assert text == '> "The smallest element is always the root, heap(0)."[4]'
    assert figures.claims_supported == 1


def test_a_report_section_that_cites_nothing_gets_a_related_finding() -> None:
    findings = [
        QAPair(iteration=1, question="heaps?", answer="The root is the smallest item.[1]"),
        QAPair(iteration=1, question="json?", answer="dumps can indent its output.[2]"),
    ]
    body = (
        "# R\n\nSummary.[1]\n\n## JSON output\n\nThe model said nothing useful.\n\n"
        "## Heaps\n\nHeaps are trees.[1]"
    )
    filled, count = fill_uncited_sections(body, findings)
    assert count == 1
    note = "The model said nothing useful.\n\n*From the research notes:* "
    assert f"## JSON output\n\n{note}dumps can indent its output.[2]" in filled
    assert filled.endswith("## Heaps\n\nHeaps are trees.[1]")


def test_a_report_cut_at_the_token_limit_keeps_its_complete_parts() -> None:
    """The schema asks the provider for every field; validation takes what arrived."""
    schema = with_allowed_sources(ReportAnswer, [1, 2])
    asked = schema.model_json_schema()["$defs"]["CitedClaim"]
    assert asked["required"] == ["text", "sources"]
    assert asked["properties"]["sources"]["items"]["enum"] == [1, 2]
    cut = (
        '{"title": "T", "summary": [{"text": "s", "sources": [1]}], "sections": ['
        '{"heading": "A", "claims": [{"text": "c", "sources": [2]}]}, {"heading": "Half'
    )
    answer = parse_structured(cut, schema, truncated=True)
    assert report_markdown(answer) == "# T\n\ns[1]\n\n## A\n\nc[2]"


def test_a_table_keeps_its_shape_and_each_row_is_a_claim() -> None:
    table = (
        "| function | what it does |\n"
        "|---|---|\n"
        "| heappush | pushes the value item onto the heap, maintaining the heap invariant[1] |\n"
        "| tomatoes | grow in volcanic soil[1] |"
    )
    text, figures = ground_markdown(table, Evidence(EVIDENCE), pool=[1, 2])
    assert text.splitlines() == [
        "| function | what it does |",  # the header is not a claim
        "|---|---|",
        "| heappush | pushes the value item onto the heap, maintaining the heap invariant[1] |",
        f"| tomatoes | grow in volcanic soil {UNSUPPORTED_MARK} |",
    ]
    assert (figures.claims, figures.claims_supported) == (2, 1)


def test_only_backed_finding_claims_fill_a_section() -> None:
    answer = (
        f"How do generators work? {UNSUPPORTED_MARK}\n\n"
        '> "The smallest element is always the root, heap(0)."[1]'
    )
    findings = [QAPair(iteration=1, question="heaps?", answer=answer)]
    filled, count = fill_uncited_sections("# R\n\n## Heaps\n\nNothing.", findings)
    assert count == 1
    assert filled.endswith(
        '*From the research notes:* "The smallest element is always the root, heap(0)."[1]\n\n'
    )


def test_sections_are_filled_with_different_claims_while_there_are_any() -> None:
    findings = [
        QAPair(iteration=1, question="a?", answer="Heaps keep the smallest item first.[1]"),
        QAPair(iteration=1, question="b?", answer="dumps can indent its output.[2]"),
    ]
    body = "# R\n\n## Heaps one\n\nx\n\n## Heaps two\n\ny\n\n## Heaps three\n\nz"
    filled, count = fill_uncited_sections(body, findings)
    assert count == 3
    assert filled.count("smallest item first.[1]") == 2 and filled.count("indent its output") == 1


def test_a_citation_glued_to_a_word_is_checked_but_code_is_not_a_citation() -> None:
    text, figures = ground_markdown(
        "Tomatoes grow on heaps[1][2]. Use `xs[1]` for the root.", Evidence(EVIDENCE), pool=[1, 2]
    )
    assert "heaps[1]" not in text and UNSUPPORTED_MARK in text
    assert "`xs[1]`" in text
    assert figures.citations_removed == 2


def test_a_claim_copied_from_a_heading_does_not_become_one() -> None:
    claims = [CitedClaimAnswer(text="# json module", sources=[1])]
    assert claims_markdown(claims) == "\\# json module[1]"


# -------------------------- check_claims: thresholds at equality, figures, ties, the candidate pool


# One sentence per source: a claim that repeats it is fully supported.
HEAP_LINE = "Heaps keep the smallest element at the root."
JSON_LINE = "json.dumps serializes objects to JSON text with an optional indent."
SENTENCES = {1: HEAP_LINE, 2: JSON_LINE}


def test_a_citation_exactly_at_the_threshold_is_kept() -> None:
    evidence = Evidence(SENTENCES)
    text = "Heaps keep the smallest element first."
    score = evidence.score(text, 1)
    assert 0 < score < 1
    checked, figures = check_claims(
        [Claim(text=text, sources=[1])], evidence, pool=[1], threshold=score
    )
    assert checked[0].sources == [1] and checked[0].support == score
    assert figures.citations_kept == 1
    # Moved to another source at exactly the threshold too.
    moved, figures = check_claims(
        [Claim(text=text, sources=[2])], evidence, pool=[1, 2], threshold=score
    )
    assert moved[0].sources == [1] and figures.citations_reattributed == 1


def test_figures_add_up_over_many_claims() -> None:
    evidence = Evidence(SENTENCES)
    claims = [
        Claim(text="[1]", sources=[1]),  # nothing left once the marker is gone: skipped
        Claim(text=HEAP_LINE, sources=[1, 2]),
        Claim(text=JSON_LINE, sources=[2, 1]),
        Claim(text=HEAP_LINE, sources=[2]),  # moved to 1
        Claim(text=JSON_LINE, sources=[]),  # found in 2
        Claim(text="Tomatoes grow in volcanic soil.", sources=[1]),
        Claim(text="Penguins cannot fly far.", sources=[]),
    ]
    checked, figures = check_claims(claims, evidence, pool=[1, 2])
    assert [c.sources for c in checked] == [[1], [2], [1], [2], [], []]
    assert [c.support for c in checked] == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    assert figures.model_dump() == {
        "claims": 6,
        "claims_supported": 4,
        "citations_kept": 2,
        "citations_reattributed": 2,
        "citations_removed": 3,  # 2 of claim two and three, 1 of the tomato; 1 move replaced one
        "unsupported_claims": 2,
        "support_sum": 4.0,
        "mean_support": 1.0,
    }


def test_every_supporting_citation_of_a_claim_is_kept() -> None:
    evidence = Evidence(
        {1: HEAP_LINE, 2: HEAP_LINE + " Always.", 3: "Something else entirely here."}
    )
    checked, figures = check_claims(
        [Claim(text=HEAP_LINE, sources=[3, 2, 1])], evidence, pool=[1, 2]
    )
    assert checked[0].sources == [1, 2] and figures.citations_kept == 2
    assert figures.citations_removed == 1


def test_support_is_the_best_kept_score() -> None:
    evidence = Evidence(SENTENCES)
    text = "Heaps keep the smallest element first."
    score = evidence.score(text, 1)
    checked, figures = check_claims(
        [Claim(text=text, sources=[1])], evidence, pool=[1], threshold=0.5
    )
    assert checked[0].support == score < 1.0
    assert figures.support_sum == score


def test_best_prefers_the_lowest_number_on_a_tie_and_stays_in_its_pool() -> None:
    evidence = Evidence({1: JSON_LINE, 2: HEAP_LINE, 3: HEAP_LINE})
    assert evidence.best(HEAP_LINE, [1, 2, 3]) == (2, 1.0)
    assert evidence.best(HEAP_LINE, [3, 2]) == (2, 1.0)
    # Sources indexed by an earlier call are never taken from outside the pool given.
    assert evidence.best(HEAP_LINE, [1]) is None or evidence.best(HEAP_LINE, [1])[0] == 1
    # Without a threshold a weak match still counts; at 1.0 a full match still qualifies.
    weak = evidence.best("json heaps penguins walruses", [1, 2])
    assert weak is not None and weak[1] < 0.5
    assert evidence.best(HEAP_LINE, [1, 2], threshold=1.0) == (2, 1.0)
    assert evidence.best("the of and", [1, 2]) is None


def test_a_draft_is_grounded_with_half_of_its_claims_supported() -> None:
    assert draft_is_grounded(GroundingFigures(claims=2, claims_supported=1))
    assert draft_is_grounded(GroundingFigures(claims=4, claims_supported=2))
    assert not draft_is_grounded(GroundingFigures(claims=4, claims_supported=1))
    assert not draft_is_grounded(GroundingFigures(claims=0, claims_supported=0))
