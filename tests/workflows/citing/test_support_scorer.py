"""The citation support scorer (workflows/citing/support.py): the
score against its documented formula
(stems, weights, content words, dotted names), and every rule at its smallest input, seen where a
reader sees it: whether the citation of a claim survives the checker (check_claims) and the
report's Markdown (ground_markdown). A one-digit number, a two-letter negation, a two-letter
word, the shortest stemmed word, the shortest dotted name, a two-word claim, the last character
scored. Pure: no server (issue 28, "a number too small to notice").
"""

from __future__ import annotations

import pytest

from workflows.citing.claim_text import ground_markdown
from workflows.citing.grounding import (
    UNSUPPORTED_MARK,
    Claim,
    Evidence,
    check_claims,
)
from workflows.citing.support import (
    DEFAULT_THRESHOLD,
    MAX_SCORED_CHARS,
    _content,
    _stem,
    coverage_keys,
    prepare,
    prepare_claim,
    support_score,
    weight,
)

RETRIES = "The client makes 5 attempts before it gives up."


def kept(claim: str, passage: str) -> bool:
    """Whether a claim citing `passage` keeps its citation (no other source to move to)."""
    checked, _ = check_claims([Claim(text=claim, sources=[1])], Evidence({1: passage}), pool=[1])
    return checked[0].sources == [1]


# ---------------------------------------------------------------- the score's formula


def test_stemming_strips_a_suffix_only_from_a_long_enough_word() -> None:
    assert [_stem(w) for w in ("tested", "stars", "returns", "parsing")] == [
        "test",
        "star",
        "return",
        "pars",
    ]
    # The word must be longer than suffix + 3: these stay as they are.
    assert [_stem(w) for w in ("bars", "bus", "nation", "sing", "ies")] == [
        "bars",
        "bus",
        "nation",
        "sing",
        "ies",
    ]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("x_y", 2.0),
        ("a.b", 2.0),
        ("abc1", 2.0),
        ("plain", 1.0),
        ("sixsix", 1.0),
        ("sevenxx", 1.5),
        ("eightxxx", 1.5),
    ],
)
def test_identifiers_and_long_words_weigh_more(word: str, expected: float) -> None:
    assert weight(word) == expected


def test_content_words_drop_stopwords_negations_and_single_letters() -> None:
    assert _content(["x", "io", "the", "not", "heap", "returns"]) == ["io", "heap", "return"]
    assert "not" in prepare_claim("It doesn't indent.").words
    assert prepare("no indent").negated and not prepare("indent here").negated


def test_a_dotted_name_also_stands_for_its_last_part() -> None:
    assert prepare("os.path.join").content == frozenset({"os.path.join", "join"})
    assert prepare("3.14 and v2.run").content == frozenset({"3.14", "v2.run", "run"})
    assert coverage_keys("os.path.join") == ("os.path.join", "join")
    assert coverage_keys("v2.run") == ("v2.run", "run")
    assert coverage_keys("3.14") == ("3.14",)
    # In a claim: `numpy.linalg.solve` is covered by a passage about `solve`.
    assert support_score("numpy.linalg.solve", "solve a linear system") == 1.0
    assert support_score("v2.solve", "solve a linear system") == 1.0
    assert support_score("numpy.linalg.solve", "linalg module") == 0.0


def expected(covered: float, paired: float, number: bool = False, negation: bool = False) -> float:
    """The scorer's formula: 0.75 x covered + 0.25 x paired, halved for a number the passage
    does not state and halved for a negation it does not make (x 0.6 in runs recorded before
    NEGATION_HALVES_PATCH); rounded to 4 places."""
    score = 0.75 * covered + 0.25 * paired
    if number:
        score *= 0.5
    if negation:
        score *= 0.5
    return round(min(score, 1.0), 4)


def test_the_score_follows_its_formula() -> None:
    # Claim content: heap(1) hold(1) 10(2) item(1) = 5; the passage covers heap, hold, item.
    # Pairs (heap,hold) (hold,10) (10,item): the passage has (heap,hold) only.
    assert support_score("heap holds 10 items", "heap holds items") == expected(3 / 5, 1 / 3, True)
    assert support_score("heap never holds items", "heap holds items") == expected(
        1, 1, False, True
    )
    assert support_score("heapq", "the heapq module") == 1.0  # one word: no pairs
    assert support_score("the of and", "anything at all") == 0.0  # nothing to support
    assert support_score("alpha beta", "alpha gamma") == expected(1 / 2, 0)


# ---------------------------------------------------------------- numbers the passage never states


@pytest.mark.parametrize("digit", ["0", "1", "3", "9"])
def test_a_one_digit_number_the_passage_never_states_loses_the_citation(digit: str) -> None:
    claim = f"The client makes {digit} attempts before it gives up."
    assert not kept(claim, RETRIES), f"'{digit} attempts' was backed by '5 attempts'"
    assert support_score(claim, RETRIES) == 0.5  # every word covered, halved for the number


def test_the_same_one_digit_number_keeps_the_citation() -> None:
    assert kept("The client makes 5 attempts before it gives up.", RETRIES)
    assert support_score("The client makes 5 attempts before it gives up.", RETRIES) == 1.0


