"""DeepResearchWorkflow with its activities mocked by name (the samples-python habit): on the
suite's real dev server, a Worker whose activities are plain functions registered under the
real activity names, returning canned pydantic answers — no HTTP, no LLM, no search. The
workflow code is the product's (the client's ResearchPlugin puts it on the Worker).

They specify, from the activities the workflow calls and in which order:
- the stop rules of the denoising loop (workflows/stopping.py and research.py): at
  max_iterations; early when the judge says done or scores at the quality threshold (only on a
  draft that cites its sources); when the gap analysis asks nothing new; before an iteration
  the LLM-call budget could not pay for;
- the self-evolution order of a unit (workflows/evolution.py): sample k variants, then
  judge/revise each variant s rounds on its own chain, then merge, whose output the unit gives.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from workflows.activity_types import LLMDispatch
from workflows.config import ResearchConfig
from workflows.models import (
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
    PlanSection,
    ReportInput,
    ReportOutput,
    ResearchPlan,
    RetrievalInput,
    RetrievalOutput,
    ReviseVariantInput,
    Source,
    VariantVerdict,
)
from workflows.research import DeepResearchWorkflow
from workflows.results import ResearchReport
from workflows.state import RunInput

QUESTION = "How does Python's with statement work, and what must a context manager implement?"
USAGE = LLMUsage(calls=1, input_tokens=100, output_tokens=50)
# Two new, on-topic search questions per iteration (the workflow replaces junk or repeats).
QUESTIONS = [
    "What does the with statement do with the value __enter__ returns?",
    "How does __exit__ receive an exception raised inside the with block?",
    "How does contextlib.contextmanager build a context manager from a generator?",
    "Can one with statement manage several context managers at once?",
    "When does __exit__ suppress an exception raised in a with statement?",
    "How do asynchronous context managers differ from ordinary context managers?",
    "Which standard library classes implement the context manager protocol?",
    "How does the with statement guarantee that cleanup code runs?",
    "How does ExitStack combine a variable number of context managers?",
    "What happens when __enter__ itself raises an exception?",
]
MERGED = [
    "How does the with statement call __enter__ and __exit__ on a context manager?",
    "Which methods must a class define to be used as a context manager?",
]
EVIDENCE = [
    "The with statement calls the context manager's __enter__ method before the block runs.",
    "The __exit__ method is called when the block ends, even if an exception was raised.",
    "A context manager must implement both the __enter__ and the __exit__ methods.",
    "The value returned by __enter__ is bound to the target named in the as clause.",
    "If __exit__ returns a true value, the exception raised in the block is suppressed.",
    "The contextlib.contextmanager decorator turns a generator function into a context manager.",
]
UNBACKED_DRAFT = "Bananas are the most popular fruit among astronauts on long missions."
EVOLUTION_STEP = "self_evolution_enhancer.questions.{}"


def judge_score(variant: int, round_: int) -> float:
    """The judge's score of a variant in a round: each (variant, round) its own."""
    return round(0.1 * variant + 0.02 * round_, 2)


