"""Every stop condition and budget at its exact edge: the pure rules (workflows/stopping.py) and,
end to end, what a run does on either side of the edge. The pure rules include the money budget,
the token estimate before any call, and the bounds that keep question cleaning linear."""

from __future__ import annotations

import pytest
from temporalio.client import Client

from testing.fake_llm import FakeLLMServer
from testing.scripted_llm import Script
from tests.support.runs import run_research
from workflows.config import ResearchConfig, calls_per_iteration, report_calls
from workflows.models import SEARCH_QUESTION_MAX_CHARS, Assessment, LLMUsage, QAPair
from workflows.stopping import budget_stop, fresh_questions, stop_note, verdict_stop

# evolution off, one question, no re-asks: an iteration is 4 calls, the report 1.
PLAIN = {"evolution": "off", "questions_per_iteration": 1, "json_repair_attempts": 0}


def config(**fields: object) -> ResearchConfig:
    return ResearchConfig.model_validate({**PLAIN, **fields})


def verdict(score: float, done: bool = False) -> Assessment:
    return Assessment(score=score, done=done, critique="")


# ---------------------------------------------------------------- budgets (pure)


def test_call_budget_allows_an_iteration_that_fits_exactly() -> None:
    cfg = config(max_llm_calls=20)
    needed = calls_per_iteration(cfg) + report_calls(cfg)
    assert needed == 5
    assert budget_stop(cfg, LLMUsage(calls=20 - needed)) is None
    assert budget_stop(cfg, LLMUsage(calls=20 - needed + 1)) == "llm_call_budget"


def test_call_budget_reserves_every_re_ask() -> None:
    cfg = config(max_llm_calls=30, json_repair_attempts=2)
    needed = (calls_per_iteration(cfg) + report_calls(cfg)) * 3
    assert budget_stop(cfg, LLMUsage(calls=30 - needed)) is None
    assert budget_stop(cfg, LLMUsage(calls=30 - needed + 1)) == "llm_call_budget"


def test_token_budget_at_its_edge() -> None:
    cfg = config(max_total_tokens=10_000)
    # 5 calls so far at 100 tokens each; the next iteration and the report need 5 more calls,
    # estimated at the same mean: 500 + 5 x 100 = 1,000 tokens.
    used = LLMUsage(calls=5, input_tokens=400, output_tokens=100)
    assert budget_stop(config(max_total_tokens=1_000), used) is None
    assert budget_stop(config(max_total_tokens=1_000), used.plus(LLMUsage(output_tokens=1))) == (
        "token_budget"
    )
    assert budget_stop(cfg, used) is None


def test_no_calls_yet_never_stops_on_tokens() -> None:
    assert budget_stop(config(max_total_tokens=1_000), LLMUsage()) is None


def test_the_call_budget_is_checked_before_the_token_budget() -> None:
    used = LLMUsage(calls=100, input_tokens=10_000_000)
    assert budget_stop(config(max_llm_calls=100), used) == "llm_call_budget"


# ---------------------------------------------------------------- the judge (pure)


def test_quality_threshold_is_reached_at_equality_not_below() -> None:
    cfg = config(quality_threshold=0.8)
    assert verdict_stop(cfg, verdict(0.8)) == "quality_threshold"
    assert verdict_stop(cfg, verdict(0.79)) is None
    assert verdict_stop(cfg, verdict(1.0)) == "quality_threshold"


def test_judge_done_wins_over_a_low_score() -> None:
    assert verdict_stop(config(quality_threshold=0.9), verdict(0.1, done=True)) == "judge_done"
    assert verdict_stop(config(quality_threshold=0.0), verdict(0.0)) == "quality_threshold"


# ---------------------------------------------------------------- questions and the note (pure)


def pair(question: str) -> QAPair:
    return QAPair(iteration=1, question=question, answer="")


