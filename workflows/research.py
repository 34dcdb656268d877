"""DeepResearchWorkflow: the TTD-DR loop (paper, Algorithm 1) as deterministic workflow code.

`run()` is the algorithm, step by step; the parts live in their own modules:
    state.py      RunState, all the run's state (and the continue-as-new payload)
    evolution.py  one unit: sample k variants → judge/revise s times → merge
    calls.py      one node call: hold point, sampling and seed, activity options, usage
    sources.py    the run-wide source registry (pure)
    stopping.py   budgets, stop conditions, fresh questions (pure)
    control.py    pause / resume / step / breakpoints / feedback
    visibility.py search attributes, Web UI details, progress and state queries

Every LLM or search call happens in an activity; this code only decides, counts and keeps
state, so a replay of its history reproduces every decision without calling anything again.
"""

from __future__ import annotations

from typing import NoReturn

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.activity_types import NodeActivities
    from workflows.answers import Answers
    from workflows.calls import SEED_PATCH, NodeCalls
    from workflows.citing.evidence_fill import QUOTE_ON_SUBJECT_PATCH
    from workflows.citing.grounding import draft_is_grounded
    from workflows.continuation import CONTINUATION_PATCH, Continuation
    from workflows.control import Control
    from workflows.evolution import Evolution
    from workflows.failures import root_message, root_type
    from workflows.leads import LEADS_PATCH, leads
    from workflows.models import (
        CRITIQUE_KEPT_CHARS,
        DRAFT_MAX_CHARS,
        Assessment,
        AssessorInput,
        Candidate,
        DraftInput,
        EvolutionContext,
        EvolutionRecord,
        GapInput,
        IntegratorInput,
        PlannerInput,
        QAPair,
        ResearchPlan,
        cap_text,
    )
    from workflows.plan_review import PlanDecision, PlanReview
    from workflows.report_unit import ReportUnit
    from workflows.reporting import final_report
    from workflows.results import (
        ControlStatus,
        Phase,
        ResearchProgress,
        ResearchReport,
        ResearchState,
    )
    from workflows.sources import SourceRegistry
    from workflows.state import RunInput, RunState
    from workflows.stopping import budget_stop, fresh_questions, stop_note, verdict_stop
    from workflows.topics import (
        PLAN_ON_TOPIC_PATCH,
        SPARES_ON_QUESTION_PATCH,
        anchored_queries,
        repaired_plan,
    )
    from workflows.visibility import (
        progress,
        research_state,
        show_details,
        show_iteration,
        show_phase,
        show_quality,
    )

WORKFLOW_NAME = "DeepResearchWorkflow"
# Runs started before it stop whenever the judge says so; runs after it only when the draft's
# claims are backed by retrieved sources (workflows/citing/grounding.py, draft_is_grounded).
GROUNDED_STOP_PATCH = "judge-stop-needs-grounded-draft"
# Runs after it repair junk plan titles and search questions, search anchored on the question,
# and get a report built from the evidence when the report node fails (RunState.anchored).
ANCHORED_PATCH = "anchored-research"
# Runs after it tell each retrieval which passages they hold, so that searches anchored on the
# same question bring new evidence instead of the same top passages, replace a search question
# that is a phrase cut out of a sentence or broken text, search the items listed before their
# kind, and go on when the judge gives no valid answer (RunState.fresh_evidence).
FRESH_EVIDENCE_PATCH = "fresh-evidence"
# Runs after it give the integrator and the self-evolution judges the sources without their
# evidence (and the integrator without their quotes), which they never read
# (sources.as_listed): their inputs no longer grow by up to 1,800 characters for every
# source the run holds (RunState.bare_sources).
BARE_SOURCES_PATCH = "bare-sources-in-inputs"


