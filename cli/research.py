"""`client.py research QUESTION`: start a run, follow its progress, write its report."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import uuid
from pathlib import Path

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import FailureError
from temporalio.service import RPCError

from cli.connection import connect_from_env, task_queue_from_env
from cli.errors import UsageError
from cli.request import build_request
from cli.views import progress_line
from workflows.models import ResearchProgress, ResearchReport
from workflows.research import WORKFLOW_NAME

DEFAULT_WEB_UI = "http://localhost:8233"
POLL_SECONDS = 1.0


def new_workflow_id(question: str) -> str:
    slug = "-".join(re.findall(r"[a-z0-9]+", question.lower())[:6])[:48] or "research"
    return f"research-{slug}-{uuid.uuid4().hex[:8]}"


def web_ui_link(workflow_id: str, namespace: str) -> str:
    base = os.environ.get("TTDR_WEB_UI_URL", DEFAULT_WEB_UI).rstrip("/")
    return f"{base}/namespaces/{namespace}/workflows/{workflow_id}"


async def follow(client: Client, handle: WorkflowHandle[object, ResearchReport]) -> ResearchReport:
    """Print progress lines as the run moves on, then return its result (following the run
    through continue-as-new: queries go to the latest run of the workflow id)."""
    latest = client.get_workflow_handle(handle.id)
    result = asyncio.ensure_future(handle.result())
    last = ""
    while not result.done():
        try:
            progress = await latest.query("progress", result_type=ResearchProgress)
            line = progress_line(progress)
            if line != last:
                print(f"  {line}", flush=True)
                last = line
        except RPCError:
            pass  # no worker has picked the run up yet, or it just finished
        await asyncio.wait({result}, timeout=POLL_SECONDS)
    return result.result()


def root_cause(err: BaseException) -> str:
    messages = []
    current: BaseException | None = err
    while current is not None:
        if isinstance(current, FailureError) and str(current):
            messages.append(str(current))
        current = current.__cause__
    return messages[-1] if messages else str(err)


def write_report(report: ResearchReport, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.markdown, encoding="utf-8")
    out.with_suffix(".json").write_text(report.model_dump_json(indent=2), encoding="utf-8")
    return out


async def research(args: argparse.Namespace) -> int:
    request = build_request(args.question, args.config, args.max_iterations)
    client = await connect_from_env()
    workflow_id = args.id or new_workflow_id(request.question)
    try:
        handle = await client.start_workflow(
            WORKFLOW_NAME,
            request,
            id=workflow_id,
            task_queue=task_queue_from_env(),
            result_type=ResearchReport,
            # Shown as the run's summary in the Web UI's list and detail pages.
            static_summary=request.question[:200],
        )
    except RPCError as err:
        raise UsageError(f"could not start workflow {workflow_id}: {err.message}") from None
    print(f"workflow_id: {workflow_id}")
    print(f"web_ui: {web_ui_link(workflow_id, client.namespace)}", flush=True)
    if args.no_wait:
        return 0
    try:
        report = await follow(client, handle)
    except WorkflowFailureError as err:
        print(f"error: research {workflow_id} failed: {root_cause(err)}", file=sys.stderr)
        return 1
    out = write_report(report, args.out or Path("reports") / f"{workflow_id}.md")
    print(
        f"done: {report.iterations} iteration(s), stop: {report.stop_reason}, "
        f"{len(report.sources)} source(s) cited, {report.usage_total.calls} LLM calls, "
        f"{report.usage_total.total_tokens} tokens"
    )
    print(f"report: {out}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("research", help="start a research run and wait for its report")
    run.add_argument("question")
    run.add_argument("--id", help="workflow id (default: research-<slug>-<random>)")
    run.add_argument("--max-iterations", type=int, help="override config.max_iterations")
    run.add_argument("--config", type=Path, help="ResearchConfig as a JSON file")
    run.add_argument("--out", type=Path, help="report path (default reports/<id>.md)")
    run.add_argument("--no-wait", action="store_true", help="start the run and exit")
    run.set_defaults(handler=research)
