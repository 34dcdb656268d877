"""Batch ids follow the `--id` rules (issue 26 item 10).

A question id like `../../etc/x` was accepted and made the child workflow id
`batch-….../../etc/x`; `batch --id ../../etc/x` made `reports/../../etc/x.jsonl`. Both are refused
now, before anything is contacted, as `research --id` refuses them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.batch import batch
from cli.batch_files import read_questions
from cli.main import parser
from common.errors import UsageError
from workflows.config import ResearchConfig

NOWHERE = {"TEMPORAL_ADDRESS": "127.0.0.1:1"}  # nothing may be contacted


def questions_file(tmp_path: Path, ids: list[object]) -> Path:
    path = tmp_path / "questions.jsonl"
    lines = [json.dumps({"id": qid, "prompt": f"Question {n}?"}) for n, qid in enumerate(ids)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_question_ids_outside_the_rules_are_named_line_by_line(tmp_path: Path) -> None:
    path = questions_file(tmp_path, ["ok-1", "../../etc/x", "a b", ".hidden", "x" * 129, 7])
    with pytest.raises(UsageError) as refused:
        read_questions(path, ResearchConfig())
    message = str(refused.value)
    assert f"{path} has 4 bad lines:" in message
    assert f"{path}:2: the id '../../etc/x' has a character outside the rules" in message
    assert f"{path}:3: the id 'a b'" in message and f"{path}:4: the id '.hidden'" in message
    assert f"{path}:5: the id has 129 characters; the limit is 128" in message
    assert "allowed: 1-128 characters from A-Z a-z 0-9 . _ -" in message


def test_ids_within_the_rules_are_read(tmp_path: Path) -> None:
    path = questions_file(tmp_path, ["q1", 2, "drb_52.v2"])
    assert [q.id for q in read_questions(path, ResearchConfig())] == ["q1", "2", "drb_52.v2"]


async def test_a_batch_id_outside_the_rules_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in NOWHERE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    path = questions_file(tmp_path, ["q1"])
    args = parser().parse_args(["batch", str(path), "--id", "../../etc/x"])
    with pytest.raises(UsageError, match=r"invalid --id: the id '\.\./\.\./etc/x' has a character"):
        await batch(args)
    assert not (tmp_path / "reports").exists() and not (tmp_path.parent / "etc").exists()


async def test_a_batch_and_question_id_too_long_together_start_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in NOWHERE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    path = questions_file(tmp_path, ["q" * 60])
    args = parser().parse_args(["batch", str(path), "--id", "b" * 100])
    with pytest.raises(UsageError, match=r"the child run id .* would break the id rules"):
        await batch(args)
    assert not (tmp_path / "reports").exists()
