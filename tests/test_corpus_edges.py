"""The corpus reader's rules at their edges (activities/search/documents/files.py): the size cap
exactly, a file that grows or is replaced between listing and reading, a symlink into a sibling
folder whose name merely starts like the corpus folder's, hidden entries. tests/
test_corpus_security.py covers symlinks out, /proc, fifos, huge files and secrets.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from activities.search.documents.files import SkipFile, list_files, read_bytes

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
