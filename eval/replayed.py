"""Score recorded runs again with today's report code, without an LLM.

An embedded-model eval of the 45 questions takes two hours of LLM time. A change that only
touches what the product writes from the run (the report body, headings, Research notes,
Sources) leaves the loop's decisions as they were, so it can be measured on runs already
recorded: replaying a run's history executes the current workflow code over the recorded
activity results, and the report it returns is what that code would have written. A change to
the loop makes the replay fail (nondeterminism), which says the runs must be made again.

    # while the eval's server is up: keep its completed runs' histories (gzip JSON)
    python -m eval.replayed save --runs OUT/demo.runs.jsonl --to runs/
    # any time later, on any commit: the reports rewritten and scored
    python -m eval.replayed score --histories runs/ [more/ …] [--out OUT.jsonl]

`save` reads TEMPORAL_ADDRESS (and the rest of the connection) as client.py does. `score`
needs no server: it prints eval.run's table and can write the rewritten articles.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import sys
from pathlib import Path
from typing import Any

from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    Replayer,
    ReplayerConfig,
    UnsandboxedWorkflowRunner,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from common.temporal_connection import connect_from_env
from common.temporal_plugin import ResearchPlugin
from eval.corpus import Corpus, demo_corpus_root
from eval.metrics import QuestionScores, RunOutput, score_run
from eval.questions import QUESTIONS_FILE, load_questions
from eval.run import retrieval_sources, source_refs, table
from eval.support import SupportScorer, lexical_support, load_scorer
from inspection.history import _quiet_runtime
from workflows.results import ResearchReport

# The replayed run's result, by workflow id (the replay runs unsandboxed, in this process).
_RESULTS: dict[str, Any] = {}


class _KeepResult(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        result = await super().execute_workflow(input)
        _RESULTS[workflow.info().workflow_id] = result
        return result


class _ResultInterceptor(Interceptor):
    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        return _KeepResult


class _ReplayWithResult(ResearchPlugin):
    """The product's replayer (converter, workflows), unsandboxed so that the interceptor can
    hand the result out: the committed histories' replay test keeps the sandbox honest."""

    def configure_replayer(self, config: ReplayerConfig) -> ReplayerConfig:
        config = super().configure_replayer(config)
        config["workflow_runner"] = UnsandboxedWorkflowRunner()
        config["interceptors"] = [*config.get("interceptors", []), _ResultInterceptor()]
        return config


async def replayed_report(history: WorkflowHistory) -> ResearchReport:
    """The report today's code writes for the recorded run; ValueError when it does not replay."""
    replayer = Replayer(workflows=[], plugins=[_ReplayWithResult()], runtime=_quiet_runtime())
    outcome = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    if outcome.replay_failure is not None:
        raise ValueError(f"{history.workflow_id} does not replay: {outcome.replay_failure}")
    result = _RESULTS.pop(history.workflow_id, None)
    if result is None:
        raise ValueError(f"{history.workflow_id} did not complete in its history")
    return ResearchReport.model_validate(result)


async def save(runs_file: Path, to: Path) -> int:
    """The completed runs of `runs_file` not saved in `to` yet, from the server; a run the
    server no longer holds (an earlier server of a resumed eval) is named and passed over."""
    to.mkdir(parents=True, exist_ok=True)
    client = await connect_from_env()
    saved, missing = 0, []
    for run in map(json.loads, runs_file.read_text().splitlines()):
        target = to / f"{run['id']}.json.gz"
        if run.get("status") != "completed" or target.exists():
            continue
        try:
            history = await client.get_workflow_handle(run["workflow_id"]).fetch_history()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            missing.append(run["id"])
            continue
        record = {"run": run, "history": json.loads(history.to_json())}
        target.write_bytes(gzip.compress(json.dumps(record).encode()))
        saved += 1
    print(f"saved {saved} completed runs' histories to {to}")
    if missing:
        print(f"not on this server (not saved): {', '.join(missing)}")
    return 0


async def rescored(
    histories: Path,
    questions_file: Path = QUESTIONS_FILE,
    corpus: Corpus | None = None,
    scorer: SupportScorer = lexical_support,
) -> tuple[list[QuestionScores], list[dict[str, str]]]:
    """Each saved run of `histories` replayed with today's code: its scores and its article.
    A folder with a questions.jsonl of its own (a demo run's question) is scored against it."""
    own = histories / "questions.jsonl"
    questions = {q.id: q for q in load_questions(own if own.exists() else questions_file)}
    corpus = corpus or Corpus(demo_corpus_root())
    scores, articles = [], []
    for path in sorted(histories.glob("*.json.gz")):
        record = json.loads(gzip.decompress(path.read_bytes()))
        run, question = record["run"], questions.get(record["run"]["id"])
        if question is None:
            continue
        history = WorkflowHistory.from_json(run["workflow_id"], record["history"])
        report = await replayed_report(history)
        cited = source_refs([s.model_dump() for s in report.sources])
        output = RunOutput(
            question_id=question.id,
            markdown=report.markdown,
            cited=cited,
            retrieved=retrieval_sources(history.events) + cited,
            llm_calls=int(run.get("llm_calls") or 0),
            tokens=int(run.get("tokens") or 0),
            wall_seconds=float(run.get("wall_seconds") or 0.0),
            iterations=report.iterations,
        )
        scores.append(score_run(question, output, corpus, scorer))
        articles.append({"id": question.id, "prompt": question.prompt, "article": report.markdown})
    return scores, articles


async def score(args: argparse.Namespace) -> int:
    corpus = Corpus(args.corpus or demo_corpus_root())
    scores: list[QuestionScores] = []
    articles: list[dict[str, str]] = []
    for folder in args.histories:  # several folders: one table over all their runs
        found = await rescored(folder, args.questions, corpus, load_scorer(args.scorer))
        scores += found[0]
        articles += found[1]
    print(table(" + ".join(folder.name for folder in args.histories), scores))
    if args.out:
        lines = (json.dumps(a, ensure_ascii=False) + "\n" for a in articles)
        args.out.write_text("".join(lines), encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.replayed", description=__doc__.split("\n")[0])
    commands = p.add_subparsers(dest="command", required=True)
    saving = commands.add_parser("save", help="keep a batch's completed runs' histories")
    saving.add_argument("--runs", type=Path, required=True, help="OUT/<config>.runs.jsonl")
    saving.add_argument("--to", type=Path, required=True)
    scoring = commands.add_parser("score", help="rewrite and score the saved runs' reports")
    scoring.add_argument("--histories", type=Path, nargs="+", required=True)
    scoring.add_argument("--questions", type=Path, default=QUESTIONS_FILE)
    scoring.add_argument("--scorer", default="lexical")
    scoring.add_argument("--corpus", type=Path)
    scoring.add_argument("--out", type=Path, help="write the rewritten articles (JSONL)")
    args = p.parse_args(argv)
    if args.command == "save":
        return asyncio.run(save(args.runs, args.to))
    return asyncio.run(score(args))


if __name__ == "__main__":
    code = main()
    # As eval.run: leave without interpreter finalisation, during which the Temporal SDK's
    # native threads can abort the process ("PyGILState_Release", seen after `save`).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
