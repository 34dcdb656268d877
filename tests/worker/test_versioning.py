"""Safe deploys (Worker Versioning): a run started on build A keeps executing on build A's worker
after build B becomes the deployment's current version, while B's worker takes the new runs."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from typing import Any

import pytest
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkerDeploymentVersion
from temporalio.service import RPCError

from activities.llm import LLMClient
from common.temporal_plugin import ResearchPlugin
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer, RecordedRequest
from testing.scripted_llm import Script
from testing.settings import fake_llm_settings
from worker import (
    StartupError,
    build_worker,
    deployment_version_from_env,
    first_version_becomes_current,
)
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchProgress, ResearchReport


async def set_current(client: Client, version: WorkerDeploymentVersion) -> None:
    """What `temporal worker deployment set-current-version` does. The deployment exists once
    a worker of the version has polled, so this waits for that."""
    request = SetWorkerDeploymentCurrentVersionRequest(
        namespace=client.namespace,
        deployment_name=version.deployment_name,
        build_id=version.build_id,
        identity="test_versioning",
    )
    for _ in range(100):
        try:
            await client.workflow_service.set_worker_deployment_current_version(request)
            return
        except RPCError:
            await asyncio.sleep(0.2)
    raise AssertionError(f"{version} never became the current version")


async def current_build(client: Client, deployment: str) -> str:
    info = await client.workflow_service.describe_worker_deployment(
        DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=deployment)
    )
    return info.worker_deployment_info.routing_config.current_deployment_version.build_id


def models_of(requests: Iterable[RecordedRequest], question: str) -> set[str]:
    """The model names a run's LLM requests asked for: each build's worker has its own."""
    return {str(r.body.get("model")) for r in requests if question in r.prompt}


async def start(client: Client, queue: str, question: str) -> WorkflowHandle[Any, ResearchReport]:
    request = ResearchRequest(
        question=question, config=ResearchConfig(evolution="off", max_iterations=1)
    )
    return await client.start_workflow(
        WORKFLOW_NAME,
        request,
        id=f"versioning-{uuid.uuid4().hex[:8]}",
        task_queue=queue,
        result_type=ResearchReport,
    )


async def test_a_run_finishes_on_the_build_it_started_on(
    client: Client, fake_server: FakeLLMServer, script: Script, local_search: LocalSearch
) -> None:
    queue = f"ttdr-versioning-{uuid.uuid4().hex[:8]}"
    deployment = f"ttdr-test-{uuid.uuid4().hex[:6]}"
    build_a = WorkerDeploymentVersion(deployment, "build-a")
    build_b = WorkerDeploymentVersion(deployment, "build-b")
    llm_a = LLMClient(fake_llm_settings(fake_server, model="model-a", judge_model="model-a"))
    llm_b = LLMClient(fake_llm_settings(fake_server, model="model-b", judge_model="model-b"))
    # Each build on its own connection, as its own worker process would be.
    client_b = await Client.connect(
        client.service_client.config.target_host,
        namespace=client.namespace,
        plugins=[ResearchPlugin()],
    )
    old_question = "How does Python's with statement work (old run)?"
    new_question = "How does Python's with statement work (new run)?"

    async with build_worker(client, queue, llm_a, local_search, version=build_a):
        # The first version of a deployment makes itself current (worker.py does this) …
        await first_version_becomes_current(client, build_a)
        assert await current_build(client, deployment) == "build-a"
        old = await start(client, queue, old_question)
        # Hold the old run between its nodes (it is pinned to A from its first task).
        await old.execute_update("pause", result_type=object)
        await _held(old)

        async with build_worker(client_b, queue, llm_b, local_search, version=build_b):
            # … a later one is made current by the operator, once its workers are up.
            await first_version_becomes_current(client, build_b)
            assert await current_build(client, deployment) == "build-a"
            await set_current(client, build_b)
            switched_at = time.monotonic()
            new = await start(client, queue, new_question)
            new_report = await new.result()
            await old.execute_update("resume", result_type=object)
            old_report = await old.result()

    assert old_report.usage_total.calls > 0 and new_report.usage_total.calls > 0
    requests = fake_server.requests
    assert models_of(requests, old_question) == {"model-a"}  # every call on A…
    after = [r for r in requests if old_question in r.prompt and r.started_at > switched_at]
    assert after, "the old run made calls after B became current"  # …after the switch too
    assert models_of(requests, new_question) == {"model-b"}
    old_info = await old.describe()
    assert old_info.raw_description.workflow_execution_info.versioning_info.behavior == 1  # PINNED
    await llm_a.aclose()
    await llm_b.aclose()


async def _held(handle: WorkflowHandle[Any, ResearchReport]) -> None:
    for _ in range(200):
        progress = await handle.query("progress", result_type=ResearchProgress)
        if progress.held_before:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the run was never held")


def test_versioning_settings_come_in_pairs() -> None:
    assert deployment_version_from_env({}) is None
    assert deployment_version_from_env(
        {"TTDR_DEPLOYMENT": "ttdr", "TTDR_BUILD_ID": "2026-11-30.1"}
    ) == WorkerDeploymentVersion("ttdr", "2026-11-30.1")
    with pytest.raises(StartupError, match="TTDR_BUILD_ID is not set"):
        deployment_version_from_env({"TTDR_DEPLOYMENT": "ttdr"})
    with pytest.raises(StartupError, match="TTDR_DEPLOYMENT is not set"):
        deployment_version_from_env({"TTDR_BUILD_ID": "b1"})
    with pytest.raises(StartupError, match="must not contain"):
        deployment_version_from_env({"TTDR_DEPLOYMENT": "a.b", "TTDR_BUILD_ID": "b1"})
