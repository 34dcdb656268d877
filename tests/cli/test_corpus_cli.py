"""`client.py index` and `client.py search` on a folder of documents (no Temporal, no LLM)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from testing.processes import run_client_py
from tests.support.sample_documents import pdf_bytes, write_pptx


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "kestrels.md").write_text(
        "# Kestrels\n\nKestrels hover in the wind while hunting voles over meadows.\n"
    )
    (root / "reactor.pdf").write_bytes(
        pdf_bytes(["Overview page.", "The Zorblat reactor runs on crystallised moonwater."])
    )
    write_pptx(root / "deck.pptx", [("Results", "Velvet Hammer cut latency by 73 percent.")])
    (root / "junk.md").write_bytes(bytes(range(256)) * 8)
    return root


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TTDR_", "OPENAI_"))}
    env["TTDR_CACHE_DIR"] = str(tmp_path / "cache")
    return env


async def test_index_prints_formats_passages_skips_and_time(folder: Path, tmp_path: Path) -> None:
    code, out, err = await run_client_py("index", "--corpus", str(folder), env=_env(tmp_path))
    assert code == 0, err
    lines = out.splitlines()
    assert f"index of {folder.resolve()}" in lines
    assert "files: 3 (1 Markdown, 1 PDF, 1 PPTX)" in lines
    assert "passages: 4" in lines
    assert "read now: 4 added, 0 changed, 0 removed" in lines
    assert "skipped: 1 file" in lines
    assert "  junk.md: binary content, not text (NUL bytes)" in lines
    assert any(line.startswith("time: ") and line.endswith(" s") for line in lines)
    assert "junk.md" not in err  # printed once, in the summary

    (folder / "kestrels.md").unlink()
    code, out, _ = await run_client_py("index", "--corpus", str(folder), env=_env(tmp_path))
    assert code == 0
    assert "read now: 0 added, 0 changed, 1 removed" in out.splitlines()
    code, out, _ = await run_client_py("index", "--corpus", str(folder), env=_env(tmp_path))
    assert "read now: 0 added, 0 changed, 0 removed (all from the cache)" in out.splitlines()


async def test_search_prints_ranked_passages_with_their_place(folder: Path, tmp_path: Path) -> None:
    env = _env(tmp_path)
    code, out, err = await run_client_py(
        "search",
        "what does the Zorblat reactor run on",
        "--corpus",
        str(folder),
        "-k",
        "2",
        env=env,
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "(1 file skipped: `client.py index` lists them)"
    assert lines[1].startswith("1. ") and lines[1].endswith("  reactor.pdf, page 2 — reactor")
    assert lines[2] == "    The Zorblat reactor runs on crystallised moonwater."
    code, out, _ = await run_client_py(
        "search", "quasar neutrino", "--corpus", str(folder), env=env
    )
    assert code == 0 and "no passage matches" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "x", "-k", "0"], "error: -k must be between 1 and 100, got 0"),
        (["search", "  "], "error: the query is empty"),
        (["index", "--corpus", "/nonexistent/folder"], "error: folder to index does not exist"),
    ],
)
async def test_bad_input_is_one_line_and_exit_2(
    folder: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    if "--corpus" not in args:
        args = [*args, "--corpus", str(folder)]
    code, _out, err = await run_client_py(*args, env=_env(tmp_path))
    assert code == 2
    assert err.strip().startswith(message)
    assert len(err.strip().splitlines()) == 1
