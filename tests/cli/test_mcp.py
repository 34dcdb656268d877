"""`client.py mcp` end to end: the MCP SDK's own client speaks to it over stdio (the server is
a subprocess, as an agent or IDE runs it) against the dev server, a real worker and the fake
LLM. A run outlives the MCP session that started it: a new session fetches its report.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.metadata
import json
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client as McpClient
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from common.temporal_connection import local_server_env
from testing.fake_llm import FakeLLMServer
from testing.scripted_llm import Script
from tests.export.test_export import assert_html_is_inert, read_html
from tests.support.paths import ROOT
from workflows.models import ResearchRequest
from workflows.results import ResearchReport

TOOLS = {
    "start_research", "research_status", "get_report", "send_feedback", "cancel_research",
    "list_research", "review_plan", "get_plan", "follow_up", "watch_topic", "stop_watching",
}  # fmt: skip
QUESTION = "How does Python's with statement work?"


def server(client: Client, task_queue: str) -> McpClient:
    env = local_server_env(client.service_client.config.target_host)
    env["TTDR_TASK_QUEUE"] = task_queue
    params = StdioServerParameters(
        command=sys.executable, args=[str(ROOT / "client.py"), "mcp"], env=env, cwd=ROOT
    )
    return McpClient(params, read_timeout_seconds=60)


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


def error_text(result: Any) -> str:
    assert result.is_error, result
    return " ".join(block.text for block in result.content)


async def assert_not_started(client: Client, workflow_id: str) -> None:
    with pytest.raises(RPCError):
        await client.get_workflow_handle(workflow_id).describe()


async def test_tools_and_bad_input_start_nothing(client: Client, task_queue: str) -> None:
    async with server(client, task_queue) as mcp:
        assert {tool.name for tool in (await mcp.list_tools()).tools} == TOOLS
        templates = (await mcp.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["research://{workflow_id}/report"]
        assert mcp.server_info.name == "ttdr-research"
        assert mcp.server_info.version == importlib.metadata.version("ttdr")
        # What config accepts is published: the ResearchConfig schema, $refs written out.
        tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
        config = tools["start_research"].input_schema["properties"]["config"]["anyOf"][0]
        assert config["properties"]["max_iterations"]["maximum"] == 30
        assert "max_llm_calls" in config["properties"] and "$ref" not in json.dumps(config)
        assert config["properties"]["timeouts"]["properties"]["heartbeat_seconds"]
        schema = await mcp.read_resource("research://schema/config")
        assert json.loads(schema.contents[0].text)["title"] == "ResearchConfig"

        bad = [
            ({"question": "   "}, "the question is empty"),
            ({"question": "ok?", "config": {"max_iterations": 0}}, "max_iterations"),
            ({"question": "ok?", "config": {"max_iteratons": 3}}, "Extra inputs are not permitted"),
            ({"question": "ok?", "config": {"max_iterations": "3"}}, "valid integer"),
            ({"question": "ok?", "workflow_id": "../etc"}, "invalid workflow_id"),
            ({"question": "ok?", "config": {"max_llm_calls": 20000}}, "cap of 500"),
            ({"question": "ok?", "config": {"max_cost_usd": 50.0}}, "TTDR_MCP_MAX_COST_USD"),
        ]
        for arguments, message in bad:
            workflow_id = f"mcp-bad-{uuid.uuid4().hex[:8]}"
            arguments.setdefault("workflow_id", workflow_id)
            text = error_text(await mcp.call_tool("start_research", arguments))
            assert message in text and "nothing was started" in text, text
            assert "--id" not in text, text
            await assert_not_started(client, workflow_id)

        text = error_text(await mcp.call_tool("research_status", {"workflow_id": "no-such-run"}))
        assert "no research run no-such-run" in text
        text = error_text(await mcp.call_tool("list_research", {"limit": 0}))
        assert "limit must be between 1 and 100" in text
        text = error_text(await mcp.call_tool("get_report", {"workflow_id": "x", "format": "rtf"}))
        assert "unknown format 'rtf'" in text


async def wait_closed(client: Client, workflow_id: str, seconds: float = 60) -> None:
    handle = client.get_workflow_handle(workflow_id)
    deadline = time.monotonic() + seconds
    while (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
        assert time.monotonic() < deadline, f"{workflow_id} still running"
        await asyncio.sleep(0.3)


def assert_status_matches_report(status: dict[str, Any], report: ResearchReport) -> None:
    """Every field research_status reports of a finished run, against the run's own report."""
    assert len(set(report.quality_history)) > 1, "the test needs scores that differ"
    expected = {
        "question": report.question,
        "phase": "completed",
        "iteration": report.iterations,
        "quality": report.quality_history[-1],  # the last judge score, not the first
        "quality_history": report.quality_history,
        "questions_asked": len(report.findings),
        "sources_found": report.sources_retrieved,
        "sources_cited": len(report.sources),
        "llm_calls": report.usage_total.calls,
        "tokens": report.usage_total.total_tokens,
        "cost_usd": report.usage_total.cost_usd,
        "stop_reason": report.stop_reason,
    }
    reported = {key: status[key] for key in expected}
    assert reported == expected
    assert set(status) == {*expected, "workflow_id", "status", "web_ui"}, "a field is untested"


