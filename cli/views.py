"""Text views of a run's progress and state (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Sequence

from cli.typed import as_typed
from inspection.profile import money
from workflows.models import LLMUsage
from workflows.results import ControlStatus, ResearchProgress, ResearchState

DRAFT_VIEW_CHARS = 1500


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 LLM call`, `2 LLM calls`."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def review_hint(workflow_id: str | None) -> str:
    target = workflow_id or "ID"
    return as_typed(
        f"client.py review {target} approves (--show prints the plan, --plan FILE edits it)"
    )


PRICE_HINT = (
    "to price it, add the worker's model to the JSON file named by TTDR_LLM_PRICES on the "
    'worker, e.g. {"my-model": {"input_per_million": 0.5, "output_per_million": 1.5}} '
    "(docs/operate/many-users.md: Cost in money)"
)


def cost_text(usage: LLMUsage) -> tuple[str, str]:
    """(`cost $0.0123`, "") or, for calls of a model without a price, why the cost is unknown
    and, as a note of its own, how to give the model a price."""
    if not usage.unpriced_calls:
        return f"cost ${money(usage.cost_usd, 0)}", ""
    unpriced = plural(usage.unpriced_calls, "LLM call")
    if not usage.cost_usd:
        return f"cost unknown (the worker's model has no price: {unpriced} unpriced)", PRICE_HINT
    return f"cost at least ${money(usage.cost_usd, 0)} ({unpriced} unpriced)", PRICE_HINT


def usage_text(usage: LLMUsage) -> str:
    text = f"{plural(usage.calls, 'LLM call')}, {usage.total_tokens} tokens"
    if usage.cost_usd:  # priced by the worker (activities/prices.py)
        text += f" · ${money(usage.cost_usd, usage.unpriced_calls)}"
    return text


def progress_line(
    p: ResearchProgress,
    closed: str | None = None,
    *,
    workflow_id: str | None = None,
    waits: Sequence[str] = (),
) -> str:
    """One line of progress. `closed`: the run's status once it has ended (cancelled, failed,
    terminated, ...): an ended run holds nowhere and runs no node, whatever its last state says.
    `waits`: why the node does not move on (inspection/waits.py: a retry's back-off)."""
    parts = [p.phase]
    if closed:
        if closed != p.phase:  # not `completed · completed`
            parts.append(closed)
    elif p.plan_review == "waiting":
        parts.append(f"WAITING for a person to review the plan: {review_hint(workflow_id)}")
    elif p.held_before:
        parts.append(f"HELD before {p.held_before}")
    elif p.paused:
        parts.append("pausing")
    elif p.node:
        parts.append(p.node)
    if not closed:
        parts.extend(f"waiting: {wait}" for wait in waits)
    if p.iteration:
        parts.append(f"iteration {p.iteration}/{p.max_iterations}")
    if p.quality_history:
        parts.append(f"quality {p.quality_history[-1]:.2f}")
    parts.append(usage_text(p.usage))
    if p.stop_reason:
        parts.append(f"stop: {p.stop_reason}")
    return " · ".join(parts)


def control_text(control: ControlStatus) -> str:
    """`running`, `paused`, `held before gap_analyzer`, with the breakpoints if any."""
    if control.held_before:
        text = f"{'paused' if control.paused else 'held'} before {control.held_before}"
    else:
        text = "pausing before the next node" if control.paused else "running"
    if control.breakpoints:
        text += f"; breakpoints before {', '.join(control.breakpoints)}"
    return text


def _notes(title: str, notes: Sequence[str]) -> list[str]:
    return [f"{title}:", *(f"  - {note}" for note in notes)] if notes else []


def state_view(
    s: ResearchState,
    closed: str | None = None,
    *,
    workflow_id: str | None = None,
    waits: Sequence[str] = (),
) -> str:
    p = s.progress
    out = [
        f"question: {s.question}",
        f"progress: {progress_line(p, closed, workflow_id=workflow_id, waits=waits)}",
    ]
    if p.plan_review:
        review = p.plan_review.replace("_", " ")
        if p.plan_review == "waiting" and not closed:
            review = f"waiting for a person: {review_hint(workflow_id)}"
        out.append(f"plan review: {review}")
    scores = ", ".join(f"{q:.2f}" for q in p.quality_history) or "none yet"
    out.append(f"quality history: {scores}")
    out.append(f"control: {'ended' if closed else control_text(s.control)}")
    out.extend(_notes("feedback pending", s.control.pending_feedback))
    out.extend(_notes("feedback applied", s.feedback_applied))
    if s.plan:
        out.append("plan:\n  " + s.plan.as_text().replace("\n", "\n  "))
    for qa in s.findings:
        out.append(f"Q (iteration {qa.iteration}): {qa.question}\n  A: {qa.answer}")
    if s.critiques:
        out.append(f"last critique: {s.critiques[-1]}")
    if s.evolution:
        out.append(f"self-evolution: {len(s.evolution)} judged variants / merges (use --json)")
    draft = s.draft[:DRAFT_VIEW_CHARS] + ("…" if len(s.draft) > DRAFT_VIEW_CHARS else "")
    out.append(f"current draft ({len(s.draft)} characters):\n{draft or '(none yet)'}")
    out.append(f"sources so far: {len(s.sources)}")
    return "\n".join(out)
