"""Text views of a run's progress and state (pure: no I/O)."""

from __future__ import annotations

from observability.profile import money
from workflows.models import ResearchProgress, ResearchState

DRAFT_VIEW_CHARS = 1500


def progress_line(p: ResearchProgress, closed: str | None = None) -> str:
    """One line of progress. `closed`: the run's status once it has ended (cancelled, failed,
    terminated, ...): an ended run holds nowhere and runs no node, whatever its last state says."""
    parts = [p.phase]
    if closed:
        parts.append(closed)
    elif p.held_before:
        parts.append(f"HELD before {p.held_before}")
    elif p.paused:
        parts.append("pausing")
    elif p.node:
        parts.append(p.node)
    if p.iteration:
        parts.append(f"iteration {p.iteration}/{p.max_iterations}")
    if p.quality_history:
        parts.append(f"quality {p.quality_history[-1]:.2f}")
    parts.append(f"{p.usage.calls} LLM calls, {p.usage.total_tokens} tokens")
    if p.usage.cost_usd:  # priced by the worker (activities/prices.py)
        parts.append(f"${money(p.usage.cost_usd, p.usage.unpriced_calls)}")
    if p.stop_reason:
        parts.append(f"stop: {p.stop_reason}")
    return " · ".join(parts)


def state_view(s: ResearchState, closed: str | None = None) -> str:
    p = s.progress
    out = [f"question: {s.question}", f"progress: {progress_line(p, closed)}"]
    scores = ", ".join(f"{q:.2f}" for q in p.quality_history) or "none yet"
    out.append(f"quality history: {scores}")
    control = s.control
    out.append(
        f"control: paused={control.paused} held_before={control.held_before or '-'} "
        f"breakpoints={', '.join(control.breakpoints) or '-'}"
    )
    if control.pending_feedback or s.feedback_applied:
        out.append(f"feedback pending: {control.pending_feedback} applied: {s.feedback_applied}")
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