async def test_a_run_outlives_its_session_and_a_new_one_fetches_the_report(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    fake_server.set_delay("IntegratorAnswer", 1.0)
    fake_server.set_delay("JudgeAnswer", 1.0)
    script.judge_scores = [2, 4]  # the first and the last judge score differ
    config = {"max_iterations": 2, "evolution": "off"}

    # Session 1 starts the run, steers it, and goes away while it runs.
    async with server(client, task_queue) as mcp:
        started = structured(
            await mcp.call_tool("start_research", {"question": QUESTION, "config": config})
        )
        workflow_id = started["workflow_id"]
        assert started["status"] == "started"
        assert started["web_ui"].endswith(f"/namespaces/default/workflows/{workflow_id}")
        early = await mcp.call_tool("get_report", {"workflow_id": workflow_id})
        assert not early.is_error and "still running" in early.content[0].text
        assert early.structured_content["status"] == "running"
        fed = structured(
            await mcp.call_tool(
                "send_feedback", {"workflow_id": workflow_id, "note": "Mention __exit__"}
            )
        )
        assert fed["accepted"] and "Mention __exit__" in fed["pending_feedback"]
        status = structured(await mcp.call_tool("research_status", {"workflow_id": workflow_id}))
        assert status["status"] == "running" and status["max_iterations"] == 2
        assert {"phase", "iteration", "quality", "llm_calls", "tokens"} <= status.keys()
    description = await client.get_workflow_handle(workflow_id).describe()
    assert description.status == WorkflowExecutionStatus.RUNNING, "the run outlives the session"

    await wait_closed(client, workflow_id)
    expected = await client.get_workflow_handle(workflow_id, result_type=ResearchReport).result()

    # Session 2, a new server process, picks the report up.
    async with server(client, task_queue) as mcp:
        status = structured(await mcp.call_tool("research_status", {"workflow_id": workflow_id}))
        assert status["status"] == "completed"
        assert_status_matches_report(status, expected)
        report = await mcp.call_tool("get_report", {"workflow_id": workflow_id})
        assert not report.is_error and report.content[0].text == expected.markdown
        resource = await mcp.read_resource(f"research://{workflow_id}/report")
        assert resource.contents[0].text == expected.markdown
        page = await mcp.call_tool("get_report", {"workflow_id": workflow_id, "format": "html"})
        assert_html_is_inert(read_html(page.content[0].text.encode()))
        pdf = await mcp.call_tool("get_report", {"workflow_id": workflow_id, "format": "pdf"})
        blob = pdf.content[0].resource
        assert blob.mime_type == "application/pdf"
        assert base64.b64decode(blob.blob).startswith(b"%PDF")
        listed = structured(await mcp.call_tool("list_research", {"limit": 50}))
        [mine] = [run for run in listed["runs"] if run["workflow_id"] == workflow_id]
        assert mine["question"] == QUESTION and mine["status"] == "completed"
        text = error_text(await mcp.call_tool("cancel_research", {"workflow_id": workflow_id}))
        assert "is not running (completed)" in text
        with pytest.raises(MCPError):
            await mcp.read_resource("research://no-such-run/report")


async def test_cancel_research_stops_a_run(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    fake_server.set_delay("GapAnswer", 30)  # held in the gap analysis until cancelled
    config = {"evolution": "off", "timeouts": {"heartbeat_seconds": 2}}
    async with server(client, task_queue) as mcp:
        started = structured(
            await mcp.call_tool("start_research", {"question": QUESTION, "config": config})
        )
        workflow_id = started["workflow_id"]
        deadline = time.monotonic() + 30
        while (
            structured(await mcp.call_tool("research_status", {"workflow_id": workflow_id})).get(
                "node"
            )
            != "gap_analyzer"
        ):
            assert time.monotonic() < deadline, "the run never reached gap_analyzer"
            await asyncio.sleep(0.2)
        cancelled = structured(await mcp.call_tool("cancel_research", {"workflow_id": workflow_id}))
        assert cancelled["status"] == "cancellation requested"
        await wait_closed(client, workflow_id)
        status = structured(await mcp.call_tool("research_status", {"workflow_id": workflow_id}))
        assert status["status"] == "canceled"
        assert status["phase"] == "denoising", "its last state is still readable"
        text = error_text(await mcp.call_tool("get_report", {"workflow_id": workflow_id}))
        assert "has no report (canceled)" in text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.asynccontextmanager
async def http_server(
    client: Client, task_queue: str, host: str = "127.0.0.1", env: dict[str, str] | None = None
) -> AsyncIterator[int]:
    """`client.py mcp --http HOST:PORT` as a subprocess, once it listens: its port."""
    port = free_port()
    server_env = local_server_env(client.service_client.config.target_host)
    server_env |= {"TTDR_TASK_QUEUE": task_queue, **(env or {})}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "client.py"), "mcp", "--http", f"{host}:{port}",
        env=server_env, cwd=ROOT, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert process.returncode is None, "the server exited"
                assert time.monotonic() < deadline, "the HTTP server never listened"
                await asyncio.sleep(0.2)
        yield port
    finally:
        process.terminate()
        await process.wait()


@contextlib.asynccontextmanager
async def parked_runs(client: Client, n: int) -> AsyncIterator[list[str]]:
    """`n` research runs of this test's own, on a queue no worker serves (they wait there, and
    cost nothing), newest last; terminated on the way out."""
    queue = f"parked-{uuid.uuid4().hex[:8]}"
    ids = [f"mcp-parked-{uuid.uuid4().hex[:8]}-{i}" for i in range(n)]
    for i, workflow_id in enumerate(ids):
        await client.start_workflow(
            "DeepResearchWorkflow",
            ResearchRequest(question=f"Parked question {i}?"),
            id=workflow_id,
            task_queue=queue,
            static_summary=f"Parked question {i}?",
        )
    try:
        yield ids
    finally:
        for workflow_id in ids:
            with contextlib.suppress(RPCError):
                await client.get_workflow_handle(workflow_id).terminate("test over")


async def test_streamable_http_serves_the_same_tools_and_list_research_keeps_its_limit(
    client: Client, task_queue: str
) -> None:
    async with (
        parked_runs(client, 7) as ids,
        http_server(client, task_queue) as port,
        McpClient(f"http://127.0.0.1:{port}/mcp") as mcp,
    ):
        assert {tool.name for tool in (await mcp.list_tools()).tools} == TOOLS
        listed = structured(await mcp.call_tool("list_research", {"limit": 5}))
    # Seven runs of this test exist, so a dropped limit shows, whatever ran before.
    assert listed["count"] == len(listed["runs"]) == 5
    assert [run["workflow_id"] for run in listed["runs"]] == ids[::-1][:5], "newest first"
    assert [run["question"] for run in listed["runs"]] == [
        f"Parked question {i}?" for i in range(6, 1, -1)
    ]


async def test_a_bad_http_address_is_refused() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "client.py"), "mcp", "--http", "localhost",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    assert process.returncode == 2
    assert err.decode().startswith("error: --http 'localhost': give HOST:PORT")


