"""Self-evolution of one unit (plan, questions, answers or report), as in the paper:
sample k variants → judge and revise each s times → merge them into one.

Without evolution (k=1, s=0) a unit is its node's single call. Variants, judges and revisions
that do not depend on each other run at the same time: each variant has its own judge/revise
chain and the chains meet only at the merge (critical path 1 + 2s + 1 calls whatever k is).
Every judgement and merge is kept in RunState.evolution, in a fixed order (iteration, unit,
question, variant, round; the merge last) whichever call finished first.
"""

from __future__ import annotations

import asyncio
from bisect import insort
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel

from workflows.activity_types import NodeActivity, node_name
from workflows.calls import CallId, NodeCalls
from workflows.config import (
    EVOLVABLE_UNITS,
    UNIT_NODE,
    EvolutionStep,
    EvolvableUnit,
    ResearchConfig,
    UnitEvolution,
    evolution_activity,
)
from workflows.models import (
    ANSWER_MAX_CHARS,
    CRITIQUE_KEPT_CHARS,
    REPORT_MAX_CHARS,
    SEARCH_QUESTION_MAX_CHARS,
    Candidate,
    CandidateOutput,
    EvolutionContext,
    EvolutionRecord,
    JudgeVariantInput,
    JudgeVariantOutput,
    MergeInput,
    ReviseVariantInput,
    SamplingParams,
    ScoredCandidate,
    VariantVerdict,
    cap_text,
)
from workflows.state import RunState

Out = TypeVar("Out", bound=BaseModel)
MakeInput = Callable[[SamplingParams], BaseModel]
TEXT_MAX_CHARS: dict[EvolvableUnit, int] = {"answers": ANSWER_MAX_CHARS, "report": REPORT_MAX_CHARS}


def bounded(unit: EvolvableUnit, candidate: Candidate) -> Candidate:
    """A candidate cut to its unit's bound as it enters the workflow, before any text work."""
    if candidate.text is not None and unit in TEXT_MAX_CHARS:
        return Candidate(text=cap_text(candidate.text, TEXT_MAX_CHARS[unit]))
    if candidate.questions is not None:
        questions = [q[:SEARCH_QUESTION_MAX_CHARS] for q in candidate.questions[:16]]
        return Candidate(questions=questions)
    return candidate


def _record_order(record: EvolutionRecord) -> tuple[int, int, int, int, int, int]:
    merge_last = 1 if record.step == "merge" else 0
    unit = EVOLVABLE_UNITS.index(record.unit)
    return (record.iteration, unit, record.item, merge_last, record.variant, record.round)


def _detail(unit: EvolvableUnit, item: int, extra: str) -> str:
    parts = [f"q{item}"] if unit == "answers" else []
    return " · ".join([*parts, extra] if extra else parts)