def test_fresh_questions_drop_repeats_blanks_and_keep_the_limit() -> None:
    asked = [pair("What is a context manager?")]
    proposed = [
        "  what is a CONTEXT manager? ",
        "",
        "   ",
        "Why __exit__?",
        "why __EXIT__?",
        "How?",
    ]
    assert fresh_questions(proposed, asked, 5) == ["Why __exit__?", "How?"]
    assert fresh_questions(proposed, asked, 1) == ["Why __exit__?"]
    assert fresh_questions(["x" * 5_000], [], 1) == ["x" * 400]


def test_stop_note_names_the_budget_that_ended_the_run() -> None:
    cfg = config(max_llm_calls=40, max_total_tokens=5_000, max_iterations=6)
    assert stop_note(cfg, "llm_call_budget", 2) == (
        "Research stopped early, after 2 of 6 planned iteration(s): the run's budget of "
        "40 LLM calls was reached."
    )
    assert "budget of 5000 tokens" in stop_note(cfg, "token_budget", 0)
    for reason in ("judge_done", "quality_threshold", "max_iterations", "no_new_questions", None):
        assert stop_note(cfg, reason, 2) == ""


# ------------------------- the money budget, the estimate before any call, question cleaning (pure)


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


# ---------------------------------------------------------------- end to end


@pytest.mark.parametrize(
    ("scores", "stop", "iterations"), [([8], "quality_threshold", 1), ([7], "max_iterations", 3)]
)
async def test_run_stops_at_the_threshold_exactly(
    client: Client,
    task_queue: str,
    fake_server: FakeLLMServer,
    script: Script,
    scores: list[int],
    stop: str,
    iterations: int,
) -> None:
    script.judge_scores = scores  # the judge's 0-10 score / 10: 0.8 is the threshold itself
    report = await run_research(client, task_queue, max_iterations=3, quality_threshold=0.8)

    assert (report.stop_reason, report.iterations) == (stop, iterations)


@pytest.mark.parametrize(("budget", "iterations"), [(11, 2), (10, 1)])
async def test_call_budget_edge_end_to_end(
    client: Client,
    task_queue: str,
    fake_server: FakeLLMServer,
    script: Script,
    budget: int,
    iterations: int,
) -> None:
    # plan + draft = 2; each iteration 4; the report 1. Budget 11 fits 2 + 4 + 4 + 1 exactly.
    report = await run_research(client, task_queue, max_iterations=5, max_llm_calls=budget, **PLAIN)

    assert (report.stop_reason, report.iterations) == ("llm_call_budget", iterations)
    assert report.usage_total.calls == 2 + 4 * iterations + 1 <= budget
    assert f"budget of {budget} LLM calls was reached" in report.markdown


async def test_token_budget_ends_the_run_with_a_report_that_says_so(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    # Plan and draft alone use well over 1,000 / 7 tokens per call: no iteration fits.
    report = await run_research(client, task_queue, max_iterations=3, max_total_tokens=1_000)

    assert report.stop_reason == "token_budget"
    assert report.iterations == 0
    assert fake_server.count("GapAnswer") == 0 and fake_server.count("ReportAnswer") == 1
    assert "after 0 of 3 planned iteration(s): the run's budget of 1000 tokens" in report.markdown


async def test_token_budget_allows_what_fits(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    report = await run_research(client, task_queue, max_iterations=2, max_total_tokens=10**8)

    assert (report.stop_reason, report.iterations) == ("max_iterations", 2)


async def test_no_new_question_ends_the_loop(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    # A model that asks the same question every time: the product asks the question's aspects
    # and plan sections instead, each once, and the loop ends when nothing new is left.
    exit_call = "How does the with statement call __exit__?"
    fake_server.respond("GapAnswer", lambda _: {"questions": [f" {exit_call.upper()} "]})
    report = await run_research(client, task_queue, max_iterations=12, questions_per_iteration=1)

    assert report.stop_reason == "no_new_questions"
    asked = [qa.question.casefold() for qa in report.findings]
    assert len(asked) == len(set(asked)) and exit_call.casefold() in asked
    assert fake_server.count("RetrievalAnswer") == len(asked) < 12
    assert fake_server.count("GapAnswer") == len(asked) + 1  # the last one had nothing new
