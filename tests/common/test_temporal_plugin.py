"""One plugin configures the client, the workers and the Replayer alike (issue 24 item 1):
the worker gets the workflows and the tracing from its client, the LLM queue's worker polls no
workflow task, and a worker whose client lacks the plugin is refused with a clear message
instead of serving no workflow at all. Real dev server."""

from __future__ import annotations

import uuid

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.llm import LLMClient
from common.temporal_plugin import (
    PASSED_THROUGH_MODULES,
    RESEARCH_WORKFLOWS,
    ResearchPlugin,
    carries_plugin,
)
from observability.tracing import NodeSpanInterceptor, RunTracingInterceptor
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer
from testing.settings import fake_llm_settings
from worker import build_worker
from workflows.research import WORKFLOW_NAME


@workflow.defn(name=WORKFLOW_NAME, sandboxed=False)
class PlantedResearch:
    @workflow.run
    async def run(self) -> None:
        return None


async def test_the_workers_get_workflows_and_tracing_from_the_client_plugin(
    client: Client, fake_server: FakeLLMServer, local_search: LocalSearch
) -> None:
    assert carries_plugin(client)
    queue = f"plugin-{uuid.uuid4().hex[:8]}"
    llm = LLMClient(fake_llm_settings(fake_server))
    try:
        group = build_worker(client, queue, llm, local_search)
        workflows_worker, llm_worker = group.workers
        active = workflows_worker.config(active_config=True)
        assert set(active["workflows"]) == set(RESEARCH_WORKFLOWS)
        # Node spans on the worker; the tracing interceptor comes from the client, once.
        assert any(isinstance(i, NodeSpanInterceptor) for i in active["interceptors"])
        assert not any(isinstance(i, RunTracingInterceptor) for i in active["interceptors"])
        on_client = client.config(active_config=True)["interceptors"]
        assert sum(isinstance(i, RunTracingInterceptor) for i in on_client) == 1
        assert llm_worker.config(active_config=True)["workflows"] == []
    finally:
        await llm.aclose()


async def test_a_class_under_the_products_name_replaces_it_instead_of_clashing(
    client: Client,
) -> None:
    worker = Worker(
        client, task_queue=f"plugin-{uuid.uuid4().hex[:8]}", workflows=[PlantedResearch]
    )
    workflows = worker.config(active_config=True)["workflows"]
    assert PlantedResearch in workflows and RESEARCH_WORKFLOWS[0] not in workflows


async def test_a_client_without_the_plugin_is_refused_with_what_to_do(
    client: Client, fake_server: FakeLLMServer, local_search: LocalSearch
) -> None:
    bare = await Client.connect(client.service_client.config.target_host)
    assert not carries_plugin(bare)
    llm = LLMClient(fake_llm_settings(fake_server))
    try:
        with pytest.raises(ValueError, match=r"plugins=\[ResearchPlugin\(\)\]"):
            build_worker(bare, "never-polled", llm, local_search)
    finally:
        await llm.aclose()


def test_the_replayer_gets_the_converter_and_the_workflows() -> None:
    config = ResearchPlugin().configure_replayer({"workflows": []})  # type: ignore[typeddict-item]
    assert set(config["workflows"]) == set(RESEARCH_WORKFLOWS)
    assert config["data_converter"] is pydantic_data_converter


def _passes_through_the_product(runner: object) -> bool:
    assert isinstance(runner, SandboxedWorkflowRunner)
    return set(PASSED_THROUGH_MODULES) <= runner.restrictions.passthrough_modules


async def test_workers_and_replayer_run_the_workflow_in_one_sandbox_that_passes_the_product_through(
    client: Client,
) -> None:
    """The sandbox no longer re-imports the workflow modules for every run (issue 29 item 2),
    and the worker and the Replayer get the same runner from the plugin."""
    worker = Worker(client, task_queue=f"plugin-{uuid.uuid4().hex[:8]}")
    assert _passes_through_the_product(worker.config(active_config=True)["workflow_runner"])
    config = ResearchPlugin().configure_replayer({"workflows": []})  # type: ignore[typeddict-item]
    assert _passes_through_the_product(config["workflow_runner"])


async def test_a_runner_given_unsandboxed_is_kept(client: Client) -> None:
    given = UnsandboxedWorkflowRunner()
    worker = Worker(client, task_queue=f"plugin-{uuid.uuid4().hex[:8]}", workflow_runner=given)
    assert worker.config(active_config=True)["workflow_runner"] is given
