"""Start and follow research runs: `python client.py research "QUESTION" [options]`.

Exit codes: 0 success, 1 the research failed, 2 bad input or unreachable server (nothing started).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import uuid
from pathlib import Path
from typing import NoReturn

from pydantic import ValidationError
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import FailureError
from temporalio.service import RPCError

from observability import inspect_cli, replay_cli, tracing
from observability.errors import CommandError
from workflows.config import ResearchConfig
from workflows.models import ResearchProgress, ResearchReport, ResearchRequest
from workflows.research import WORKFLOW_NAME

DEFAULT_WEB_UI = "http://localhost:8233"
POLL_SECONDS = 1.0


class UsageError(CommandError):
    """Bad input: reported in one line, exit code 2, no workflow started."""


def _fail(message: str, code: int) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def _first_validation_problem(err: ValidationError) -> str:
    problem = err.errors()[0]
    where = ".".join(str(p) for p in problem["loc"])
    message = problem["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def build_request(
    question: str, config_file: Path | None, max_iterations: int | None
) -> ResearchRequest:
    """Validate everything before contacting the server; raise UsageError with one clear line."""
    raw: dict[str, object] = {}
    if config_file is not None:
        try:
            raw = json.loads(config_file.read_text(encoding="utf-8"))
        except OSError as err:
            raise UsageError(f"cannot read config {config_file}: {err.strerror}") from None
        except json.JSONDecodeError as err:
            raise UsageError(f"config {config_file} is not valid JSON: {err}") from None
        if not isinstance(raw, dict):
            raise UsageError(f"config {config_file} must hold a JSON object")
    if max_iterations is not None:
        raw["max_iterations"] = max_iterations
    try:
        config = ResearchConfig.model_validate(raw)
    except ValidationError as err:
        raise UsageError(f"invalid config: {_first_validation_problem(err)}") from None
    try:
        return ResearchRequest(question=question, config=config)
    except ValidationError as err:
        raise UsageError(f"invalid question: {_first_validation_problem(err)}") from None


def new_workflow_id(question: str) -> str:
    slug = "-".join(re.findall(r"[a-z0-9]+", question.lower())[:6])[:48] or "research"
    return f"research-{slug}-{uuid.uuid4().hex[:8]}"


def web_ui_link(workflow_id: str, namespace: str) -> str:
    base = os.environ.get("TTDR_WEB_UI_URL", DEFAULT_WEB_UI).rstrip("/")
    return f"{base}/namespaces/{namespace}/workflows/{workflow_id}"


class TemporalUnreachable(UsageError):
    """The Temporal server did not answer at the configured address."""


def _connect_reason(err: Exception) -> str:
    text = str(err)
    if "ConnectionRefused" in text or "Connection refused" in text:
        return "connection refused"
    if "dns error" in text.lower() or "failed to lookup" in text.lower():
        return "unknown host"
    return text.splitlines()[0][:200]


async def connect_temporal(address: str, namespace: str) -> Client:
    """A client with the pydantic data converter, or TemporalUnreachable with one clear line."""
    try:
        return await Client.connect(
            address,
            namespace=namespace,
            data_converter=pydantic_data_converter,
            # The run's root span (StartWorkflow); a no-op when no tracer provider is set.
            interceptors=[tracing.RunTracingInterceptor()],
        )
    except RuntimeError as err:
        raise TemporalUnreachable(
            f"cannot reach the Temporal server at {address} ({_connect_reason(err)}): start it "
            "(./scripts/demo starts the embedded dev server) or set TEMPORAL_ADDRESS"
        ) from None


async def follow(client: Client, handle: WorkflowHandle[object, ResearchReport]) -> ResearchReport:
    """Print progress lines as the run moves on, then return its result (following the run
    through continue-as-new: queries go to the latest run of the workflow id)."""
    latest = client.get_workflow_handle(handle.id)
    result = asyncio.ensure_future(handle.result())
    last = ""
    while not result.done():
        try:
            progress = await latest.query("progress", result_type=ResearchProgress)
            line = inspect_cli.progress_line(progress)
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
    address = os.environ.get("TEMPORAL_ADDRESS", "localhost:7233")
    namespace = os.environ.get("TEMPORAL_NAMESPACE", "default")
    task_queue = os.environ.get("TTDR_TASK_QUEUE", "ttdr")
    client = await connect_temporal(address, namespace)
    workflow_id = args.id or new_workflow_id(request.question)
    try:
        handle = await client.start_workflow(
            WORKFLOW_NAME,
            request,
            id=workflow_id,
            task_queue=task_queue,
            result_type=ResearchReport,
            # Shown as the run's summary in the Web UI's list and detail pages.
            static_summary=request.question[:200],
        )
    except RPCError as err:
        raise UsageError(f"could not start workflow {workflow_id}: {err.message}") from None
    print(f"workflow_id: {workflow_id}")
    print(f"web_ui: {web_ui_link(workflow_id, namespace)}", flush=True)
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


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="client.py", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("research", help="start a research run and wait for its report")
    run.add_argument("question")
    run.add_argument("--id", help="workflow id (default: research-<slug>-<random>)")
    run.add_argument("--max-iterations", type=int, help="override config.max_iterations")
    run.add_argument("--config", type=Path, help="ResearchConfig as a JSON file")
    run.add_argument("--out", type=Path, help="report path (default reports/<id>.md)")
    run.add_argument("--no-wait", action="store_true", help="start the run and exit")
    run.set_defaults(handler=research)
    inspect_cli.register(commands)
    replay_cli.register(commands)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        provider = tracing.configure_tracing(
            tracing.CLIENT_SERVICE, os.environ, announce=lambda line: print(line, file=sys.stderr)
        )
    except tracing.TracingConfigError as err:
        _fail(str(err), 2)
    try:
        return asyncio.run(args.handler(args))
    except CommandError as err:  # UsageError here, and the command modules' own errors
        _fail(str(err), 2)
    except KeyboardInterrupt:
        print("\ninterrupted: the run goes on in Temporal", file=sys.stderr)
        return 130
    finally:
        tracing.shutdown_tracing(provider)  # export the root span before the process ends


if __name__ == "__main__":
    # Run through the importable module, so that commands living in other modules (which
    # import `client`) and main() share one set of classes, e.g. UsageError.
    import client

    try:
        exit_code = client.main()
    except SystemExit as leaving:  # argparse and the one-line error path
        exit_code = leaving.code if isinstance(leaving.code, int) else 1
    # Leave without interpreter finalisation: the Temporal SDK's native threads can still be
    # winding down then, and an update's late callback has aborted the process (seen in tests).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)
