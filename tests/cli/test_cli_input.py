"""Hostile input to client.py is refused in one line before anything starts (issue 18 items 4,
5, 8, 9): ids, output locations, invisible questions, config files."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.service import RPCError

from cli.ids import MAX_ID_CHARS, new_workflow_id
from cli.output import ReportPaths, write_atomically, write_report
from testing.processes import run_client
from workflows.models import ResearchRequest
from workflows.results import ResearchReport


async def assert_not_started(client: Client, workflow_id: str) -> None:
    with pytest.raises(RPCError):
        await client.get_workflow_handle(workflow_id).describe()


async def refused(client: Client, *args: str, workflow_id: str | None = None) -> str:
    """Run client.py ARGS: it must exit 2 with one line on stderr and start nothing."""
    code, out, err = await run_client(client, "unused-queue", *args)
    assert code == 2, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "workflow_id" not in out
    if workflow_id is not None:
        await assert_not_started(client, workflow_id)
    return err


# ---------------------------------------------------------------- ids (item 4)


@pytest.mark.parametrize(
    ("workflow_id", "message"),
    [
        ("../../../elsewhere/pwned", "has a character outside the rules"),
        ("a\nb", "has a character outside the rules"),
        ("x" * 1000, f"the id has 1000 characters; the limit is {MAX_ID_CHARS}"),
        ("-rf", "has a character outside the rules"),
        (".hidden", "has a character outside the rules"),
        ("", "the id is empty"),
    ],
)
async def test_a_bad_id_is_refused_before_anything_starts(
    client: Client, workflow_id: str, message: str
) -> None:
    err = await refused(client, "research", "Is this id safe?", f"--id={workflow_id}")
    assert message in err and "A-Z a-z 0-9 . _ -" in err
    if workflow_id:
        await assert_not_started(client, workflow_id)


def test_generated_ids_follow_the_rules() -> None:
    from cli.ids import id_problem

    for question in ["What is X?", "?" * 50, "é" * 300, "a " * 500]:
        assert id_problem(new_workflow_id(question)) is None


async def test_history_of_an_id_that_cannot_be_a_file_name_asks_for_out(client: Client) -> None:
    err = await refused(client, "history", "../../etc/x")
    assert "give --out FILE" in err


# ---------------------------------------------------------------- output locations (item 5)


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("a-file/report.md", "is a file, not a folder"),
        ("a-file", "is a file, and a report's file name ends in .md: give"),
        ("notes.txt", "a report file ends in .md, .html, .pdf, .docx"),
        ("/dev/null", "/dev/null is not a regular file"),
        ("x.json", "give the Markdown a name ending in .md"),
    ],
)
async def test_an_unwritable_report_location_is_refused_before_the_run(
    client: Client, tmp_path: Path, out: str, message: str
) -> None:
    (tmp_path / "a-file").write_text("I am a file")
    (tmp_path / "a-dir").mkdir()
    target = out if out.startswith("/") else str(tmp_path / out)
    workflow_id = f"out-{uuid.uuid4().hex[:8]}"
    err = await refused(
        client, "research", "Where does it go?", "--id", workflow_id, "--out", target,
        workflow_id=workflow_id,
    )  # fmt: skip
    assert message in err
    assert (tmp_path / "a-file").read_text() == "I am a file"
    assert not Path("/dev/null.json").exists()


def test_reports_are_replaced_atomically(tmp_path: Path) -> None:
    """A reader of the old report keeps a whole old report; no temporary file is left."""
    out = tmp_path / "r.md"
    out.write_text("old report\n")
    reader = out.open()
    report = ResearchReport.model_construct(markdown="# Report\nnew\n")
    paths = ReportPaths(out, out.with_suffix(".json"))
    try:
        write_atomically(paths.markdown, report.markdown)
        assert reader.read() == "old report\n", "the old file was replaced, not rewritten"
    finally:
        reader.close()
    assert out.read_text() == "# Report\nnew\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.md"]
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_a_failed_write_leaves_the_old_report(tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    out.write_text("old report\n")
    details = tmp_path / "r.json"
    details.mkdir()  # the details cannot be written over a folder
    report = ResearchReport.model_construct(markdown="new")
    with pytest.raises(Exception, match="cannot write the report"):
        write_report(report, ReportPaths(out, details))
    assert out.read_text() == "old report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.md"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ---------------------------------------------------------------- questions (item 8)


@pytest.mark.parametrize("question", ["\u200b\u200b\u200b", "\u200b \u2060\ufeff", "\u202e\u200d"])
async def test_a_question_with_no_visible_character_is_refused(
    client: Client, question: str
) -> None:
    workflow_id = f"invisible-{uuid.uuid4().hex[:8]}"
    err = await refused(client, "research", question, "--id", workflow_id, workflow_id=workflow_id)
    assert "invalid question" in err


def test_bidi_controls_are_removed_from_the_question() -> None:
    request = ResearchRequest(question="Is \u202eevil\u202c and \u2067x\u2069 shown as typed?")
    assert request.question == "Is evil and x shown as typed?"
    with pytest.raises(ValidationError, match="no visible characters"):
        ResearchRequest(question="\u200b\u2066\u2069")


# ---------------------------------------------------------------- config files (item 9)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"max_iterations": 2, "x": "\xff\xfe"}', "is not UTF-8 text (byte 28 is 0xff)"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"{" + b'"a": {' * 5000 + b"}" * 5001, "nested too deeply"),
        (b'{"max_iterations": ' + b"9" * 5000 + b"}", "is not valid JSON: Exceeds the limit"),
        (b'{"max_iterations": "3"}', "max_iterations: Input should be a valid integer"),
        (b'{"max_iterations": 3.0}', "max_iterations: Input should be a valid integer"),
        (b'{"max_iterations": true}', "max_iterations: Input should be a valid integer"),
        (b'{"evolution": {"answers": {"variants": "2"}}}', "Input should be a valid integer"),
        (b" " * 1_000_001, "over the 1000000-byte limit"),
    ],
)
async def test_a_hostile_config_file_is_one_line(
    client: Client, tmp_path: Path, content: bytes, message: str
) -> None:
    config = tmp_path / "config.json"
    config.write_bytes(content)
    workflow_id = f"cfg-{uuid.uuid4().hex[:8]}"
    err = await refused(
        client, "research", "ok?", "--id", workflow_id, "--config", str(config),
        workflow_id=workflow_id,
    )  # fmt: skip
    assert message in err


async def test_config_from_an_endless_device_is_read_with_a_limit(client: Client) -> None:
    err = await refused(client, "research", "ok?", "--config", "/dev/zero")
    assert "over the 1000000-byte limit" in err


async def test_a_valid_config_still_passes_in_strict_mode(tmp_path: Path) -> None:
    from cli.request import build_request

    config = tmp_path / "c.json"
    config.write_text(json.dumps({"max_iterations": 3, "quality_threshold": 1, "evolution": "off"}))
    request = build_request("ok?", config, None)
    assert request.config.max_iterations == 3 and request.config.quality_threshold == 1.0
