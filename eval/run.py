"""Run the question set through the batch runner for one or more configs and score the reports.

    .venv/bin/python -m eval.run --evolution off,cheap,paper --n 5
    .venv/bin/python -m eval.run --config mine=my-config.json --config base=base.json

Needs what `client.py batch` needs: a Temporal server and a worker (TEMPORAL_ADDRESS,
TTDR_TASK_QUEUE as for client.py). Each config is one `client.py batch` run (resumable: run
the same command again and finished questions are not researched again), its articles in
OUT-DIR/<name>.jsonl. Then each completed question's report and retrieved sources are read
back from its child workflow and scored (eval/metrics.py). Prints one table per config (by
question kind) and writes OUT-DIR/scores.csv (one row per config and question) and
OUT-DIR/summary.json.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from cli.batch import batch as run_batch
from cli.connection import connect_from_env
from cli.errors import CommandError
from eval.corpus import Corpus, demo_corpus_root
from eval.metrics import METRIC_COLUMNS, QuestionScores, RunOutput, SourceRef, score_run, summarise
from eval.questions import QUESTIONS_FILE, Question, load_questions
from eval.support import SupportScorer, load_scorer

BASE_CONFIG: dict[str, Any] = {"max_iterations": 2, "questions_per_iteration": 2}
KINDS = ("single", "multi", "comparison", "when")


def source_refs(items: list[Any]) -> list[SourceRef]:
    """NumberedSource-like dicts (`{"number", "source": {...}}`) or plain source dicts."""
    refs = []
    for item in items or []:
        if not isinstance(item, dict):
            continue
        source = item.get("source", item)
        refs.append(
            SourceRef(
                number=item.get("number"),
                title=str(source.get("title", "")),
                location=str(source.get("location", source.get("url", ""))),
                quote=str(source.get("quote", "")),
                evidence=str(source.get("evidence", "")),
                anchor=str(source.get("anchor", "")),
            )
        )
    return refs


async def read_run(client: Client, question: Question, run: dict[str, Any]) -> RunOutput:
    """A question's report (cited sources) and the run's retrieved sources, from its child."""
    if run.get("status") != "completed":
        return RunOutput(question_id=question.id, status=str(run.get("status", "missing")))
    handle = client.get_workflow_handle(run["workflow_id"])
    report: dict[str, Any] = await handle.result()
    cited = source_refs(report.get("sources", []))
    try:  # every source the run retrieved: the `state` query (a worker replays the run)
        state: dict[str, Any] = await handle.query("state")
        retrieved = source_refs(state.get("sources", []))
    except RPCError:
        retrieved = cited
    return RunOutput(
        question_id=question.id,
        markdown=str(report.get("markdown", "")),
        cited=cited,
        retrieved=retrieved or cited,
        llm_calls=int(run.get("llm_calls") or 0),
        tokens=int(run.get("tokens") or 0),
        wall_seconds=float(run.get("wall_seconds") or 0.0),
        iterations=int(run.get("iterations") or 0),
    )


async def evaluate_config(
    name: str,
    config_file: Path,
    questions: list[Question],
    questions_file: Path,
    out_dir: Path,
    concurrency: int,
    corpus: Corpus,
    scorer: SupportScorer,
) -> list[QuestionScores]:
    out = out_dir / f"{name}.jsonl"
    print(f"\n== config {name}: {config_file.read_text().strip()}", flush=True)
    args = argparse.Namespace(
        file=questions_file, out=out, concurrency=concurrency, config=config_file,
        id=None, no_wait=False,
    )  # fmt: skip
    await run_batch(args)  # failed questions are scored as failed, not retried here
    runs = {
        str(r["id"]): r
        for r in map(json.loads, out.with_name(f"{name}.runs.jsonl").read_text().splitlines())
    }
    client = await connect_from_env()
    scores = []
    for question in questions:
        run = runs.get(question.id, {"status": "missing"})
        output = await read_run(client, question, run)
        scores.append(score_run(question, output, corpus, scorer))
    return scores


def fmt(value: float | None, column: str = "") -> str:
    if value is None:
        return "-"
    if column in ("llm_calls", "tokens"):
        return f"{value:.0f}"
    if column == "wall_seconds":
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(name: str, scores: list[QuestionScores]) -> str:
    """One Markdown table: a row per question kind and one for all, a column per metric."""
    columns = ("n", "completed", *METRIC_COLUMNS)
    lines = [f"config **{name}**", "", "| kind | " + " | ".join(columns) + " |"]
    lines.append("|---" * (len(columns) + 1) + "|")
    groups = [(kind, [s for s in scores if s.kind == kind]) for kind in KINDS]
    for kind, group in [*groups, ("all", scores)]:
        if not group:
            continue
        summary = summarise(group)
        cells = [str(len(group)), fmt(summary["completed"])]
        cells += [fmt(summary[c], c) for c in METRIC_COLUMNS]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_csv(path: Path, results: dict[str, list[QuestionScores]]) -> None:
    fields = ["config", *QuestionScores.model_fields]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for name, scores in results.items():
            for s in scores:
                row = s.model_dump()
                row["missing_facts"] = "; ".join(s.missing_facts)
                row["missing_gold"] = "; ".join(s.missing_gold)
                writer.writerow({"config": name, **row})


def configs_from_args(args: argparse.Namespace, out_dir: Path) -> dict[str, Path]:
    configs: dict[str, Path] = {}
    for spec in args.config or []:
        name, _, path = spec.partition("=")
        if not path:
            raise CommandError(f"--config {spec!r}: use NAME=FILE.json")
        configs[name] = Path(path)
    base = json.loads(args.base_config.read_text()) if args.base_config else dict(BASE_CONFIG)
    for profile in filter(None, (args.evolution or "").split(",")):
        path = out_dir / f"evolution-{profile}.config.json"
        path.write_text(json.dumps({**base, "evolution": profile}))
        configs[f"evolution-{profile}"] = path
    if not configs:
        raise CommandError("name at least one config: --evolution off,cheap or --config N=F")
    return configs


def select(questions: list[Question], args: argparse.Namespace) -> list[Question]:
    if args.ids:
        wanted = set(args.ids.split(","))
        unknown = wanted - {q.id for q in questions}
        if unknown:
            raise CommandError(f"unknown question ids: {', '.join(sorted(unknown))}")
        questions = [q for q in questions if q.id in wanted]
    return questions[: args.n] if args.n else questions


async def main_async(args: argparse.Namespace) -> int:
    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    questions = select(load_questions(args.questions), args)
    subset = out_dir / "questions.jsonl"
    subset.write_text("".join(q.model_dump_json() + "\n" for q in questions))
    configs = configs_from_args(args, out_dir)
    corpus = Corpus(args.corpus or demo_corpus_root())
    scorer = load_scorer(args.scorer)
    results: dict[str, list[QuestionScores]] = {}
    for name, config_file in configs.items():
        results[name] = await evaluate_config(
            name, config_file, questions, subset, out_dir, args.concurrency, corpus, scorer
        )
    print()
    for name, scores in results.items():
        print(table(name, scores), end="\n\n")
    write_csv(out_dir / "scores.csv", results)
    summary = {name: summarise(scores) for name, scores in results.items()}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"per-question scores: {out_dir / 'scores.csv'}; summary: {out_dir / 'summary.json'}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m eval.run", description=__doc__.splitlines()[0])
    p.add_argument("--evolution", help="profiles to compare, e.g. off,cheap,paper")
    p.add_argument("--config", action="append", help="NAME=FILE.json (ResearchConfig), repeatable")
    p.add_argument("--base-config", type=Path, help=f"base of --evolution configs ({BASE_CONFIG})")
    p.add_argument("--n", type=int, help="the first N questions only")
    p.add_argument("--ids", help="comma-separated question ids")
    p.add_argument("--questions", type=Path, default=QUESTIONS_FILE)
    p.add_argument("--out-dir", type=Path, default=Path("reports/eval"))
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--scorer", default="lexical", help="citation support: lexical or module:fn")
    p.add_argument("--corpus", type=Path, help="corpus root (default: the demo corpus)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return asyncio.run(main_async(args))
    except (CommandError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    code = main()
    # As client.py: leave without interpreter finalisation, during which the Temporal SDK's
    # native threads have aborted the process ("PyGILState_Release", seen here).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
