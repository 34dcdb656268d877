"""The MCP server's guards, through the MCP SDK's own client (stdio and HTTP) and raw HTTP:
input is checked before Temporal is contacted, errors carry their reason, one server caps the
runs in flight and each run's budget, and HTTP beyond loopback needs a bearer token, with
Host/Origin checks on every bind (issue 26 item 4, issue 23)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from typing import Any

import httpx
import httpx2
from mcp import Client as McpClient
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from temporalio.client import Client

from common.temporal_connection import local_server_env
from tests.cli.test_mcp import ROOT, error_text, http_server, structured
from workflows.models import ResearchRequest

TOKEN = "a-test-token-of-32-characters-ok"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def stdio_server(address: str, task_queue: str, **env: str) -> McpClient:
    server_env = local_server_env(address) | {"TTDR_TASK_QUEUE": task_queue, **env}
    params = StdioServerParameters(
        command=sys.executable, args=[str(ROOT / "client.py"), "mcp"], env=server_env, cwd=ROOT
    )
    return McpClient(params, read_timeout_seconds=60)


async def test_input_is_checked_before_connecting_and_every_error_has_its_reason() -> None:
    async with stdio_server("127.0.0.1:1", "unused") as mcp:  # nothing listens there
        calls: list[tuple[str, dict[str, Any], str]] = [
            ("start_research", {"question": "   "}, "the question is empty"),
            ("start_research", {"question": "ok?", "workflow_id": "a b"}, "invalid workflow_id"),
            ("start_research", {"question": "ok?", "config": {"max_llm_calls": 9000}}, "cap of"),
            ("list_research", {"limit": 0}, "limit must be between 1 and 100"),
            ("research_status", {"workflow_id": " "}, "workflow_id is empty"),
            ("get_report", {"workflow_id": "x", "format": "rtf"}, "unknown format 'rtf'"),
            ("send_feedback", {"workflow_id": "x", "note": " "}, "feedback is empty"),
            # Valid input: now the server is asked, and the reason it cannot be is given.
            ("research_status", {"workflow_id": "x"}, "cannot reach the Temporal server"),
            ("get_plan", {"workflow_id": "x"}, "cannot reach the Temporal server"),
            ("start_research", {"question": "ok?"}, "cannot reach the Temporal server"),
        ]
        for tool, arguments, reason in calls:
            text = error_text(await mcp.call_tool(tool, arguments))
            assert reason in text, (tool, arguments, text)
            assert text.strip() != f"Error executing tool {tool}", text
            assert "--id" not in text, text


async def test_runs_in_flight_and_budgets_are_capped_per_server(client: Client) -> None:
    address = client.service_client.config.target_host
    queue = f"mcp-cap-{uuid.uuid4().hex[:8]}"  # no worker: the runs stay running, cost nothing
    caps = {"TTDR_MCP_MAX_RUNS": "2", "TTDR_MCP_MAX_LLM_CALLS": "100"}
    started: list[str] = []
    try:
        # A run the CLI started on the same queue is not the MCP server's: it does not count.
        cli_run = f"cli-{uuid.uuid4().hex[:8]}"
        await client.start_workflow(
            "DeepResearchWorkflow", ResearchRequest(question="CLI?"), id=cli_run, task_queue=queue
        )
        started.append(cli_run)
        async with stdio_server(address, queue, **caps) as mcp:
            for i in range(2):
                answer = structured(
                    await mcp.call_tool("start_research", {"question": f"Question {i}?"})
                )
                started.append(answer["workflow_id"])
                assert answer["budget"]["max_llm_calls"] == 100  # the cap, when not asked for
            refused = error_text(await mcp.call_tool("start_research", {"question": "Third?"}))
            assert "2 runs started through MCP are still running (the cap is 2" in refused
            assert "TTDR_MCP_MAX_RUNS" in refused and started[1] in refused
        handle = client.get_workflow_handle(started[1])
        first = (await handle.fetch_history()).events[0]
        [request] = await client.data_converter.decode(
            first.workflow_execution_started_event_attributes.input.payloads, [ResearchRequest]
        )
        assert request.config.max_llm_calls == 100, "the run itself got the capped budget"

        # A restarted server counts the same runs; once one ends, a start goes through.
        async with stdio_server(address, queue, **caps) as mcp:
            refused = error_text(await mcp.call_tool("start_research", {"question": "Third?"}))
            assert "the cap is 2" in refused
            await client.get_workflow_handle(started[1]).terminate("the user ends it")
            answer = structured(await mcp.call_tool("start_research", {"question": "Third?"}))
            started.append(answer["workflow_id"])
    finally:
        for workflow_id in started:
            with contextlib.suppress(Exception):
                await client.get_workflow_handle(workflow_id).terminate("test over")


async def test_a_bind_beyond_loopback_needs_a_token() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "client.py"), "mcp", "--http", "0.0.0.0:18766",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=local_server_env("127.0.0.1:1"),
    )  # fmt: skip
    _, err = await process.communicate()
    assert process.returncode == 2
    assert "serving beyond loopback needs TTDR_MCP_TOKEN" in err.decode()
    assert err.decode().count("\n") == 1


async def test_with_a_token_every_request_needs_it_and_foreign_hosts_are_refused(
    client: Client, task_queue: str
) -> None:
    env = {"TTDR_MCP_TOKEN": TOKEN}
    async with http_server(client, task_queue, host="0.0.0.0", env=env) as port:
        url = f"http://127.0.0.1:{port}/mcp"
        async with httpx.AsyncClient() as http:
            bare = await http.post(url, json=INIT, headers=MCP_HEADERS)
            assert bare.status_code == 401
            wrong = await http.post(
                url, json=INIT, headers=MCP_HEADERS | {"Authorization": "Bearer nope"}
            )
            assert wrong.status_code == 401
            rebound = await http.post(
                url,
                json=INIT,
                headers=MCP_HEADERS
                | {
                    "Authorization": f"Bearer {TOKEN}",
                    "Host": "evil.example",
                    "Origin": "http://evil.example",
                },
            )
            assert rebound.status_code == 421  # DNS rebinding: refused on a wildcard bind too
        authorised = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
        async with (
            authorised,
            McpClient(streamable_http_client(url, http_client=authorised)) as mcp,
        ):
            listed = structured(await mcp.call_tool("list_research", {"limit": 1}))
            assert listed["count"] <= 1


async def test_a_loopback_bind_refuses_a_foreign_host(client: Client, task_queue: str) -> None:
    async with http_server(client, task_queue) as port, httpx.AsyncClient() as http:
        answer = await http.post(
            f"http://127.0.0.1:{port}/mcp",
            json=INIT,
            headers=MCP_HEADERS | {"Host": "evil.example", "Origin": "http://evil.example"},
        )
        assert answer.status_code == 421
