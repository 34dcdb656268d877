"""`client.py mcp [--http HOST:PORT]`: the research runs as MCP tools for agents and IDEs.

Built on the official MCP Python SDK (`mcp` on PyPI; its MCPServer is what was FastMCP in
SDK 1.x): it is the protocol's reference implementation, kept in step with the specification
by its maintainers, and gives stdio and streamable HTTP, tool schemas from type hints, and
resource templates — none of which we should write ourselves. The standalone FastMCP project
adds features we do not need over the same protocol.

Tools (cli/mcp_tools.py and cli/mcp_status.py do the work): start_research, research_status,
get_plan, get_report, send_feedback, review_plan, cancel_research, list_research, follow_up,
watch_topic, stop_watching (cli/follow_up.py, cli/mcp_watch.py); resources
research://{workflow_id}/report and research://schema/config. Every failure reaches the agent
with its reason. The connection comes from the same settings as every client.py command
(TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TTDR_TASK_QUEUE, ...: common/temporal_connection.py);
the caps from TTDR_MCP_* (cli/mcp_limits.py); HTTP is guarded by cli/mcp_http.py.
"""

from __future__ import annotations

import argparse
import base64
import functools
import importlib.metadata
import json
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import BlobResourceContents, CallToolResult, EmbeddedResource, TextContent
from pydantic import Field, WithJsonSchema
from temporalio.service import RPCError

from cli import mcp_status, mcp_tools, mcp_watch
from cli.client_settings import client_settings
from cli.follow_up import start_follow_up
from cli.mcp_http import parse_http, serve_http
from cli.mcp_tools import Connection, McpToolError
from common.errors import CommandError
from workflows.config import ResearchConfig
from workflows.models import ResearchPlan

SERVER_NAME = "ttdr-research"
INSTRUCTIONS = (
    "Durable deep research (TTD-DR on Temporal). start_research returns a workflow id at once; "
    "the run goes on in Temporal whether or not you stay connected. Poll research_status, then "
    "get_report (format markdown, html, json, pdf or docx) once it has finished; the report is "
    "also the resource research://<workflow_id>/report. A run started with "
    '{"review_plan": true} waits for review_plan: read its plan first (research_status shows '
    "it while it waits; get_plan any time). send_feedback steers a running run. A batch id "
    "(client.py batch) works with research_status, which lists its questions' runs. "
    "follow_up asks a new question on a finished run, building on its report; watch_topic "
    "researches a question on a schedule, each report saying what changed (stop_watching ends "
    "it)."
)
MIME = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
ERROR_MAX_CHARS = 500

WorkflowId = Annotated[str, Field(description="the id start_research returned")]


