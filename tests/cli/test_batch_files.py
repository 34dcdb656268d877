"""The batch files as DeepResearch Bench and a resuming user read them (pure file I/O, fast):
prompts kept byte for byte, DRB's own lookups find every article, ids trimmed the same way in
and out, every bad line named, and a short H1 instead of a 956-character prompt."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from cli.batch_files import (
    MAX_PROBLEMS_SHOWN,
    TITLE_MAX_CHARS,
    InputQuestion,
    append_article,
    read_done,
    read_questions,
    read_runs,
    runs_path,
    short_title,
    with_short_title,
    write_runs,
)
from common.errors import UsageError
from workflows.config import ResearchConfig

# Lines as DeepResearch Bench's data/prompt_data/query.jsonl has them (Ayanami0730/
# deep_research_bench, commit 214741e): integer ids, a language, and query 52's prompt exactly,
# trailing space included. The others are made up in the same shape.
DRB_QUERIES = [
    {"id": 1, "topic": "Finance & Business", "language": "zh", "prompt": "收集整理目前中国9阶层实际收入和财务状况，特别研究得出中国的中产有哪些特点"},  # noqa: E501, RUF001
    {"id": 52, "topic": "Finance & Business", "language": "en", "prompt": "What are the investment philosophies of Duan Yongping, Warren Buffett, and Charlie Munger? "},  # noqa: E501
    {"id": 60, "topic": "Science & Technology", "language": "en", "prompt": "  Leading spaces,\ttabs and a line separator\u2028inside: are they kept?\n"},  # noqa: E501
    {"id": 77, "topic": "Software", "language": "en", "prompt": "Compare " + "very " * 180 + "long prompts."},  # noqa: E501
]  # fmt: skip


def drb_load_jsonl(path: Path) -> list[dict]:
    """DRB's utils/io_utils.py load_jsonl: every line, stripped, parsed (a blank line fails)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line.strip()) for line in f.readlines()]


def drb_race_targets(query_file: Path, raw_file: Path, language: str) -> dict[int, str]:
    """What deepresearch_bench_race.py process_language_data finds for each task of a language:
    the tasks' prompts, the target articles whose prompt is among them, a map by prompt, and
    the tasks whose prompt is in that map. (Its article cleaner first copies id and prompt from
    each raw line, skipping one with a falsy id, prompt or article: utils/clean_article.py
    clean_single; the cleaned file is read the same way.)"""
    all_tasks = [t for t in drb_load_jsonl(query_file) if t.get("language") == language]
    task_prompts = {t["prompt"] for t in all_tasks if "prompt" in t}
    cleaned = [
        {"id": a["id"], "prompt": a["prompt"], "article": a["article"]}
        for a in drb_load_jsonl(raw_file)
        if a.get("id") and a.get("prompt") and a.get("article")
    ]
    target_articles_list = [a for a in cleaned if a.get("prompt") in task_prompts]
    target_articles_map = {item["prompt"]: item for item in target_articles_list}
    return {
        t["id"]: target_articles_map[t["prompt"]]["article"]
        for t in all_tasks
        if t.get("prompt") in target_articles_map
    }


def drb_fact_languages(query_file: Path, raw_file: Path) -> dict[int, str]:
    """DRB's utils/extract.py: each raw article's language is looked up by its id."""
    id_to_lang_map = {
        item["id"]: item.get("language")
        for item in drb_load_jsonl(query_file)
        if "id" in item and "language" in item
    }
    return {d["id"]: id_to_lang_map[d["id"]] for d in drb_load_jsonl(raw_file)}


def write_out(tmp_path: Path, questions: list[InputQuestion]) -> Path:
    out = tmp_path / "raw_data" / "ttdr.jsonl"
    out.parent.mkdir()
    for question in questions:
        article = f"# {question.prompt.strip()}\n\nArticle for {question.id}.\n\n## Sources\n"
        append_article(out, question, with_short_title(article, question.prompt))
    return out


def test_deepresearch_bench_finds_every_article_by_its_exact_prompt_and_id(
    tmp_path: Path,
) -> None:
    query_file = tmp_path / "query.jsonl"
    query_file.write_text(
        "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in DRB_QUERIES), encoding="utf-8"
    )
    questions = read_questions(query_file, ResearchConfig())
    assert [q.prompt for q in questions] == [q["prompt"] for q in DRB_QUERIES]  # byte for byte
    out = write_out(tmp_path, questions)

    found = drb_race_targets(query_file, out, "en") | drb_race_targets(query_file, out, "zh")
    assert sorted(found) == [1, 52, 60, 77]
    assert found[52].startswith("# What are the investment philosophies")
    assert drb_fact_languages(query_file, out) == {1: "zh", 52: "en", 60: "en", 77: "en"}


