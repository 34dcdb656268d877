"""Replay debugging and profiling, as client.py commands:

  history ID [--out FILE]      export a run's history as JSON
  replay FILE | --id ID        replay a history against the current workflow code
  profile ID [--json]          time, retries, LLM calls and tokens per node, from the history
  stats [--limit N] [--json]   the same over the most recent closed runs

Exit codes: 0 ok; 1 the replay found non-determinism (or failed otherwise); 2 bad input (no
such workflow, not a history file) or unreachable server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from temporalio.client import WorkflowHistory

from cli.batch_ids import check_run_id
from cli.ids import default_path
from common.errors import UsageError
from common.temporal_connection import connect_from_env
from inspection.history import (
    HISTORY_SUFFIX,
    NONDETERMINISM_HINT,
    ReplayOutcome,
    fetch_history,
    load_history,
    replay,
    save_history,
)
from inspection.profile import profile_history, render_profile, render_stats, stats
from workflows.research import WORKFLOW_NAME

DEFAULT_STATS_LIMIT = 20
FETCH_CONCURRENCY = 8  # histories fetched at once by `stats`


async def _history(workflow_id: str) -> WorkflowHistory:
    return await fetch_history(await connect_from_env(), workflow_id)


# ---------------------------------------------------------------- commands


async def cmd_history(args: argparse.Namespace) -> int:
    out = args.out or default_path(args.id, HISTORY_SUFFIX)  # before the server is asked
    history = await _history(args.id)
    out = save_history(history, out)
    print(f"history: {out} ({len(history.events)} events)")
    return 0


async def cmd_replay(args: argparse.Namespace) -> int:
    if (args.file is None) == (args.id is None):
        raise UsageError("give a history FILE or --id ID (one of them)")
    history = load_history(args.file) if args.file else await _history(args.id)
    outcome = await replay(history)
    if outcome.ok:
        print(f"replay ok: {outcome.events} events, workflow id {outcome.workflow_id}")
        return 0
    print(replay_failure_text(outcome), file=sys.stderr)
    return 1


def replay_failure_text(outcome: ReplayOutcome) -> str:
    kind = "non-determinism" if outcome.nondeterministic else "failure"
    lines = [
        f"replay failed: {kind} in workflow {outcome.workflow_id} ({outcome.events} events)",
        f"  what: {outcome.problem}",
    ]
    if outcome.where:
        lines.append(f"  where: {outcome.where}")
    if outcome.nondeterministic:
        lines.append(f"  hint: {NONDETERMINISM_HINT}")
    return "\n".join(lines)


async def cmd_profile(args: argparse.Namespace) -> int:
    await check_run_id(await connect_from_env(), args.id, "profile")
    profile = profile_history(await _history(args.id))
    print(profile.model_dump_json(indent=2) if args.json else render_profile(profile))
    return 0


async def cmd_stats(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    client = await connect_from_env()
    query = f'WorkflowType="{WORKFLOW_NAME}" AND ExecutionStatus!="Running"'
    ids = [wf.id async for wf in client.list_workflows(query, limit=args.limit)]
    gate = asyncio.Semaphore(FETCH_CONCURRENCY)

    async def one(workflow_id: str) -> WorkflowHistory:
        async with gate:
            return await fetch_history(client, workflow_id)

    histories = await asyncio.gather(*(one(i) for i in ids))
    result = stats([profile_history(h) for h in histories])
    if args.json:
        print(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        print(render_stats(result))
    return 0


# ---------------------------------------------------------------- wiring


def register(commands: argparse._SubParsersAction) -> None:
    history = commands.add_parser("history", help="export a run's history as JSON")
    history.add_argument("id", help="workflow id")
    history.add_argument(
        "--out", type=Path, help="file to write (default reports/<id>.history.json)"
    )
    history.set_defaults(handler=cmd_history)

    again = commands.add_parser("replay", help="replay a history against the current workflow code")
    again.add_argument("file", nargs="?", type=Path, help="history JSON (client.py history)")
    again.add_argument("--id", help="fetch the history of this workflow from the server")
    again.set_defaults(handler=cmd_replay)

    profile = commands.add_parser("profile", help="time, retries and tokens per node of a run")
    profile.add_argument("id", help="workflow id")
    profile.add_argument("--json", action="store_true")
    profile.set_defaults(handler=cmd_profile)

    trend = commands.add_parser("stats", help="profile of the most recent closed runs")
    trend.add_argument("--limit", type=int, default=DEFAULT_STATS_LIMIT, help="runs (20)")
    trend.add_argument("--json", action="store_true")
    trend.set_defaults(handler=cmd_stats)
