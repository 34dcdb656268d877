"""Workflow ids given on the command line: the documented rules, and file names derived safely.

An id given to `research --id` is 1-128 characters from A-Z a-z 0-9 . _ - and starts with a
letter or a digit. That keeps it one line in every output, a single path component (no `/`, no
leading `.` or `-`) well under a file system's 255-byte name limit once `.history.json` is added,
and far under Temporal's own limit. Ids made by other tools may break these rules: commands that
only read a run accept any id, and ask for --out when a file name cannot be derived from it.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from common.errors import UsageError

MAX_ID_CHARS = 128
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
ID_RULE = f"1-{MAX_ID_CHARS} characters from A-Z a-z 0-9 . _ -, starting with a letter or digit"
REPORTS_DIR = Path("reports")


def id_problem(workflow_id: str) -> str | None:
    """Why `workflow_id` breaks the rules, or None."""
    if not workflow_id:
        return "the id is empty"
    if len(workflow_id) > MAX_ID_CHARS:
        return f"the id has {len(workflow_id)} characters; the limit is {MAX_ID_CHARS}"
    if not ID_PATTERN.fullmatch(workflow_id):
        return f"the id {workflow_id!r} has a character outside the rules"
    return None


def check_id(workflow_id: str) -> str:
    """`workflow_id` when it follows the rules; else UsageError saying them."""
    if problem := id_problem(workflow_id):
        raise UsageError(f"invalid --id: {problem} (allowed: {ID_RULE})")
    return workflow_id


def check_child_ids(batch_id: str, question_ids: list[str]) -> None:
    """A batch's child runs (`<batch id>.<question id>`) follow the id rules too, or UsageError
    naming the longest: a batch id and a question id can each pass and together be too long."""
    if not question_ids:
        return
    child = f"{batch_id}.{max(question_ids, key=len)}"
    if problem := id_problem(child):
        raise UsageError(
            f"the child run id {child[:40]!r}... would break the id rules ({problem}): "
            "shorten --id or the question ids"
        )


def new_workflow_id(question: str) -> str:
    """research-<slug of the question>-<8 hex digits>: follows the rules by construction."""
    slug = "-".join(re.findall(r"[a-z0-9]+", question.lower())[:6])[:48] or "research"
    return f"research-{slug}-{uuid.uuid4().hex[:8]}"


def default_path(workflow_id: str, suffix: str) -> Path:
    """reports/<id><suffix>, or UsageError when the id cannot be a file name."""
    if problem := id_problem(workflow_id):
        raise UsageError(f"cannot name a file after this id ({problem}): give --out FILE")
    return REPORTS_DIR / f"{workflow_id}{suffix}"