@dataclass
class MockedActivities:
    """The activities a run calls, by name; each records its call. `verdicts` are the judge's
    answers per iteration (the last one repeats)."""

    verdicts: list[Assessment] = field(
        default_factory=lambda: [Assessment(score=0.3, done=False, critique="go on")]
    )
    grounded_drafts: bool = True  # the revised draft cites its sources' own sentences
    gap_answers: list[str] | None = None  # None: two new questions per iteration
    calls: list[str] = field(default_factory=list)
    searched: list[str] = field(default_factory=list)
    judged: list[JudgeVariantInput] = field(default_factory=list)
    merged: list[MergeInput] = field(default_factory=list)
    # (variant, step) in the order each variant's evolution steps started
    evolution_steps: list[tuple[int, str]] = field(default_factory=list)
    revised_rounds: list[tuple[int, int, float]] = field(default_factory=list)  # verdict seen

    def all(self) -> list[Callable[..., Awaitable[Any]]]:
        @activity.defn(name="llm_dispatch")  # the local activity: no limit, node calls eager
        async def llm_dispatch() -> LLMDispatch:
            return LLMDispatch(rate_limited=False)

        @activity.defn(name="research_planner")
        async def research_planner(inp: PlannerInput) -> PlannerOutput:
            self.calls.append("research_planner")
            sections = [
                PlanSection(title="The with statement", focus="how __enter__ and __exit__ run"),
                PlanSection(title="The context manager protocol", focus="what a class defines"),
            ]
            return PlannerOutput(plan=ResearchPlan(sections=sections), usage=USAGE)

        @activity.defn(name="draft_generator")
        async def draft_generator(inp: DraftInput) -> DraftOutput:
            self.calls.append("draft_generator")
            return DraftOutput(draft="Python's with statement uses context managers.", usage=USAGE)

        @activity.defn(name="gap_analyzer")
        async def gap_analyzer(inp: GapInput) -> GapOutput:
            self.calls.append("gap_analyzer")
            if self.gap_answers is not None:
                return GapOutput(questions=self.gap_answers, usage=USAGE)
            first = 2 * (inp.iteration - 1)
            return GapOutput(questions=QUESTIONS[first : first + 2], usage=USAGE)

        @activity.defn(name="retrieval_engine")
        async def retrieval_engine(inp: RetrievalInput) -> RetrievalOutput:
            self.calls.append("retrieval_engine")
            self.searched.append(inp.search_question)
            n = len(self.searched)
            sentence = EVIDENCE[(n - 1) % len(EVIDENCE)]
            source = Source(
                id=f"doc-{n}",
                title=f"Context managers, part {n}",
                location=f"docs/part-{n}.md",
                provider="mock",
                retrieved_at="2026-01-01T00:00:00+00:00",
                quote=sentence,
                evidence=sentence,
            )
            return RetrievalOutput(answer=f"{sentence} [1]", sources=[source], usage=USAGE)

        @activity.defn(name="information_integrator")
        async def information_integrator(inp: IntegratorInput) -> IntegratorOutput:
            self.calls.append("information_integrator")
            if not self.grounded_drafts:
                # No source backs it (any source of the run may take over a claim it backs).
                return IntegratorOutput(draft=UNBACKED_DRAFT, usage=USAGE)
            # As a model would: the findings' sentences, with their run-wide citations (the
            # integrator is shown the sources by title, not their text).
            cited = " ".join(qa.answer for qa in inp.new_answers)
            return IntegratorOutput(draft=cited, usage=USAGE)

        @activity.defn(name="quality_assessor")
        async def quality_assessor(inp: AssessorInput) -> Assessment:
            self.calls.append("quality_assessor")
            verdict = self.verdicts[min(inp.iteration, len(self.verdicts)) - 1]
            return verdict.model_copy(update={"usage": USAGE})

        @activity.defn(name="report_synthesizer")
        async def report_synthesizer(inp: ReportInput) -> ReportOutput:
            self.calls.append("report_synthesizer")
            return ReportOutput(body=f"## The with statement\n\n{inp.draft}", usage=USAGE)

        @activity.defn(name=EVOLUTION_STEP.format("judge"))
        async def judge(inp: JudgeVariantInput) -> JudgeVariantOutput:
            self.calls.append(EVOLUTION_STEP.format("judge"))
            self.judged.append(inp)
            self.evolution_steps.append((inp.variant, "judge"))
            round_ = self.evolution_steps.count((inp.variant, "judge"))
            verdict = VariantVerdict(score=judge_score(inp.variant, round_), critique="deeper")
            return JudgeVariantOutput(verdict=verdict, usage=USAGE)

        @activity.defn(name=EVOLUTION_STEP.format("revise"))
        async def revise(inp: ReviseVariantInput) -> CandidateOutput:
            self.calls.append(EVOLUTION_STEP.format("revise"))
            self.evolution_steps.append((inp.variant, "revise"))
            round_ = self.evolution_steps.count((inp.variant, "revise"))
            self.revised_rounds.append((inp.variant, round_, inp.verdict.score))
            questions = [*(inp.candidate.questions or []), f"revision {round_} of {inp.variant}"]
            return CandidateOutput(candidate=Candidate(questions=questions), usage=USAGE)

        @activity.defn(name=EVOLUTION_STEP.format("merge"))
        async def merge(inp: MergeInput) -> CandidateOutput:
            self.calls.append(EVOLUTION_STEP.format("merge"))
            self.merged.append(inp)
            return CandidateOutput(candidate=Candidate(questions=MERGED), usage=USAGE)

        return [
            llm_dispatch,
            research_planner,
            draft_generator,
            gap_analyzer,
            retrieval_engine,
            information_integrator,
            quality_assessor,
            report_synthesizer,
            judge,
            revise,
            merge,
        ]


