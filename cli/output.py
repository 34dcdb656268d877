"""Where a report goes: checked before a run starts, written atomically after it ends.

`--out` means the same for every command that writes a report (research, report, follow-up,
export): a path ending in a report suffix (.md, .html, .pdf, .docx) names the report's files —
the Markdown at NAME.md, the other formats beside it; a folder (one that exists, a path ending in
`/`, or a path without a suffix) gets `<id>.md` (and `<id>.html`, ...) in it. Without `--out`,
`reports/<id>.md`.

A report is two files: the Markdown at PATH and the details as JSON beside it (PATH with the
suffix .json). The location is refused up front when it could not be written: a special file
(/dev/null), a path under a file, an unwritable folder, an existing file without a report
suffix, or a `.json` name the details would overwrite. Each file is written to a temporary file
in the same folder and renamed over the target, so a reader never sees half a report and a
failure leaves the old one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cli.ids import REPORTS_DIR, default_path
from common.errors import UsageError
from export.document import xml_safe
from workflows.results import ResearchReport


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


REPORT_SUFFIXES = (".md", ".html", ".pdf", ".docx")  # the files of a report's formats
OUT_HELP = (
    "a file NAME.md (other formats beside it: NAME.html, ...) or a folder (an existing one, or "
    "ending in /) that gets <id>.md; default reports/<id>.md"
)


def report_target(
    out: str | Path | None, workflow_id: str, *, stem: str | None = None, option: str = "--out"
) -> Path:
    """The Markdown file `--out` names (the module's rule); `stem` names the files in a folder
    (default: the id, which must then be a valid file name)."""
    name = f"{stem}.md" if stem else default_path(workflow_id, ".md").name
    if out is None:
        return REPORTS_DIR / name
    text = str(out)
    path = Path(text)
    suffix = path.suffix.lower()
    if suffix == ".json":
        raise UsageError(
            f"{option} {path}: the details are written as JSON beside the Markdown, to a "
            "name ending in .json: give the Markdown a name ending in .md"
        )
    folder = path.is_dir() or text.endswith(("/", os.sep)) or not suffix
    if folder:
        if path.exists() and not path.is_dir():
            if not path.is_file():
                raise UsageError(f"{option} {path} is not a regular file")
            raise UsageError(  # `research --out NAME` once wrote NAME: say what it means now
                f"{option} {path} is a file, and a report's file name ends in .md: give "
                f"{path}.md for a file, or a folder"
            )
        return path / name
    if suffix in REPORT_SUFFIXES:
        return path.with_suffix(".md")
    raise UsageError(
        f"{option} {path}: a report file ends in {', '.join(REPORT_SUFFIXES)}; a folder exists "
        f"already or ends in / (e.g. {path}/)"
    )


def report_paths(out: str | Path | None, workflow_id: str, option: str = "--out") -> ReportPaths:
    """The checked report location; raise UsageError (nothing started) if it cannot be written."""
    markdown = report_target(out, workflow_id, option=option)
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
        # As the Markdown export: no control character (an ESC a model or a file name brought
        # in would act on the terminal of whoever `cat`s the report).
        write_atomically(paths.markdown, xml_safe(report.markdown))
    except OSError as err:
        raise UsageError(f"cannot write the report to {paths.markdown}: {err.strerror}") from None
    return paths.markdown