def test_a_one_digit_number_is_a_whole_word_not_part_of_another_number() -> None:
    # "3" is not stated by "3.5", "13" or "v3": the passage's words are compared whole.
    for passage in ("Retries wait 3.5 seconds.", "Retries wait 13 seconds."):
        assert not kept("Retries wait 3 seconds.", passage), passage
    assert kept("Retries wait 3 seconds.", "Retries wait 3 seconds, then stop.")


def test_the_smallest_decimal_differs_from_its_neighbour() -> None:
    assert not kept("Retries wait 1.5 seconds.", "Retries wait 1.6 seconds.")
    assert kept("Retries wait 1.5 seconds.", "Retries wait 1.5 seconds.")


def test_a_one_digit_number_is_checked_in_the_reports_markdown() -> None:
    evidence = Evidence({1: RETRIES})
    wrong, figures = ground_markdown(
        "The client makes 3 attempts before it gives up [1].", evidence, pool=[1]
    )
    assert UNSUPPORTED_MARK in wrong and "[1]" not in wrong
    assert figures.citations_removed == 1 and figures.unsupported_claims == 1
    right, figures = ground_markdown(
        "The client makes 5 attempts before it gives up [1].", evidence, pool=[1]
    )
    assert right.endswith("[1]") and figures.citations_kept == 1


def test_a_one_digit_number_moves_the_citation_to_the_source_that_states_it() -> None:
    evidence = Evidence({1: RETRIES, 2: "The client makes 3 attempts before it gives up."})
    checked, figures = check_claims(
        [Claim(text="The client makes 3 attempts before it gives up.", sources=[1])],
        evidence,
        pool=[1, 2],
    )
    assert checked[0].sources == [2] and figures.citations_reattributed == 1


# ---------------------------------------------------------------- negations the passage never makes


# A negation halves the score as a number does: at x0.6 (before NEGATION_HALVES_PATCH) a claim
# the passage covered word for word scored exactly the 0.6 threshold and kept its citation.
@pytest.mark.parametrize(
    "claim",
    [
        "Retries do no harm.",  # the shortest negation word
        "Retries harm nor help.",
        "Retries don't harm.",  # a contraction is a negation too
    ],
)
def test_the_shortest_negation_the_passage_never_makes_loses_the_citation(claim: str) -> None:
    assert not kept(claim, "Retries do harm and help.")
    assert support_score(claim, "Retries do harm and help.") == 0.5 < DEFAULT_THRESHOLD


def test_a_negation_the_passage_never_makes_lowers_a_partly_covered_claim_below_the_bar() -> None:
    assert kept("Retries harm busy servers.", "Retries harm busy clients.")
    assert not kept("Retries never harm busy servers.", "Retries harm busy clients.")


def test_a_negation_the_passage_makes_keeps_the_citation() -> None:
    assert kept("Retries do no harm.", "Retries do no harm.")
    assert kept("Retries don't harm.", "Retries do not harm.")


# ---------------------------------------------------------------- which words count


def test_a_two_letter_word_is_content_and_a_one_letter_word_is_not() -> None:
    assert support_score("io", "the io module") == 1.0
    assert support_score("io", "the os module") == 0.0
    assert support_score("x", "x marks the spot") == 0.0, "one letter: nothing to support"
    assert not kept("x", "x marks the spot")


def test_the_shortest_stemmed_word_meets_its_stem_and_a_shorter_one_does_not() -> None:
    # "tests" (5 letters) loses its "s"; "bugs" (4) is too short to be stemmed.
    assert support_score("tests pass", "test pass") == 1.0
    assert support_score("bugs pass", "bug pass") < DEFAULT_THRESHOLD


def test_the_shortest_dotted_name_stands_for_its_last_part() -> None:
    assert support_score("os.walk", "walk a directory tree") == 1.0
    assert kept("os.walk lists a tree.", "walk lists a tree")
    assert not kept("os.walk lists a tree.", "os lists a tree")


def test_a_two_word_claim_in_the_wrong_order_loses_its_pair_share() -> None:
    assert support_score("alpha beta", "beta alpha") == 0.75
    assert support_score("alpha beta", "alpha beta") == 1.0


def test_a_claim_with_no_content_word_supports_nothing() -> None:
    assert support_score("", RETRIES) == 0.0
    assert support_score("it is the", RETRIES) == 0.0
    checked, figures = check_claims(
        [Claim(text="it is the", sources=[1])], Evidence({1: RETRIES}), pool=[1]
    )
    assert checked[0].sources == [] and figures.unsupported_claims == 1


# ---------------------------------------------------------------- the scored length


def test_a_passage_is_scored_up_to_its_last_scored_character_and_no_further() -> None:
    filler = ("word " * MAX_SCORED_CHARS)[: MAX_SCORED_CHARS - len(" zebra")]
    assert len(filler + " zebra") == MAX_SCORED_CHARS
    assert support_score("zebra", filler + " zebra") == 1.0, "the last scored word counts"
    assert support_score("zebra", filler + "x zebra") == 0.0, "one character past: not read"


def test_a_number_stated_only_past_the_scored_length_is_not_stated() -> None:
    filler = "word " * (MAX_SCORED_CHARS // 5)
    assert support_score("attempts 5", f"attempts {filler} 5") == 0.5
    assert support_score("attempts 5", f"attempts 5 {filler}") == 1.0


def test_a_claim_is_scored_up_to_the_same_length() -> None:
    claim = "zebra " + "x " * MAX_SCORED_CHARS + "unrelated words here"
    assert support_score(claim, "a zebra") == 1.0, "words past the cap cannot lower the score"