def server_version() -> str:
    try:
        return importlib.metadata.version("ttdr")
    except importlib.metadata.PackageNotFoundError:  # run from a copy that is not installed
        return "0+unknown"


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with every `$ref` to its `$defs` written out: the config's schema is nested in
    a tool's input schema, where `#/$defs/...` would point at the tool's root."""
    defs = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: resolve(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


CONFIG_SCHEMA = inline_refs(ResearchConfig.model_json_schema())
ConfigArgument = Annotated[
    dict[str, Any] | None,
    # What the run accepts, published in the tool's input schema; the server still checks it
    # by the CLI's strict rules (so "3" is not an integer) and its caps (cli/mcp_limits.py).
    WithJsonSchema(
        {
            "anyOf": [CONFIG_SCHEMA, {"type": "null"}],
            "default": None,
            "description": "ResearchConfig: every field optional, e.g. "
            '{"max_iterations": 3, "review_plan": true}',
        }
    ),
]


def tool_error(err: Exception) -> ToolError:
    """Every failure as a ToolError with its reason: anything else reaches the agent as a bare
    "Error executing tool"."""
    if isinstance(err, McpToolError | CommandError):
        reason = str(err)
    elif isinstance(err, RPCError):
        reason = f"the Temporal server answered: {err.message}"
    elif isinstance(err, TimeoutError):
        reason = "the Temporal server did not answer in time"
    else:
        reason = f"{type(err).__name__}: {err}"
    return ToolError(" ".join(reason.split())[:ERROR_MAX_CHARS])


def need_id(workflow_id: str) -> str:
    if not workflow_id.strip():
        raise McpToolError("workflow_id is empty: give the id start_research returned")
    return workflow_id


def build_server(connection: Connection | None = None) -> MCPServer:
    connection = connection or Connection()
    limits = connection.limits
    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, version=server_version())

    async def call(tool: Any, *args: Any) -> Any:
        """A tool of cli/mcp_tools.py: it checks its input before it connects."""
        try:
            return await tool(connection, *args)
        except Exception as err:
            raise tool_error(err) from None

    async def read(tool: Any, workflow_id: str) -> Any:
        """A reading tool of cli/mcp_status.py, for a workflow id."""
        try:
            checked = need_id(workflow_id)  # before connecting
            return await tool(await connection.client(), checked)
        except Exception as err:
            raise tool_error(err) from None

    @server.tool(
        description="Start a research run and return its workflow id and Web UI link at once. "
        f"This server's caps: {limits.describe()}; a config asking for more is refused, one "
        "that does not say gets the cap."
    )
    async def start_research(
        question: Annotated[str, Field(description="the research question")],
        config: ConfigArgument = None,
        workflow_id: Annotated[
            str | None, Field(description="optional id (1-128 of A-Z a-z 0-9 . _ -)")
        ] = None,
    ) -> dict[str, Any]:
        return await call(mcp_tools.start_research, question, config, workflow_id)

    @server.tool()
    async def research_status(workflow_id: WorkflowId) -> dict[str, Any]:
        """Status, phase, iteration, last quality score, LLM calls, tokens and cost of a run;
        plan_review and, while it waits for review, the proposed plan. For a batch id: its
        questions and their runs' ids."""
        status = functools.partial(
            mcp_status.research_status, web_ui_url=connection.settings.web_ui_url
        )
        return await read(status, workflow_id)

    @server.tool()
    async def get_plan(workflow_id: WorkflowId) -> dict[str, Any]:
        """The run's plan (sections of title and focus) and its review status: read it before
        review_plan approves or replaces it."""
        return await read(mcp_status.get_plan, workflow_id)

    @server.tool(structured_output=False)
    async def get_report(
        workflow_id: WorkflowId,
        format: Annotated[
            str, Field(description="markdown (default), html, json, pdf or docx")
        ] = "markdown",
    ) -> CallToolResult:
        """The report of a finished run, or a "still running" status while it runs."""
        answer = await call(mcp_tools.get_report, need_id(workflow_id), format)
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
        before any money is spent on drafting and search; guidance steers the research. Read
        the plan first: research_status (while it waits) or get_plan."""
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
        """Ask a follow-up question on a finished run, with the parent's config (budgets within
        this server's caps): its report is the new run's draft, its sources stay cited under
        their numbers, and only what the question adds is searched. Returns the new workflow id
        at once."""
        return await call(start_follow_up, parent_id, question, workflow_id)

    @server.tool()
    async def watch_topic(
        question: Annotated[str, Field(description="the question to research again and again")],
        every: Annotated[
            str | None, Field(description="interval: 30m, 12h, 7d, 2w (or give cron)")
        ] = None,
        cron: Annotated[str | None, Field(description='cron, e.g. "0 9 * * MON"')] = None,
        schedule_id: Annotated[str | None, Field(description="optional id")] = None,
        note: Annotated[str | None, Field(description="optional note")] = None,
        notify_url: Annotated[
            str | None, Field(description="optional public http(s) URL: changes are POSTed")
        ] = None,
        config: ConfigArgument = None,
    ) -> dict[str, Any]:
        """Watch a topic: a research run on a schedule (Temporal Schedules; overlap skip), each
        starting from the previous run's report and opening with what changed since then.
        Budgets within this server's caps. Returns the schedule id at once."""
        return await call(mcp_watch.watch_topic, question, every, cron, schedule_id, note,
                          notify_url, config)  # fmt: skip

    @server.tool()
    async def stop_watching(
        schedule_id: Annotated[str, Field(description="the id watch_topic returned")],
    ) -> dict[str, Any]:
        """Delete a watched topic's schedule and cancel the run it has in flight."""
        return await call(mcp_watch.stop_watching, schedule_id)

    @server.tool()
    async def list_research(
        limit: Annotated[int, Field(description="how many runs, newest first (1-100)")] = 20,
    ) -> dict[str, Any]:
        """Recent research runs with their question, status and Web UI links."""
        return await call(mcp_tools.list_research, limit)

    @server.resource(
        "research://{workflow_id}/report",
        name="report",
        description="The Markdown report of a finished research run",
        mime_type="text/markdown",
    )
    async def report(workflow_id: str) -> str:
        try:
            answer = await mcp_tools.get_report(connection, workflow_id, "markdown")
        except Exception as err:
            raise ResourceError(str(tool_error(err))) from None
        if isinstance(answer, dict):
            raise ResourceError(answer["message"])
        return str(answer[1])

    @server.resource(
        "research://schema/config",
        name="config-schema",
        description="The JSON schema of start_research's config (ResearchConfig)",
        mime_type="application/schema+json",
    )
    def config_schema() -> str:
        return json.dumps(ResearchConfig.model_json_schema(), indent=2)

    return server


async def cmd_mcp(args: argparse.Namespace) -> int:
    address = parse_http(args.http) if args.http is not None else None
    settings = client_settings(args)  # the caps, token and hosts checked at start
    server = build_server(Connection(settings=settings))
    if address is None:
        await server.run_stdio_async()
        return 0
    host, port = address
    await serve_http(server, host, port, settings)
    return 0
