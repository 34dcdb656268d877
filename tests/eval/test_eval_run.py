"""`python -m eval.run` end to end on the fake LLM: the questions go through the batch runner,
each report is read back from its child workflow and scored, a table per config is printed and
a per-question CSV written."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from temporalio.client import Client

from eval.run import main_async, parser
from testing.fake_llm import FakeLLMServer, RecordedRequest
from testing.scripted_llm import Script

IDS = "py-with-statement,py-cmp-is-vs-equals"


def search_the_question(request: RecordedRequest) -> dict:
    """The gap analysis asks about the research question itself (the scripted one asks about
    a list of topics whatever the question)."""
    if "the is operator and ==" in request.prompt:
        return {"questions": ["identity comparisons is operator same object id"]}
    return {"questions": ["with statement context manager __enter__ __exit__"]}


def eval_against(
    client: Client,
    task_queue: str,
    fake_server: FakeLLMServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Path:
    """eval.run pointed at the test's server and worker, its questions searched as asked; the
    base config file (one iteration, one question) it runs on."""
    fake_server.respond("GapAnswer", search_the_question)
    monkeypatch.setenv("TEMPORAL_ADDRESS", client.service_client.config.target_host)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("TTDR_TASK_QUEUE", task_queue)
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"max_iterations": 1, "questions_per_iteration": 1}))
    return base


async def test_two_configs_are_scored_question_by_question(
    client: Client,
    task_queue: str,
    fake_server: FakeLLMServer,
    script: Script,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = eval_against(client, task_queue, fake_server, monkeypatch, tmp_path)
    out_dir = tmp_path / "eval"
    argv = ["--evolution", "off,cheap", "--base-config", str(base), "--ids", IDS]
    args = parser().parse_args([*argv, "--out-dir", str(out_dir), "--concurrency", "2"])

    assert await main_async(args) == 0

    printed = capsys.readouterr().out
    assert "config **evolution-off**" in printed and "config **evolution-cheap**" in printed
    rows = list(csv.DictReader((out_dir / "scores.csv").open()))
    assert sorted((r["config"], r["id"]) for r in rows) == sorted(
        (config, qid) for config in ("evolution-off", "evolution-cheap") for qid in IDS.split(",")
    )
    for row in rows:
        assert row["status"] == "completed"
        assert 0.0 <= float(row["gold_retrieved"]) <= 1.0
        assert float(row["citation_validity"]) == 1.0  # the product renumbers what it keeps
        assert int(row["llm_calls"]) > 0
    # Each search is about the question, so gold passages are found and cited.
    assert all(float(r["gold_retrieved"]) > 0 for r in rows)
    assert any(float(r["gold_cited"]) > 0 for r in rows)
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["evolution-off"]["completed"] == 1.0
    # cheap evolution costs more calls than off for the same questions
    assert summary["evolution-cheap"]["llm_calls"] > summary["evolution-off"]["llm_calls"]
    articles = (out_dir / "evolution-off.jsonl").read_text().splitlines()
    assert len(articles) == 2  # the articles are also DeepResearch Bench lines
