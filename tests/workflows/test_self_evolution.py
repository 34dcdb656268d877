"""Self-evolution of the units (plan, questions, answers, report): k variants, s judge-and-revise
rounds, one merge — counted at the fake LLM server, visible in the history and the state."""

from __future__ import annotations

import re
import uuid

import pytest
from temporalio.client import Client

from testing.fake_llm import FakeLLMServer, RecordedRequest
from testing.scripted_llm import Script
from workflows.config import EVOLVABLE_UNITS, ResearchConfig, UnitEvolution
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

QUESTION = "How do Python generators and the iterator protocol relate?"
OFF = {"variants": 1, "revision_steps": 0}


async def run(
    client: Client, task_queue: str, evolution: dict[str, object], **config: object
) -> tuple[ResearchReport, str]:
    settings = {
        "max_iterations": 1,
        "questions_per_iteration": 1,
        "evolution": {unit: OFF for unit in EVOLVABLE_UNITS} | evolution,
        **config,
    }
    workflow_id = f"evo-{uuid.uuid4().hex[:8]}"
    report = await client.execute_workflow(
        WORKFLOW_NAME,
        ResearchRequest(question=QUESTION, config=ResearchConfig.model_validate(settings)),
        id=workflow_id,
        task_queue=task_queue,
        result_type=ResearchReport,
    )
    return report, workflow_id


async def activity_types(client: Client, workflow_id: str) -> list[str]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]


# unit, its plain schema, the evolution step schemas
SCHEMAS = {
    "plan": ("PlanAnswer", "RevisedPlan", "MergedPlan"),
    "questions": ("GapAnswer", "RevisedQuestions", "MergedQuestions"),
    "answers": ("RetrievalAnswer", "RevisedAnswer", "MergedAnswer"),
    "report": ("ReportAnswer", "RevisedReport", "MergedReport"),
}


@pytest.mark.parametrize(
    ("unit", "k", "s"),
    [
        ("questions", 1, 0),
        ("questions", 3, 0),
        ("questions", 1, 2),
        ("questions", 3, 1),
        ("questions", 2, 2),
        ("plan", 2, 1),
        ("report", 3, 1),
    ],
)
async def test_llm_calls_per_unit_are_exact(
    client: Client,
    task_queue: str,
    fake_server: FakeLLMServer,
    script: Script,
    unit: str,
    k: int,
    s: int,
) -> None:
    report, workflow_id = await run(
        client, task_queue, {unit: {"variants": k, "revision_steps": s}}
    )

    plain, revised, merged = SCHEMAS[unit]
    assert fake_server.count(plain) == k
    assert fake_server.count("VariantCritique") == s * k
    assert fake_server.count(revised) == s * k
    assert fake_server.count(merged) == (1 if k > 1 else 0)
    expected = UnitEvolution(variants=k, revision_steps=s).llm_calls()
    evolution_calls = sum(
        usage.calls
        for name, usage in report.usage_by_node.items()
        if name.startswith(f"self_evolution_enhancer.{unit}.")
    )
    assert k + evolution_calls == expected
    # Every other unit stayed plain: 7 calls for one iteration with one question.
    assert report.usage_total.calls == 7 - 1 + expected
    # The history names each step after self_evolution_enhancer and the unit.
    types = await activity_types(client, workflow_id)
    assert types.count(f"self_evolution_enhancer.{unit}.judge") == s * k
    assert types.count(f"self_evolution_enhancer.{unit}.revise") == s * k
    assert types.count(f"self_evolution_enhancer.{unit}.merge") == (1 if k > 1 else 0)


