"""A corpus folder is untrusted: nothing outside the configured folders, no special file, no
configured secret ever becomes a passage (issue 18, item 1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from activities.search.documents import files
from activities.search.documents.secrets import Secret
from activities.search.local_index import CorpusError, LocalIndex

_REPO = Path(__file__).resolve().parents[1]
_CANARY = "CANARY-KEY-12345"
_OUTSIDE = "OUTSIDE-SECRET-777 the launch code"
_GOOD = "# Kestrels\n\nKestrels hover in the wind while hunting voles over meadows.\n"

# Runs in a fresh process, so that /proc/self/environ really holds the canary key.
_INDEX_AND_SEARCH = """
import json, os, sys
from activities.search.local_provider import LocalSearch
search = LocalSearch.from_env(os.environ)
index = search._index
hits = index.search(sys.argv[1], k=10)
print(json.dumps({
    "texts": [h.passage.text for h in hits],
    "skipped": {s.rel: s.reason for s in index.skipped},
}))
"""


def _leaky_corpus(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(_OUTSIDE + "\n")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "kestrels.md").write_text(_GOOD)
    (corpus / "env.md").symlink_to("/proc/self/environ")
    (corpus / "leak.md").symlink_to(outside / "secret.txt")
    return corpus


def _cache_text(cache: Path) -> str:
    return "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in cache.rglob("*") if p.is_file()
    )


def test_symlinks_to_proc_and_outside_files_are_not_indexed(tmp_path: Path) -> None:
    corpus = _leaky_corpus(tmp_path)
    cache = tmp_path / "cache"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "TTDR_CORPUS": str(corpus),
        "TTDR_CACHE_DIR": str(cache),
        "TTDR_LLM_API_KEY": _CANARY,
    }
    query = f"TTDR_LLM_API_KEY {_CANARY} OUTSIDE-SECRET-777 launch code kestrels"
    done = subprocess.run(
        [sys.executable, "-c", _INDEX_AND_SEARCH, query],
        cwd=_REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout)

    assert result["texts"] and all("Kestrels" in t for t in result["texts"])
    assert result["skipped"] == {
        "env.md": "on a kernel pseudo file system (proc)",
        "leak.md": "symlink leads outside the corpus folders",
    }
    # One warning line per skipped file, naming it and the reason.
    warnings = [line for line in done.stderr.splitlines() if "skipped " in line]
    assert len(warnings) == 2, done.stderr
    assert any("env.md: on a kernel pseudo file system" in w for w in warnings)
    assert any("leak.md: symlink leads outside the corpus folders" in w for w in warnings)
    cached = _cache_text(cache)
    assert "Kestrels hover" in cached  # the cache was written, with the good file in it
    assert _CANARY not in cached
    assert "OUTSIDE-SECRET-777" not in cached
    assert _CANARY not in done.stdout and "OUTSIDE-SECRET-777" not in done.stdout


def test_symlink_inside_the_corpus_is_followed_loops_and_folder_links_are_not(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "sub" / "kestrels.md").write_text(_GOOD)
    (corpus / "alias.md").symlink_to(corpus / "sub" / "kestrels.md")
    (corpus / "loop-a.md").symlink_to(corpus / "loop-b.md")
    (corpus / "loop-b.md").symlink_to(corpus / "loop-a.md")
    (corpus / "self.md").symlink_to(corpus / "self.md")
    (corpus / "dangling.md").symlink_to(corpus / "missing.md")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "far.md").write_text("# Far\n\nOUTSIDE-SECRET-777 far away.\n")
    (corpus / "linked-folder").symlink_to(tmp_path / "elsewhere")

    index = LocalIndex.open([corpus], tmp_path / "cache")

    assert {s.rel: s.reason for s in index.skipped} == {
        "linked-folder": "folder symlink (not followed)",
        "loop-a.md": "symlink loop",
        "loop-b.md": "symlink loop",
        "self.md": "symlink loop",
        "dangling.md": "broken symlink",
    }
    indexed = {Path(p.source_path).name for p in index.passages()}
    assert indexed == {"kestrels.md", "alias.md"}
    # The same text twice is one search result (issue 28: no duplicates in the top k).
    found = [Path(h.passage.source_path).name for h in index.search("kestrels voles", k=5)]
    assert found == ["alias.md"]
    assert index.search("OUTSIDE-SECRET-777 far away") == []


def test_fifo_huge_and_junk_files_are_skipped_without_blocking(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "kestrels.md").write_text(_GOOD)
    os.mkfifo(corpus / "pipe.md")  # opening it for reading would block forever
    huge = corpus / "huge.txt"
    with huge.open("wb") as fh:
        fh.truncate(2 * 1024 * 1024)  # sparse: no disk used
    index = LocalIndex.open([corpus], tmp_path / "cache", max_file_bytes=1024 * 1024)
    assert {s.rel: s.reason for s in index.skipped} == {
        "pipe.md": "not a regular file (a fifo)",
        "huge.txt": "too large (2.0 MiB > 1.0 MiB cap)",
    }
    assert index.passage_count == 1


def test_a_file_holding_a_configured_secret_value_is_skipped(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "kestrels.md").write_text(_GOOD)
    (corpus / "notes.md").write_text(f"# Setup\n\nexport TTDR_LLM_API_KEY={_CANARY}\n")
    cache = tmp_path / "cache"
    index = LocalIndex.open([corpus], cache, secrets=(Secret("TTDR_LLM_API_KEY", _CANARY),))
    assert {s.rel: s.reason for s in index.skipped} == {
        "notes.md": "contains the value of the configured secret TTDR_LLM_API_KEY"
    }
    assert _CANARY not in _cache_text(cache)
    reopened = LocalIndex.open([corpus], cache, secrets=(Secret("TTDR_LLM_API_KEY", _CANARY),))
    assert not reopened.rebuilt
    assert [s.rel for s in reopened.skipped] == ["notes.md"]  # still reported from the cache


def test_folders_on_kernel_pseudo_file_systems_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="pseudo file system"):
        LocalIndex.open([Path("/proc/self")], tmp_path / "cache")


def test_a_file_swapped_for_a_symlink_after_listing_is_not_read(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    target = corpus / "doc.md"
    target.write_text(_GOOD)
    listing = files.list_files([corpus.resolve()], frozenset({".md"}))
    [listed] = listing.files
    target.unlink()
    target.symlink_to("/proc/self/environ")
    with pytest.raises(files.SkipFile, match="replaced by a symlink"):
        files.read_bytes(listed)
    target.unlink()
    os.mkfifo(target)
    with pytest.raises(files.SkipFile, match="not a regular file"):
        files.read_bytes(listed)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway")
def test_an_unreadable_file_is_skipped(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "kestrels.md").write_text(_GOOD)
    locked = corpus / "locked.md"
    locked.write_text("# Locked\n\nNobody may read this.\n")
    locked.chmod(0)
    index = LocalIndex.open([corpus], tmp_path / "cache")
    assert {s.rel: s.reason for s in index.skipped} == {
        "locked.md": "cannot be read (Permission denied)"
    }
