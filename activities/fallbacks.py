"""When the model gives no valid answer on a node's last attempt, the node still answers.

A small model (SmolLM2-135M at 512 output tokens) sometimes writes JSON cut at its token limit
on every re-ask and every retry. Failing the node then fails the whole run after many minutes of
research, and the user gets nothing. Each node below has a fallback that keeps the research
going on what the run already holds: a plan of the question's own parts, an empty first draft,
search questions from the question and the plan, an answer quoting the retrieved passages
(each sentence a whole sentence of the passage it cites), the draft unrevised, a variant left
as it was. The first attempt still fails, so a Temporal retry re-asks before the fallback on
the second (INVALID_OUTPUT_ATTEMPTS). The retry sends the same request (a crashed worker's
retry must too: tests/product/test_reliability.py), which a remote model sampling at a
temperature may answer differently; a local model answers it the same way, so more attempts
would cost minutes for nothing. The fallback is decided in the
activity, so its result is recorded in the history like any answer and replays unchanged (no
workflow command changes). The judge and the report node have their own
fallbacks in the workflow (workflows/research.py, workflows/report_unit.py).
"""

from __future__ import annotations

import logging

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.prompts._claims import CitedClaim, claims_markdown
from workflows.models import (
    Candidate,
    GapInput,
    LLMUsage,
    MergeInput,
    Source,
)
from workflows.topics import anchored_queries

log = logging.getLogger(__name__)

INVALID_OUTPUT = "LLMInvalidOutput"
# Attempts a node gets for a valid answer before its fallback (at most the retry policy's).
# Each attempt re-asks `json_repair_attempts` times already, and a local model answers the
# same prompt the same way: the embedded model's report reviser spent 5 attempts x 3 tries,
# about ten minutes, on one variant it then left as it was.
INVALID_OUTPUT_ATTEMPTS = 2


def is_last_invalid(err: ApplicationError) -> bool:
    """Whether `err` is a call without a valid answer on the last attempt its node gets."""
    if err.type != INVALID_OUTPUT or not activity.in_activity():
        return False
    info = activity.info()
    policy = info.retry_policy
    if policy is None or policy.maximum_attempts <= 0:
        return False
    return info.attempt >= min(policy.maximum_attempts, INVALID_OUTPUT_ATTEMPTS)


def final(err: ApplicationError) -> ApplicationError:
    """`err` marked not to be retried when it is the node's last invalid answer: the report and
    judge nodes fall back in the workflow, which then hears of it after INVALID_OUTPUT_ATTEMPTS
    attempts rather than after every attempt of the retry policy."""
    if err.non_retryable or not is_last_invalid(err):
        return err
    return ApplicationError(err.message, *err.details, type=err.type, non_retryable=True)


def usage_if_last_invalid(err: ApplicationError) -> LLMUsage | None:
    """The usage of a call that gave no valid answer, when this attempt is the last one the
    node gets for it (None otherwise: the error goes on to Temporal's retry policy)."""
    if not is_last_invalid(err):
        return None
    info = activity.info()
    log.warning("%s: %s; the node answers with its fallback", info.activity_type, err.message)
    details = err.details[0] if err.details and isinstance(err.details[0], dict) else {}
    return LLMUsage.model_validate(details.get("usage") or {})


def spare_questions(inp: GapInput) -> list[str]:
    """Search questions the product writes itself: the question's parts, the plan's sections
    and its key terms, none asked before (workflows/topics.py)."""
    earlier = [qa.question for qa in inp.earlier]
    return anchored_queries([""] * inp.count, inp.question, inp.plan, earlier)


def quoted_answer(sources: list[Source]) -> str:
    """Each retrieved passage's quote (whole sentences of it), citing that passage."""
    claims = [
        CitedClaim(text=source.quote, sources=[number])
        for number, source in enumerate(sources, 1)
        if source.quote.strip()
    ]
    return claims_markdown(claims)


def best_candidate(inp: MergeInput) -> Candidate:
    """The candidate the judges scored highest (the first one when none was scored)."""
    best = max(
        enumerate(inp.candidates),
        key=lambda pair: (pair[1].verdict.score if pair[1].verdict else -1.0, -pair[0]),
    )
    return best[1].candidate
