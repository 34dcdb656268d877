"""Where a report goes: checked before a run starts, written atomically after it ends.

A report is two files: the Markdown at PATH and the details as JSON beside it (PATH with the
suffix .json). The location is refused up front when it could not be written: a directory, a
special file (/dev/null), a path under a file, an unwritable folder, or a `.json` name the
details would overwrite. Each file is written to a temporary file in the same folder and renamed
over the target, so a reader never sees half a report and a failure leaves the old one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cli.errors import UsageError
from cli.ids import default_path
from workflows.models import ResearchReport


@dataclass(frozen=True)
class ReportPaths:
    markdown: Path
    details: Path


def _check_file_target(path: Path, option: str) -> None:
    if path.is_dir():
        raise UsageError(f"{option} {path} is a directory: give a file path, e.g. {path}/report.md")
    if path.exists() and not path.is_file():
        raise UsageError(f"{option} {path} is not a regular file")
    folder = path.parent
    while not folder.exists():  # the first folder that exists must take new entries
        folder = folder.parent
    if not folder.is_dir():
        raise UsageError(f"{option} {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"{option} {path}: no permission to write there")


def report_paths(out: Path | None, workflow_id: str, option: str = "--out") -> ReportPaths:
    """The checked report location; raise UsageError (nothing started) if it cannot be written."""
    markdown = out if out is not None else default_path(workflow_id, ".md")
    if markdown.suffix.lower() == ".json":
        raise UsageError(
            f"{option} {markdown}: the details are written as JSON beside the Markdown, to a "
            "name ending in .json: give the Markdown a name ending in .md"
        )
    paths = ReportPaths(markdown, markdown.with_suffix(".json"))
    for path in (paths.markdown, paths.details):
        _check_file_target(path, option)
    return paths


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # what a plain open() would have made
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_report(report: ResearchReport, paths: ReportPaths) -> Path:
    """Details first, Markdown last: once the Markdown is there, the report is complete."""
    try:
        write_atomically(paths.details, report.model_dump_json(indent=2))
        write_atomically(paths.markdown, report.markdown)
    except OSError as err:
        raise UsageError(f"cannot write the report to {paths.markdown}: {err.strerror}") from None
    return paths.markdown