class Evolution:
    """Produces units for the workflow with the run's config, state and node calls."""

    def __init__(self, state: RunState, config: ResearchConfig, calls: NodeCalls) -> None:
        self._state = state
        self._config = config
        self._calls = calls

    async def unit(
        self,
        unit: EvolvableUnit,
        make_input: MakeInput,
        node: NodeActivity[Out],
        to_candidate: Callable[[Out], Candidate],
        make_context: Callable[[], EvolutionContext],
        *,
        item: int = 1,
    ) -> Candidate:
        """One unit's output: one call, or self-evolution when configured. `node` is the
        unit's own node (NodeActivities.<node>, workflows/activity_types.py), which samples it."""
        outputs = await self.sample(unit, make_input, node, item)
        return await self.evolve(unit, [to_candidate(out) for out in outputs], make_context, item)

    async def sample(
        self, unit: EvolvableUnit, make_input: MakeInput, node: NodeActivity[Out], item: int
    ) -> list[Out]:
        """The unit's k variants, sampled in parallel by its own node, in variant order."""
        if node_name(node) != UNIT_NODE[unit]:
            raise ValueError(f"the {unit} unit is sampled by {UNIT_NODE[unit]}, not {node}")
        k = self._config.evolution.for_unit(unit).variants
        return list(
            await asyncio.gather(
                *(
                    self._calls.call(
                        node,
                        make_input,
                        call=CallId(item=item, variant=v),
                        hotter_by_variant=True,
                        detail=_detail(unit, item, f"variant {v}/{k}" if k > 1 else ""),
                    )
                    for v in range(1, k + 1)
                )
            )
        )

    async def evolve(
        self,
        unit: EvolvableUnit,
        candidates: list[Candidate],
        make_context: Callable[[], EvolutionContext],
        item: int,
    ) -> Candidate:
        """Judge and revise each sampled variant s times on its own chain, then merge them.
        Without evolution the single variant is the output."""
        evolution = self._config.evolution.for_unit(unit)
        if not evolution.enabled:
            return candidates[0]
        k = evolution.variants
        context = make_context()
        refined = await asyncio.gather(
            *(
                self._refine(unit, context, candidate, v, evolution, item)
                for v, candidate in enumerate(candidates, 1)
            )
        )
        if k == 1:
            return refined[0].candidate
        merged = await self._calls.call(
            evolution_activity(unit, "merge"),
            lambda sampling: MergeInput(context=context, candidates=refined, sampling=sampling),
            CandidateOutput,
            call=CallId(item=item),
            detail=_detail(unit, item, f"merge of {k}"),
        )
        scores = ", ".join(f"{c.verdict.score:.2f}" if c.verdict else "-" for c in refined)
        self._record(unit, item, "merge", 0, 0, None, f"merged {k} variants; scores {scores}")
        return bounded(unit, merged.candidate)

    async def _refine(
        self,
        unit: EvolvableUnit,
        context: EvolutionContext,
        candidate: Candidate,
        variant: int,
        evolution: UnitEvolution,
        item: int,
    ) -> ScoredCandidate:
        """One variant's chain: judge it, revise it against the critique, s times."""
        verdict = None
        for round_ in range(1, evolution.revision_steps + 1):
            candidate, verdict = await self._judge_and_revise(
                unit, context, candidate, CallId(item, variant, round_), evolution.variants
            )
        return ScoredCandidate(variant=variant, candidate=candidate, verdict=verdict)

    async def _judge_and_revise(
        self,
        unit: EvolvableUnit,
        context: EvolutionContext,
        candidate: Candidate,
        call: CallId,
        variants: int,
    ) -> tuple[Candidate, VariantVerdict]:
        """One round of one variant: a fitness score and critique, then a revision against it."""
        detail = _detail(unit, call.item, f"variant {call.variant}/{variants} round {call.round}")
        judged = await self._calls.call(
            evolution_activity(unit, "judge"),
            lambda sampling: JudgeVariantInput(
                context=context, candidate=candidate, variant=call.variant, sampling=sampling
            ),
            JudgeVariantOutput,
            call=call,
            judge=True,
            detail=detail,
        )
        verdict = judged.verdict
        self._record(
            unit, call.item, "judge", call.variant, call.round, verdict.score, verdict.critique
        )
        revised = await self._calls.call(
            evolution_activity(unit, "revise"),
            lambda sampling: ReviseVariantInput(
                context=context,
                candidate=candidate,
                verdict=verdict,
                variant=call.variant,
                sampling=sampling,
            ),
            CandidateOutput,
            call=call,
            detail=detail,
        )
        return bounded(unit, revised.candidate), verdict

    def _record(
        self,
        unit: EvolvableUnit,
        item: int,
        step: EvolutionStep,
        variant: int,
        round_: int,
        score: float | None,
        critique: str,
    ) -> None:
        record = EvolutionRecord(
            unit=unit,
            iteration=self._state.iteration,
            item=item,
            step=step,
            variant=variant,
            round=round_,
            score=score,
            critique=critique[:CRITIQUE_KEPT_CHARS],
        )
        insort(self._state.evolution, record, key=_record_order)
