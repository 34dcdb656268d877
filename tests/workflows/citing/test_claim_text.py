"""Claims as the report writes and reads them (workflows/citing/grounding.py's render_claims,
claim_text.py): rendering with the unsupported-claim policy, paragraphs around block
claims, claims read back from text (markers and punctuation end a claim), and Markdown shapes
(fences, headings, lists, tables) checked claim by claim and written back. Pure: no server.
Written from the mutants bench/mutation.py found unkilled.
"""

from __future__ import annotations

import pytest

from workflows.citing.claim_text import claims_of, ground_markdown
from workflows.citing.grounding import (
    UNSUPPORTED_MARK,
    CheckedClaim,
    Evidence,
    render_claims,
)

HEAP = "Heaps keep the smallest element at the root."
JSON = "json.dumps serializes objects to JSON text with an optional indent."
EVIDENCE = {1: HEAP, 2: JSON}


# ---------------------------------------------------------------- rendering


def claim(text: str, *sources: int) -> CheckedClaim:
    return CheckedClaim(text=text, sources=list(sources), supported=bool(sources))


def test_the_default_policy_marks_an_unsupported_claim() -> None:
    assert render_claims([claim("Backed.  ", 1), claim("Not backed.")]) == (
        f"Backed.[1] Not backed. {UNSUPPORTED_MARK}"
    )


def test_dropping_one_claim_keeps_the_ones_after_it() -> None:
    claims = [claim("One.", 1), claim("Two."), claim("Three.", 2)]
    assert render_claims(claims, "drop") == "One.[1] Three.[2]"


@pytest.mark.parametrize(
    "block", ["- item", "* item", "1. item", "| a | b |", "```py", "> quote", "a\nb"]
)
def test_a_block_claim_starts_its_own_paragraph(block: str) -> None:
    rendered = render_claims([claim("Before.", 1), claim(block, 2), claim("After.", 1)])
    assert rendered == f"Before.[1]\n\n{block}\n\n[2] After.[1]"


def test_an_indented_list_claim_is_a_block_too() -> None:
    assert render_claims([claim("Before.", 1), claim("  - item", 2)]) == (
        "Before.[1]\n\n  - item\n\n[2]"
    )


def test_consecutive_blocks_are_one_blank_line_apart() -> None:
    claims = [claim("- a", 1), claim("- b"), claim("After.", 2)]
    assert render_claims(claims, "keep") == "- a\n\n[1]\n\n- b\n\nAfter.[2]"


# ---------------------------------------------------------------- reading claims back


def test_markers_and_punctuation_end_a_claim() -> None:
    read = claims_of("Heaps are trees [1].Next claim here [2]. Fact [1], [2]. Odd [1] X [2].")
    assert [(c.text, c.sources) for c in read] == [
        ("Heaps are trees.", [1]),
        ("Next claim here.", [2]),
        ("Fact,", [1, 2]),
        ("Odd", [1]),
        ("X.", [2]),
    ]


def test_a_spaced_marker_belongs_to_the_claim_just_before() -> None:
    read = claims_of("One [1]. Two [2]. Three [3] [4].")
    assert [c.sources for c in read] == [[1], [2], [3, 4]]


def test_a_letter_after_a_marker_starts_the_next_claim() -> None:
    assert [c.text for c in claims_of("A fact [1]Xylophones are next.")] == [
        "A fact",
        "Xylophones are next.",
    ]


# ---------------------------------------------------------------- Markdown in, Markdown out


def test_the_threshold_and_policy_reach_every_claim_of_the_markdown() -> None:
    evidence = Evidence(EVIDENCE)
    text = "Heaps keep the smallest element first.[1]"
    score = evidence.score("Heaps keep the smallest element first.", 1)
    kept, _ = ground_markdown(text, evidence, pool=[1], threshold=score)
    assert kept == text
    dropped, figures = ground_markdown(text, evidence, pool=[1], threshold=0.99, policy="drop")
    assert dropped == "" and figures.unsupported_claims == 1


def test_fences_and_headings_next_to_text_split_blocks() -> None:
    markdown = f"{HEAP}[1]\n```\ncode [1]\n```\n{JSON}[2]\n## Heading [2]\n{HEAP}[2]\n{JSON}[2]"
    text, figures = ground_markdown(markdown, Evidence(EVIDENCE), pool=[1, 2])
    assert text == (
        f"{HEAP}[1]\n\n```\ncode [1]\n```\n\n{JSON}[2]\n\n## Heading [2]\n\n{HEAP}[1] {JSON}[2]"
    )
    assert figures.claims == 4 and figures.citations_reattributed == 1


def test_an_indented_fence_keeps_its_indentation() -> None:
    markdown = f"{HEAP}[1]\n\n   ```\n   code [1]\n   ```"
    text, _ = ground_markdown(markdown, Evidence(EVIDENCE), pool=[1])
    assert text == f"{HEAP}[1]\n\n   ```\n   code [1]\n   ```"


def test_lists_and_tables_are_checked_row_by_row() -> None:
    markdown = (
        f"- {HEAP}[1]\n"
        "- Tomatoes grow in volcanic soil.[1]\n\n"
        "| claim | note |\n"
        "| :--- | ---: |\n"
        "| --- | --- |\n"
        "| X | Y |\n"
        f"| {JSON}[2] |"
    )
    text, _ = ground_markdown(markdown, Evidence(EVIDENCE), pool=[1, 2], policy="drop")
    lines = text.split("\n")
    assert lines[0] == f"- {HEAP}[1]"
    assert lines[1] == "" and len(lines) == 6  # the dropped list item leaves no "- "
    assert lines[2] == "| claim | note |"  # a header row (a rule follows) is not a claim
    assert lines[3:5] == ["| :--- | ---: |", "| --- | --- |"]  # rules are not claims
    assert lines[5] == f"| {JSON}[2] |"  # "X | Y" backs nothing: its row is dropped


def test_a_paragraph_of_several_lines_right_before_a_heading_or_fence_is_one_claim() -> None:
    markdown = (
        "Heaps keep the smallest\nelement at the root.[1]\n## Appendix X\n"
        "Heaps keep the smallest\nelement at the root.[1]\n```\ncode\n```"
    )
    text, _ = ground_markdown(markdown, Evidence(EVIDENCE), pool=[1, 2])
    assert text == f"{HEAP}[1]\n\n## Appendix X\n\n{HEAP}[1]\n\n```\ncode\n```"


def test_a_table_row_of_letters_is_content_not_a_rule() -> None:
    text, _ = ground_markdown("| X | X |", Evidence(EVIDENCE), pool=[1, 2])
    assert text == f"| X | X {UNSUPPORTED_MARK} |"


def test_an_unmarked_block_then_another_block_are_one_blank_line_apart() -> None:
    assert render_claims([claim("- a"), claim("- b", 1)], "keep") == "- a\n\n- b\n\n[1]"
