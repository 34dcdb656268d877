"""The files of `client.py batch`: the questions in, the articles and run records out (pure I/O,
nothing contacted).

In: JSON Lines with `{"id", "prompt"}` per line (DeepResearch Bench's
`data/prompt_data/query.jsonl`; other fields are ignored) or a CSV with a `prompt` or `query`
column (DeepConsult's queries file) and an optional `id` column (default: the row number).
Every problem is a UsageError naming the line, raised before anything starts.

Out: OUT.jsonl gets one `{"id", "prompt", "article"}` line per completed question — the file
DeepResearch Bench scores (`data/test_data/raw_data/<model>.jsonl`) — appended with one write
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

from cli.errors import UsageError
from cli.request import first_validation_problem
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest

MAX_QUESTIONS = 10_000
MAX_ID_CHARS = 200
# The batch's first run carries every prompt in its input (one Temporal payload, 2 MB at most).
MAX_PROMPT_BYTES_TOTAL = 1_500_000


@dataclass(frozen=True)
class InputQuestion:
    id: str  # as the workflow ids use it
    original_id: Any  # as the input file has it (DeepResearch Bench uses integers)
    prompt: str
    line: int


def read_questions(path: Path, config: ResearchConfig) -> list[InputQuestion]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None
    rows = _csv_rows(path, text) if _is_csv(path, text) else _jsonl_rows(path, text)
    questions: list[InputQuestion] = []
    first_line: dict[str, int] = {}
    for line, raw_id, prompt in rows:
        where = f"{path}:{line}"
        if raw_id is None or isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
            raise UsageError(f'{where}: "id" must be a string or an integer')
        qid = str(raw_id).strip()
        if not qid or len(qid) > MAX_ID_CHARS or any(ch in qid for ch in "\n\r\t"):
            raise UsageError(f"{where}: id {qid!r} is empty, too long or has control characters")
        if qid in first_line:
            raise UsageError(f"{where}: duplicate id {qid!r} (first on line {first_line[qid]})")
        if not isinstance(prompt, str) or not prompt.strip():
            raise UsageError(f"{where}: the prompt is empty")
        try:
            ResearchRequest(question=prompt, config=config)
        except ValidationError as err:
            raise UsageError(f"{where}: invalid prompt: {first_validation_problem(err)}") from None
        first_line[qid] = line
        questions.append(InputQuestion(qid, raw_id, prompt.strip(), line))
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


def _jsonl_rows(path: Path, text: str) -> list[tuple[int, Any, Any]]:
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as err:
            raise UsageError(f"{path}:{number}: not valid JSON ({err.msg})") from None
        if not isinstance(item, dict):
            raise UsageError(f"{path}:{number}: expected a JSON object with id and prompt")
        if "prompt" not in item:
            raise UsageError(f'{path}:{number}: no "prompt" field')
        if "id" not in item:
            raise UsageError(f'{path}:{number}: no "id" field')
        rows.append((number, item["id"], item["prompt"]))
    return rows


def _csv_rows(path: Path, text: str) -> list[tuple[int, Any, Any]]:
    reader = csv.DictReader(io.StringIO(text))
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
        raise UsageError(f"{path}:{reader.line_num}: malformed CSV ({err})") from None
    return rows


def default_batch_id(path: Path, questions: list[InputQuestion], config: ResearchConfig) -> str:
    """The same file and config give the same id: running the command again resumes."""
    digest = hashlib.sha256()
    for q in questions:
        digest.update(f"{q.id}\0{q.prompt}\0".encode())
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
        done.add(str(item["id"]))
        offset += len(line)
    return done


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
            runs[str(item["id"])] = item
    return runs


def write_runs(path: Path, runs: dict[str, dict[str, Any]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in runs.values()))
    tmp.replace(path)
