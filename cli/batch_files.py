"""The files of `client.py batch`: the questions in, the articles and run records out (pure I/O,
nothing contacted).

In: JSON Lines with `{"id", "prompt"}` per line (DeepResearch Bench's
`data/prompt_data/query.jsonl`; other fields are ignored) or a CSV with a `prompt` or `query`
column (DeepConsult's queries file) and an optional `id` column (default: the row number).
Every bad line is named (up to MAX_PROBLEMS_SHOWN) in one UsageError, raised before anything
starts. Prompts are kept exactly as read, trailing space included: DeepResearch Bench's RACE finds
an article by its exact prompt (tests/cli/test_batch_files.py runs its lookup over OUT).

Out: OUT.jsonl gets one `{"id", "prompt", "article"}` line per completed question — the file
DeepResearch Bench scores (`data/test_data/raw_data/<model>.jsonl`), the id as the file has it
(FACT looks the language up by id), the article titled with a short title — appended with one write
and an fsync each, so a killed client leaves at most a partial last line, which the next run
cuts off. OUT.runs.jsonl holds one record per question, rewritten whole (temp file + rename).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cli.ids import ID_RULE, id_problem
from cli.request import first_validation_problem
from common.errors import UsageError
from workflows.citing.shown_text import names_as_code
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest

MAX_QUESTIONS = 10_000
# The batch's first run carries every prompt in its input (one Temporal payload, 2 MB at most).
MAX_PROMPT_BYTES_TOTAL = 1_500_000
TITLE_MAX_CHARS = 80
MAX_PROBLEMS_SHOWN = 20  # bad lines named in one error; the rest are counted


@dataclass(frozen=True)
class InputQuestion:
    id: str  # as the workflow ids use it
    original_id: Any  # as the input file has it (DeepResearch Bench uses integers)
    prompt: str
    line: int


class _Problems:
    """Every bad line of an input file, so a user fixes them all in one go (up to a limit)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.found: list[tuple[int, str]] = []

    def add(self, line: int, message: str) -> None:
        self.found.append((line, f"{self.path}:{line}: {message}"))

    def raise_any(self) -> None:
        if not self.found:
            return
        lines = [text for _, text in sorted(self.found)]  # in file order
        if len(lines) == 1:
            raise UsageError(lines[0])
        shown = lines[:MAX_PROBLEMS_SHOWN]
        more = len(lines) - len(shown)
        tail = [f"  ... and {more} more bad line(s)"] if more else []
        raise UsageError("\n".join([f"{self.path} has {len(lines)} bad lines:", *shown, *tail]))


def question_key(raw_id: Any) -> str:
    """The id as workflow ids and OUT's done set use it: the file's id, trimmed. OUT keeps the
    id as the file has it (DRB's integers stay integers), so what is read back from OUT is
    trimmed the same way, or a `" q1 "` would never be seen as done."""
    return str(raw_id).strip()


def read_questions(path: Path, config: ResearchConfig) -> list[InputQuestion]:
    try:
        # Bytes, then UTF-8 (a BOM dropped): read_text would turn a CSV field's \r\n into \n.
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None
    problems = _Problems(path)
    rows = _csv_rows(path, text, problems) if _is_csv(path, text) else _jsonl_rows(text, problems)
    questions: list[InputQuestion] = []
    first_line: dict[str, int] = {}
    for line, raw_id, prompt in rows:
        if raw_id is None or isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
            problems.add(line, '"id" must be a string or an integer')
            continue
        qid = question_key(raw_id)
        if problem := id_problem(qid):  # a child run's id is `<batch id>.<question id>`
            problems.add(line, f"{problem} (allowed: {ID_RULE})")
            continue
        if qid in first_line:
            problems.add(line, f"duplicate id {qid!r} (first on line {first_line[qid]})")
            continue
        first_line[qid] = line
        if not isinstance(prompt, str) or not prompt.strip():
            problems.add(line, "the prompt is empty")
            continue
        try:
            ResearchRequest(question=prompt, config=config)
        except ValidationError as err:
            problems.add(line, f"invalid prompt: {first_validation_problem(err)}")
            continue
        # The prompt exactly as read: DeepResearch Bench's RACE finds an article by its exact
        # prompt (query 52 ends in a space). The research itself gets it trimmed.
        questions.append(InputQuestion(qid, raw_id, prompt, line))
    problems.raise_any()
    if not questions:
        raise UsageError(f"{path} holds no questions")
    if len(questions) > MAX_QUESTIONS:
        raise UsageError(f"{path} holds {len(questions)} questions; split it ({MAX_QUESTIONS} max)")
    if sum(len(q.prompt.encode()) for q in questions) > MAX_PROMPT_BYTES_TOTAL:
        raise UsageError(f"the prompts of {path} exceed {MAX_PROMPT_BYTES_TOTAL} bytes: split it")
    return questions


def _is_csv(path: Path, text: str) -> bool:
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        return False
    return path.suffix.lower() == ".csv" or not text.lstrip().startswith("{")