async def run(client: Client, mocks: MockedActivities, **config: Any) -> ResearchReport:
    """One run on a Worker of the mocks alone (the plugin brings the workflows). No retries: a
    call the mocks do not serve fails the run at once instead of retrying."""
    config.setdefault("evolution", "off")
    config.setdefault("retry", {"maximum_attempts": 1})
    queue = f"mocked-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, activities=mocks.all()):
        return await client.execute_workflow(
            DeepResearchWorkflow.run,
            RunInput(question=QUESTION, config=ResearchConfig.model_validate(config)),
            id=f"mocked-{uuid.uuid4().hex[:10]}",
            task_queue=queue,
            execution_timeout=timedelta(seconds=60),
        )


PLAN_AND_DRAFT = ["research_planner", "draft_generator"]
ITERATION = [
    "gap_analyzer",
    "retrieval_engine",
    "retrieval_engine",
    "information_integrator",
    "quality_assessor",
]


# ---------------------------------------------------------------- the stop rules


async def test_the_loop_stops_at_max_iterations(client: Client) -> None:
    mocks = MockedActivities()  # the judge never says done and scores 0.3 < 0.8
    report = await run(client, mocks, max_iterations=3)

    assert report.stop_reason == "max_iterations"
    assert report.iterations == 3
    assert mocks.calls == [*PLAN_AND_DRAFT, *ITERATION * 3, "report_synthesizer"]
    assert report.quality_history == [0.3, 0.3, 0.3]
    assert mocks.searched == QUESTIONS[:6]


async def test_the_judge_saying_done_ends_the_loop(client: Client) -> None:
    mocks = MockedActivities(
        verdicts=[
            Assessment(score=0.3, done=False, critique="go on"),
            Assessment(score=0.4, done=True, critique="enough"),
        ]
    )
    report = await run(client, mocks, max_iterations=5)

    assert report.stop_reason == "judge_done"
    assert report.iterations == 2
    assert mocks.calls == [*PLAN_AND_DRAFT, *ITERATION * 2, "report_synthesizer"]
    assert report.quality_history == [0.3, 0.4]


async def test_a_score_at_the_quality_threshold_ends_the_loop(client: Client) -> None:
    mocks = MockedActivities(verdicts=[Assessment(score=0.8, done=False, critique="good")])
    report = await run(client, mocks, max_iterations=5, quality_threshold=0.8)

    assert report.stop_reason == "quality_threshold"
    assert report.iterations == 1
    assert mocks.calls == [*PLAN_AND_DRAFT, *ITERATION, "report_synthesizer"]


async def test_the_judge_cannot_stop_on_a_draft_no_source_backs(client: Client) -> None:
    mocks = MockedActivities(
        verdicts=[Assessment(score=0.9, done=True, critique="done")], grounded_drafts=False
    )
    report = await run(client, mocks, max_iterations=2)

    assert report.stop_reason == "max_iterations"
    assert mocks.calls == [*PLAN_AND_DRAFT, *ITERATION * 2, "report_synthesizer"]
    assert report.grounding is not None
    notes = report.grounding.notes
    assert len(notes) == 2 and all("the judge would stop (judge_done)" in n for n in notes)