def test_a_long_prompt_gets_a_short_title_and_keeps_its_body(tmp_path: Path) -> None:
    long_prompt = DRB_QUERIES[3]["prompt"]
    article = f"# {long_prompt}\n\nBody.\n"
    titled = with_short_title(article, long_prompt)
    title = titled.split("\n", 1)[0].removeprefix("# ")
    assert len(title) <= TITLE_MAX_CHARS and title.endswith("…") and title.startswith("Compare")
    assert titled.endswith("\n\nBody.\n")
    assert short_title("Why? Because the second sentence is not the title.") == "Why?"
    # A name with underscores in the title is code, as in the report's own headings.
    slots = "What does __slots__ do?"
    assert with_short_title(f"# {slots}\n\nBody.", slots).startswith(
        "# What does `__slots__` do?\n"
    )
    assert short_title("中国的中产有哪些特点\uff1f请详细分析\u3002") == "中国的中产有哪些特点\uff1f"
    colon = "Research question: what is a tuple?"
    assert short_title(colon) == colon
    # An ellipsis inside the question is no sentence end (the embedded eval's py-raise-from
    # report was titled "How does exception chaining with raise ...").
    dots = "How does exception chaining with raise ... from work in Python?"
    assert short_title(dots) == dots
    assert short_title("Is it e.g. fast? Write a report.") == "Is it e.g. fast?"
    assert with_short_title("no heading\n", "x?") == "no heading\n"


def test_a_csv_prompt_keeps_its_line_breaks_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "queries.csv"
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["id", "prompt"], ["a", "Two lines:\r\nfirst, then second? "]])
    path.write_bytes(buffer.getvalue().encode())
    [question] = read_questions(path, ResearchConfig())
    assert question.prompt == "Two lines:\r\nfirst, then second? "


def test_an_id_with_spaces_is_done_once_it_is_in_out(tmp_path: Path) -> None:
    """Issue 28: the id was trimmed when read but compared untrimmed with OUT, so a resume
    researched " q1 " again and appended its article a second time."""
    path = tmp_path / "queries.csv"
    path.write_text('id,prompt\n" q1 ",What is a tuple?\nq2,What is a list?\n')
    questions = read_questions(path, ResearchConfig())
    out = tmp_path / "out.jsonl"
    append_article(out, questions[0], "# t\n\narticle")
    done = read_done(out)
    assert [q.id for q in questions if q.id not in done] == ["q2"]
    assert json.loads(out.read_text())["id"] == " q1 "  # OUT keeps the id as the file has it

    runs = runs_path(out)
    write_runs(runs, {"q1": {"id": " q1 ", "status": "completed"}})
    assert list(read_runs(runs)) == ["q1"]  # the record is found again, not duplicated


def test_every_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"id": 1, "prompt": "fine?"}\n'
        "not json\n"
        '["a", "list"]\n'
        '{"id": 2, "prompt": "   "}\n'
        '{"id": 1, "prompt": "again?"}\n'
        '{"prompt": "no id?"}\n'
        '{"id": 3, "text": "no prompt"}\n'
    )
    with pytest.raises(UsageError) as caught:
        read_questions(path, ResearchConfig())
    lines = str(caught.value).splitlines()
    assert lines[0] == f"{path} has 6 bad lines:"
    assert [line.split(": ", 1)[0] for line in lines[1:]] == [f"{path}:{n}" for n in range(2, 8)]
    assert "duplicate id '1' (first on line 1)" in lines[4]


def test_bad_lines_past_the_limit_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text("nope\n" * (MAX_PROBLEMS_SHOWN + 5))
    with pytest.raises(UsageError) as caught:
        read_questions(path, ResearchConfig())
    lines = str(caught.value).splitlines()
    assert lines[0] == f"{path} has {MAX_PROBLEMS_SHOWN + 5} bad lines:"
    assert len(lines) == 1 + MAX_PROBLEMS_SHOWN + 1
    assert lines[-1] == "  ... and 5 more bad line(s)"
