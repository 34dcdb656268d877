"""The MCP tools `watch_topic` and `stop_watching`: a watched topic (cli/schedule.py) made or
deleted by an agent, with the CLI's checks and the MCP server's caps.

A watched topic's runs are MCP runs like start_research's: each run's budget is within the
server's caps (TTDR_MCP_MAX_LLM_CALLS, ..., cli/mcp_limits.py) and carries the memo
`started_by: mcp`, so the runs a schedule has in flight count among the server's. Errors name
the tool's parameters (every, cron, notify_url, schedule_id), not the CLI's options; nothing
here prints (on stdio, stdout is the protocol channel).
"""

from __future__ import annotations

import re
from typing import Any

from cli.ids import check_id
from cli.mcp_limits import MEMO_KEY, MEMO_VALUE, McpLimitError
from cli.mcp_tools import Connection, McpToolError
from cli.request import validate_request
from cli.schedule import (
    checked_notify_url,
    checked_timing,
    create_schedule,
    delete_schedule,
    new_schedule_id,
    schedule_note,
)
from common.errors import CommandError

# The CLI's option names in its one-line errors, as this tool's parameters.
_PARAMETERS = {
    "--every": "every", "--cron": "cron", "--notify": "notify_url", "--id": "schedule_id",
}  # fmt: skip
_OPTION = re.compile("|".join(re.escape(option) for option in _PARAMETERS))


def _parameter_words(text: str) -> str:
    return _OPTION.sub(lambda match: _PARAMETERS[match.group()], text)


def _as_tool_error(err: Exception) -> McpToolError:
    return McpToolError(f"{_parameter_words(str(err))} (nothing was created)")


async def watch_topic(
    connection: Connection,
    question: str,
    every: str | None,
    cron: str | None,
    schedule_id: str | None,
    note: str | None,
    notify_url: str | None,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create the schedule; every input checked first, as `client.py schedule` does, and the
    config within the server's caps, as start_research's."""
    try:
        timing = checked_timing(every, cron, connection.settings.schedule_allow_seconds)
        request = validate_request(question, connection.limits.capped(dict(config or {})))
        watch_id = check_id(schedule_id) if schedule_id else new_schedule_id(request.question)
        loopback = connection.settings.notify_allow_loopback
        notify = await checked_notify_url(notify_url, loopback) if notify_url else ""
        client = await connection.client()
        await create_schedule(
            client, watch_id, request.question, request.config, timing,
            schedule_note(note, request.question), connection.task_queue, notify,
            memo={MEMO_KEY: MEMO_VALUE},
        )  # fmt: skip
    except (CommandError, McpLimitError) as err:
        raise _as_tool_error(err) from None
    return {
        "schedule_id": watch_id,
        "when": timing.summary,
        "catch_up_window": str(timing.window),
        "overlap": "skip",
        "budget": {
            "max_llm_calls": request.config.max_llm_calls,
            "max_total_tokens": request.config.max_total_tokens,
            "max_cost_usd": request.config.max_cost_usd,
        },
        "runs": f"workflow ids {watch_id}-<time>: list_research lists them, get_report reads "
        "each; each report opens with what changed since the previous run",
        "next": f"stop_watching({watch_id!r}) deletes the schedule and cancels its run in flight",
    }


async def stop_watching(connection: Connection, schedule_id: str) -> dict[str, Any]:
    """Delete the schedule and cancel the run it has in flight (`client.py schedule delete`)."""
    try:
        checked = check_id(schedule_id)
        client = await connection.client()
        cancelled = await delete_schedule(client, checked)
    except CommandError as err:
        raise McpToolError(_parameter_words(str(err))) from None
    return {"schedule_id": checked, "status": "deleted", "cancelled_runs": cancelled}
