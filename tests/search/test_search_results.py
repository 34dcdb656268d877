"""What a local search returns and prints: no passage twice in any result list, however many
indexed folders hold its text (issue 28, duplicates across sources), and corpus names printed
inert by `client.py search` and `client.py index` (issue 26 item 6)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from search.local_index import LocalIndex
from search.local_provider import LocalSearch
from testing.processes import run_client_py

_FILLER = (
    " Keep notes of every inspection: the date, the weather, the frames seen, the temper of the"
    " bees, and what was done, so that the next visit starts from what the last one found."
) * 3
GUIDE = f"""# Beekeeping guide

## Varroa

Varroa mites are treated with oxalic acid in winter, when the colony has no brood.{_FILLER}

## Swarming

A colony swarms in spring; clipping the queen's wing and splitting the hive prevent it.{_FILLER}

## Honey

Honey is extracted once the frames are capped; varroa treatment waits for the harvest.{_FILLER}
"""
OTHER = "# Notes\n\nOxalic acid vapour is one varroa treatment among several.\n"


def _texts(hits: list) -> list[str]:
    return [" ".join(h.passage.text.split()) for h in hits]


@pytest.fixture
def three_folders(tmp_path: Path) -> list[Path]:
    """The same guide in three folders: same name twice, then renamed in a sub-folder."""
    one, two, three = (tmp_path / n for n in ("one", "two", "three"))
    for folder in (one, two, three / "archive"):
        folder.mkdir(parents=True)
    (one / "guide.md").write_text(GUIDE)
    (one / "notes.md").write_text(OTHER)
    shutil.copy(one / "guide.md", two / "guide.md")
    # Another spelling of the same text: whitespace does not make a passage new.
    (three / "archive" / "old-guide.md").write_text(GUIDE.replace(" ", "  "))
    return [one, two, three]


@pytest.mark.parametrize("k", [1, 2, 3, 5, 10, 100])
def test_no_passage_comes_back_twice_from_several_folders(
    three_folders: list[Path], tmp_path: Path, k: int
) -> None:
    index = LocalIndex.open(three_folders, tmp_path / "cache")
    passages = index.passages()
    distinct = {" ".join(f"{p.title} {p.text}".split()).lower() for p in passages}
    assert len(distinct) >= 4 and len(passages) > len(distinct)  # every copy is indexed...

    for query in ("varroa oxalic acid", "colony", "honey harvest swarms", "beekeeping"):
        hits = index.search(query, k)
        texts = _texts(hits)
        assert len(texts) == len(set(texts)), f"{query!r} k={k}: {texts}"  # ...found once
        assert len({h.passage.id for h in hits}) == len(hits)
        # The distinct passages are all there, up to k.
        matching = [t for t in distinct if any(w in t for w in query.split())]
        assert len(hits) == min(k, len(matching)), f"{query!r} k={k}"


def test_copies_crowding_the_candidates_do_not_shrink_the_top_k(tmp_path: Path) -> None:
    """Twelve copies of the best passage rank above the next one: it still makes the top 2."""
    folders = []
    for number in range(12):
        folder = tmp_path / f"copy{number}"
        folder.mkdir()
        (folder / "best.md").write_text("# Best\n\nvarroa varroa oxalic acid oxalic acid.\n")
        folders.append(folder)
    (folders[0] / "weaker.md").write_text("# Weaker\n\nA line on varroa, among other words.\n")

    hits = LocalIndex.open(folders, tmp_path / "cache").search("varroa oxalic acid", k=2)

    assert [h.passage.title for h in hits] == ["Best", "Weaker"]


async def test_the_provider_returns_no_duplicate_results(
    three_folders: list[Path], tmp_path: Path
) -> None:
    env = {
        "TTDR_CORPUS": os.pathsep.join(map(str, three_folders)),
        "TTDR_CACHE_DIR": str(tmp_path / "cache"),
    }
    search = LocalSearch.from_env(env)
    try:
        results = await search.search("varroa oxalic acid treatment", 10)
        distinct = {" ".join(p.text.split()) for p in search.index.passages()}
    finally:
        await search.aclose()
    texts = [" ".join(r.text.split()) for r in results]
    matching = {t for t in distinct if "varroa" in t.lower() or "oxalic" in t.lower()}
    assert len(texts) == len(set(texts)) == len(matching) >= 3
    assert len({r.id for r in results}) == len(results)


async def test_client_search_lists_each_passage_once(
    three_folders: list[Path], tmp_path: Path
) -> None:
    env = {**_clean_env(), "TTDR_CACHE_DIR": str(tmp_path / "cache")}
    corpus = [arg for folder in three_folders for arg in ("--corpus", str(folder))]
    code, out, err = await run_client_py("search", "varroa", *corpus, "-k", "10", env=env)
    assert code == 0, err
    hits = [line for line in out.splitlines() if line[:1].isdigit()]
    first_lines = [line for line in out.splitlines() if line.startswith("    ")]
    assert len(hits) >= 3 and len(first_lines) == len(hits)
    assert len(set(first_lines)) == len(first_lines)  # each passage once


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("TTDR_", "OPENAI_"))}


async def test_file_names_and_titles_are_printed_inert(tmp_path: Path) -> None:
    """ESC/CSI sequences and newlines reached the terminal; `root:x:0:0` became `root❌0:0`."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    hostile = "e\x1b[31mvil\x1b]0;pwned\x07\nroot:x:0:0 [bold]x[red] \u202egnp.md"
    (corpus / hostile).write_text("# Title :x: \x1b[2J\n\nKestrels hover over meadows.\n")
    (corpus / "junk\x1b[5m.md").write_bytes(bytes(range(256)) * 8)
    env = {**_clean_env(), "TTDR_CACHE_DIR": str(tmp_path / "cache")}

    code, out, err = await run_client_py("search", "kestrels", "--corpus", str(corpus), env=env)

    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    lines = out.splitlines()
    assert lines[1].endswith(
        "  e\\x1b[31mvil\\x1b]0;pwned\\x07\\nroot:x:0:0 [bold]x[red] \\u202egnp.md,"
        " section Title :x: [2J — Title :x: [2J"  # the reader made the title's ESC a space
    )
    assert len(lines) == 3  # the skipped-files note, the hit, its first line

    code, out, err = await run_client_py("index", "--corpus", str(corpus), env=env)
    assert code == 0, err
    assert "\x1b" not in out
    assert "  junk\\x1b[5m.md: binary content, not text (NUL bytes)" in out.splitlines()
