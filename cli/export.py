"""`client.py export ID --format md,html,pdf,docx [--out DIR]`, and `research --format`.

Exports are made from the run's result (its ResearchReport, read from Temporal, following
continue-as-new): no model is called again. Formats are checked and target files are checked
writable before anything is contacted or started; each file is written to a temporary file
beside it and renamed over the target, so a reader never sees half a PDF.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import tempfile
from pathlib import Path

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import FailureError
from temporalio.service import RPCError, RPCStatusCode

import export
from cli.batch_ids import not_a_run
from cli.output import report_target
from cli.typed import as_typed
from common.errors import UsageError
from common.temporal_connection import connect_from_env
from workflows.results import ResearchReport

FORMAT_HELP = f"comma-separated formats: {', '.join(export.FORMATS)}"


class RunStillGoing(UsageError):
    """The run has no report yet: it is still running."""


class NoReport(UsageError):
    """The run ended without a report (failed, cancelled, terminated, timed out)."""


def parse_format_option(value: str) -> list[str]:
    try:
        return export.parse_formats(value)
    except export.FormatError as err:
        raise UsageError(f"--format: {err}") from None


def _failure_reason(err: BaseException) -> str:
    reason = str(err)
    current: BaseException | None = err
    while current is not None:
        if isinstance(current, FailureError) and str(current):
            reason = str(current)
        current = current.__cause__
    return reason


async def finished_report(
    client: Client, workflow_id: str, command: str = "export"
) -> ResearchReport:
    """The report of a finished run; UsageError for an unknown id, RunStillGoing while it runs,
    NoReport when it ended without one, NotARun for a batch id (`command` names what asked)."""
    handle = client.get_workflow_handle(workflow_id, result_type=ResearchReport)
    try:
        description = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise UsageError(f"no workflow {workflow_id} in namespace {client.namespace}") from None
        raise UsageError(f"cannot read workflow {workflow_id}: {err.message}") from None
    not_a_run(workflow_id, description, command)  # a batch id: say what serves it
    if description.status == WorkflowExecutionStatus.RUNNING:
        raise RunStillGoing(f"{workflow_id} is still running: its report is not written yet")
    try:
        return await handle.result()
    except WorkflowFailureError as err:
        status = description.status.name.lower() if description.status else "ended"
        raise NoReport(f"{workflow_id} has no report ({status}): {_failure_reason(err)}") from None
    except RPCError as err:
        raise UsageError(f"cannot read the result of {workflow_id}: {err.message}") from None


def file_stem(workflow_id: str) -> str:
    """A file name from any workflow id (ids made by other tools may hold `/` or spaces)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", workflow_id).lstrip(".-")[:200] or "report"


def check_target(path: Path, option: str) -> Path:
    """Refuse, before anything starts, a target that could not be written."""
    if path.is_dir():
        raise UsageError(f"{option}: {path} is a directory")
    if path.exists() and not path.is_file():
        raise UsageError(f"{option}: {path} is not a regular file")
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise UsageError(f"{option}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"{option}: no permission to write {path}")
    return path


def targets_beside(markdown: Path, formats: list[str]) -> dict[str, Path]:
    """`research --format`: each format beside the Markdown report (report.md -> report.pdf);
    Markdown itself is always written by `research`."""
    return {
        name: check_target(markdown.with_suffix(export.FORMATS[name]), "--format")
        for name in formats
        if name != "md"
    }


def targets_in(out: str | None, workflow_id: str, formats: list[str]) -> dict[str, Path]:
    """`--out` as for every command that writes a report (cli/output.py): NAME.md (or .pdf, ...)
    names the files, a folder gets <id>.<format>, default reports/."""
    markdown = report_target(out, workflow_id, stem=file_stem(workflow_id))
    return {
        name: check_target(markdown.with_suffix(export.FORMATS[name]), "--out") for name in formats
    }


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_exports(report: ResearchReport, targets: dict[str, Path]) -> list[str]:
    """Render every format (one parse of the report) and write each on its own: one line per
    file written, one `error:` line per format that could not be made or written (the others
    are written all the same). Returns the formats that failed."""
    rendered = export.render_all(report, list(targets))
    failed = []
    for name, path in targets.items():
        data = rendered[name]
        try:
            if isinstance(data, export.ExportFailed):
                raise data
            _write_atomically(path, data)
        except export.ExportFailed as err:
            print(f"error: {err}", file=sys.stderr)
        except OSError as err:
            print(f"error: cannot write {path}: {err.strerror}", file=sys.stderr)
        else:
            print(f"{name}: {path}")
            continue
        failed.append(name)
    return failed


def export_failed(workflow_id: str, failed: list[str]) -> int:
    """Exit code 1 after naming how to try the lost formats again (no model is called)."""
    if not failed:
        return 0
    print(
        as_typed(
            f"error: {len(failed)} format(s) not written; the others were. Try again: "
            f"client.py export {workflow_id} --format {','.join(failed)}"
        ),
        file=sys.stderr,
    )
    return 1


def add_format_option(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    parser.add_argument("--format", default=default, help=FORMAT_HELP)


async def cmd_export(args: argparse.Namespace) -> int:
    formats = parse_format_option(args.format)
    targets = targets_in(args.out, args.id, formats)
    client = await connect_from_env()
    try:
        report = await finished_report(client, args.id)
    except RunStillGoing as err:
        raise UsageError(f"{err}: `client.py watch {args.id}` follows it") from None
    except NoReport as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return export_failed(args.id, write_exports(report, targets))


def register(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser(
        "export", help="write a finished run's report as Markdown, HTML, PDF or DOCX"
    )
    sub.add_argument("id", help="workflow id")
    add_format_option(sub, default=",".join(export.FORMATS))
    sub.add_argument(
        "--out",
        help="a file NAME.md (every format beside it: NAME.pdf, ...) or a folder (an existing "
        "one, or ending in /) that gets <id>.<format>; default reports/",
    )
    sub.set_defaults(handler=cmd_export)