async def test_answers_evolve_per_question(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    report, _ = await run(
        client,
        task_queue,
        {"answers": {"variants": 3, "revision_steps": 1}},
        questions_per_iteration=2,
    )

    assert fake_server.count("RetrievalAnswer") == 6
    assert fake_server.count("VariantCritique") == 6
    assert fake_server.count("RevisedAnswer") == 6
    assert fake_server.count("MergedAnswer") == 2
    merges = [r for r in report.evolution if r.step == "merge"]
    assert sorted(r.item for r in merges) == [1, 2]
    # Evolved answers still cite only sources retrieved in this run.
    # The scripted report's bogus [99] and every citation its text does not back are removed.
    assert report.sources and "[99]" not in report.markdown
    assert report.grounding is not None
    assert report.removed_citations == report.grounding.body.citations_removed >= 1


async def test_k1_s0_is_the_plain_path(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    report, workflow_id = await run(client, task_queue, {}, max_iterations=2)

    assert report.usage_total.calls == 2 + 2 * 4 + 1
    assert report.evolution == []
    assert not [t for t in await activity_types(client, workflow_id) if "self_evolution" in t]
    assert fake_server.count("VariantCritique") == 0


async def test_variants_of_one_step_overlap_in_time(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    fake_server.set_delay("GapAnswer", 0.6)
    fake_server.set_delay("VariantCritique", 0.6)
    fake_server.set_delay("RevisedQuestions", 0.6)
    await run(client, task_queue, {"questions": {"variants": 4, "revision_steps": 1}})

    for name in ("GapAnswer", "VariantCritique", "RevisedQuestions"):
        calls = fake_server.calls(name)
        assert len(calls) == 4
        latest_start = max(c.started_at for c in calls)
        earliest_end = min(c.finished_at for c in calls if c.finished_at is not None)
        assert latest_start < earliest_end, f"the 4 {name} calls ran one after another"


async def test_merge_sees_every_variant_and_scores_land_in_state(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    # Questions on the topic (an off-topic one would be replaced before it is searched), each
    # variant's marked with its sampling temperature.
    def gaps(request: RecordedRequest) -> dict:
        wanted = int(re.search(r"exactly (\d+) new search", request.prompt).group(1))
        temperature = request.body["temperature"]
        return {
            "questions": [
                f"How do generators follow the iterator protocol, case {11 + i} "
                f"(t={temperature:.2f})"
                for i in range(wanted)
            ]
        }

    fake_server.respond("GapAnswer", gaps)
    report, workflow_id = await run(
        client, task_queue, {"questions": {"variants": 3, "revision_steps": 2}}
    )

    [merge] = fake_server.calls("MergedQuestions")
    versions = re.findall(r'<version number="(\d)" score="([\d.]+)">', merge.prompt)
    assert [v for v, _ in versions] == ["1", "2", "3"]
    # Each variant reaches the merge after its two revisions.
    assert merge.prompt.count("[revised] [revised]") == 3

    judged = [r for r in report.evolution if r.unit == "questions" and r.step == "judge"]
    assert sorted((r.variant, r.round) for r in judged) == [
        (v, r) for v in (1, 2, 3) for r in (1, 2)
    ]
    # The scripted judge scores hotter variants higher: variant 3 (t=0.70+0.30) wins.
    by_variant = {r.variant: r.score for r in judged if r.round == 2}
    assert by_variant[3] > by_variant[2] > by_variant[1]
    assert all(r.critique.startswith("needs more depth") for r in judged)
    # The merged questions are the best variant's, and they are what was searched for.
    [gap_merge] = [r for r in report.evolution if r.step == "merge"]
    assert "merged 3 variants" in gap_merge.critique
    searched = fake_server.calls("RetrievalAnswer")[0].prompt
    assert "t=1.00" in searched and "[merged from 3]" in searched

    # Records are kept in a fixed order (variant, round; the merge last), not completion order.
    order = [(r.step, r.variant, r.round) for r in report.evolution if r.unit == "questions"]
    assert order == [("judge", v, r) for v in (1, 2, 3) for r in (1, 2)] + [("merge", 0, 0)]

    # The same records are queryable on the finished workflow.
    records = await client.get_workflow_handle(workflow_id).query("evolution")
    assert len(records) == len(report.evolution)


async def test_variants_get_distinct_temperatures_and_seeds(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    await run(client, task_queue, {"questions": {"variants": 3, "revision_steps": 0}})

    samples = fake_server.calls("GapAnswer")
    assert sorted(r.body["temperature"] for r in samples) == pytest.approx([0.7, 0.85, 1.0])
    assert len({r.body["seed"] for r in samples}) == 3


def test_invalid_evolution_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown evolution profile 'max'"):
        ResearchConfig.model_validate({"evolution": "max"})
    with pytest.raises(ValueError, match="less than or equal to 8"):
        ResearchConfig.model_validate({"evolution": {"questions": {"variants": 9}}})
    with pytest.raises(ValueError, match="cannot fit a single iteration"):
        ResearchConfig.model_validate({"evolution": "paper", "max_llm_calls": 40})
