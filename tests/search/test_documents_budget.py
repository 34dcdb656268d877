"""A hostile file costs its own passages and a bounded time and memory, never the index
(issue 26 items 1, 7, 8): the readers' quadratic cases are gone, every file is read under a
per-file time and memory budget, and hard links and empty corpus entries are refused."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bench.hostile_documents import docx_paragraphs, xlsx_sparse
from common.settings import SharedSettings
from search.documents import registry
from search.documents.budget import FileBudget
from search.local_index import CorpusError, LocalIndex
from search.local_provider import budget_of, corpus_roots_from_env
from testing.processes import run_client_py

GOOD = "# Kestrels\n\nKestrels hover in the wind while hunting voles over meadows.\n"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TTDR_", "OPENAI_"))}
    return {**env, "TTDR_CACHE_DIR": str(tmp_path / "cache"), **extra}


def test_a_docx_of_20000_one_word_paragraphs_is_read_in_seconds_with_its_headings() -> None:
    """It took 44 s (python-docx looked each paragraph's style up among all styles)."""
    data = docx_paragraphs(20_000)  # 38 KB: every other paragraph is a Heading 2
    started = time.perf_counter()
    document = registry.parse(".docx", data)
    elapsed = time.perf_counter() - started

    assert elapsed < 15, f"{elapsed:.1f} s (was 44 s on an idle machine)"
    text = document.sections[0].text
    assert text.startswith("w0\n") and "\n### w1\n" in text and "\n### w19999\n" in text


def test_a_sheet_claiming_a_million_rows_and_16384_columns_is_read_in_seconds() -> None:
    """openpyxl pads every made-up row to the claimed width: 49 s for a 1.5 KB file."""
    started = time.perf_counter()
    document = registry.parse(".xlsx", xlsx_sparse())
    elapsed = time.perf_counter() - started

    assert elapsed < 20, f"{elapsed:.1f} s (was 49 s on an idle machine)"
    assert document.sections[0].rows == ((1, "header"),)  # the far cell is past 64 columns


def test_a_file_over_the_time_budget_is_skipped_counted_and_not_read_again(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a-slow.docx").write_bytes(docx_paragraphs(100_000))
    (corpus / "b-kestrels.md").write_text(GOOD)
    cache = tmp_path / "cache"

    index = LocalIndex.open([corpus], cache, budget=FileBudget(seconds=0.3))

    assert {s.rel: s.reason for s in index.skipped} == {
        "a-slow.docx": "over the reading budget: not read in 0.3 s of CPU time "
        "(TTDR_INDEX_FILE_SECONDS)"
    }
    assert index.files_by_format == {"Markdown": 1}  # the next file got a fresh reader
    assert index.search("kestrels voles", k=1)[0].passage.rel_path == "b-kestrels.md"
    again = LocalIndex.open([corpus], cache, budget=FileBudget(seconds=0.3))
    assert not again.rebuilt and [s.rel for s in again.skipped] == ["a-slow.docx"]


def test_a_file_over_the_memory_budget_is_skipped_with_its_reason(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a-big.docx").write_bytes(docx_paragraphs(200_000))  # ~200 MiB once parsed
    (corpus / "b-kestrels.md").write_text(GOOD)

    index = LocalIndex.open([corpus], tmp_path / "cache", budget=FileBudget(memory_mib=48))

    assert {s.rel: s.reason for s in index.skipped} == {
        "a-big.docx": "over the reading budget: needs more than 48 MiB (TTDR_INDEX_FILE_MEMORY_MB)"
    }
    assert index.search("kestrels", k=1)[0].passage.rel_path == "b-kestrels.md"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TTDR_INDEX_FILE_SECONDS", "0"),
        ("TTDR_INDEX_FILE_SECONDS", "soon"),
        ("TTDR_INDEX_FILE_SECONDS", "١٢٠"),
        ("TTDR_INDEX_FILE_MEMORY_MB", "1e3"),
        ("TTDR_INDEX_FILE_MEMORY_MB", "8"),
    ],
)
async def test_a_bad_budget_setting_is_one_line_and_exit_2(
    tmp_path: Path, name: str, value: str
) -> None:
    (tmp_path / "k.md").write_text(GOOD)
    env = _env(tmp_path, **{name: value})
    code, _, err = await run_client_py("index", "--corpus", str(tmp_path), env=env)
    assert code == 2
    # The client's settings model refuses it at start (common/settings/), value quoted.
    assert err.strip().startswith(f"error: {name} must be a")
    assert err.strip().endswith(f"(got {value!r})")
    assert len(err.strip().splitlines()) == 1


def test_a_hard_linked_file_is_skipped_with_the_reason(tmp_path: Path) -> None:
    """`ln /etc/passwd corpus/x.txt` made a file outside the corpus searchable."""
    outside = tmp_path / "outside.txt"
    outside.write_text("OUTSIDE-SECRET-777 root:x:0:0 the launch code\n")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "kestrels.md").write_text(GOOD)
    os.link(outside, corpus / "x.txt")

    index = LocalIndex.open([corpus], tmp_path / "cache")

    assert {s.rel: s.reason for s in index.skipped} == {
        "x.txt": "hard link (2 names for one file; could be a file from outside the corpus)"
    }
    assert index.search("OUTSIDE-SECRET-777 launch code") == []


@pytest.mark.parametrize("value", [":", "::", "docs:", ":docs", "a::b", " : "])
def test_an_empty_ttdr_corpus_entry_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(CorpusError, match="has an empty entry: name each folder"):
        corpus_roots_from_env({"TTDR_CORPUS": value}, tmp_path)


async def test_an_empty_corpus_option_and_setting_are_refused_alike(tmp_path: Path) -> None:
    """`--corpus ""` indexed the current folder while TTDR_CORPUS=":" was refused."""
    env = _env(tmp_path)
    code, out, err = await run_client_py("index", "--corpus", "", env=env)
    assert (code, out) == (2, "")
    assert err.strip() == (
        "error: --corpus is empty: name a folder to index (or leave --corpus out)"
    )
    code, out, err = await run_client_py("search", "x", env={**env, "TTDR_CORPUS": ":"})
    assert (code, out) == (2, "")
    assert err.strip().startswith("error: TTDR_CORPUS=':' has an empty entry")
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "cache").exists()  # nothing was indexed


def test_an_index_opened_without_settings_reads_with_the_workers_default_budget() -> None:
    """LocalIndex.open's FileBudget() and a worker with no TTDR_INDEX_FILE_* read alike."""
    assert FileBudget() == budget_of(SharedSettings.load({}))
