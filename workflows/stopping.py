"""When the denoising loop ends, and what the report then tells its reader. Pure functions.

The loop stops, checked in this order: before an iteration, when the budget (LLM calls, tokens
or money) could not pay for it and the report in the worst case; after the gap analysis, when it
has no new question; after the judge, when it says done or its score reaches the threshold;
and after max_iterations.
"""

from __future__ import annotations

from workflows.config import ResearchConfig, calls_per_iteration, report_calls
from workflows.models import SEARCH_QUESTION_MAX_CHARS, Assessment, LLMUsage, QAPair
from workflows.results import StopReason


def budget_stop(config: ResearchConfig, used: LLMUsage) -> StopReason | None:
    """Stop before an iteration that the remaining budget could not pay for in full, keeping
    what the report needs. Worst case: every call of the iteration and of the report re-asked
    after a bad answer; tokens estimated at the run's mean per call so far."""
    calls_needed = (
        calls_per_iteration(config) + report_calls(config)
    ) * config.max_calls_per_node_call()
    if used.calls + calls_needed > config.max_llm_calls:
        return "llm_call_budget"
    tokens_per_call = used.total_tokens / used.calls if used.calls else 0
    if used.total_tokens + tokens_per_call * calls_needed > config.max_total_tokens:
        return "token_budget"
    if config.max_cost_usd is not None:
        # Money like tokens: the run's mean cost per call so far, for every call still needed.
        cost_per_call = used.cost_usd / used.calls if used.calls else 0.0
        if used.cost_usd + cost_per_call * calls_needed > config.max_cost_usd:
            return "cost_budget"
    return None


def verdict_stop(config: ResearchConfig, verdict: Assessment) -> StopReason | None:
    """The judge ends the loop by saying done, or by a score at or above the threshold."""
    if verdict.done:
        return "judge_done"
    if verdict.score >= config.quality_threshold:
        return "quality_threshold"
    return None


def fresh_questions(proposed: list[str], findings: list[QAPair], limit: int) -> list[str]:
    """The proposed questions not asked before in this run (case-insensitive), stripped, at
    most `limit`, each cut to SEARCH_QUESTION_MAX_CHARS. Linear in the input."""
    asked = {qa.question.casefold() for qa in findings}
    fresh: list[str] = []
    for q in proposed:
        if len(fresh) == limit:
            break
        question = q[: SEARCH_QUESTION_MAX_CHARS * 2].strip()[:SEARCH_QUESTION_MAX_CHARS]
        key = question.casefold()
        if key and key not in asked:
            asked.add(key)
            fresh.append(question)
    return fresh


def stop_note(config: ResearchConfig, reason: StopReason | None, iterations: int) -> str:
    """What the report must tell its reader about a run that ended before it should have."""
    if reason == "llm_call_budget":
        budget = f"{config.max_llm_calls} LLM calls"
    elif reason == "token_budget":
        budget = f"{config.max_total_tokens} tokens"
    elif reason == "cost_budget":
        budget = f"{config.max_cost_usd:g} USD"
    else:
        return ""
    return (
        f"Research stopped early, after {iterations} of {config.max_iterations} planned "
        f"iteration(s): the run's budget of {budget} was reached."
    )
