"""DeepResearchWorkflow: the TTD-DR loop (paper, Algorithm 1) as deterministic workflow code.

plan → noisy draft → repeat { gap_analyzer → retrieval_engine per question (parallel) →
information_integrator → quality_assessor } until done → report_synthesizer.

The units plan, questions, answers and report are each produced by self-evolution when the
config asks for it: k variants sampled in parallel, each judged and revised s times by
`self_evolution_enhancer.<unit>.<step>` activities, then merged into one.

Every LLM or search call happens in an activity; this module only decides, counts and keeps
state, so a replay of its history reproduces every decision without calling anything again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import partial
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from workflows.citations import cited_numbers, finalise_report, remap_citations
    from workflows.config import (
        EVOLUTION_NODE,
        NODE_NAMES,
        UNIT_NODE,
        EvolvableUnit,
        NodeName,
        ResearchConfig,
        UnitEvolution,
        calls_per_iteration,
        evolution_activity,
        report_calls,
    )
    from workflows.models import (
        ANSWER_MAX_CHARS,
        CRITIQUE_KEPT_CHARS,
        DRAFT_MAX_CHARS,
        Assessment,
        AssessorInput,
        ControlStatus,
        DraftInput,
        DraftOutput,
        EvolutionContext,
        EvolutionRecord,
        GapInput,
        GapOutput,
        IntegratorInput,
        IntegratorOutput,
        JudgeVariantInput,
        JudgeVariantOutput,
        LLMUsage,
        MergeInput,
        NumberedSource,
        Phase,
        PlannerInput,
        PlannerOutput,
        QAPair,
        ReportInput,
        ReportOutput,
        ResearchCheckpoint,
        ResearchPlan,
        ResearchProgress,
        ResearchReport,
        ResearchRequest,
        ResearchState,
        RetrievalInput,
        RetrievalOutput,
        ReviseVariantInput,
        SamplingParams,
        ScoredCandidate,
        Source,
        StopReason,
        UnitDraft,
        UnitDraftOutput,
        VariantVerdict,
        cap_text,
    )
    from workflows.visibility import ITERATION, PHASE, QUALITY

WORKFLOW_NAME = "DeepResearchWorkflow"
Out = TypeVar("Out", bound=BaseModel)
BREAKABLE = (*NODE_NAMES, EVOLUTION_NODE)
DETAILS_DRAFT_CHARS = 400
FEEDBACK_MAX_CHARS = 2000


@workflow.defn(name=WORKFLOW_NAME)
class DeepResearchWorkflow:
    def __init__(self) -> None:
        self._phase: Phase = "planning"
        self._node: str | None = None
        self._iteration = 0
        self._max_iterations = 0
        self._quality: list[float] = []
        self._findings: list[QAPair] = []
        self._sources: list[Source] = []  # run-wide registry: number n = index n-1
        self._source_numbers: dict[str, int] = {}
        self._retrieved_ids: set[str] = set()
        self._usage: dict[str, LLMUsage] = {}
        self._evolution: list[EvolutionRecord] = []
        self._stop_reason: StopReason | None = None
        self._calls_started = 0
        self._config = ResearchConfig()
        self._question = ""
        self._plan: ResearchPlan | None = None
        self._draft = ""
        self._critiques: list[str] = []
        # Live control (updates from client.py): pause, breakpoints, single steps, feedback.
        self._paused = False
        self._pause_at_next = False
        self._releases = 0
        self._held_before: str | None = None
        self._breakpoints: set[str] = set()
        self._feedback: list[str] = []
        self._feedback_applied: list[str] = []
        self._continued = 0

    # ------------------------------------------------------------------ the loop

    @workflow.run
    async def run(self, request: ResearchRequest) -> ResearchReport:
        config = self._config = request.config
        question = self._question = request.question
        self._max_iterations = config.max_iterations
        if request.resume is not None:
            # A continuation (continue-as-new): the plan and the draft exist already.
            self._restore(request.resume)
            self._set_phase("denoising")
            plan, draft = request.resume.plan, request.resume.draft
            draft = await self._denoise(question, plan, draft, request.resume.next_iteration)
            return await self._report(question, plan, draft)

        self._set_phase("planning")
        plan_draft = await self._unit(
            "plan",
            lambda sampling: PlannerInput(question=question, sampling=sampling),
            PlannerOutput,
            lambda out: UnitDraft(plan=out.plan),
            lambda: EvolutionContext(unit="plan", question=question),
        )
        plan = self._plan = plan_draft.plan or ResearchPlan(sections=[])

        self._set_phase("drafting")
        draft = (
            await self._execute(
                "draft_generator",
                "draft_generator",
                lambda: DraftInput(question=question, plan=plan, sampling=self._sampling()),
                DraftOutput,
            )
        ).draft
        draft = self._draft = cap_text(draft, DRAFT_MAX_CHARS)

        self._set_phase("denoising")
        draft = await self._denoise(question, plan, draft, 1)
        return await self._report(question, plan, draft)

    async def _report(self, question: str, plan: ResearchPlan, draft: str) -> ResearchReport:
        """The report unit, then the citation check and the result."""
        self._set_phase("reporting")
        registry = self._numbered(range(1, len(self._sources) + 1))
        stop_note = self._stop_note()
        report = await self._unit(
            "report",
            lambda sampling: ReportInput(
                question=question,
                plan=plan,
                draft=draft,
                findings=self._findings,
                sources=registry,
                stop_note=stop_note,
                sampling=sampling,
            ),
            ReportOutput,
            lambda out: UnitDraft(text=out.body),
            lambda: EvolutionContext(
                unit="report",
                question=question,
                plan=plan,
                draft=draft,
                findings=self._findings,
                sources=registry,
            ),
        )
        # The citation check is pure code over the registry: only sources retrieved in this
        # run can be cited, whatever the model (or the merge of several variants) wrote.
        markdown, cited, removed = finalise_report(report.text or "", registry, stop_note)
        self._node = None
        self._set_phase("completed")
        return ResearchReport(
            question=question,
            markdown=markdown,
            plan=plan,
            sources=cited,
            sources_retrieved=len(self._retrieved_ids),
            removed_citations=removed,
            iterations=self._iteration,
            quality_history=self._quality,
            stop_reason=self._stop_reason or "max_iterations",
            usage_by_node=self._usage,
            usage_total=self._total_usage(),
            evolution=self._evolution,
        )

    async def _denoise(self, question: str, plan: ResearchPlan, draft: str, first: int) -> str:
        """Denoising steps R_{t-1} → R_t until the judge, the threshold or a bound stops it."""
        config = self._config
        for iteration in range(first, config.max_iterations + 1):
            if iteration > first and self._should_continue_as_new(iteration - first):
                # Handlers (updates) must be done before the run hands over to its successor.
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    ResearchRequest(
                        question=question,
                        config=config,
                        resume=self._checkpoint_state(iteration, plan, draft),
                    )
                )
            if stop := self._budget_stop():
                self._stop_reason = stop
                return draft
            self._iteration = iteration
            workflow.upsert_search_attributes([ITERATION.value_set(iteration)])
            step = await self._denoising_step(question, plan, draft, iteration)
            if step is None:
                self._stop_reason = "no_new_questions"
                return draft
            draft, verdict = step
            if verdict.done:
                self._stop_reason = "judge_done"
                return draft
            if verdict.score >= config.quality_threshold:
                self._stop_reason = "quality_threshold"
                return draft
        self._stop_reason = "max_iterations"
        return draft

    async def _denoising_step(
        self, question: str, plan: ResearchPlan, draft: str, iteration: int
    ) -> tuple[str, Assessment] | None:
        """One step: questions → answers (parallel) → revised draft → judged. None when the
        gap analysis has no new question."""
        config = self._config
        asked = await self._ask_questions(question, plan, draft, iteration)
        questions = self._new_questions(asked, config.questions_per_iteration)
        if not questions:
            return None

        answers = await self._answer_all(question, questions, iteration)
        # Recorded in question order, not completion order: the same run reads the same.
        new_pairs = [
            self._record_finding(iteration, q, text)
            for q, text in zip(questions, answers, strict=True)
        ]
        cited = sorted({n for pair in new_pairs for n in pair.source_numbers})
        revised = await self._execute(
            "information_integrator",
            "information_integrator",
            lambda: IntegratorInput(
                question=question,
                plan=plan,
                draft=draft,
                new_answers=new_pairs,
                sources=self._numbered(cited),
                iteration=iteration,
                feedback=self._feedback,
                sampling=self._sampling(),
            ),
            IntegratorOutput,
        )
        self._draft = cap_text(revised.draft, DRAFT_MAX_CHARS)
        # Feedback shaped this iteration's questions and revision: it is applied now.
        self._feedback_applied.extend(self._feedback)
        self._feedback = []

        verdict = await self._execute(
            "quality_assessor",
            "quality_assessor",
            lambda: AssessorInput(
                question=question,
                plan=plan,
                draft=self._draft,
                iteration=iteration,
                max_iterations=config.max_iterations,
                sampling=self._sampling(judge=True),
            ),
            Assessment,
        )
        self._quality.append(verdict.score)
        self._critiques.append(verdict.critique[:CRITIQUE_KEPT_CHARS])
        workflow.upsert_search_attributes([QUALITY.value_set(verdict.score)])
        self._update_details()
        return self._draft, verdict

    async def _ask_questions(
        self, question: str, plan: ResearchPlan, draft: str, iteration: int
    ) -> list[str]:
        """The next search questions (the questions unit), aimed at the draft's gaps."""
        config = self._config
        earlier = list(self._findings)
        asked = await self._unit(
            "questions",
            lambda sampling: GapInput(
                question=question,
                plan=plan,
                draft=draft,
                earlier=earlier,
                count=config.questions_per_iteration,
                iteration=iteration,
                feedback=list(self._feedback),
                sampling=sampling,
            ),
            GapOutput,
            lambda out: UnitDraft(questions=out.questions),
            lambda: EvolutionContext(
                unit="questions",
                question=question,
                plan=plan,
                draft=draft,
                earlier_questions=[qa.question for qa in earlier],
                count=config.questions_per_iteration,
            ),
        )
        return asked.questions or []

    async def _answer_all(self, question: str, questions: list[str], iteration: int) -> list[str]:
        """The answers unit for every question of a step, citing run-wide source numbers.

        All variants of all questions are sampled at once; their sources then get run-wide
        numbers in (question, variant) order — never in completion order, so the same answers
        always give the same report — and each question's variants evolve on their own.
        """
        sampled = await asyncio.gather(
            *(
                self._sample(
                    "answers",
                    partial(self._retrieval_input, question, q, iteration),
                    RetrievalOutput,
                    item,
                )
                for item, q in enumerate(questions, 1)
            )
        )
        candidates = [[UnitDraft(text=self._globalise(out)) for out in outs] for outs in sampled]
        answers = await asyncio.gather(
            *(
                self._evolve(
                    "answers",
                    variants,
                    partial(self._answers_context, question, q, variants),
                    item,
                )
                for item, (q, variants) in enumerate(zip(questions, candidates, strict=True), 1)
            )
        )
        return [answer.text or "" for answer in answers]

    def _retrieval_input(
        self, question: str, search_question: str, iteration: int, sampling: SamplingParams
    ) -> RetrievalInput:
        return RetrievalInput(
            question=question,
            search_question=search_question,
            top_k=self._config.search_results_per_question,
            iteration=iteration,
            sampling=sampling,
        )

    def _answers_context(
        self, question: str, search_question: str, variants: list[UnitDraft]
    ) -> EvolutionContext:
        cited = {n for variant in variants for n in cited_numbers(variant.text or "")}
        return EvolutionContext(
            unit="answers",
            question=question,
            search_question=search_question,
            sources=self._numbered(sorted(cited)),
        )

    # ------------------------------------------------------------------ units and evolution

    async def _unit(
        self,
        unit: EvolvableUnit,
        make_input: Callable[[SamplingParams], BaseModel],
        output_type: type[Out],
        to_candidate: Callable[[Out], UnitDraft],
        make_context: Callable[[], EvolutionContext],
        *,
        item: int = 1,
    ) -> UnitDraft:
        """Produce one unit's output: one call, or self-evolution when configured."""
        outputs = await self._sample(unit, make_input, output_type, item)
        return await self._evolve(unit, [to_candidate(out) for out in outputs], make_context, item)

    async def _sample(
        self,
        unit: EvolvableUnit,
        make_input: Callable[[SamplingParams], BaseModel],
        output_type: type[Out],
        item: int,
    ) -> list[Out]:
        """The unit's k variants, sampled in parallel by its own node, in variant order."""
        node = UNIT_NODE[unit]
        k = self._config.evolution.for_unit(unit).variants
        return list(
            await asyncio.gather(
                *(
                    self._execute(
                        node,
                        node,
                        partial(self._variant_input, make_input, v),
                        output_type,
                        detail=self._detail(unit, item, f"variant {v}/{k}" if k > 1 else ""),
                    )
                    for v in range(1, k + 1)
                )
            )
        )

    def _variant_input(
        self, make_input: Callable[[SamplingParams], BaseModel], variant: int
    ) -> BaseModel:
        return make_input(self._sampling(variant=variant))

    async def _evolve(
        self,
        unit: EvolvableUnit,
        candidates: list[UnitDraft],
        make_context: Callable[[], EvolutionContext],
        item: int,
    ) -> UnitDraft:
        """Self-evolution of sampled variants: each is judged and revised s times on its own
        chain, and the chains meet only at the merge. Critical path: 1 + 2s + 1 calls (with
        the sampling), whatever k is. Without evolution the single variant is the output."""
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
        merged = await self._execute(
            evolution_activity(unit, "merge"),
            UNIT_NODE[unit],
            lambda: MergeInput(context=context, candidates=refined, sampling=self._sampling()),
            UnitDraftOutput,
            detail=self._detail(unit, item, f"merge of {k}"),
        )
        self._evolution.append(
            EvolutionRecord(
                unit=unit,
                iteration=self._iteration,
                item=item,
                step="merge",
                variant=0,
                round=0,
                critique=f"merged {k} variants; scores "
                + ", ".join(f"{c.verdict.score:.2f}" if c.verdict else "-" for c in refined),
            )
        )
        return merged.candidate

    async def _refine(
        self,
        unit: EvolvableUnit,
        context: EvolutionContext,
        candidate: UnitDraft,
        variant: int,
        evolution: UnitEvolution,
        item: int,
    ) -> ScoredCandidate:
        """One variant's chain: judge it, revise it against the critique, s times."""
        verdict = None
        for round_ in range(1, evolution.revision_steps + 1):
            candidate, verdict = await self._judge_and_revise(
                unit, context, candidate, variant, round_, evolution.variants, item
            )
        return ScoredCandidate(variant=variant, candidate=candidate, verdict=verdict)

    async def _judge_and_revise(
        self,
        unit: EvolvableUnit,
        context: EvolutionContext,
        candidate: UnitDraft,
        variant: int,
        round_: int,
        variants: int,
        item: int,
    ) -> tuple[UnitDraft, VariantVerdict]:
        """One round of one variant: a fitness score and critique, then a revision against it."""
        node = UNIT_NODE[unit]
        label = f"variant {variant}/{variants} round {round_}"
        judged = await self._execute(
            evolution_activity(unit, "judge"),
            node,
            lambda: JudgeVariantInput(
                context=context,
                candidate=candidate,
                variant=variant,
                sampling=self._sampling(judge=True),
            ),
            JudgeVariantOutput,
            detail=self._detail(unit, item, label),
        )
        verdict = judged.verdict
        self._evolution.append(
            EvolutionRecord(
                unit=unit,
                iteration=self._iteration,
                item=item,
                step="judge",
                variant=variant,
                round=round_,
                score=verdict.score,
                critique=verdict.critique[:CRITIQUE_KEPT_CHARS],
            )
        )
        revised = await self._execute(
            evolution_activity(unit, "revise"),
            node,
            lambda: ReviseVariantInput(
                context=context,
                candidate=candidate,
                verdict=verdict,
                variant=variant,
                sampling=self._sampling(),
            ),
            UnitDraftOutput,
            detail=self._detail(unit, item, label),
        )
        return revised.candidate, verdict

    def _detail(self, unit: EvolvableUnit, item: int, extra: str) -> str:
        parts = [f"q{item}"] if unit == "answers" else []
        return " · ".join([*parts, extra] if extra else parts)

    # ------------------------------------------------------------------ activity execution

    async def _execute(
        self,
        activity_name: str,
        node: NodeName,
        build_input: Callable[[], BaseModel],
        output_type: type[Out],
        *,
        detail: str = "",
    ) -> Out:
        """Run one activity with the node's timeout and the run's retry policy; count usage.

        The input is built after the live-control checkpoint, so that what a user changed
        while the run was held (feedback) is in it."""
        config = self._config
        await self._checkpoint(activity_name, node)
        inp = build_input()
        self._node = activity_name
        self._update_details()
        where = f"iteration {self._iteration}" if self._phase == "denoising" else self._phase
        # The Web UI shows the activity type next to the summary: the summary adds the rest.
        summary = " · ".join(part for part in (where, detail) if part)
        retry = config.retry
        result = await workflow.execute_activity(
            activity_name,
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
            # On cancel, wait until the activity has stopped its call (the cancellation reaches
            # it through its heartbeats), so a cancelled run leaves no call running.
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        usage = getattr(result, "usage", LLMUsage())
        self._usage[activity_name] = self._usage.get(activity_name, LLMUsage()).plus(usage)
        return result

    def _sampling(self, *, judge: bool = False, variant: int = 1) -> SamplingParams:
        """Sampling of one call. The seed comes from the config and a workflow counter
        (deterministic under replay, different between calls); variant v of a unit samples
        hotter by (v - 1) x variant_temperature_step, so variants differ."""
        config = self._config
        self._calls_started += 1
        base = config.judge_temperature if judge else config.temperature
        step = config.evolution.variant_temperature_step
        return SamplingParams(
            temperature=min(base + (variant - 1) * step, 2.0),
            max_output_tokens=config.max_output_tokens,
            seed=config.seed + self._calls_started,
            json_repair_attempts=config.json_repair_attempts,
        )

    # ------------------------------------------------------------------ bookkeeping

    def _budget_stop(self) -> StopReason | None:
        """Stop before an iteration that the remaining budget could not pay for in full,
        keeping what the report needs."""
        config = self._config
        used = self._total_usage()
        # Worst case: every call of the iteration and the report re-asked after a bad answer.
        calls_needed = (
            calls_per_iteration(config) + report_calls(config)
        ) * config.max_calls_per_node_call()
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

    def _globalise(self, answer: RetrievalOutput) -> str:
        """Give the answer's cited sources run-wide numbers and rewrite its [i] to them."""
        mapping: dict[int, int] = {}
        for local in cited_numbers(answer.answer):
            if 1 <= local <= len(answer.sources):
                mapping[local] = self._number_of(answer.sources[local - 1])
        self._retrieved_ids.update(s.id for s in answer.sources)
        text, _ = remap_citations(answer.answer, mapping)
        return text

    def _record_finding(self, iteration: int, question: str, text: str) -> QAPair:
        """Keep an answer; a citation that is not a registered source (a revision or merge
        may invent one) is dropped here."""
        known = {n: n for n in range(1, len(self._sources) + 1)}
        checked, _ = remap_citations(cap_text(text, ANSWER_MAX_CHARS), known)
        pair = QAPair(
            iteration=iteration,
            question=question,
            answer=checked,
            source_numbers=sorted(set(cited_numbers(checked))),
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

    def _stop_note(self) -> str:
        """What the report must tell its reader about a run that ended before it should have."""
        config = self._config
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

    # ------------------------------------------------------------------ continue-as-new

    def _should_continue_as_new(self, iterations_in_this_run: int) -> bool:
        every = self._config.continue_as_new_every
        if every and iterations_in_this_run >= every:
            return True
        return workflow.info().is_continue_as_new_suggested()

    def _checkpoint_state(
        self, next_iteration: int, plan: ResearchPlan, draft: str
    ) -> ResearchCheckpoint:
        return ResearchCheckpoint(
            next_iteration=next_iteration,
            plan=plan,
            draft=draft,
            findings=self._findings,
            sources=self._sources,
            retrieved_ids=sorted(self._retrieved_ids),
            usage_by_node=self._usage,
            quality_history=self._quality,
            critiques=self._critiques,
            evolution=self._evolution,
            calls_started=self._calls_started,
            breakpoints=sorted(self._breakpoints),
            pending_feedback=self._feedback,
            feedback_applied=self._feedback_applied,
            paused=self._paused,
            continued=self._continued + 1,
        )

    def _restore(self, saved: ResearchCheckpoint) -> None:
        self._plan, self._draft = saved.plan, saved.draft
        self._iteration = saved.next_iteration - 1
        self._findings = list(saved.findings)
        self._sources = list(saved.sources)
        self._source_numbers = {s.id: n for n, s in enumerate(self._sources, 1)}
        self._retrieved_ids = set(saved.retrieved_ids)
        self._usage = dict(saved.usage_by_node)
        self._quality = list(saved.quality_history)
        self._critiques = list(saved.critiques)
        self._evolution = list(saved.evolution)
        self._calls_started = saved.calls_started
        self._breakpoints = set(saved.breakpoints)
        self._feedback = list(saved.pending_feedback)
        self._feedback_applied = list(saved.feedback_applied)
        self._paused = saved.paused
        self._continued = saved.continued

    # ------------------------------------------------------------------ live control

    async def _checkpoint(self, activity_name: str, node: NodeName) -> None:
        """Hold before an activity while paused or at a breakpoint, until resume or step."""
        if self._pause_at_next:
            self._pause_at_next = False
            self._paused = True
        evolution_step = activity_name.startswith(EVOLUTION_NODE)
        at_breakpoint = (EVOLUTION_NODE if evolution_step else node) in self._breakpoints
        if not (self._paused or at_breakpoint):
            return
        released_before = self._releases
        self._held_before = activity_name
        self._update_details()
        await workflow.wait_condition(lambda: self._releases > released_before and not self._paused)
        self._held_before = None

    def _control(self, message: str) -> ControlStatus:
        return ControlStatus(
            paused=self._paused,
            held_before=self._held_before,
            breakpoints=sorted(self._breakpoints),
            pending_feedback=self._feedback,
            message=message,
        )

    @workflow.update(name="pause")
    def pause(self) -> ControlStatus:
        self._paused = True
        return self._control("pausing before the next node")

    @workflow.update(name="resume")
    def resume(self) -> ControlStatus:
        self._paused = False
        self._pause_at_next = False
        self._releases += 1
        return self._control("resumed")

    @workflow.update(name="step")
    def step(self) -> ControlStatus:
        """Run the node it is held before, then hold again before the next one."""
        self._paused = False
        self._pause_at_next = True
        self._releases += 1
        return self._control("stepping one node")

    @workflow.update(name="break_before")
    def break_before(self, node: str) -> ControlStatus:
        self._breakpoints.add(node)
        return self._control(f"breakpoint set before {node}")

    @break_before.validator
    def _validate_break_before(self, node: str) -> None:
        if node not in BREAKABLE:
            raise ValueError(f"unknown node {node!r}: use one of {', '.join(BREAKABLE)}")

    @workflow.update(name="clear_break")
    def clear_break(self, node: str) -> ControlStatus:
        self._breakpoints.discard(node)
        return self._control(f"breakpoint before {node} cleared")

    @clear_break.validator
    def _validate_clear_break(self, node: str) -> None:
        if node not in self._breakpoints:
            raise ValueError(f"no breakpoint before {node!r}")

    @workflow.update(name="feedback")
    def feedback(self, note: str) -> ControlStatus:
        self._feedback.append(note.strip())
        return self._control("feedback noted: the next gap analysis and revision will use it")

    @feedback.validator
    def _validate_feedback(self, note: str) -> None:
        if not note.strip():
            raise ValueError("feedback is empty")
        if len(note) > FEEDBACK_MAX_CHARS:
            raise ValueError(f"feedback is over {FEEDBACK_MAX_CHARS} characters")
        if self._phase in ("reporting", "completed"):
            raise ValueError(f"the research is {self._phase}: feedback can no longer be used")

    # ------------------------------------------------------------------ Web UI visibility

    def _set_phase(self, phase: Phase) -> None:
        self._phase = phase
        workflow.upsert_search_attributes([PHASE.value_set(phase)])
        self._update_details()

    def _update_details(self) -> None:
        """The run's current details in the Web UI: readable without opening a payload."""
        lines = [f"**phase** {self._phase}"]
        if self._iteration:
            lines.append(f"**iteration** {self._iteration} of {self._max_iterations}")
        if self._quality:
            lines.append(f"**last score** {self._quality[-1]:.2f}")
        if self._held_before:
            lines.append(f"**held before** {self._held_before} (resume or step to go on)")
        elif self._node:
            lines.append(f"**node** {self._node}")
        if self._draft:
            short = self._draft[:DETAILS_DRAFT_CHARS]
            more = "…" if len(self._draft) > DETAILS_DRAFT_CHARS else ""
            lines.append(f"**draft**\n\n{short}{more}")
        workflow.set_current_details("\n\n".join(lines))

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
            paused=self._paused,
            held_before=self._held_before,
        )

    @workflow.query(name="state")
    def state(self) -> ResearchState:
        return ResearchState(
            progress=self.progress(),
            control=self._control(""),
            question=self._question,
            plan=self._plan,
            draft=self._draft,
            findings=self._findings,
            sources=self._numbered(range(1, len(self._sources) + 1)),
            critiques=self._critiques,
            feedback_applied=self._feedback_applied,
            evolution=self._evolution,
        )

    @workflow.query(name="evolution")
    def evolution(self) -> list[EvolutionRecord]:
        """Every judged variant and merge so far: scores and critique summaries."""
        return self._evolution