async def test_no_new_question_ends_the_loop_before_any_search(client: Client) -> None:
    mocks = MockedActivities(gap_answers=[])
    report = await run(client, mocks, max_iterations=3)

    assert report.stop_reason == "no_new_questions"
    assert mocks.calls == [*PLAN_AND_DRAFT, "gap_analyzer", "report_synthesizer"]
    assert mocks.searched == []


async def test_the_loop_stops_before_an_iteration_the_call_budget_cannot_pay(
    client: Client,
) -> None:
    # An iteration (5 calls) and the report (1), each possibly asked twice (one JSON re-ask):
    # 12 calls must be left. After plan, draft and one iteration, 7 are used: 7 + 12 > 16.
    mocks = MockedActivities()
    report = await run(client, mocks, max_iterations=5, max_llm_calls=16)

    assert report.stop_reason == "llm_call_budget"
    assert report.iterations == 1
    assert mocks.calls == [*PLAN_AND_DRAFT, *ITERATION, "report_synthesizer"]
    assert report.usage_total.calls == 8
    assert "the run's budget of 16 LLM calls was reached" in report.markdown


# ---------------------------------------------------------------- the self-evolution order


async def test_self_evolution_samples_then_judges_and_revises_then_merges(
    client: Client,
) -> None:
    k, s = 3, 2
    mocks = MockedActivities()
    questions = {"variants": k, "revision_steps": s}
    evolution = {"plan": {}, "questions": questions, "answers": {}, "report": {}}
    report = await run(client, mocks, max_iterations=1, evolution=evolution)

    judge, revise, merge = (EVOLUTION_STEP.format(step) for step in ("judge", "revise", "merge"))
    # Sample the k variants, then their judge/revise chains, then one merge; then the loop.
    sampled, chains = 2 + k, 2 + k + 2 * s * k
    assert mocks.calls[:sampled] == [*PLAN_AND_DRAFT, *["gap_analyzer"] * k]
    assert sorted(mocks.calls[sampled:chains]) == sorted([judge, revise] * s * k)
    assert mocks.calls[chains:] == [merge, *ITERATION[1:], "report_synthesizer"]
    # Each variant's own chain: judge, revise, judge, revise (chains run side by side).
    for variant in range(1, k + 1):
        steps = [step for v, step in mocks.evolution_steps if v == variant]
        assert steps == ["judge", "revise"] * s, (variant, mocks.evolution_steps)
    # A revision answers its own round's verdict; the next judge sees the revised candidate.
    assert sorted(mocks.revised_rounds) == [
        (v, r, judge_score(v, r)) for v in range(1, k + 1) for r in range(1, s + 1)
    ]
    revised_first = [j for j in mocks.judged if "revision 1 of" in str(j.candidate.questions)]
    assert sorted(j.variant for j in revised_first) == list(range(1, k + 1))
    for j in revised_first:
        assert j.candidate.questions == [*QUESTIONS[:2], f"revision 1 of {j.variant}"]
    # The merge gets every variant after its last round, and its output is the unit's.
    (merged,) = mocks.merged
    assert [c.variant for c in merged.candidates] == list(range(1, k + 1))
    for candidate in merged.candidates:
        assert candidate.verdict is not None
        assert candidate.verdict.score == judge_score(candidate.variant, s)
        assert candidate.candidate.questions[-1] == f"revision {s} of {candidate.variant}"
    assert mocks.searched == MERGED
    assert [(r.step, r.variant, r.round) for r in report.evolution] == [
        *(("judge", v, r) for v in range(1, k + 1) for r in range(1, s + 1)),
        ("merge", 0, 0),
    ]
