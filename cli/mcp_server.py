"""`client.py mcp [--http HOST:PORT]`: the research runs as MCP tools for agents and IDEs.

Built on the official MCP Python SDK (`mcp` on PyPI; its MCPServer is what was FastMCP in
SDK 1.x): it is the protocol's reference implementation, kept in step with the specification
by its maintainers, and gives stdio and streamable HTTP, tool schemas from type hints, and
resource templates — none of which we should write ourselves. The standalone FastMCP project
adds features we do not need over the same protocol.

Tools (cli/mcp_tools.py does the work): start_research, research_status, get_report,
send_feedback, cancel_research, list_research; resource research://{workflow_id}/report.
The connection comes from the same settings as every client.py command (TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE, TTDR_TASK_QUEUE, ...: cli/connection.py).
"""

from __future__ import annotations

import argparse
import base64
import sys
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import BlobResourceContents, CallToolResult, EmbeddedResource, TextContent
from pydantic import Field

from cli import mcp_tools
from cli.errors import UsageError
from cli.follow_up import start_follow_up
from cli.mcp_tools import Connection, McpToolError
from workflows.models import ResearchPlan

SERVER_NAME = "ttdr-research"
INSTRUCTIONS = (
    "Durable deep research (TTD-DR on Temporal). start_research returns a workflow id at once; "
    "the run goes on in Temporal whether or not you stay connected. Poll research_status, then "
    "get_report (format markdown, html, json, pdf or docx) once it has finished; the report is "
    "also the resource research://<workflow_id>/report. send_feedback steers a running run."
)
MIME = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}

WorkflowId = Annotated[str, Field(description="the id start_research returned")]


def build_server(connection: Connection | None = None) -> MCPServer:
    connection = connection or Connection()
    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS)

    async def call(tool: Any, *args: Any) -> Any:
        try:
            return await tool(await connection.client(), *args)
        except McpToolError as err:
            raise ToolError(str(err)) from None

    @server.tool()
    async def start_research(
        question: Annotated[str, Field(description="the research question")],
        config: Annotated[
            dict[str, Any] | None,
            Field(description='ResearchConfig fields, e.g. {"max_iterations": 3}'),
        ] = None,
        workflow_id: Annotated[
            str | None, Field(description="optional id (1-128 of A-Z a-z 0-9 . _ -)")
        ] = None,
    ) -> dict[str, Any]:
        """Start a research run and return its workflow id and Web UI link at once."""
        return await call(mcp_tools.start_research, question, config, workflow_id)

    @server.tool()
    async def research_status(workflow_id: WorkflowId) -> dict[str, Any]:
        """Phase, iteration, last quality score, LLM calls and tokens of a run."""
        return await call(mcp_tools.research_status, workflow_id)

    @server.tool(structured_output=False)
    async def get_report(
        workflow_id: WorkflowId,
        format: Annotated[
            str, Field(description="markdown (default), html, json, pdf or docx")
        ] = "markdown",
    ) -> CallToolResult:
        """The report of a finished run, or a "still running" status while it runs."""
        answer = await call(mcp_tools.get_report, workflow_id, format)
        if isinstance(answer, dict):  # still running: a status, not an error
            text = answer["message"]
            return CallToolResult(
                content=[TextContent(type="text", text=text)], structured_content=answer
            )
        kind, content = answer
        if isinstance(content, bytes):
            blob = BlobResourceContents(
                uri=f"research://{workflow_id}/report.{kind}",
                mime_type=MIME[kind],
                blob=base64.b64encode(content).decode("ascii"),
            )
            return CallToolResult(content=[EmbeddedResource(type="resource", resource=blob)])
        return CallToolResult(content=[TextContent(type="text", text=content)])

    @server.tool()
    async def send_feedback(
        workflow_id: WorkflowId,
        note: Annotated[str, Field(description="guidance for the next revision")],
    ) -> dict[str, Any]:
        """Steer a running run: the note reaches its next gap analysis and revision."""
        return await call(mcp_tools.send_feedback, workflow_id, note)

    @server.tool()
    async def review_plan(
        workflow_id: WorkflowId,
        plan: Annotated[
            ResearchPlan | None,
            Field(description="a replacement plan (sections of title and focus); omit to approve"),
        ] = None,
        guidance: Annotated[str, Field(description="notes for the research")] = "",
    ) -> dict[str, Any]:
        """Approve (or replace) the plan of a run started with review_plan, which waits for it
        before any money is spent on drafting and search; guidance steers the research."""
        return await call(mcp_tools.review_plan, workflow_id, plan, guidance)

    @server.tool()
    async def cancel_research(workflow_id: WorkflowId) -> dict[str, Any]:
        """Cancel a running run cleanly (its state stays readable)."""
        return await call(mcp_tools.cancel_research, workflow_id)

    @server.tool()
    async def follow_up(
        parent_id: Annotated[str, Field(description="workflow id of a finished research run")],
        question: Annotated[str, Field(description="the follow-up question")],
        workflow_id: Annotated[
            str | None, Field(description="optional id of the follow-up run")
        ] = None,
    ) -> dict[str, Any]:
        """Ask a follow-up question on a finished run, with the parent's config: its report is
        the new run's draft, its sources stay cited under their numbers, and only what the
        question adds is searched. Returns the new workflow id at once."""
        try:
            client = await connection.client()
            return await start_follow_up(client, parent_id, question, workflow_id)
        except McpToolError as err:
            raise ToolError(str(err)) from None

    @server.tool()
    async def list_research(
        limit: Annotated[int, Field(description="how many runs, newest first (1-100)")] = 20,
    ) -> dict[str, Any]:
        """Recent research runs with their status and Web UI links."""
        return await call(mcp_tools.list_research, limit)

    @server.resource(
        "research://{workflow_id}/report",
        name="report",
        description="The Markdown report of a finished research run",
        mime_type="text/markdown",
    )
    async def report(workflow_id: str) -> str:
        try:
            answer = await mcp_tools.get_report(await connection.client(), workflow_id, "markdown")
        except McpToolError as err:
            raise ResourceError(str(err)) from None
        if isinstance(answer, dict):
            raise ResourceError(answer["message"])
        return str(answer[1])

    return server


def parse_http(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--http {value!r}: give HOST:PORT, e.g. 127.0.0.1:8765")
    return host.strip("[]"), int(port)


async def cmd_mcp(args: argparse.Namespace) -> int:
    address = parse_http(args.http) if args.http is not None else None
    server = build_server()
    if address is None:
        await server.run_stdio_async()
        return 0
    host, port = address
    print(f"MCP server (streamable HTTP) at http://{host}:{port}/mcp", file=sys.stderr)
    await server.run_streamable_http_async(host=host, port=port)
    return 0