def _jsonl_rows(text: str, problems: _Problems) -> list[tuple[int, Any, Any]]:
    rows = []
    # "\n" only: str.splitlines() would also split at U+2028 or U+0085 inside a prompt.
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as err:
            problems.add(number, f"not valid JSON ({err.msg})")
            continue
        except RecursionError:
            problems.add(number, "nested too deeply")
            continue
        if not isinstance(item, dict):
            problems.add(number, "expected a JSON object with id and prompt")
        elif "prompt" not in item:
            problems.add(number, 'no "prompt" field')
        elif "id" not in item:
            problems.add(number, 'no "id" field')
        else:
            rows.append((number, item["id"], item["prompt"]))
    return rows


def _csv_rows(path: Path, text: str, problems: _Problems) -> list[tuple[int, Any, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    column = next((c for c in ("prompt", "query") if c in fields), None)
    if column is None:
        raise UsageError(f"{path}: a CSV needs a 'prompt' or 'query' column (found: {fields})")
    rows = []
    try:
        for index, row in enumerate(reader, 1):
            values = {k.strip().lower(): v for k, v in row.items() if k is not None}
            qid = values.get("id") if "id" in fields else str(index)
            rows.append((reader.line_num, qid, values.get(column) or ""))
    except csv.Error as err:
        problems.add(reader.line_num, f"malformed CSV ({err})")  # the rest cannot be read
    return rows


def default_batch_id(path: Path, questions: list[InputQuestion], config: ResearchConfig) -> str:
    """The same file and config give the same id: running the command again resumes."""
    digest = hashlib.sha256()
    for q in questions:  # trimmed, as before prompts were kept exactly: the same ids
        digest.update(f"{q.id}\0{q.prompt.strip()}\0".encode())
    digest.update(config.model_dump_json().encode())
    slug = "-".join(re.findall(r"[a-z0-9]+", path.stem.lower()))[:32] or "questions"
    return f"batch-{slug}-{digest.hexdigest()[:10]}"


# ---------------------------------------------------------------- output


def runs_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".jsonl") + ".runs.jsonl")


def read_done(out: Path) -> set[str]:
    """Ids already in OUT. A partial last line (a client killed mid-write) is cut off; any
    other malformed line is an error, so a foreign file is never appended to."""
    if not out.exists():
        return set()
    try:
        data = out.read_bytes()
    except OSError as err:
        raise UsageError(f"cannot read {out}: {err.strerror}") from None
    done: set[str] = set()
    offset = 0
    for number, line in enumerate(data.splitlines(keepends=True), 1):
        try:
            item = json.loads(line)
            complete = line.endswith(b"\n") and isinstance(item, dict)
        except (json.JSONDecodeError, UnicodeDecodeError):
            complete = False
        if not complete:
            if offset + len(line) == len(data):  # the last line: cut off, written again
                with out.open("r+b") as handle:
                    handle.truncate(offset)
                break
            raise UsageError(f"{out}:{number} is not a JSON object line: not an OUT file?")
        if not {"id", "prompt", "article"} <= item.keys():
            raise UsageError(f"{out}:{number} lacks id/prompt/article: not an OUT file?")
        done.add(question_key(item["id"]))
        offset += len(line)
    return done


# A sentence ends at . ? ! before a space and a word that does not go on in lower case, or at
# the CJK full stop, ? or ! (no space after). Not at a colon: "Research question: ..." would be
# titled "Research question:". Not at an ellipsis inside the sentence: "How does exception
# chaining with raise ... from work in Python?" was titled "How does exception chaining with
# raise ...".
_SENTENCE_END = re.compile("(?<=[.?!])(?<!\\.\\.\\.)\\s+(?![a-z])|(?<=[\u3002\uff1f\uff01])")
_CJK_COMMAS = "\uff0c\u3001"


def short_title(prompt: str, limit: int = TITLE_MAX_CHARS) -> str:
    """A report title from a prompt of up to ~1,000 characters: its first sentence, cut at a
    word (or a CJK comma) before `limit` characters, with "…" when cut."""
    text = " ".join(prompt.split())
    first = _SENTENCE_END.split(text, maxsplit=1)[0].strip()
    if len(first) <= limit:
        return first
    cut = first[: limit - 1]
    boundary = max(cut.rfind(ch) for ch in " " + _CJK_COMMAS)
    if boundary > limit // 2:
        cut = cut[:boundary]
    return cut.rstrip(" ,;:" + _CJK_COMMAS) + "…"


def with_short_title(article: str, prompt: str) -> str:
    """The report titles itself with the whole question; in OUT its H1 is the short title
    (the prompt itself is the line's `prompt` field)."""
    first, newline, rest = article.partition("\n")
    if not first.startswith("# "):
        return article
    return f"# {names_as_code(short_title(prompt))}{newline}{rest}"


def append_article(out: Path, question: InputQuestion, article: str) -> None:
    line = json.dumps(
        {"id": question.original_id, "prompt": question.prompt, "article": article},
        ensure_ascii=False,
    )
    with out.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_runs(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    runs = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue  # a sidecar is rewritten whole; a broken line is only a lost record
        if isinstance(item, dict) and "id" in item:
            runs[question_key(item["id"])] = item
    return runs


def write_runs(path: Path, runs: dict[str, dict[str, Any]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in runs.values()))
    tmp.replace(path)
