"""The money budget at its edge, the token estimate before any call, and the bounds that keep
question cleaning linear (workflows/stopping.py). Pure functions: no server.

tests/test_stopping.py holds the call and token budgets and the judge; these are the edges the
mutation benchmark (bench/mutation.py) found untested.
"""

from __future__ import annotations

from workflows.config import ResearchConfig, calls_per_iteration, report_calls
from workflows.models import SEARCH_QUESTION_MAX_CHARS, LLMUsage
from workflows.stopping import budget_stop, fresh_questions, stop_note

# evolution off, one question, no re-asks: an iteration and the report need 5 calls.
PLAIN = {"evolution": "off", "questions_per_iteration": 1, "json_repair_attempts": 0}


def config(**fields: object) -> ResearchConfig:
    return ResearchConfig.model_validate({**PLAIN, **fields})


def test_plain_config_needs_five_calls() -> None:
    cfg = config()
    assert calls_per_iteration(cfg) + report_calls(cfg) == 5


def test_cost_budget_allows_what_fits_exactly_and_stops_one_cent_over() -> None:
    # 4 calls so far for 1 USD: 0.25 USD a call; 5 more calls estimated at 1.25 USD.
    used = LLMUsage(calls=4, cost_usd=1.0)
    assert budget_stop(config(max_cost_usd=2.25), used) is None
    assert budget_stop(config(max_cost_usd=2.24), used) == "cost_budget"
    # The estimate is the mean per call times the calls still needed, not a flat amount.
    assert budget_stop(config(max_cost_usd=1.3), used) == "cost_budget"


def test_cost_budget_counts_the_money_already_spent() -> None:
    # Spent 2 USD on 4 calls: 2 + 5 x 0.5 = 4.5 USD in the worst case.
    used = LLMUsage(calls=4, cost_usd=2.0)
    assert budget_stop(config(max_cost_usd=4.5), used) is None
    assert budget_stop(config(max_cost_usd=4.4), used) == "cost_budget"


def test_no_money_budget_never_stops_on_cost() -> None:
    assert budget_stop(config(), LLMUsage(calls=4, cost_usd=10_000.0)) is None


def test_no_calls_yet_never_stops_on_cost_or_tokens() -> None:
    assert budget_stop(config(max_cost_usd=0.01), LLMUsage()) is None
    # Even when the next iteration needs more calls than the token budget has tokens: with no
    # call made yet there is no mean to estimate from, so nothing is charged for them.
    big = config(
        evolution={
            "plan": {"variants": 1},
            "questions": {"variants": 8, "revision_steps": 5},
            "answers": {"variants": 8, "revision_steps": 5},
            "report": {"variants": 8, "revision_steps": 5},
        },
        questions_per_iteration=8,
        json_repair_attempts=3,
        max_llm_calls=20_000,
        max_total_tokens=1_000,
    )
    needed = (calls_per_iteration(big) + report_calls(big)) * big.max_calls_per_node_call()
    assert needed > 1_000
    assert budget_stop(big, LLMUsage()) is None


def test_cost_is_checked_after_calls_and_tokens() -> None:
    used = LLMUsage(calls=4, input_tokens=4_000, cost_usd=100.0)
    assert budget_stop(config(max_cost_usd=1.0, max_total_tokens=1_000), used) == "token_budget"
    assert budget_stop(config(max_cost_usd=1.0, max_llm_calls=8), used) == "llm_call_budget"
    assert budget_stop(config(max_cost_usd=1.0), used) == "cost_budget"


def test_stop_note_names_the_money_budget() -> None:
    cfg = config(max_cost_usd=2.5, max_iterations=4)
    assert stop_note(cfg, "cost_budget", 1) == (
        "Research stopped early, after 1 of 4 planned iteration(s): the run's budget of "
        "2.5 USD was reached."
    )


def test_a_question_of_only_padding_within_the_cut_is_blank() -> None:
    """The question is cut to twice its bound before stripping (linear in hostile output), so
    text after that much whitespace is never read; within the cut it is."""
    cut = SEARCH_QUESTION_MAX_CHARS * 2
    assert fresh_questions([" " * cut + "hidden?"], [], 3) == []
    assert fresh_questions([" " * (cut - 8) + "visible?"], [], 3) == ["visible?"]
