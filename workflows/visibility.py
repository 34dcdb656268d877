"""What a user sees of a run without opening a payload: custom search attributes (filter runs in
the Web UI or `temporal workflow list`, e.g. `TtdrPhase = "denoising" AND TtdrQuality < 0.5`),
the run's current details in the Web UI, and the progress / state query results.

The worker registers the search attributes at start-up when the server lacks them;
docker-compose registers the same names.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import SearchAttributeKey

from workflows.results import ControlStatus, Phase, ResearchProgress, ResearchState
from workflows.sources import SourceRegistry
from workflows.state import RunState

PHASE = SearchAttributeKey.for_keyword("TtdrPhase")
ITERATION = SearchAttributeKey.for_int("TtdrIteration")
QUALITY = SearchAttributeKey.for_float("TtdrQuality")
# The run a follow-up or a watched topic's run continues (workflows/continuation.py).
PARENT = SearchAttributeKey.for_keyword("TtdrParent")
ALL_KEYS = (PHASE, ITERATION, QUALITY, PARENT)
DETAILS_DRAFT_CHARS = 400


def shown_phase(state: RunState) -> Phase:
    """The phase a user sees: a run waiting for its plan review is in `plan_review`, whatever
    code version started the wait (runs that began waiting before the phase existed too)."""
    return "plan_review" if state.plan_review.status == "waiting" else state.phase


def show_phase(state: RunState, max_iterations: int) -> None:
    """The run's phase (already in `state`) in its search attributes and details."""
    workflow.upsert_search_attributes([PHASE.value_set(state.phase)])
    show_details(state, max_iterations)


def show_iteration(iteration: int) -> None:
    workflow.upsert_search_attributes([ITERATION.value_set(iteration)])


def show_quality(score: float) -> None:
    workflow.upsert_search_attributes([QUALITY.value_set(score)])


def show_details(state: RunState, max_iterations: int) -> None:
    """The run's current details in the Web UI (Markdown, a few lines)."""
    lines = [f"**phase** {shown_phase(state)}"]
    if state.iteration:
        lines.append(f"**iteration** {state.iteration} of {max_iterations}")
    if state.quality_history:
        lines.append(f"**last score** {state.quality_history[-1]:.2f}")
    if state.plan_review.status == "waiting":
        lines.append("**waiting for plan review** (client.py review, or the MCP tool review_plan)")
    if state.control.held_before:
        lines.append(f"**held before** {state.control.held_before} (resume or step to go on)")
    elif state.node:
        lines.append(f"**node** {state.node}")
    if (figures := state.draft_grounding) is not None:
        lines.append(
            f"**draft backed by sources** {figures.claims_supported} of {figures.claims} claims; "
            f"citations kept {figures.citations_kept}, moved {figures.citations_reattributed}, "
            f"removed {figures.citations_removed}"
        )
    if state.grounding_notes:
        lines.append(f"**why the loop went on** {state.grounding_notes[-1]}")
    if state.draft:
        short = state.draft[:DETAILS_DRAFT_CHARS]
        more = "…" if len(state.draft) > DETAILS_DRAFT_CHARS else ""
        lines.append(f"**draft**\n\n{short}{more}")
    workflow.set_current_details("\n\n".join(lines))


def progress(state: RunState, max_iterations: int) -> ResearchProgress:
    return ResearchProgress(
        phase=shown_phase(state),
        node=state.node,
        iteration=state.iteration,
        max_iterations=max_iterations,
        quality_history=state.quality_history,
        questions_asked=len(state.findings),
        sources_found=len(state.retrieved_ids),
        usage=state.total_usage(),
        stop_reason=state.stop_reason,
        paused=state.control.paused,
        held_before=state.control.held_before,
        plan_review=state.plan_review.status,
        proposed_plan=state.plan if state.plan_review.status == "waiting" else None,
    )


def research_state(
    state: RunState, question: str, max_iterations: int, control: ControlStatus
) -> ResearchState:
    return ResearchState(
        progress=progress(state, max_iterations),
        control=control,
        question=question,
        plan=state.plan,
        draft=state.draft,
        findings=state.findings,
        sources=SourceRegistry(state).all(),
        critiques=state.critiques,
        feedback_applied=state.control.feedback_applied,
        evolution=state.evolution,
    )
