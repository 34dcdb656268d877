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
    with pytest.raises(SkipFile, match="replaced after listing"):
        read_bytes(file)


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
