"""`client.py top`: every research run in flight and recently closed, refreshing in place.

One row per run: id, phase (or how it ended), what it is doing (its node, the node it is held or
paused before, or `plan review` while it waits for a person), iteration, last quality, LLM calls,
tokens and elapsed time; the warnings go on lines of their own under it — the conditions the
Prometheus alerts watch (no progress, near its budget, waiting for a worker, retrying after
errors, a retry's back-off; inspection/runs.py has the thresholds). It reads Temporal only
(visibility, the `progress` query, describe, history), so it works against any cluster the
client can reach; `--query` narrows the runs with a visibility filter on search attributes, e.g.
`TtdrPhase = 'denoising'` or `TtdrPhase = 'plan_review'`.

The table fits the terminal (80 columns and up): long ids and node names are shortened in the
middle, keeping their ends (an id's random suffix); `--wide` prints them whole. In a terminal the
table refreshes in place (rich); with `--once`, or when the output is not a terminal, one
snapshot is printed (as wide as `COLUMNS`, else 100, and never padded) and the command exits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text
from temporalio.service import RPCError

from common.errors import CommandError
from common.temporal_connection import connect_from_env
from inspection.runs import RunInspector, RunRow, summary
from inspection.waits import duration

# (header, right-aligned, most characters, fewest characters when the terminal is narrow)
COLUMNS = (
    ("workflow id", False, 28, 14),
    ("phase", False, 11, 11),
    ("doing", False, 32, 14),
    ("iter", True, 5, 5),
    ("q", True, 4, 4),
    ("calls", True, 5, 5),
    ("tokens", True, 6, 6),
    ("time", True, 6, 6),
)  # fmt: skip
GAP = "  "
DEFAULT_WIDTH = 100  # --once into a pipe or file, without COLUMNS
NARROWEST = 80
EVOLUTION_PREFIX = "self_evolution_enhancer."


def register(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser("top", help="live table of runs in flight and recently closed")
    sub.add_argument(
        "--query", help="visibility filter, e.g. \"TtdrPhase = 'denoising'\" (search attributes)"
    )
    sub.add_argument("--once", action="store_true", help="print one snapshot and exit")
    sub.add_argument(
        "--wide", action="store_true", help="full ids and node names, whatever the width"
    )
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


def _pipe_width() -> int:
    raw = os.environ.get("COLUMNS", "")
    return max(int(raw), NARROWEST) if raw.isdigit() else DEFAULT_WIDTH


async def cmd_top(args: argparse.Namespace) -> int:
    if args.interval <= 0 or args.limit < 1 or args.closed_minutes < 0:
        raise CommandError("--interval and --limit must be positive, --closed-minutes >= 0")
    client = await connect_from_env()
    inspector = RunInspector(client)
    closed = timedelta(minutes=args.closed_minutes) if args.closed_minutes else None

    async def snapshot(width: int | None) -> Group:
        try:
            rows = await inspector.snapshot(args.query, closed_within=closed, limit=args.limit)
        except RPCError as err:
            raise CommandError(f"Temporal rejected the listing: {err.message}") from None
        return render(rows, client.namespace, datetime.now(UTC), width)

    if args.once or not sys.stdout.isatty():
        group = await snapshot(None if args.wide else _pipe_width())
        # soft_wrap: a line is printed as it is, never wrapped or padded to the console's width
        Console(no_color=True, highlight=False, soft_wrap=True).print(group)
        return 0
    console = Console()

    def width() -> int | None:
        return None if args.wide else max(console.width, NARROWEST)

    try:
        with Live(await snapshot(width()), console=console, auto_refresh=False) as live:
            while True:
                await asyncio.sleep(args.interval)
                live.update(await snapshot(width()), refresh=True)
    except asyncio.CancelledError:  # Ctrl-C: asyncio cancels this task; leaving is the point
        return 0


def render(rows: Sequence[RunRow], namespace: str, now: datetime, width: int | None) -> Group:
    """The snapshot as lines no wider than `width` (None: as wide as the content)."""
    title = Text(f"ttdr top · namespace {namespace} · {now:%H:%M:%S} UTC", style="bold")
    if not rows:
        return Group(title, Text(summary(rows)), Text("no research runs match"))
    table = [[header for header, *_ in COLUMNS], *(cells(row) for row in rows)]
    widths = fit(table, width)
    lines: list[Text] = [title, Text(summary(rows)), Text(""), Text(line(table[0], widths))]
    for row, row_cells in zip(rows, table[1:], strict=True):
        style = "yellow" if row.warnings else ("" if row.open else "dim")
        lines.append(Text(line(row_cells, widths), style=style))
        for warning in row.warnings:
            lines.append(Text(wrap(warning, width), style=style))
    return Group(*lines)


def fit(table: list[list[str]], width: int | None) -> list[int]:
    """Each column as wide as its content (up to its most); when the line is wider than
    `width`, the id and then `doing` give way, down to their fewest characters."""
    natural = [max(len(r[c]) for r in table) for c in range(len(COLUMNS))]
    if width is None:
        return natural
    widths = [min(n, most) for n, (_, _, most, _) in zip(natural, COLUMNS, strict=True)]
    gaps = sum(1 if right else len(GAP) for _, right, _, _ in COLUMNS[1:])
    over = sum(widths) + gaps - width
    for column in (0, 2):  # the id (its end is kept), then doing
        if over <= 0:
            break
        fewest = min(COLUMNS[column][3], widths[column])
        give = min(over, widths[column] - fewest)
        widths[column] -= give
        over -= give
    return widths


def line(row_cells: Sequence[str], widths: Sequence[int]) -> str:
    text = ""
    for cell, width, (_, right, _, _) in zip(row_cells, widths, COLUMNS, strict=True):
        short = shorten(cell, width)
        # right-aligned numbers are set apart by their own padding: one space is enough
        text += (
            (" " + short.rjust(width)) if right else ((GAP if text else "") + short.ljust(width))
        )
    return text.rstrip()


def shorten(text: str, width: int) -> str:
    """`research-how-does-py…1a2b3c4d`: the start and the end kept (an id's random suffix)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    tail = min(8, width // 2)  # a default id ends in 8 random hex digits
    return text[: width - 1 - tail] + "…" + text[len(text) - tail :]


def wrap(warning: str, width: int | None) -> str:
    """A warning under its run, wrapped (not cut: its cause is the point)."""
    if width is None:
        return f"    ! {warning}"
    return textwrap.fill(
        warning, width, initial_indent="    ! ", subsequent_indent="      ", break_on_hyphens=False
    )


def cells(row: RunRow) -> list[str]:
    iteration = "-" if row.iteration is None else str(row.iteration)
    if row.max_iterations:
        iteration += f"/{row.max_iterations}"
    return [
        row.workflow_id,
        (row.phase or "-") if row.open else row.status,
        doing(row),
        iteration,
        "-" if row.quality is None else f"{row.quality:.2f}",
        "-" if row.calls is None else str(row.calls),
        "-" if row.tokens is None else count(row.tokens),
        duration(row.elapsed_seconds),
    ]


def doing(row: RunRow) -> str:
    """What the run does now: its node, where it is held, or whom it waits for."""
    if not row.open:
        return f"stop: {row.stop_reason}" if row.stop_reason else "-"
    if row.waiting_for_review:
        waited = row.review_wait_seconds
        return "plan review" + (f" {duration(waited)}" if waited is not None else "")
    if row.held_before:
        return f"{'paused' if row.paused else 'held'} before {node_name(row.held_before)}"
    if row.paused:
        return "pausing"
    return node_name(row.node) if row.node else "-"


def node_name(node: str) -> str:
    """`evo.questions.judge` for `self_evolution_enhancer.questions.judge`."""
    return "evo." + node[len(EVOLUTION_PREFIX) :] if node.startswith(EVOLUTION_PREFIX) else node


def count(tokens: int) -> str:
    """`9999`, `123k`, `4.5M`: six characters at most."""
    if tokens < 100_000:
        return str(tokens)
    if tokens < 10_000_000:
        return f"{tokens / 1000:.0f}k"
    return f"{tokens / 1_000_000:.1f}M"
