"""`--out` means the same for every command that writes a report (cli/output.py): a name ending
in a report suffix names the files, a folder gets `<id>.<ext>`; an old-style extensionless file
is refused with a line saying what to give."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from cli.output import report_target
from common.errors import UsageError
from testing.processes import run_client
from testing.scripted_llm import Script


def test_a_name_with_a_report_suffix_is_a_file_and_anything_else_a_folder(tmp_path: Path) -> None:
    (tmp_path / "old-report").write_text("an extensionless report of an earlier version")
    (tmp_path / "existing").mkdir()
    assert report_target(str(tmp_path / "r.md"), "w1") == tmp_path / "r.md"
    assert report_target(str(tmp_path / "r.pdf"), "w1") == tmp_path / "r.md"
    assert report_target(str(tmp_path / "existing"), "w1") == tmp_path / "existing" / "w1.md"
    assert report_target(f"{tmp_path}/new.d/", "w1") == tmp_path / "new.d" / "w1.md"
    assert report_target(str(tmp_path / "new"), "w1") == tmp_path / "new" / "w1.md"
    assert report_target(None, "w1") == Path("reports") / "w1.md"
    with pytest.raises(UsageError, match=r"is a file, and a report.s file name ends in \.md"):
        report_target(str(tmp_path / "old-report"), "w1")
    with pytest.raises(UsageError, match=r"a report file ends in .md, .html, .pdf, .docx"):
        report_target(str(tmp_path / "notes.txt"), "w1")


async def test_research_and_export_take_a_folder_or_a_file_alike(
    client: Client, task_queue: str, script: Script, tmp_path: Path
) -> None:
    workflow_id = f"out-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "config.json"
    config.write_text('{"evolution": "off", "max_iterations": 1}')
    code, out, err = await run_client(
        client, task_queue, "research", "How do Python decorators work?", "--id", workflow_id,
        "--config", str(config), "--out", f"{tmp_path}/runs/",
    )  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "runs" / f"{workflow_id}.md").is_file()
    assert (tmp_path / "runs" / f"{workflow_id}.json").is_file()

    code, out, err = await run_client(
        client, task_queue, "export", workflow_id, "--format", "md,html",
        "--out", str(tmp_path / "shared" / "decorators.md"),
    )  # fmt: skip
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == [
        "decorators.html",
        "decorators.md",
    ]
    code, out, err = await run_client(
        client, task_queue, "export", workflow_id, "--format", "md", "--out", str(tmp_path / "runs")
    )
    assert code == 0, err
    assert f"md: {tmp_path / 'runs' / workflow_id}.md" in out
