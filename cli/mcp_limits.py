"""What one MCP server lets agents spend: runs in flight, and each run's LLM calls, tokens and
money. An agent is a program: six `start_research` calls in a row must not start six runs of
20,000 calls each with no money cap.

Settings (ClientSettings, checked at start by cli/main.py):
  TTDR_MCP_MAX_RUNS        runs started through MCP running at once on this task queue (3)
  TTDR_MCP_MAX_LLM_CALLS   a run's max_llm_calls at most (500, ResearchConfig's default)
  TTDR_MCP_MAX_TOKENS      a run's max_total_tokens at most (2,000,000, the default)
  TTDR_MCP_MAX_COST_USD    a run's max_cost_usd at most (5.0)
A config asking for more than a cap is refused (nothing starts); one that does not say gets the
calls and tokens caps. Money is different: a run with max_cost_usd fails at its first call when
the worker has no price for its model (a local model, the test fake), so a config without
max_cost_usd gets the money cap only when TTDR_MCP_MAX_COST_USD is set (the operator says the
worker prices its models); calls and tokens bound every run.
Runs started through MCP carry the memo `started_by: mcp`, so the count survives a server
restart and covers every MCP server of the task queue; runs the CLI starts do not count.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from common.settings import ClientSettings
from workflows.research import WORKFLOW_NAME

MEMO_KEY = "started_by"
MEMO_VALUE = "mcp"


class McpLimitError(Exception):
    """A start refused by a cap (a bad TTDR_MCP_* setting is the model's SettingsError)."""


class McpLimits(BaseModel):
    max_runs: int = 3
    max_llm_calls: int = 500
    max_total_tokens: int = 2_000_000
    max_cost_usd: float = 5.0
    cost_cap_for_every_run: bool = False  # TTDR_MCP_MAX_COST_USD set: the worker prices models

    @classmethod
    def from_settings(cls, settings: ClientSettings) -> McpLimits:
        """The caps the model checked at start (bounds and ASCII digits are its business)."""
        cost = settings.mcp_max_cost_usd
        return cls(
            max_runs=settings.mcp_max_runs,
            max_llm_calls=settings.mcp_max_llm_calls,
            max_total_tokens=settings.mcp_max_tokens,
            max_cost_usd=5.0 if cost is None else cost,
            cost_cap_for_every_run=cost is not None,
        )

    def capped(self, config: dict[str, Any]) -> dict[str, Any]:
        """`config` with every budget within the caps; McpLimitError when it asks for more."""
        capped = dict(config)
        for field, cap, setting in (
            ("max_llm_calls", self.max_llm_calls, "TTDR_MCP_MAX_LLM_CALLS"),
            ("max_total_tokens", self.max_total_tokens, "TTDR_MCP_MAX_TOKENS"),
            ("max_cost_usd", self.max_cost_usd, "TTDR_MCP_MAX_COST_USD"),
        ):
            asked = capped.get(field)
            if asked is None:
                if field != "max_cost_usd" or self.cost_cap_for_every_run:
                    capped[field] = cap
            elif isinstance(asked, int | float) and not isinstance(asked, bool) and asked > cap:
                raise McpLimitError(
                    f"config {field}={asked:g} is over this MCP server's cap of {cap:g} "
                    f"(set by {setting})"
                )
        return capped

    def describe(self) -> str:
        return (
            f"at most {self.max_runs} runs at once; per run at most {self.max_llm_calls} LLM "
            f"calls, {self.max_total_tokens} tokens and max_cost_usd {self.max_cost_usd:g}"
            + (" (given to every run)" if self.cost_cap_for_every_run else "")
        )


async def runs_in_flight(client: Client, task_queue: str, started_here: set[str]) -> set[str]:
    """Ids of the running runs started through MCP on `task_queue`: those visibility lists
    (any MCP server, across restarts) and those this process started (visibility lags), each
    confirmed by describe (a run that just ended may still be listed as running)."""
    listed: set[str] = set()
    quoted = task_queue.replace("\\", "\\\\").replace('"', '\\"')
    query = (
        f'WorkflowType = "{WORKFLOW_NAME}" AND ExecutionStatus = "Running" '
        f'AND TaskQueue = "{quoted}"'
    )
    try:
        async for run in client.list_workflows(query):
            if (await run.memo()).get(MEMO_KEY) == MEMO_VALUE:
                listed.add(run.id)
    except RPCError as err:
        raise McpLimitError(f"cannot count the runs in flight: {err.message}") from None
    running: set[str] = set()
    for workflow_id in listed | started_here:
        try:
            status = (await client.get_workflow_handle(workflow_id).describe()).status
        except RPCError:
            status = None
        if status == WorkflowExecutionStatus.RUNNING:
            running.add(workflow_id)
        else:
            started_here.discard(workflow_id)  # ended: no need to ask again
    return running
