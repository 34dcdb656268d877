"""Benchmark: the critical path of a self-evolving unit is 1 + 2s + 1 LLM calls, not k times that.

Every LLM call takes a fixed simulated latency (the fake OpenAI-compatible server of the test
suite, on loopback). For several (k, s) settings of the questions unit, one research iteration
runs on a real dev server and worker; the unit's wall time is measured at the LLM server, from
the first variant's request to the last evolution call's answer, and compared with
critical_path x latency (what the unit would take if only its dependent calls added up) and
with llm_calls x latency (what it would take if every call ran one after another).

    .venv/bin/python -m bench.evolution_critical_path [--latency 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import tempfile
import uuid

from temporalio.testing import WorkflowEnvironment

from activities.llm import LLMClient
from activities.llm_settings import LLMSettings
from common.temporal_plugin import ResearchPlugin
from embedded.temporal_server import temporal_cli
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer
from testing.scripted_llm import Script
from worker import build_worker
from workflows.config import EVOLVABLE_UNITS, ResearchConfig, UnitEvolution
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

SETTINGS = [(1, 0), (3, 0), (5, 0), (1, 1), (3, 1), (5, 1), (3, 2), (5, 2), (8, 2)]
UNIT_SCHEMAS = ("GapAnswer", "VariantCritique", "RevisedQuestions", "MergedQuestions")


async def measure(latency: float) -> list[tuple[int, int, int, int, float, float, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as cache, FakeLLMServer() as fake:
        search = LocalSearch.from_env({"TTDR_CACHE_DIR": cache})
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal_cli(), plugins=[ResearchPlugin()]
        )
        llm = LLMClient(
            LLMSettings(base_url=fake.base_url, model="bench", judge_model="bench", api_key="x")
        )
        try:
            async with build_worker(env.client, "bench", llm, search):
                for k, s in SETTINGS:
                    fake.reset()
                    Script().install(fake)
                    fake.set_delay(None, latency)
                    off = {"variants": 1, "revision_steps": 0}
                    evolution = {u: off for u in EVOLVABLE_UNITS}
                    evolution["questions"] = {"variants": k, "revision_steps": s}
                    config = ResearchConfig.model_validate(
                        {"max_iterations": 1, "questions_per_iteration": 1, "evolution": evolution}
                    )
                    await env.client.execute_workflow(
                        WORKFLOW_NAME,
                        ResearchRequest(question="How do generators work?", config=config),
                        id=f"bench-{uuid.uuid4().hex[:8]}",
                        task_queue="bench",
                        result_type=ResearchReport,
                    )
                    unit = [r for r in fake.requests if r.name in UNIT_SCHEMAS]
                    wall = max(r.finished_at or 0 for r in unit) - min(r.started_at for r in unit)
                    plan = UnitEvolution(variants=k, revision_steps=s)
                    rows.append(
                        (
                            k,
                            s,
                            plan.llm_calls(),
                            plan.critical_path(),
                            wall,
                            plan.critical_path() * latency,
                            plan.llm_calls() * latency,
                        )
                    )
        finally:
            await llm.aclose()
            await env.shutdown()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per LLM call")
    args = parser.parse_args()
    rows = asyncio.run(measure(args.latency))
    print(f"# questions unit, {args.latency:g} s per LLM call, {platform.machine()}")
    print(
        "| k | s | LLM calls | critical path (calls) | unit wall (s) | critical path x latency"
        " (s) | serial (s) | wall / critical path |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for k, s, calls, path, wall, ideal, serial in rows:
        print(
            f"| {k} | {s} | {calls} | {path} | {wall:.2f} | {ideal:.2f} | {serial:.2f} "
            f"| {wall / ideal:.2f} |"
        )


if __name__ == "__main__":
    main()
