"""The corpus reader (search/documents/files.py). A corpus folder is untrusted:
nothing outside the configured folders, no special file, no configured secret ever becomes a
passage (issue 18, item 1). And its rules exactly: the size cap, a file that grows or is replaced
between listing and reading, a symlink into a sibling folder whose name merely starts like the
corpus folder's, hidden entries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from search.documents import files
from search.documents.files import SkipFile, list_files, read_bytes
from search.documents.secrets import Secret
from search.local_index import CorpusError, LocalIndex
from tests.support.paths import ROOT

_CANARY = "CANARY-KEY-12345"
_OUTSIDE = "OUTSIDE-SECRET-777 the launch code"
_GOOD = "# Kestrels\n\nKestrels hover in the wind while hunting voles over meadows.\n"

# Runs in a fresh process, so that /proc/self/environ really holds the canary key.
_INDEX_AND_SEARCH = """
import json, os, sys
from search.local_provider import LocalSearch
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
        cwd=ROOT,
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


# ---------------- the reader's rules: the size cap, files that change after listing, hidden entries


SUFFIXES = frozenset({".md", ".txt"})


def listed(root: Path, max_bytes: int = 1000) -> tuple[dict[str, int], dict[str, str]]:
    listing = list_files([root.resolve()], SUFFIXES, max_bytes=max_bytes)
    return {f.rel: f.size for f in listing.files}, {s.rel: s.reason for s in listing.skipped}


def test_the_size_cap_is_exact(tmp_path: Path) -> None:
    (tmp_path / "at.md").write_bytes(b"a" * 1000)
    (tmp_path / "over.md").write_bytes(b"a" * 1001)
    files, skipped = listed(tmp_path)
    assert files == {"at.md": 1000}
    assert skipped == {"over.md": "too large (1001 B > 1000 B cap)"}


def test_a_file_that_grows_past_the_cap_after_listing_is_not_read_whole(tmp_path: Path) -> None:
    grows = tmp_path / "grows.md"
    grows.write_bytes(b"a" * 900)
    listing = list_files([tmp_path.resolve()], SUFFIXES, max_bytes=1000)
    (file,) = listing.files
    with grows.open("ab") as fh:
        fh.write(b"b" * 100)  # exactly the cap: still read
    assert read_bytes(file, max_bytes=1000) == b"a" * 900 + b"b" * 100
    with grows.open("ab") as fh:
        fh.write(b"c")  # one byte over
    with pytest.raises(SkipFile, match=r"over the .* cap when read"):
        read_bytes(file, max_bytes=1000)


def test_a_file_replaced_after_listing_is_not_read(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("listed text")
    (file,) = list_files([tmp_path.resolve()], SUFFIXES).files
    new = tmp_path / "new.tmp"
    new.write_text("other text!")
    os.replace(new, doc)
    with pytest.raises(SkipFile) as caught:
        read_bytes(file)
    assert str(caught.value) == "replaced after listing"


def test_a_symlink_into_a_sibling_folder_with_the_same_prefix_is_outside(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    private = tmp_path / "docs-private"
    corpus.mkdir()
    private.mkdir()
    (private / "secret.md").write_text("do not index")
    (corpus / "link.md").symlink_to(private / "secret.md")
    (corpus / "inside.md").write_text("fine")
    (corpus / "alias.md").symlink_to(corpus / "inside.md")
    files, skipped = listed(corpus)
    assert set(files) == {"inside.md", "alias.md"}
    assert skipped == {"link.md": "symlink leads outside the corpus folders"}


def test_hidden_files_and_folders_are_not_listed(tmp_path: Path) -> None:
    (tmp_path / ".env.md").write_text("hidden")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "notes.md").write_text("hidden")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".draft.txt").write_text("hidden")
    (tmp_path / "sub" / "seen.txt").write_text("seen")
    files, skipped = listed(tmp_path)
    assert files == {"sub/seen.txt": 4} and skipped == {}


def test_a_symlink_into_proc_is_skipped_for_that_reason(tmp_path: Path) -> None:
    (tmp_path / "env.md").symlink_to("/proc/self/environ")
    (tmp_path / "ok.md").write_text("fine")
    files, skipped = listed(tmp_path)
    assert files == {"ok.md": 4}
    assert skipped == {"env.md": "on a kernel pseudo file system (proc)"}


def test_a_symlink_through_a_file_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "ok.md").write_text("fine")
    (tmp_path / "bad.md").symlink_to(tmp_path / "ok.md" / "child")
    assert listed(tmp_path)[1] == {"bad.md": "cannot be read (Not a directory)"}


def test_a_file_deleted_after_listing_cannot_be_read(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("listed")
    (file,) = list_files([tmp_path.resolve()], SUFFIXES).files
    doc.unlink()
    with pytest.raises(SkipFile) as caught:
        read_bytes(file)
    assert str(caught.value) == "cannot be read (No such file or directory)"


def test_a_file_swapped_for_a_symlink_after_listing_says_so(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("listed")
    (tmp_path / "other.md").write_text("other")
    (file,) = [f for f in list_files([tmp_path.resolve()], SUFFIXES).files if f.rel == "doc.md"]
    doc.unlink()
    doc.symlink_to(tmp_path / "other.md")
    with pytest.raises(SkipFile) as caught:
        read_bytes(file)
    assert str(caught.value) == "replaced by a symlink after listing"


def test_files_over_a_mebibyte_are_read_whole_and_the_cap_holds_across_reads(
    tmp_path: Path,
) -> None:
    big = tmp_path / "big.txt"
    data = bytes(range(256)) * (3 * 4096 + 5)  # about 3 MiB: several reads
    big.write_bytes(data)
    (file,) = list_files([tmp_path.resolve()], SUFFIXES, max_bytes=8 << 20).files
    assert read_bytes(file, max_bytes=8 << 20) == data
    with pytest.raises(SkipFile, match=r"over the 2\.0 MiB cap when read"):
        read_bytes(file, max_bytes=2 << 20)


def test_listing_names_nested_files_and_skips_by_suffix_and_excluded_folder(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.py").write_text("not indexed")
    (tmp_path / "b.md").write_text("indexed")
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "sub" / "deeper" / "c.txt").write_text("nested")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "d.md").write_text("the cache's own")
    listing = list_files([tmp_path.resolve()], SUFFIXES, exclude=(tmp_path / "cache").resolve())
    assert [f.rel for f in listing.files] == ["b.md", "sub/deeper/c.txt"]


def test_skipped_entries_of_several_folders_are_named_with_their_folder(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    (one / "real").mkdir(parents=True)
    two.mkdir()
    (one / "x.md").write_text("x")
    (one / "linked").symlink_to(one / "real", target_is_directory=True)
    os.mkfifo(two / "pipe.md")
    listing = list_files([one.resolve(), two.resolve()], SUFFIXES)
    assert {s.rel: s.reason for s in listing.skipped} == {
        "one/linked": "folder symlink (not followed)",
        "two/pipe.md": "not a regular file (a fifo)",
    }


def test_a_corpus_folder_whose_name_ends_in_a_space_keeps_its_inside_links(tmp_path: Path) -> None:
    corpus = tmp_path / "docs "
    corpus.mkdir()
    (corpus / "a.md").write_text("fine")
    (corpus / "b.md").symlink_to(corpus / "a.md")
    assert set(listed(corpus)[0]) == {"a.md", "b.md"}