@workflow.defn(name=WORKFLOW_NAME)
class DeepResearchWorkflow:
    @workflow.init
    def __init__(self, request: RunInput) -> None:
        # The state exists before any handler runs: an update in the first workflow task of a
        # continued run already sees the carried-over breakpoints and holds.
        self._question = request.question
        self._config = request.config
        self._state = state = request.resume or RunState()
        self._control = Control(state, self._show)
        self._calls = NodeCalls(state, self._config, self._control, self._show)
        self._evolution = Evolution(state, self._config, self._calls)
        self._sources = SourceRegistry(state, self._config.report)
        self._review = PlanReview(state, self._config.plan_review_timeout_seconds, self._show)
        self._answers = Answers(self._question, self._config, state, self._evolution, self._sources)
        self._report_unit = ReportUnit(self._question, self._config, state, self._evolution)
        self._continuation = Continuation(self._question, self._config, state, self._sources)

    @workflow.run
    async def run(self, request: RunInput) -> ResearchReport:
        """Algorithm 1: plan, noisy draft, then denoise the draft with retrieval until done."""
        state, config = self._state, self._config
        if request.resume is None:  # a continued run has its plan and draft already
            state.seed_scheme = "identity" if workflow.patched(SEED_PATCH) else "counter"
            state.anchored = workflow.patched(ANCHORED_PATCH)
            state.fresh_evidence = workflow.patched(FRESH_EVIDENCE_PATCH)
            state.follow_leads = workflow.patched(LEADS_PATCH)
            state.plan_on_topic = workflow.patched(PLAN_ON_TOPIC_PATCH)
            state.quote_on_subject = workflow.patched(QUOTE_ON_SUBJECT_PATCH)
            state.spares_on_question = workflow.patched(SPARES_ON_QUESTION_PATCH)
            state.bare_sources = workflow.patched(BARE_SOURCES_PATCH)
        # 0. A follow-up or a watched topic's run starts from its parent's report instead.
        if request.resume is None and not await self._from_parent(request):
            # 1. Research plan (a self-evolving unit).
            self._set_phase("planning")
            state.plan = await self._plan()
            # 1b. A person may review the plan before money is spent on the research.
            if config.review_plan:
                await self._review.wait()
            # 2. Noisy first draft R_0, from the plan and the model's own knowledge.
            self._set_phase("drafting")
            state.draft = await self._first_draft()

        # 3. Denoising: R_{t-1} → R_t, one iteration at a time.
        self._set_phase("denoising")
        first = state.iteration + 1
        for iteration in range(first, config.max_iterations + 1):
            # 3a. A long run hands its state to a fresh history (continue-as-new).
            if iteration > first and self._should_continue_as_new(iteration - first):
                await self._continue_as_new()
            # 3b. Stop before an iteration the budget could not pay for in full.
            if stop := budget_stop(config, state.total_usage()):
                state.stop_reason = stop
                break
            state.iteration = iteration
            show_iteration(iteration)
            # 3c. Gap analysis: new search questions aimed at the draft's weakest parts.
            asked = await self._ask_questions()
            if state.anchored:  # a junk or off-topic question is never searched or shown
                earlier = [qa.question for qa in state.findings]
                found = (
                    (lambda: leads(state.sources, self._question)) if state.follow_leads else None
                )
                asked = anchored_queries(
                    asked,
                    self._question,
                    state.plan,
                    earlier,
                    state.fresh_evidence,
                    found,
                    on_question=state.spares_on_question,
                )
            asked = self._continuation.not_asked_before(asked)  # a follow-up's parent asked them
            questions = fresh_questions(asked, state.findings, config.questions_per_iteration)
            if not questions:
                state.stop_reason = "no_new_questions"
                break
            # 3d. Retrieval: every question answered from sources, in parallel.
            findings = await self._answers.answer_all(questions)
            # 3e. Denoise: the draft revised with the new findings.
            state.draft = await self._revise_draft(findings)
            # 3f. The judge scores the revised draft; it may end the loop.
            verdict = await self._assess()
            if (stop := verdict_stop(config, verdict)) and self._draft_may_stop(stop):
                state.stop_reason = stop
                break
        else:
            state.stop_reason = "max_iterations"

        # 4. Final report (a self-evolving unit), its citations checked in code.
        return await self._finished()

    # ------------------------------------------------------------------ the steps

    @property
    def _plan_or_empty(self) -> ResearchPlan:
        return self._state.plan or ResearchPlan(sections=[])

    async def _plan(self) -> ResearchPlan:
        question = self._question
        planned = await self._evolution.unit(
            "plan",
            lambda sampling: PlannerInput(question=question, sampling=sampling),
            NodeActivities.research_planner,
            lambda out: Candidate(plan=out.plan),
            lambda: EvolutionContext(unit="plan", question=question),
        )
        plan = planned.plan or ResearchPlan(sections=[])
        # Junk, empty or repeated section titles become aspects of the question (headings and
        # search anchors come from the plan).
        if not self._state.anchored:
            return plan
        return repaired_plan(plan, question, on_topic=self._state.plan_on_topic)

    async def _first_draft(self) -> str:
        drafted = await self._calls.call(
            NodeActivities.draft_generator,
            lambda sampling: DraftInput(
                question=self._question, plan=self._plan_or_empty, sampling=sampling
            ),
        )
        return cap_text(drafted.draft, DRAFT_MAX_CHARS)

    async def _ask_questions(self) -> list[str]:
        """The questions unit: the next search questions, aimed at the draft's gaps."""
        state, config = self._state, self._config
        plan, draft, earlier = self._plan_or_empty, state.draft, list(state.findings)
        asked = await self._evolution.unit(
            "questions",
            lambda sampling: GapInput(
                question=self._question,
                plan=plan,
                draft=draft,
                earlier=earlier,
                count=config.questions_per_iteration,
                iteration=state.iteration,
                feedback=list(state.control.pending_feedback),
                sampling=sampling,
            ),
            NodeActivities.gap_analyzer,
            lambda out: Candidate(questions=out.questions),
            lambda: EvolutionContext(
                unit="questions",
                question=self._question,
                plan=plan,
                draft=draft,
                earlier_questions=[qa.question for qa in earlier],
                count=config.questions_per_iteration,
            ),
        )
        return asked.questions or []

    async def _revise_draft(self, findings: list[QAPair]) -> str:
        """R_t from R_{t-1} and the new findings; every claim of it is then checked against
        the sources it cites (the judge sees which ones no source backs)."""
        state = self._state
        # The draft keeps earlier citations too: every source may be cited. The integrator
        # lists them by number, title and location only.
        registry = self._sources.listed(quotes=False)
        revised = await self._calls.call(
            NodeActivities.information_integrator,
            lambda sampling: IntegratorInput(
                question=self._question,
                plan=self._plan_or_empty,
                draft=state.draft,
                new_answers=findings,
                sources=registry,
                iteration=state.iteration,
                feedback=state.control.pending_feedback,
                sampling=sampling,
            ),
        )
        self._control.apply_feedback()  # it shaped this iteration's questions and revision
        draft, state.draft_grounding = self._sources.ground(
            cap_text(revised.draft, DRAFT_MAX_CHARS)
        )
        return draft

    def _draft_may_stop(self, stop: str) -> bool:
        """The judge can't stop on nothing: a draft that cites no retrieved source, or whose
        claims are mostly unsupported, is not done whatever score it got."""
        figures = self._state.draft_grounding
        if figures is None or draft_is_grounded(figures):
            return True
        if not workflow.patched(GROUNDED_STOP_PATCH):
            return True
        self._state.grounding_notes.append(
            f"iteration {self._state.iteration}: the judge would stop ({stop}), but only "
            f"{figures.claims_supported} of {figures.claims} claims of the draft are backed by a "
            "retrieved source, so the research went on"
        )
        return False

    async def _assess(self) -> Assessment:
        state = self._state
        try:
            verdict = await self._calls.call(
                NodeActivities.quality_assessor,
                lambda sampling: AssessorInput(
                    question=self._question,
                    plan=self._plan_or_empty,
                    draft=state.draft,
                    iteration=state.iteration,
                    max_iterations=self._config.max_iterations,
                    sampling=sampling,
                ),
                judge=True,
            )
        except ActivityError as err:
            if not state.fresh_evidence or root_type(err) != "LLMInvalidOutput":
                raise  # an endpoint that fails is for the user to fix; older runs as they were
            # A judge that gives no valid answer (a small model cut at its token limit on
            # every try) costs the run its verdict, not the research: the loop goes on.
            state.grounding_notes.append(
                f"iteration {state.iteration}: the judge gave no valid answer, so the research "
                f"went on ({root_message(err)})"
            )
            return Assessment(score=0.0, done=False, critique="")
        state.quality_history.append(verdict.score)
        state.critiques.append(verdict.critique[:CRITIQUE_KEPT_CHARS])
        show_quality(verdict.score)
        self._show()
        return verdict

    async def _report(self) -> ResearchReport:
        """The report unit, then the citation check: pure code over the registry, so only
        sources retrieved in this run can be cited, whatever the model (or a merge) wrote."""
        state, config = self._state, self._config
        self._set_phase("reporting")
        registry = self._sources.all()
        note = " ".join(
            n
            for n in (self._review.note(), stop_note(config, state.stop_reason, state.iteration))
            if n
        )
        # 4a. The model writes the report; 4b. if it cannot, the draft and evidence do.
        text = await self._report_unit.text(self._plan_or_empty, registry, note)
        state.node = None
        self._set_phase("completed")
        return final_report(self._question, config, state, text, self._sources, note)

    # ------------------------------------------------------------------ follow-ups, watches

    async def _from_parent(self, request: RunInput) -> bool:
        """A follow-up or a watched topic's run: the parent's report is the noisy draft and
        its evidence is already retrieved (workflows/continuation.py). False: plan and draft."""
        if request.continuation is None or not workflow.patched(CONTINUATION_PATCH):
            return False
        self._set_phase("drafting")
        return await self._continuation.begin(request.continuation)

    async def _finished(self) -> ResearchReport:
        """The report; a continued run's under its parent's numbering, a watched topic's
        opening with what changed (without the report synthesis when nothing did)."""
        changes = self._continuation.changes()
        if changes and changes.nothing_new and self._config.skip_report_when_unchanged:
            self._set_phase("reporting")
            self._state.node = None
            self._set_phase("completed")
            state = self._state
            draft = state.draft
            report = final_report(self._question, self._config, state, draft, self._sources, "")
        else:
            report = await self._report()
        report = self._continuation.finish(report, changes)
        await self._continuation.notify(changes)
        return report

    # ------------------------------------------------------------------ continue-as-new

    def _should_continue_as_new(self, iterations_in_this_run: int) -> bool:
        every = self._config.continue_as_new_every
        if every and iterations_in_this_run >= every:
            return True
        return workflow.info().is_continue_as_new_suggested()

    async def _continue_as_new(self) -> NoReturn:
        """Hand the whole RunState to a fresh run of this workflow (a new, short history)."""
        # Handlers (updates) must be done before the run hands over to its successor.
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._state.continued += 1
        self._state.node = None
        workflow.continue_as_new(
            RunInput(question=self._question, config=self._config, resume=self._state)
        )

    # ------------------------------------------------------------------ what the user sees

    def _set_phase(self, phase: Phase) -> None:
        self._state.phase = phase
        show_phase(self._state, self._config.max_iterations)

    def _show(self) -> None:
        show_details(self._state, self._config.max_iterations)

    @workflow.query(name="progress")
    def progress(self) -> ResearchProgress:
        return progress(self._state, self._config.max_iterations)

    @workflow.query(name="state")
    def state(self) -> ResearchState:
        return research_state(
            self._state, self._question, self._config.max_iterations, self._control.status("")
        )

    @workflow.query(name="evolution")
    def evolution(self) -> list[EvolutionRecord]:
        """Every judged variant and merge so far: scores and critique summaries."""
        return self._state.evolution

    # ------------------------------------------------------------------ live control

    @workflow.update(name="pause")
    def pause(self) -> ControlStatus:
        return self._control.pause()

    @workflow.update(name="resume")
    def resume(self) -> ControlStatus:
        return self._control.resume()

    @workflow.update(name="step")
    def step(self) -> ControlStatus:
        """Run the node it is held before, then hold again before the next one."""
        return self._control.step()

    @workflow.update(name="break_before")
    def break_before(self, node: str) -> ControlStatus:
        return self._control.break_before(node)

    @break_before.validator
    def _validate_break_before(self, node: str) -> None:
        self._control.check_node(node)

    @workflow.update(name="clear_break")
    def clear_break(self, node: str) -> ControlStatus:
        return self._control.clear_break(node)

    @clear_break.validator
    def _validate_clear_break(self, node: str) -> None:
        self._control.check_breakpoint_set(node)

    @workflow.update(name="review_plan")
    def review_plan(self, decision: PlanDecision) -> ControlStatus:
        """Approve or replace the proposed plan, optionally with guidance."""
        message = self._review.decide(decision)
        self._show()
        return self._control.status(message)

    @review_plan.validator
    def _validate_review_plan(self, decision: PlanDecision) -> None:
        self._review.check(decision)

    @workflow.update(name="feedback")
    def feedback(self, note: str) -> ControlStatus:
        return self._control.feedback(note)

    @feedback.validator
    def _validate_feedback(self, note: str) -> None:
        self._control.check_feedback(note)
