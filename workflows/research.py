"""DeepResearchWorkflow: the TTD-DR loop (paper, Algorithm 1) as deterministic workflow code.

plan → noisy draft → repeat { gap_analyzer → retrieval_engine per question (parallel) →
information_integrator → quality_assessor } until done → report_synthesizer.

Every LLM or search call happens in an activity; this module only decides, counts and keeps
state, so a replay of its history reproduces every decision without calling anything again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from workflows.citations import cited_numbers, remap_citations
    from workflows.config import NodeName, ResearchConfig, calls_per_iteration
    from workflows.models import (
        Assessment,
        AssessorInput,
        DraftInput,
        DraftOutput,
        GapInput,
        GapOutput,
        IntegratorInput,
        IntegratorOutput,
        LLMUsage,
        NumberedSource,
        Phase,
        PlannerInput,
        PlannerOutput,
        QAPair,
        ReportInput,
        ReportOutput,
        ResearchPlan,
        ResearchProgress,
        ResearchReport,
        ResearchRequest,
        RetrievalInput,
        RetrievalOutput,
        SamplingParams,
        Source,
        StopReason,
    )

WORKFLOW_NAME = "DeepResearchWorkflow"
Out = TypeVar("Out", bound=BaseModel)


@workflow.defn(name=WORKFLOW_NAME)
class DeepResearchWorkflow:
    def __init__(self) -> None:
        self._phase: Phase = "planning"
        self._node: NodeName | None = None
        self._iteration = 0
        self._max_iterations = 0
        self._quality: list[float] = []
        self._findings: list[QAPair] = []
        self._sources: list[Source] = []  # run-wide registry: number n = index n-1
        self._source_numbers: dict[str, int] = {}
        self._retrieved_ids: set[str] = set()
        self._usage: dict[str, LLMUsage] = {}
        self._stop_reason: StopReason | None = None
        self._calls_started = 0

    # ------------------------------------------------------------------ the loop

    @workflow.run
    async def run(self, request: ResearchRequest) -> ResearchReport:
        config = request.config
        question = request.question
        self._max_iterations = config.max_iterations

        plan = (
            await self._unit(
                "research_planner",
                PlannerInput(question=question, sampling=self._sampling(config)),
                PlannerOutput,
                config,
            )
        ).plan

        self._phase = "drafting"
        draft = (
            await self._unit(
                "draft_generator",
                DraftInput(question=question, plan=plan, sampling=self._sampling(config)),
                DraftOutput,
                config,
            )
        ).draft

        self._phase = "denoising"
        draft = await self._denoise(question, plan, draft, config)

        self._phase = "reporting"
        report = await self._unit(
            "report_synthesizer",
            ReportInput(
                question=question,
                plan=plan,
                draft=draft,
                findings=self._findings,
                sources=self._numbered(range(1, len(self._sources) + 1)),
                stop_note=self._stop_note(config),
                sampling=self._sampling(config),
            ),
            ReportOutput,
            config,
        )
        self._phase = "completed"
        self._node = None
        return ResearchReport(
            question=question,
            markdown=report.markdown,
            plan=plan,
            sources=report.cited,
            sources_retrieved=len(self._retrieved_ids),
            removed_citations=report.removed_citations,
            iterations=self._iteration,
            quality_history=self._quality,
            stop_reason=self._stop_reason or "max_iterations",
            usage_by_node=self._usage,
            usage_total=self._total_usage(),
        )

    async def _denoise(
        self, question: str, plan: ResearchPlan, draft: str, config: ResearchConfig
    ) -> str:
        """Denoising steps R_{t-1} → R_t until the judge, the threshold or a bound stops it."""
        for iteration in range(1, config.max_iterations + 1):
            if stop := self._budget_stop(config):
                self._stop_reason = stop
                return draft
            self._iteration = iteration
            gaps = await self._unit(
                "gap_analyzer",
                GapInput(
                    question=question,
                    plan=plan,
                    draft=draft,
                    earlier=self._findings,
                    count=config.questions_per_iteration,
                    iteration=iteration,
                    sampling=self._sampling(config),
                ),
                GapOutput,
                config,
            )
            questions = self._new_questions(gaps.questions, config.questions_per_iteration)
            if not questions:
                self._stop_reason = "no_new_questions"
                return draft

            answers = await asyncio.gather(
                *(
                    self._unit(
                        "retrieval_engine",
                        RetrievalInput(
                            question=question,
                            search_question=q,
                            top_k=config.search_results_per_question,
                            iteration=iteration,
                            sampling=self._sampling(config),
                        ),
                        RetrievalOutput,
                        config,
                        detail=f"q{i}",
                    )
                    for i, q in enumerate(questions, 1)
                )
            )
            # Registered in question order, not completion order: numbering must replay the same.
            new_pairs = [
                self._register(iteration, q, a) for q, a in zip(questions, answers, strict=True)
            ]

            revised = await self._unit(
                "information_integrator",
                IntegratorInput(
                    question=question,
                    plan=plan,
                    draft=draft,
                    new_answers=new_pairs,
                    sources=self._numbered(
                        sorted({n for p in new_pairs for n in p.source_numbers})
                    ),
                    iteration=iteration,
                    sampling=self._sampling(config),
                ),
                IntegratorOutput,
                config,
            )
            draft = revised.draft

            verdict = await self._unit(
                "quality_assessor",
                AssessorInput(
                    question=question,
                    plan=plan,
                    draft=draft,
                    iteration=iteration,
                    max_iterations=config.max_iterations,
                    sampling=self._sampling(config, judge=True),
                ),
                Assessment,
                config,
            )
            self._quality.append(verdict.score)
            if verdict.done:
                self._stop_reason = "judge_done"
                return draft
            if verdict.score >= config.quality_threshold:
                self._stop_reason = "quality_threshold"
                return draft
        self._stop_reason = "max_iterations"
        return draft

    # ------------------------------------------------------------------ node execution

    async def _unit(
        self,
        node: NodeName,
        inp: BaseModel,
        output_type: type[Out],
        config: ResearchConfig,
        *,
        detail: str = "",
    ) -> Out:
        """Produce one unit's output. This is the seam for self-evolution
        (`self_evolution_enhancer`): a unit configured with variants will sample, judge, revise
        and merge here instead of making the single call below."""
        return await self._execute(node, inp, output_type, config, detail=detail)

    async def _execute(
        self,
        node: NodeName,
        inp: BaseModel,
        output_type: type[Out],
        config: ResearchConfig,
        *,
        detail: str = "",
    ) -> Out:
        self._node = node
        where = f"iteration {self._iteration}" if self._phase == "denoising" else self._phase
        summary = f"{node} · {where}" + (f" · {detail}" if detail else "")
        retry = config.retry
        result = await workflow.execute_activity(
            node,
            inp,
            result_type=output_type,
            start_to_close_timeout=config.timeouts.for_node(node),
            heartbeat_timeout=timedelta(seconds=config.timeouts.heartbeat_seconds),
            retry_policy=RetryPolicy(
                maximum_attempts=retry.maximum_attempts,
                initial_interval=timedelta(seconds=retry.initial_interval_seconds),
                backoff_coefficient=retry.backoff_coefficient,
                maximum_interval=timedelta(seconds=retry.maximum_interval_seconds),
            ),
            summary=summary,
        )
        usage = getattr(result, "usage", LLMUsage())
        self._usage[node] = self._usage.get(node, LLMUsage()).plus(usage)
        return result

    def _sampling(self, config: ResearchConfig, *, judge: bool = False) -> SamplingParams:
        # A fresh seed per call, derived from the config and a workflow counter: deterministic
        # under replay, different between calls.
        self._calls_started += 1
        return SamplingParams(
            temperature=config.judge_temperature if judge else config.temperature,
            max_output_tokens=config.max_output_tokens,
            seed=config.seed + self._calls_started,
            json_repair_attempts=config.json_repair_attempts,
        )

    # ------------------------------------------------------------------ bookkeeping

    def _budget_stop(self, config: ResearchConfig) -> StopReason | None:
        """Stop before an iteration that the remaining budget could not pay for in full,
        keeping one call (and its tokens) for the report."""
        used = self._total_usage()
        calls_needed = calls_per_iteration(config) + 1
        if used.calls + calls_needed > config.max_llm_calls:
            return "llm_call_budget"
        tokens_per_call = used.total_tokens / used.calls if used.calls else 0
        if used.total_tokens + tokens_per_call * calls_needed > config.max_total_tokens:
            return "token_budget"
        return None

    def _new_questions(self, proposed: list[str], limit: int) -> list[str]:
        asked = {qa.question.casefold() for qa in self._findings}
        fresh: list[str] = []
        for q in proposed:
            key = q.strip().casefold()
            if key and key not in asked:
                asked.add(key)
                fresh.append(q.strip())
        return fresh[:limit]

    def _register(self, iteration: int, question: str, answer: RetrievalOutput) -> QAPair:
        """Give the answer's cited sources run-wide numbers and rewrite its [i] to them."""
        mapping: dict[int, int] = {}
        for local in cited_numbers(answer.answer):
            if 1 <= local <= len(answer.sources):
                mapping[local] = self._number_of(answer.sources[local - 1])
        self._retrieved_ids.update(s.id for s in answer.sources)
        text, _ = remap_citations(answer.answer, mapping)
        pair = QAPair(
            iteration=iteration,
            question=question,
            answer=text,
            source_numbers=sorted(set(mapping.values())),
        )
        self._findings.append(pair)
        return pair

    def _number_of(self, source: Source) -> int:
        if source.id not in self._source_numbers:
            self._sources.append(source)
            self._source_numbers[source.id] = len(self._sources)
        return self._source_numbers[source.id]

    def _numbered(self, numbers: Iterable[int]) -> list[NumberedSource]:
        return [NumberedSource(number=n, source=self._sources[n - 1]) for n in numbers]

    def _stop_note(self, config: ResearchConfig) -> str:
        """What the report must tell its reader about a run that ended before it should have."""
        if self._stop_reason == "llm_call_budget":
            budget = f"{config.max_llm_calls} LLM calls"
        elif self._stop_reason == "token_budget":
            budget = f"{config.max_total_tokens} tokens"
        else:
            return ""
        return (
            f"Research stopped early, after {self._iteration} of {config.max_iterations} planned "
            f"iteration(s): the run's budget of {budget} was reached."
        )

    def _total_usage(self) -> LLMUsage:
        total = LLMUsage()
        for usage in self._usage.values():
            total = total.plus(usage)
        return total

    # ------------------------------------------------------------------ inspection

    @workflow.query(name="progress")
    def progress(self) -> ResearchProgress:
        return ResearchProgress(
            phase=self._phase,
            node=self._node,
            iteration=self._iteration,
            max_iterations=self._max_iterations,
            quality_history=self._quality,
            questions_asked=len(self._findings),
            sources_found=len(self._retrieved_ids),
            usage=self._total_usage(),
            stop_reason=self._stop_reason,
        )
