"""Benchmark: a follow-up question against a fresh run of the combined question.

A real dev server and worker, the demo corpus, and the tests' fake LLM answering like a faithful
model (testing/faithful_llm.py: search questions on the question asked, new ones each round;
revisions that keep the draft's cited claims) with a fixed latency per call; the judge never
says done, so every run makes max_iterations iterations. For each evolution profile: one parent run
(question A), then the follow-up (question B on the parent) and a fresh run of "A B". Counts are
the runs' own: LLM calls and tokens (usage), searches (retrieval_engine activities plus a
watched topic's re-reads: none here), wall time from start to result.

    .venv/bin/python -m bench.follow_up_bench                  # off and paper, 0.2 s per call
    .venv/bin/python -m bench.follow_up_bench --latency 0.5 --profiles off
    .venv/bin/python -m bench.follow_up_bench --embedded --repeats 2  # SmolLM2-135M, demo config

With the embedded model (llama.cpp on this machine's cores) a run takes minutes; --repeats runs
the parent, follow-up and fresh trio again (a new parent each time), one row per run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.llm import LLMClient
from activities.llm_settings import LLMSettings
from common.temporal_plugin import ResearchPlugin
from embedded.llama_server import MODEL_ALIAS, LlamaServer
from embedded.temporal_server import dynamic_config_args, temporal_cli
from observability.search_attributes import ensure_search_attributes
from search.local_provider import LocalSearch
from testing.faithful_llm import faithful, topic_questions
from testing.fake_llm import FakeLLMServer, RecordedRequest
from testing.scripted_llm import Script
from testing.settings import FAKE_KEY, fake_llm_settings
from worker import build_worker
from workflows.config import ResearchConfig
from workflows.continuation_models import ContinuationRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport
from workflows.state import RunInput

PARENT = "How does Python's with statement work with a context manager?"
FOLLOW_UP = "How do generators and yield relate to the iterator protocol?"
# scripts/demo-config-local-model.json: what the embedded model runs in the demo.
DEMO = json.loads(
    (Path(__file__).parent.parent / "scripts/demo-config-local-model.json").read_text()
)
PROFILES = {
    "off": {"evolution": "off", "max_iterations": 2, "questions_per_iteration": 2},
    "paper": {"evolution": "paper", "max_iterations": 2, "questions_per_iteration": 2},
}
NAMES = ("PlanAnswer", "DraftAnswer", "GapAnswer", "RetrievalAnswer", "IntegratorAnswer",
         "JudgeAnswer", "ReportAnswer", "VariantCritique")  # fmt: skip


def rounds_of_questions(fake: FakeLLMServer) -> None:
    """Search questions on the question asked, new ones each round (so every iteration runs)."""
    counter = itertools.count(1)

    def gaps(request: RecordedRequest) -> dict:
        asked = topic_questions(request)["questions"]
        round_ = next(counter)
        return {"questions": [f"{q} round {round_}" for q in asked]}

    fake.respond("GapAnswer", gaps)


async def run(
    client: Client, queue: str, question: str, config: dict, parent: str | None = None
) -> tuple[str, ResearchReport, float]:
    workflow_id = f"bench-fu-{uuid.uuid4().hex[:8]}"
    request = RunInput(
        question=question,
        config=ResearchConfig.model_validate(config),
        continuation=ContinuationRequest(kind="follow_up", parent_id=parent) if parent else None,
    )
    started = time.perf_counter()
    report = await client.execute_workflow(
        WORKFLOW_NAME, request, id=workflow_id, task_queue=queue, result_type=ResearchReport
    )
    return workflow_id, report, time.perf_counter() - started


async def searches(client: Client, workflow_id: str) -> int:
    count = 0
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        scheduled = event.activity_task_scheduled_event_attributes
        if event.HasField("activity_task_scheduled_event_attributes"):
            count += scheduled.activity_type.name == "retrieval_engine"
    return count


async def compare(
    client: Client, queue: str, profile: str, config: dict, by_node: list[str]
) -> None:
    """The parent, its follow-up, and a fresh run of both questions: one table row each (the
    fresh run after the follow-up, so a model server's warm caches favour it, not the
    follow-up), and each run's LLM calls by node appended to `by_node`."""
    parent_id: str | None = None
    runs = (
        ("parent", PARENT, False),
        ("follow-up", FOLLOW_UP, True),
        ("fresh combined", f"{PARENT} {FOLLOW_UP}", False),
    )
    for label, question, follows in runs:
        workflow_id, report, seconds = await run(
            client, queue, question, config, parent_id if follows else None
        )
        parent_id = parent_id or workflow_id
        print(row(f"{profile}: {label}", report, seconds, await searches(client, workflow_id)))
        nodes = sorted(report.usage_by_node.items())
        calls = ", ".join(f"{node} {usage.calls}" for node, usage in nodes)
        by_node.append(
            f"- {profile}: {label}: {report.iterations} iterations, stop {report.stop_reason}; "
            f"{calls}"
        )


