"""Run the question set through the batch runner for one or more configs and score the reports.

    .venv/bin/python -m eval.run --evolution off,cheap,paper --n 5
    .venv/bin/python -m eval.run --config mine=my-config.json --config base=base.json

Needs what `client.py batch` needs: a Temporal server and a worker (TEMPORAL_ADDRESS,
TTDR_TASK_QUEUE as for client.py). Each config is one `client.py batch` run (resumable: run
the same command again and finished questions are not researched again), its articles in
OUT-DIR/<name>.jsonl. Then each completed question's report and retrieved sources are read
back from its child workflow and scored (eval/metrics.py). Prints one table per config (by
question kind) and writes OUT-DIR/scores.csv (one row per config and question) and
OUT-DIR/summary.json. With a judge model configured (TTDR_EVAL_JUDGE_MODEL, eval/judge.py),
also rubric scores per article and the first config's pairwise win rate against the others.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.service import RPCError

from cli.batch import batch as run_batch
from cli.main import parser as command_parser
from common.errors import CommandError
from common.temporal_connection import connect_from_env
from eval.corpus import Corpus, demo_corpus_root
from eval.judge import RUBRIC, RubricScores, judge_from_env, rubric, win_rate
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


async def retrieved_sources(client: Client, workflow_id: str) -> list[SourceRef]:
    """Every source the run's retrieval_engine activities returned, from its histories (all
    runs of the id, in case it continued as new): cited or not, so gold recall sees them."""
    refs: list[SourceRef] = []
    async for execution in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
        history = await client.get_workflow_handle(
            workflow_id, run_id=execution.run_id
        ).fetch_history()
        refs += retrieval_sources(history.events)
    return refs


def retrieval_sources(events: Iterable[HistoryEvent]) -> list[SourceRef]:
    """The sources the retrieval_engine activities of one history returned."""
    retrievals: set[int] = set()
    found: list[Any] = []
    for event in events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            attributes = event.activity_task_scheduled_event_attributes
            if attributes.activity_type.name == "retrieval_engine":
                retrievals.add(event.event_id)
        elif event.HasField("activity_task_completed_event_attributes"):
            completed = event.activity_task_completed_event_attributes
            if completed.scheduled_event_id in retrievals and completed.result.payloads:
                found += json.loads(completed.result.payloads[0].data).get("sources", [])
    return source_refs(found)


async def read_run(client: Client, question: Question, run: dict[str, Any]) -> RunOutput:
    """A question's report (cited sources) and the run's retrieved sources, from its child."""
    if run.get("status") != "completed":
        return RunOutput(question_id=question.id, status=str(run.get("status", "missing")))
    handle = client.get_workflow_handle(run["workflow_id"])
    report: dict[str, Any] = await handle.result()
    cited = source_refs(report.get("sources", []))
    try:
        retrieved = await retrieved_sources(client, run["workflow_id"])
    except (RPCError, ValueError):
        retrieved = []
    return RunOutput(
        question_id=question.id,
        markdown=str(report.get("markdown", "")),
        cited=cited,
        retrieved=retrieved + cited,
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
    # The batch command's own parser: its options and defaults, whatever they grow to.
    argv = ["batch", str(questions_file), "--out", str(out), "--config", str(config_file)]
    args = command_parser().parse_args([*argv, "--concurrency", str(concurrency)])
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


Rubrics = dict[tuple[str, str], RubricScores]


def articles(out_dir: Path, name: str) -> dict[str, str]:
    path = out_dir / f"{name}.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return {str(item["id"]): item["article"] for item in map(json.loads, lines)}


async def judge_configs(
    out_dir: Path, questions: list[Question], names: list[str]
) -> tuple[Rubrics, list[str]]:
    """Rubric scores of every article and the first config's pairwise win rate against each
    other config — only when a judge model is configured (eval/judge.py)."""
    judge = judge_from_env(os.environ)
    if judge is None:
        return {}, []
    try:
        texts = {name: articles(out_dir, name) for name in names}
        keys = [(n, q) for n in names for q in questions if q.id in texts[n]]
        scores = await asyncio.gather(*(rubric(judge, q.prompt, texts[n][q.id]) for n, q in keys))
        rubrics = {(n, q.id): s for (n, q), s in zip(keys, scores, strict=True)}
        lines = ["| pairwise (both orders) | questions | win rate |", "|---|---|---|"]
        first = names[0]
        for other in names[1:]:
            both = [q for q in questions if q.id in texts[first] and q.id in texts[other]]
            pairs = [(q.prompt, texts[first][q.id], texts[other][q.id]) for q in both]
            rate = await win_rate(judge, pairs)
            lines.append(f"| {first} vs {other} | {len(pairs)} | {fmt(rate)} |")
        return rubrics, lines if len(names) > 1 else []
    finally:
        await judge.aclose()


def rubric_table(rubrics: Rubrics, names: list[str]) -> str:
    lines = ["| config | judged | " + " | ".join(RUBRIC) + " |", "|---" * (len(RUBRIC) + 2) + "|"]
    for name in names:
        mine = [s for (n, _), s in rubrics.items() if n == name]
        means = [fmt(sum(getattr(s, c) for s in mine) / len(mine)) if mine else "-" for c in RUBRIC]
        lines.append(f"| {name} | {len(mine)} | " + " | ".join(means) + " |")
    return "\n".join(lines)


def write_csv(
    path: Path, results: dict[str, list[QuestionScores]], rubrics: Rubrics | None = None
) -> None:
    rubrics = rubrics or {}
    fields = ["config", *QuestionScores.model_fields, *(f"judge_{c}" for c in RUBRIC)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for name, scores in results.items():
            for s in scores:
                row = s.model_dump()
                row["missing_facts"] = "; ".join(s.missing_facts)
                row["missing_gold"] = "; ".join(s.missing_gold)
                if (judged := rubrics.get((name, s.id))) is not None:
                    row.update({f"judge_{c}": getattr(judged, c) for c in RUBRIC})
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
    rubrics, pairwise = await judge_configs(out_dir, questions, list(results))
    print()
    for name, scores in results.items():
        print(table(name, scores), end="\n\n")
    if rubrics:
        print("judge rubric (1-10, means)\n\n" + rubric_table(rubrics, list(results)), end="\n\n")
    if pairwise:
        print("\n".join(pairwise), end="\n\n")
    write_csv(out_dir / "scores.csv", results, rubrics)
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
