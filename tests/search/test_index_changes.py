"""The local index's change detection, one component of a file's key and signature at a time:
what is re-read, what is dropped, what is kept (search/index_store.py; a file is
keyed by (folder, relative path) and changed when size, mtime, ctime or inode differ).

tests/search/test_local_search.py covers an edit, an addition, a removal and a
same-size-same-mtime rewrite; these are the other ways a file changes without its size changing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from search import local_index
from search.documents.secrets import Secret
from search.local_index import LocalIndex

TIDES = "Ocean tides rise and fall with the gravitational pull of the Moon and the Sun.\n"
GLACIER = "A glacier is a persistent body of dense ice that moves under its own weight.\n"


def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the index reads from now on (by display name)."""
    read: list[str] = []
    real = local_index.SandboxedReader.extract  # the parent's side of the reader process

    def counting(reader: object, file: object, display: str, *args: object) -> object:
        read.append(display)
        return real(reader, file, display, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(local_index.SandboxedReader, "extract", counting)
    return read


def counts(index: LocalIndex) -> tuple[int, int, int]:
    return index.refresh.added, index.refresh.changed, index.refresh.removed


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "tides.txt").write_text(TIDES)
    (root / "glacier.txt").write_text(GLACIER)
    return root


def test_touching_a_file_rereads_it_and_changes_nothing_else(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = LocalIndex.open([corpus], cache)
    before = {h.passage.id: h.passage.text for h in first.search("tides glacier ice moon", k=10)}
    read = reads(monkeypatch)
    tides = corpus / "tides.txt"
    stat = tides.stat()
    os.utime(tides, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # mtime only

    touched = LocalIndex.open([corpus], cache)
    assert read == ["tides.txt"]
    assert counts(touched) == (0, 1, 0)
    after = {h.passage.id: h.passage.text for h in touched.search("tides glacier ice moon", k=10)}
    assert after == before  # same text, same ids
    assert counts(LocalIndex.open([corpus], cache)) == (0, 0, 0) and read == ["tides.txt"]


def test_an_atomic_save_with_the_same_size_and_mtime_is_seen(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Editors save by writing a new file and renaming it over the old one: a new inode."""
    cache = tmp_path / "cache"
    LocalIndex.open([corpus], cache)
    tides = corpus / "tides.txt"
    stat = tides.stat()
    new = corpus / ".tides.txt.swp-new"
    new.write_text(TIDES.replace("Moon", "Mars"))
    os.utime(new, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(new, tides)
    assert (tides.stat().st_size, tides.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    assert tides.stat().st_ino != stat.st_ino
    read = reads(monkeypatch)

    index = LocalIndex.open([corpus], cache)
    assert read == ["tides.txt"] and counts(index) == (0, 1, 0)
    assert "Mars" in index.search("gravitational pull", k=1)[0].passage.text


def test_a_renamed_file_is_dropped_under_its_old_name_and_read_under_the_new(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    LocalIndex.open([corpus], cache)
    read = reads(monkeypatch)
    (corpus / "tides.txt").rename(corpus / "ocean-tides.txt")  # same inode, size, mtime

    index = LocalIndex.open([corpus], cache)
    assert read == ["ocean-tides.txt"] and counts(index) == (1, 0, 1)
    hits = index.search("gravitational pull moon", k=5)
    assert [Path(h.passage.source_path).name for h in hits] == ["ocean-tides.txt"]
    assert index.passage_count == 2


def test_the_same_name_in_two_folders_is_two_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder is part of a file's key: a change in one never stands for the other."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "notes.txt").write_text(TIDES)
    (two / "notes.txt").write_text(GLACIER)
    cache = tmp_path / "cache"
    first = LocalIndex.open([one, two], cache)
    assert first.passage_count == 2
    read = reads(monkeypatch)
    notes = two / "notes.txt"
    stat = notes.stat()
    notes.write_text(GLACIER.replace("glacier", "iceberg"))
    os.utime(notes, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))

    index = LocalIndex.open([one, two], cache)
    assert len(read) == 1 and counts(index) == (0, 1, 0)
    assert "iceberg" in index.search("dense ice weight", k=1)[0].passage.text
    assert "Moon" in index.search("gravitational pull", k=1)[0].passage.text
    # An index of the first folder alone has its file only, not the other of the same name.
    only_one = LocalIndex.open([one], tmp_path / "cache")
    assert only_one.search("dense ice weight") == []
    assert "Moon" in only_one.search("gravitational pull", k=1)[0].passage.text


def test_nothing_changed_reads_nothing(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    LocalIndex.open([corpus], cache)
    read = reads(monkeypatch)
    again = LocalIndex.open([corpus], cache)
    assert read == [] and counts(again) == (0, 0, 0) and again.refresh.processed == 0


def test_progress_counts_the_files_read_by_name(corpus: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int, str]] = []
    LocalIndex.open([corpus], tmp_path / "cache", progress=lambda *a: seen.append(a))
    assert seen == [(1, 2, "glacier.txt"), (2, 2, "tides.txt")]
    (corpus / "tides.txt").write_text(TIDES + "More.\n")
    seen.clear()
    LocalIndex.open([corpus], tmp_path / "cache", progress=lambda *a: seen.append(a))
    assert seen == [(1, 1, "tides.txt")]


def test_a_refresh_reports_the_files_it_skipped_when_reading_them(
    corpus: Path, tmp_path: Path
) -> None:
    secret = Secret(name="TTDR_TEST_TOKEN", value="tok-0123456789abcdef")
    (corpus / "leak.txt").write_text(f"The token is {secret.value}.\n")
    index = LocalIndex.open([corpus], tmp_path / "cache", secrets=(secret,))
    assert [s.rel for s in index.refresh.skipped] == ["leak.txt"]
    assert counts(index) == (3, 0, 0) and index.passage_count == 2
    (corpus / "glacier.txt").write_text(GLACIER + "Again.\n")
    again = LocalIndex.open([corpus], tmp_path / "cache", secrets=(secret,))
    assert again.refresh.skipped == [] and counts(again) == (0, 1, 0)
