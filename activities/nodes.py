"""The TTD-DR nodes as Temporal activities, each registered under the node's own name.

Each node builds its prompt (activities/prompts/<node>.py), makes its LLM call(s) and returns
the small result the workflow needs. Retrieved text never leaves retrieval_engine: the history
gets the synthesised answer, source metadata and a short quote per source.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.boundary import at_boundary
from activities.fallbacks import (
    best_candidate,
    final,
    quoted_answer,
    spare_questions,
    usage_if_last_invalid,
)
from activities.llm import ChatMessage, LLMClient
from activities.prompts import (
    draft_generator,
    gap_analyzer,
    information_integrator,
    quality_assessor,
    report_synthesizer,
    research_planner,
    retrieval_engine,
    self_evolution_enhancer,
)
from activities.prompts._claims import claims_markdown, report_markdown, with_allowed_sources
from activities.search_failures import search_in_activity
from observability.report_span import record_grounding
from search.base import SearchProvider, SearchResult
from search.fusion import definition_first, fused
from workflows.activity_types import NodeActivities, node_activity
from workflows.citing.sentences import evidence_text, quote_of
from workflows.config import (
    EVOLVABLE_UNITS,
    NODE_NAMES,
    EvolutionStep,
    EvolvableUnit,
    evolution_activity,
)
from workflows.models import (
    EVIDENCE_MAX_CHARS,
    QUOTE_MAX_CHARS,
    Assessment,
    AssessorInput,
    Candidate,
    CandidateOutput,
    DraftInput,
    DraftOutput,
    GapInput,
    GapOutput,
    IntegratorInput,
    IntegratorOutput,
    JudgeVariantInput,
    JudgeVariantOutput,
    LLMUsage,
    MergeInput,
    PlannerInput,
    PlannerOutput,
    ReportInput,
    ReportOutput,
    ResearchPlan,
    RetrievalInput,
    RetrievalOutput,
    ReviseVariantInput,
    SamplingParams,
    Source,
    VariantVerdict,
)

T = TypeVar("T")
S = TypeVar("S", bound=BaseModel)
PASSAGE_PROMPT_CHARS = 1500  # per retrieved passage shown to the model
# How many results past top_k a search asks for, to replace passages the run holds already.
KNOWN_SKIP_MAX = 10
NO_DOCUMENTS_ANSWER = "No relevant documents were found for this question."


async def with_heartbeat(awaitable: Awaitable[T]) -> T:
    """Await a long call while heartbeating, so a dead worker is noticed within the heartbeat
    timeout and a cancellation of the activity reaches (and cancels) the call."""
    task = asyncio.ensure_future(awaitable)
    if not activity.in_activity():
        return await task
    timeout = activity.info().heartbeat_timeout
    every = max(timeout.total_seconds() / 3, 0.5) if timeout else 10.0
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=every)
            if done:
                return task.result()
            activity.heartbeat()
    finally:
        task.cancel()


class ResearchActivities(NodeActivities):
    """Holds the worker's LLM client and search provider; one instance serves all nodes.

    Each node's method overrides its typed definition in NodeActivities (workflows/
    activity_types.py), which the workflow calls; `@node_activity` registers it under the
    node's name, as there."""

    def __init__(self, llm: LLMClient, search: SearchProvider) -> None:
        self._llm = llm
        self._search = search
        # The worker's secrets, masked in prompts and in whatever leaves the worker.
        self.redactor = llm.redactor

    def all(self) -> list[Callable[..., Awaitable[Any]]]:
        """One activity per node of the table in workflows/config.py, each method named after
        its node, plus the self-evolution steps."""
        return [*(getattr(self, node) for node in NODE_NAMES), *self.evolution_activities()]

    async def _ask(
        self,
        messages: list[ChatMessage],
        schema: type[S],
        sampling: SamplingParams,
        *,
        judge: bool = False,
    ) -> tuple[S, LLMUsage]:
        masked = [m.model_copy(update={"content": self.redactor.text(m.content)}) for m in messages]
        try:
            return await with_heartbeat(
                self._llm.structured(masked, schema, sampling, judge=judge)
            )
        except ApplicationError as err:
            if (last := final(err)) is err:
                raise
            raise last from err

    async def _ask_or_none(
        self,
        messages: list[ChatMessage],
        schema: type[S],
        sampling: SamplingParams,
        *,
        judge: bool = False,
    ) -> tuple[S | None, LLMUsage]:
        """`_ask`, or None when the model gave no valid answer on the activity's last attempt:
        the node then answers with its fallback (activities/fallbacks.py)."""
        try:
            return await self._ask(messages, schema, sampling, judge=judge)
        except ApplicationError as err:
            if (usage := usage_if_last_invalid(err)) is None:
                raise
            return None, usage

    @node_activity
    @at_boundary
    async def research_planner(self, inp: PlannerInput) -> PlannerOutput:
        answer, usage = await self._ask_or_none(
            research_planner.messages(inp), research_planner.PlanAnswer, inp.sampling
        )
        # No plan: the workflow gives each part of the question a section (repaired_plan).
        sections = answer.sections if answer else []
        return PlannerOutput(plan=ResearchPlan(sections=sections), usage=usage)

    @node_activity
    @at_boundary
    async def draft_generator(self, inp: DraftInput) -> DraftOutput:
        answer, usage = await self._ask_or_none(
            draft_generator.messages(inp), draft_generator.DraftAnswer, inp.sampling
        )
        # No draft: the first revision writes one from the findings.
        return DraftOutput(draft=answer.draft.strip() if answer else "", usage=usage)

    @node_activity
    @at_boundary
    async def gap_analyzer(self, inp: GapInput) -> GapOutput:
        answer, usage = await self._ask_or_none(
            gap_analyzer.messages(inp), gap_analyzer.GapAnswer, inp.sampling
        )
        if answer is None:
            return GapOutput(questions=spare_questions(inp), usage=usage)
        questions = [q.strip() for q in answer.questions if q.strip()]
        return GapOutput(questions=questions, usage=usage)

    @node_activity
    @at_boundary
    async def retrieval_engine(self, inp: RetrievalInput) -> RetrievalOutput:
        results = await with_heartbeat(self._retrieve(inp))
        # Masked before any cut (the prompt's passage, the quote) can leave half a secret.
        results = [self.redactor.model(r) for r in results]
        if not results:
            return RetrievalOutput(answer=NO_DOCUMENTS_ANSWER, sources=[])
        sources = [self._source_of(r, inp.search_question) for r in results]
        documents = [
            retrieval_engine.document_block(i, r.title, r.location, s.evidence)
            for i, (r, s) in enumerate(zip(results, sources, strict=True), 1)
        ]
        # The claims may cite exactly the documents shown: an enum the provider enforces.
        schema = with_allowed_sources(retrieval_engine.RetrievalAnswer, range(1, len(results) + 1))
        answer, usage = await self._ask_or_none(
            retrieval_engine.messages(inp, documents), schema, inp.sampling
        )
        text = claims_markdown(answer.claims) if answer else quoted_answer(sources)
        return RetrievalOutput(answer=text, sources=sources, usage=usage)

    async def _retrieve(self, inp: RetrievalInput) -> list[SearchResult]:
        """The search question's results fused with those of its anchors (the user's question,
        the plan section it serves), so a weak model's odd query cannot steer retrieval off
        the topic; searched in parallel, one ranked list (search/fusion.py)."""
        queries = list(dict.fromkeys(q for q in [inp.search_question, *inp.anchors] if q.strip()))
        # Passages the run holds already are passed over while new ones rank: the anchors
        # would otherwise bring the question's best passages back on every search.
        known = set(inp.known_ids)
        depth = inp.top_k + min(len(known), KNOWN_SKIP_MAX)
        lists = await asyncio.gather(
            *(search_in_activity(self._search, q, depth) for q in queries)
        )
        ranked = fused(lists, depth) if len(lists) > 1 else list(lists[0])
        ranked = definition_first(ranked, lists[0], inp.search_question)
        new = [r for r in ranked if r.id not in known]
        return (new + [r for r in ranked if r.id in known])[: inp.top_k]

    @staticmethod
    def _source_of(result: SearchResult, query: str = "") -> Source:
        # The evidence is the text the answering model saw — the passage's prose, its headings,
        # front matter and grammar productions left out, cut at a sentence — so a citation is
        # checked against exactly what it could have read. The quote is whole sentences.
        seen = evidence_text(result.text, PASSAGE_PROMPT_CHARS)
        return Source(
            id=result.id,
            title=result.title,
            location=result.location,
            provider=result.provider,
            retrieved_at=datetime.now(UTC).isoformat(timespec="seconds"),
            quote=quote_of(seen, query, QUOTE_MAX_CHARS),
            evidence=seen[:EVIDENCE_MAX_CHARS],
            document=result.document,
            anchor=result.anchor,
        )

    @node_activity
    @at_boundary
    async def information_integrator(self, inp: IntegratorInput) -> IntegratorOutput:
        schema = with_allowed_sources(
            information_integrator.IntegratorAnswer, [s.number for s in inp.sources]
        )
        answer, usage = await self._ask_or_none(
            information_integrator.messages(inp), schema, inp.sampling
        )
        # No revision: the draft stays as it was (its citations are checked again anyway).
        draft = claims_markdown(answer.claims) if answer else inp.draft
        return IntegratorOutput(draft=draft, usage=usage)

    @node_activity
    @at_boundary
    async def quality_assessor(self, inp: AssessorInput) -> Assessment:
        answer, usage = await self._ask(
            quality_assessor.messages(inp),
            quality_assessor.JudgeAnswer,
            inp.sampling,
            judge=True,
        )
        return Assessment(
            score=answer.score / 10, done=answer.done, critique=answer.critique, usage=usage
        )

    @node_activity
    @at_boundary
    async def report_synthesizer(self, inp: ReportInput) -> ReportOutput:
        # The body keeps run-wide citation numbers: the workflow checks and renumbers them
        # once the report is final (after self-evolution, if any).
        schema = with_allowed_sources(
            report_synthesizer.ReportAnswer, [s.number for s in inp.sources]
        )
        answer, usage = await self._ask(report_synthesizer.messages(inp), schema, inp.sampling)
        body = report_markdown(answer)
        record_grounding(body, inp.sources, inp.support_threshold)
        return ReportOutput(body=body, usage=usage)

    # ------------------------------------------------------------------ self_evolution_enhancer

    @at_boundary
    async def evolution_judge(self, inp: JudgeVariantInput) -> JudgeVariantOutput:
        answer, usage = await self._ask_or_none(
            self_evolution_enhancer.judge_messages(inp),
            self_evolution_enhancer.VariantCritique,
            inp.sampling,
            judge=True,
        )
        if answer is None:  # no verdict: the lowest score, so a judged variant wins over it
            verdict = VariantVerdict(score=0.0, critique="")
        else:
            verdict = VariantVerdict(score=answer.score / 10, critique=answer.critique.strip())
        return JudgeVariantOutput(verdict=verdict, usage=usage)

    @at_boundary
    async def evolution_revise(self, inp: ReviseVariantInput) -> CandidateOutput:
        return await self._new_candidate(
            inp.context.unit,
            self_evolution_enhancer.revise_messages(inp),
            self_evolution_enhancer.REVISED_SCHEMA,
            inp.sampling,
            allowed=[s.number for s in inp.context.sources],
            unchanged=inp.candidate,
        )

    @at_boundary
    async def evolution_merge(self, inp: MergeInput) -> CandidateOutput:
        return await self._new_candidate(
            inp.context.unit,
            self_evolution_enhancer.merge_messages(inp),
            self_evolution_enhancer.MERGED_SCHEMA,
            inp.sampling,
            allowed=[s.number for s in inp.context.sources],
            unchanged=best_candidate(inp),
        )

    async def _new_candidate(
        self,
        unit: EvolvableUnit,
        messages: list[ChatMessage],
        schemas: Mapping[EvolvableUnit, type[BaseModel]],
        sampling: SamplingParams,
        *,
        allowed: list[int],
        unchanged: Candidate,
    ) -> CandidateOutput:
        """A revised or merged version of a unit's output, in the unit's own answer shape
        (claims may cite only the sources in the unit's context); `unchanged` when the model
        gave no valid one."""
        schema = schemas[unit]
        if unit in ("answers", "report"):
            schema = with_allowed_sources(schema, allowed)
        answer, usage = await self._ask_or_none(messages, schema, sampling)
        if answer is None:
            return CandidateOutput(candidate=unchanged, usage=usage)
        return CandidateOutput(
            candidate=self_evolution_enhancer.to_candidate(unit, answer), usage=usage
        )

    def evolution_activities(self) -> list[Callable[..., Awaitable[Any]]]:
        """Each step registered once per unit (self_evolution_enhancer.<unit>.<step>), so the
        Web UI, histories and traces name the unit and the step without opening a payload."""
        steps: dict[EvolutionStep, Callable[..., Awaitable[Any]]] = {
            "judge": self.evolution_judge,
            "revise": self.evolution_revise,
            "merge": self.evolution_merge,
        }
        return [
            _named_activity(evolution_activity(unit, step), impl)
            for unit in EVOLVABLE_UNITS
            for step, impl in steps.items()
        ]


def _named_activity(
    name: str, impl: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    """A distinct activity function named `name`, with impl's typed signature."""

    async def run(inp: Any) -> Any:
        return await impl(inp)

    run.__annotations__ = dict(impl.__annotations__)
    run.__name__ = name.replace(".", "_")
    return activity.defn(name=name)(run)
