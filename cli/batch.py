"""`client.py batch FILE`: research every question of a file as one durable batch.

Starts (or, when it is already running, follows) one BatchResearchWorkflow, shows its progress,
and writes each completed question's article to OUT as its child finishes. Running the same
command again resumes: questions already in OUT are skipped, a batch still running is followed,
a finished one is started again for the questions left — children that completed are not run
again (the batch finds them by id), failed ones are retried. Nothing is written twice.

Exit codes: 0 every question completed, 1 some failed, 2 bad input (nothing started).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode

from cli.batch_files import (
    InputQuestion,
    append_article,
    default_batch_id,
    read_done,
    read_questions,
    read_runs,
    runs_path,
    with_short_title,
    write_runs,
)
from cli.batch_progress import BatchDisplay
from cli.client_settings import client_settings
from cli.ids import REPORTS_DIR, check_child_ids, check_id
from cli.priority import add_priority_options, priority_from_args
from cli.request import build_request
from cli.research import web_ui_link
from common.errors import UsageError
from common.temporal_connection import connect_from_env, task_queue_from_env
from workflows.batch import (
    MAX_CONCURRENCY,
    WORKFLOW_NAME,
    BatchProgress,
    BatchQuestion,
    BatchRequest,
    BatchResult,
    QuestionRecord,
)
from workflows.failures import innermost_message
from workflows.results import ResearchReport

POLL_SECONDS = 1.0


class BatchWriter:
    """Writes each finished question once: its run record, then (completed) its article."""

    def __init__(self, client: Client, out: Path, questions: list[InputQuestion]) -> None:
        self.client = client
        self.out = out
        self.runs_file = runs_path(out)
        self.by_id = {q.id: q for q in questions}
        self.done = read_done(out)
        self.runs = read_runs(self.runs_file)
        self.failed: set[str] = set()

    async def record(self, record: QuestionRecord) -> dict[str, Any] | None:
        """Handle one finished question; its run record, or None if it was written before."""
        question = self.by_id.get(record.id)
        if question is None or record.id in self.done:
            return None
        run: dict[str, Any] = {
            "id": question.original_id,
            "status": record.status,
            "workflow_id": record.workflow_id,
            "iterations": record.iterations,
            "llm_calls": record.llm_calls,
            "tokens": record.tokens,
            "wall_seconds": record.seconds,
            "error": record.error or None,
        }
        report = None
        if record.status == "completed":
            handle = self.client.get_workflow_handle(record.workflow_id, result_type=ResearchReport)
            report = await handle.result()
            run.update(
                iterations=report.iterations,
                llm_calls=report.usage_total.calls,
                tokens=report.usage_total.input_tokens + report.usage_total.output_tokens,
                stop_reason=report.stop_reason,
            )
            if run["wall_seconds"] is None:  # completed by an earlier batch run
                described = await handle.describe()
                if described.close_time and described.start_time:
                    span = described.close_time - described.start_time
                    run["wall_seconds"] = span.total_seconds()
            self.failed.discard(record.id)
        else:
            self.failed.add(record.id)
        # The record first, then the article: OUT decides what is done, so a kill between
        # the two writes the article on the next run and rewrites (not repeats) the record.
        self.runs[record.id] = run
        write_runs(self.runs_file, self.runs)
        if report is not None:
            append_article(self.out, question, with_short_title(report.markdown, question.prompt))
            self.done.add(record.id)
        return run


async def batch(args: argparse.Namespace) -> int:
    # 1. Everything is checked before anything is contacted.
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        raise UsageError(f"--concurrency must be 1..{MAX_CONCURRENCY}, not {args.concurrency}")
    config = build_request("config check", args.config, None).config
    priority = priority_from_args(args)  # inherited by every child run (cli/priority.py)
    questions = read_questions(args.file, config)
    # The --id rules for the batch and for each child run (`<batch id>.<question id>`).
    if args.id is not None:
        batch_id = check_id(args.id)
    else:
        batch_id = default_batch_id(args.file, questions, config)
    check_child_ids(batch_id, [q.id for q in questions])
    out: Path = args.out or REPORTS_DIR / f"{batch_id}.jsonl"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create {out.parent}: {err.strerror}") from None

    client = await connect_from_env()
    writer = BatchWriter(client, out, questions)
    left = [q for q in questions if q.id not in writer.done]
    print(f"batch_id: {batch_id}")
    print(f"web_ui: {web_ui_link(client_settings(args).web_ui_url, batch_id, client.namespace)}")
    print(f"out: {out} ({len(questions) - len(left)} of {len(questions)} already there)")
    if not left:
        print("nothing to do: every question is in OUT")
        return 0

    # 2. Follow the batch if it is running, else start it for the questions left.
    handle = client.get_workflow_handle(batch_id, result_type=BatchResult)
    if await _is_running(client, batch_id):
        print("resuming: the batch is running; following it", flush=True)
    else:
        request = BatchRequest(
            questions=[BatchQuestion(id=q.id, prompt=q.prompt) for q in left],
            config=config,
            concurrency=args.concurrency,
        )
        handle = await client.start_workflow(
            WORKFLOW_NAME,
            request,
            id=batch_id,
            task_queue=task_queue_from_env(),
            result_type=BatchResult,
            static_summary=f"batch of {len(left)} questions from {args.file.name}",
            priority=priority,
        )
    if args.no_wait:
        return 0

    # 3. Write each question as it finishes; show progress.
    display = BatchDisplay(total=len(questions), already=len(questions) - len(left))
    try:
        with display:
            await _follow(client, batch_id, handle, writer, display)
    except WorkflowFailureError as err:
        print(f"error: batch {batch_id} failed: {innermost_message(err)}", file=sys.stderr)
        return 1
    missing = [q.id for q in questions if q.id not in writer.done]
    print(
        f"done: {len(questions) - len(missing)} of {len(questions)} in {out}; "
        f"{len(writer.failed)} failed; runs: {writer.runs_file}"
    )
    if writer.failed:
        print("run the same command again to retry the failed questions", file=sys.stderr)
    return 1 if missing else 0


async def _is_running(client: Client, batch_id: str) -> bool:
    try:
        described = await client.get_workflow_handle(batch_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return described.status == WorkflowExecutionStatus.RUNNING


async def _follow(
    client: Client, batch_id: str, handle: Any, writer: BatchWriter, display: BatchDisplay
) -> None:
    latest = client.get_workflow_handle(batch_id)
    result = asyncio.ensure_future(handle.result())
    seen = 0
    started = time.monotonic()
    while not result.done():
        try:
            progress = await latest.query("progress", seen, result_type=BatchProgress)
        except RPCError:
            progress = None  # no worker has picked it up yet, or it just finished
        if progress is not None:
            for record in progress.finished:
                await _finish(writer, record, display)
            seen += len(progress.finished)
            display.update(progress, time.monotonic() - started)
        await asyncio.wait({result}, timeout=POLL_SECONDS)
    final: BatchResult = result.result()
    for record in final.records[seen:]:
        await _finish(writer, record, display)


async def _finish(writer: BatchWriter, record: QuestionRecord, display: BatchDisplay) -> None:
    run = await writer.record(record)
    if run is not None:
        display.finished(record.id, run)


def register(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser(
        "batch", help="research every question of a JSONL/CSV file as one durable batch"
    )
    sub.add_argument("file", type=Path, help='JSONL {"id", "prompt"} or CSV with prompt/query')
    sub.add_argument("--out", type=Path, help="articles, one JSON line per question")
    sub.add_argument("--concurrency", type=int, default=4, help="questions at once (default 4)")
    sub.add_argument("--config", type=Path, help="ResearchConfig as a JSON file, for every run")
    sub.add_argument("--id", help="batch workflow id (default: from the file and config)")
    sub.add_argument("--no-wait", action="store_true", help="start the batch and exit")
    add_priority_options(sub)
    sub.set_defaults(handler=batch)
