"""`client.py batch` as a user runs it: the DeepResearch Bench line format, the sidecar, and bad
input rejected before anything starts."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from cli.batch_files import read_done, read_questions
from common.errors import UsageError
from testing.fake_llm import FakeLLMServer
from testing.processes import run_client
from testing.scripted_llm import Script
from workflows.config import ResearchConfig

FAST = {"evolution": "off", "max_iterations": 1, "questions_per_iteration": 1}


def write_config(tmp_path: Path, config: dict[str, object] = FAST) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


async def test_out_has_one_drb_line_per_question_and_a_runs_sidecar(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script, tmp_path: Path
) -> None:
    # DeepResearch Bench's query.jsonl: integer ids and extra fields.
    rows = [
        {"id": 1, "topic": "Python", "language": "en", "prompt": "How do generators work?"},
        {"id": 2, "topic": "Python", "language": "en", "prompt": "What is a context manager?"},
        {"id": 3, "topic": "Python", "language": "en", "prompt": "How do decorators work?"},
    ]
    queries = jsonl(tmp_path / "query.jsonl", rows)
    out = tmp_path / "raw_data" / "ttdr.jsonl"
    batch_id = f"batch-{uuid.uuid4().hex[:8]}"
    code, stdout, stderr = await run_client(
        client, task_queue, "batch", str(queries), "--out", str(out),
        "--config", str(write_config(tmp_path)), "--concurrency", "2", "--id", batch_id,
    )  # fmt: skip

    assert code == 0, stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["id"] for line in lines) == [1, 2, 3]  # the ids as the file has them
    for line in lines:
        assert set(line) == {"id", "prompt", "article"}
        assert line["prompt"] == rows[line["id"] - 1]["prompt"]
        assert "## Sources" in line["article"]  # the report with its Sources, as DRB scores it
    runs = [json.loads(line) for line in (tmp_path / "raw_data" / "ttdr.runs.jsonl").open()]
    assert sorted(r["id"] for r in runs) == [1, 2, 3]
    for run in runs:
        assert run["status"] == "completed"
        assert run["workflow_id"] == f"{batch_id}.{run['id']}"
        assert run["iterations"] == 1 and run["llm_calls"] > 0 and run["tokens"] > 0
        assert run["wall_seconds"] > 0
    assert stdout.count("\ndone ") + stdout.startswith("done ") == 3  # a line per question
    assert len(fake_server.calls("PlanAnswer")) == 3

    # The same command again: everything is in OUT, nothing is started or written.
    code, stdout, _ = await run_client(
        client, task_queue, "batch", str(queries), "--out", str(out),
        "--config", str(write_config(tmp_path)), "--id", batch_id,
    )  # fmt: skip
    assert code == 0 and "nothing to do" in stdout
    assert len(out.read_text().splitlines()) == 3


async def test_a_csv_with_a_query_column_is_read(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script, tmp_path: Path
) -> None:
    queries = tmp_path / "queries.csv"
    queries.write_text('query,notes\n"How do generators work, exactly?",x\nWhat is a tuple?,y\n')
    out = tmp_path / "out.jsonl"
    code, _, stderr = await run_client(
        client, task_queue, "batch", str(queries), "--out", str(out),
        "--config", str(write_config(tmp_path)),
    )  # fmt: skip
    assert code == 0, stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {(line["id"], line["prompt"]) for line in lines} == {
        ("1", "How do generators work, exactly?"),
        ("2", "What is a tuple?"),
    }


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": 1, "prompt": "a?"}\n{"id": 2, "prompt": "b?"}\n{"id": 3, "prompt": \n', ":3: not"),
        ('{"id": 1, "prompt": "ok?"}\n["a", "list"]\n', ":2: expected a JSON object"),
        ('{"id": 1, "prompt": "   "}\n', ":1: the prompt is empty"),
        ('{"id": 1, "prompt": "a?"}\n{"id": 1, "prompt": "b?"}\n', ":2: duplicate id '1' (first"),
        ('{"prompt": "no id?"}\n', ':1: no "id" field'),
        ('{"id": "x", "text": "no prompt"}\n', ':1: no "prompt" field'),
        ('{"id": "x", "prompt": "bell \\u0007 in it"}\n', ":1: invalid prompt"),
        ("", "holds no questions"),
    ],
)  # fmt: skip
def test_malformed_jsonl_is_rejected_naming_the_line(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(content)
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_questions(path, ResearchConfig())


def test_a_csv_without_a_prompt_column_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text("question,notes\nwhat?,x\n")
    with pytest.raises(UsageError, match="'prompt' or 'query' column"):
        read_questions(path, ResearchConfig())


def test_an_out_file_that_is_not_ours_is_never_appended_to(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": 1, "prompt": "p", "article": "a"}\nnot json\n{"id": 2}\n')
    with pytest.raises(UsageError, match=":2 is not a JSON object line"):
        read_done(out)


def test_a_partial_last_line_from_a_killed_client_is_cut_off(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    whole = '{"id": 1, "prompt": "p", "article": "a"}\n'
    out.write_text(whole + '{"id": 2, "prompt": "p", "arti')
    assert read_done(out) == {"1"}
    assert out.read_text() == whole


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl"], "missing.jsonl: No such file"),
        (["q.jsonl", "--config", "bad-config.json"], "invalid config"),
        (["q.jsonl", "--concurrency", "0"], "--concurrency must be 1..200"),
        (["dup.jsonl"], "duplicate id"),
    ],
)
async def test_bad_input_starts_nothing(
    client: Client, task_queue: str, tmp_path: Path, args: list[str], message: str
) -> None:
    jsonl(tmp_path / "q.jsonl", [{"id": "a", "prompt": "How do generators work?"}])
    jsonl(tmp_path / "dup.jsonl", [{"id": "a", "prompt": "x?"}, {"id": "a", "prompt": "y?"}])
    (tmp_path / "bad-config.json").write_text('{"max_iterations": 0}')
    batch_id = f"batch-bad-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "out.jsonl"
    resolved = [str(tmp_path / a) if a.endswith((".json", ".jsonl")) else a for a in args]
    code, _, stderr = await run_client(
        client, task_queue, "batch", *resolved, "--id", batch_id, "--out", str(out)
    )
    assert code == 2
    assert message in stderr and stderr.count("\n") == 1  # one line
    assert not out.exists()
    started = [w async for w in client.list_workflows(f"WorkflowId = '{batch_id}'")]
    assert started == []