def row(label: str, report: ResearchReport, seconds: float, searched: int) -> str:
    usage = report.usage_total
    return (
        f"| {label} | {usage.calls} | {usage.total_tokens} | {searched} | {seconds:.1f} | "
        f"{len(report.sources)} |"
    )


@contextlib.asynccontextmanager
async def model(latency: float, embedded: bool, cache: Path) -> AsyncIterator[LLMClient]:
    """The faithful fake at `latency` per call, or the embedded llama.cpp model."""
    if embedded:
        server = await asyncio.to_thread(LlamaServer(cache / "llama-server.log").start)
        settings = LLMSettings(
            base_url=server.base_url,
            model=MODEL_ALIAS,
            judge_model=MODEL_ALIAS,
            response_format="json_object",
        )
        try:
            yield LLMClient(settings)
        finally:
            server.stop()
        return
    with FakeLLMServer(api_key=FAKE_KEY) as fake:
        Script().install(fake)
        faithful(fake)
        rounds_of_questions(fake)
        for name in NAMES:
            fake.set_delay(name, latency)
        yield LLMClient(fake_llm_settings(fake))


async def main(latency: float, profiles: list[str], embedded: bool, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as cache:
        async with model(latency, embedded, Path(cache)) as llm:
            env = await WorkflowEnvironment.start_local(
                dev_server_existing_path=temporal_cli(),
                plugins=[ResearchPlugin()],
                dev_server_extra_args=dynamic_config_args(),
            )
            try:
                client = env.client
                await ensure_search_attributes(client, "default")
                search = LocalSearch.from_env({"TTDR_CACHE_DIR": str(Path(cache))})
                queue = f"bench-{uuid.uuid4().hex[:6]}"
                what = (
                    "embedded SmolLM2-135M" if embedded else f"latency {latency:g} s per LLM call"
                )
                print(f"{what}; parent: {PARENT!r}; follow-up: "
                  f"{FOLLOW_UP!r}; load average {_load()}\n")  # fmt: skip
                print("| profile / run | LLM calls | tokens | searches | wall s | sources cited |")
                print("|---|---|---|---|---|---|")
                by_node: list[str] = []
                async with build_worker(client, queue, llm, search):
                    for repeat, profile in itertools.product(range(1, repeats + 1), profiles):
                        label = profile if repeats == 1 else f"{profile} #{repeat}"
                        await compare(
                            client, queue, label, DEMO if embedded else PROFILES[profile], by_node
                        )
                print("\nIterations, stop reason and LLM calls by node:\n" + "\n".join(by_node))
                print(f"\nload average at the end {_load()}")
                await llm.aclose()
                await search.aclose()
            finally:
                await env.shutdown()


def _load() -> str:
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per LLM call")
    parser.add_argument("--profiles", default="off,paper", help="comma-separated: off, paper")
    parser.add_argument("--embedded", action="store_true", help="the embedded model, demo config")
    parser.add_argument("--repeats", type=int, default=1, help="parent/follow-up/fresh trios")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    profiles = ["demo"] if args.embedded else [p for p in args.profiles.split(",") if p]
    asyncio.run(main(args.latency, profiles, args.embedded, args.repeats))