async def test_an_agent_reviews_the_plan_before_the_research_spends(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    config = {"max_iterations": 1, "evolution": "off", "review_plan": True}
    plan = {"sections": [{"title": "Protocol", "focus": "__enter__ and __exit__"}]}
    async with server(client, task_queue) as mcp:
        started = structured(
            await mcp.call_tool("start_research", {"question": QUESTION, "config": config})
        )
        workflow_id = started["workflow_id"]
        handle = client.get_workflow_handle(workflow_id, result_type=ResearchReport)
        for _ in range(300):
            progress = await handle.query("progress")
            if progress["plan_review"] == "waiting":
                break
            await asyncio.sleep(0.1)
        assert fake_server.count("DraftAnswer") == 0
        proposed = (await handle.query("state"))["plan"]
        status = structured(await mcp.call_tool("research_status", {"workflow_id": workflow_id}))
        assert status["plan_review"] == "waiting" and status["plan"] == proposed
        assert "review_plan" in status["next"]
        shown = structured(await mcp.call_tool("get_plan", {"workflow_id": workflow_id}))
        assert shown["plan_review"] == "waiting" and shown["plan"] == proposed
        assert [s["title"] for s in shown["plan"]["sections"]], "a plan an agent can read"
        refused = await mcp.call_tool(
            "review_plan", {"workflow_id": workflow_id, "plan": {"sections": []}}
        )
        assert "replace needs a plan with at least one section" in error_text(refused)
        reviewed = structured(
            await mcp.call_tool(
                "review_plan",
                {"workflow_id": workflow_id, "plan": plan, "guidance": "Be brief."},
            )
        )
        assert reviewed["accepted"] and reviewed["message"].startswith("plan replaced")
        after = structured(await mcp.call_tool("get_plan", {"workflow_id": workflow_id}))
        assert after["plan_review"] == "replaced" and "next" not in after
        assert after["plan"] == plan
    report = await handle.result()
    assert [s.title for s in report.plan.sections] == ["Protocol"]
