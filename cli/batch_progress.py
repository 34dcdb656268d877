"""The live view of `client.py batch`: a rich progress bar in a terminal, and one line per
finished question (in a terminal above the bar; elsewhere, e.g. CI logs, the lines alone)."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from workflows.batch import BatchProgress


class BatchDisplay:
    def __init__(self, total: int, already: int, console: Console | None = None) -> None:
        self.console = console or Console()
        self.total = total
        self.finished_count = already
        self.live = self.console.is_terminal
        self._progress = Progress(
            TextColumn("[bold]batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.live,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> BatchDisplay:
        self._progress.__enter__()
        self._task = self._progress.add_task(
            "batch", total=self.total, completed=self.finished_count, counts=""
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.__exit__(kind, error, traceback)

    def update(self, progress: BatchProgress, elapsed: float) -> None:
        counts = (
            f"done {progress.completed} · failed {progress.failed} · running "
            f"{progress.running} · {progress.llm_calls} calls · {progress.tokens} tokens"
        )
        if self._task is not None:
            self._progress.update(self._task, counts=counts)

    def finished(self, question_id: str, run: dict[str, Any]) -> None:
        self.finished_count += 1
        seconds = run.get("wall_seconds")
        took = f"{seconds:.1f} s" if isinstance(seconds, int | float) else "earlier run"
        if run["status"] == "completed":
            line = (
                f"done {question_id} ({self.finished_count}/{self.total}): "
                f"{run['iterations']} iteration(s), {run['llm_calls']} calls, "
                f"{run['tokens']} tokens, {took}"
            )
        else:
            line = f"failed {question_id} ({self.finished_count}/{self.total}): {run['error']}"
        if self.live:
            self._progress.console.print(escape(line))
        else:
            print(line, flush=True)
        if self._task is not None:
            self._progress.update(self._task, completed=self.finished_count)
