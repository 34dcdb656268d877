"""`client.py top`: every research run in flight and recently closed, refreshing in place.

One row per run: id, status and phase, node, iteration, last quality, LLM calls, tokens, elapsed
time, held/paused, and warnings — the conditions the Prometheus alerts watch (no progress,
near its budget, waiting for a worker, retrying after errors; observability/runs.py has the
thresholds). It reads Temporal only (visibility, the `progress` query, describe, history), so it
works against any cluster the client can reach; `--query` narrows the runs with a visibility
filter on search attributes, e.g. `TtdrPhase = 'denoising'` or `TtdrQuality < 0.5`.

In a terminal the table refreshes in place (rich); with `--once`, or when the output is not a
terminal, one snapshot is printed and the command exits.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text
from temporalio.service import RPCError

from cli.connection import connect_from_env
from cli.errors import CommandError
from observability.runs import RunInspector, RunRow, summary

COLUMNS = (
    "workflow id", "status", "phase", "node", "iter", "quality", "calls", "tokens", "elapsed",
    "held", "warnings",
)  # fmt: skip
ONCE_WIDTH = 400  # a snapshot is never wrapped: one line per run, for grep and scripts


def register(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("top", help="live table of runs in flight and recently closed")
    sub.add_argument(
        "--query", help="visibility filter, e.g. \"TtdrPhase = 'denoising'\" (search attributes)"
    )
    sub.add_argument("--once", action="store_true", help="print one snapshot and exit")
    sub.add_argument(
        "--interval", type=float, default=2.0, help="seconds between refreshes (default 2)"
    )
    sub.add_argument(
        "--closed-minutes",
        type=float,
        default=60.0,
        help="also list runs closed this recently (default 60; 0: none)",
    )
    sub.add_argument("--limit", type=int, default=50, help="most runs of each kind (default 50)")
    sub.set_defaults(handler=cmd_top)


async def cmd_top(args: argparse.Namespace) -> int:
    if args.interval <= 0 or args.limit < 1 or args.closed_minutes < 0:
        raise CommandError("--interval and --limit must be positive, --closed-minutes >= 0")
    client = await connect_from_env()
    inspector = RunInspector(client)
    closed = timedelta(minutes=args.closed_minutes) if args.closed_minutes else None

    async def snapshot() -> Group:
        try:
            rows = await inspector.snapshot(args.query, closed_within=closed, limit=args.limit)
        except RPCError as err:
            raise CommandError(f"Temporal rejected the listing: {err.message}") from None
        return render(rows, client.namespace, datetime.now(UTC))

    if args.once or not sys.stdout.isatty():
        Console(width=ONCE_WIDTH, no_color=True, highlight=False).print(await snapshot())
        return 0
    console = Console()
    try:
        with Live(await snapshot(), console=console, auto_refresh=False, screen=False) as live:
            while True:
                await asyncio.sleep(args.interval)
                live.update(await snapshot(), refresh=True)
    except asyncio.CancelledError:  # Ctrl-C: asyncio cancels this task; leaving is the point
        return 0


def render(rows: Sequence[RunRow], namespace: str, now: datetime) -> Group:
    title = Text(
        f"ttdr top · namespace {namespace} · {summary(rows)} · {now:%H:%M:%S} UTC", style="bold"
    )
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
    for name in COLUMNS:
        numeric = name in ("iter", "quality", "calls", "tokens", "elapsed")
        table.add_column(name, justify="right" if numeric else "left", no_wrap=name != "warnings")
    for row in rows:
        table.add_row(*cells(row), style=_style(row))
    if not rows:
        return Group(title, Text("no research runs match"))
    return Group(title, table)


def cells(row: RunRow) -> list[str]:
    iteration = "-" if row.iteration is None else str(row.iteration)
    if row.max_iterations:
        iteration += f"/{row.max_iterations}"
    return [
        row.workflow_id,
        row.status,
        row.phase or "-",
        row.node or "-",
        iteration,
        "-" if row.quality is None else f"{row.quality:.2f}",
        "-" if row.calls is None else str(row.calls),
        "-" if row.tokens is None else str(row.tokens),
        duration(row.elapsed_seconds),
        held(row),
        "; ".join(row.warnings),
    ]


def held(row: RunRow) -> str:
    if row.held_before:
        return f"{'paused' if row.paused else 'held'} before {row.held_before}"
    return "pausing" if row.paused else ""


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _style(row: RunRow) -> str:
    if row.warnings:
        return "yellow"
    return "" if row.open else "dim"
