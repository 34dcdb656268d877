"""Local-documents search: BM25 over the passages of the files in one or more folders.

This is the product's embedded default search: no network, no service. Files of every format
in documents/registry.py are read safely (documents/files.py), cut into passages with a
citation (documents/extract.py), cached per file in SQLite (index_store.py) and ranked with
BM25 (bm25.py).

Cache layout, under the caller's cache folder::

    local-index-<hash of the resolved roots>/
        index.sqlite                  files (change signatures, skip reasons) and passages
        postings-<generation>/        the BM25 postings of that state (.npy, memory-mapped)

Opening lists the folders, re-reads only the files added or changed since the last refresh
(size, mtime_ns, ctime_ns or inode differ) — each in the budgeted reader process
(documents/sandbox.py) — drops removed ones, and loads the postings. `open_cached` loads the last
refreshed state without reading anything, and every search first takes up any newer state that
another refresh has committed. Passage ids depend only on a file's path relative to its folder,
the passage's place and its text, so workers on other hosts get the same ids from the same files
whatever their cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from search.bm25 import Postings, TermHasher, query_hashes, tokens
from search.documents import registry
from search.documents.budget import FileBudget
from search.documents.extract import Passage
from search.documents.files import (
    DEFAULT_MAX_FILE_BYTES,
    CorpusFile,
    SkippedFile,
    is_pseudo_fs,
    list_files,
)
from search.documents.sandbox import SandboxedReader
from search.documents.secrets import Secret, secret_in
from search.index_store import IndexStore, Progress, Refresh, is_busy
from search.phrases import (
    PHRASE_POOL,
    QueryNames,
    document_name,
    named_documents,
    quoted_definitions,
    quoted_phrases,
)
from search.recent import RecentSearches

logger = logging.getLogger(__name__)

__all__ = ["CorpusError", "LocalIndex", "Passage", "SearchHit"]


class SearchHit(BaseModel):
    """A passage and its BM25 score (higher is better)."""

    model_config = ConfigDict(frozen=True)

    passage: Passage
    score: float


class CorpusError(ValueError):
    """The folders to index are missing or hold nothing indexable."""


class LocalIndex:
    """A BM25 index over the passages of the files under some root folders."""

    def __init__(
        self,
        *,
        store: IndexStore,
        postings: Postings,
        keys: np.ndarray,
        roots: list[Path],
        refresh: Refresh,
        skipped: list[SkippedFile],
        files_by_format: dict[str, int],
        secrets: tuple[Secret, ...],
    ) -> None:
        self.roots = roots  # the resolved corpus folders; citations are relative to them
        self.refresh = refresh  # what this open() re-read
        self.files_by_format = files_by_format
        self._store = store
        # (postings, passage row id of each doc, generation): swapped as one, never half-read.
        self._state = (postings, keys, store.generation())
        self._reload_lock = threading.Lock()
        # (generation, passages per document name), for the names a query says (phrases.py).
        self._names: tuple[str | None, dict[str, int]] = ("", {})
        self._skipped = skipped
        self._secrets = secrets
        self._recent: RecentSearches[list[SearchHit]] = RecentSearches()

    @classmethod
    def open(
        cls,
        roots: Sequence[Path],
        cache_dir: Path,
        *,
        secrets: tuple[Secret, ...] = (),
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        progress: Progress | None = None,
        budget: FileBudget | None = None,
    ) -> LocalIndex:
        """Open the cached index of `roots`, first re-reading the files added or changed since
        it was last refreshed. Files that cannot or must not be read, or that a reader cannot
        read within `budget` (time and memory per file), are skipped, each with one warning
        line (see `skipped`)."""
        started = time.perf_counter()
        resolved = _resolve_roots(roots)
        cache_dir = cache_dir.expanduser().resolve()
        listing = list_files(
            resolved, registry.SUFFIXES, exclude=cache_dir, max_bytes=max_file_bytes
        )
        if not listing.files:
            names = ", ".join(sorted(registry.SUFFIXES))
            raise CorpusError(
                f"no indexable files ({names}) under: {', '.join(map(str, resolved))}"
            )
        base = _cache_base(cache_dir, resolved)
        _drop_old_layout(base)

        def display(file: CorpusFile) -> str:
            return _display_rel(resolved, file)

        reader = SandboxedReader(budget or FileBudget())

        def extract(file: CorpusFile) -> list[Passage]:
            return reader.extract(file, display(file), max_file_bytes, secrets)

        def format_of(file: CorpusFile) -> str:
            return registry.format_name(file.suffix)

        try:
            store, refresh, postings, keys = _refreshed(base, listing.files, display, format_of,
                                                        extract, progress)  # fmt: skip
        finally:
            reader.close()
        files_by_format, read_skips = store.summary()
        skipped = listing.skipped + read_skips
        for skip in skipped:
            logger.warning("local index: %s", skip.line())
        if postings.doc_count == 0:
            store.close()
            raise CorpusError(f"the files under {', '.join(map(str, resolved))} contain no text")
        logger.info(
            "local index: %d passages from %d files (%d added, %d changed, %d removed, "
            "%d skipped) in %.2fs",
            postings.doc_count,
            sum(files_by_format.values()),
            refresh.added,
            refresh.changed,
            refresh.removed,
            len(skipped),
            time.perf_counter() - started,
        )
        return cls(
            store=store,
            postings=postings,
            keys=keys,
            roots=resolved,
            refresh=refresh,
            skipped=skipped,
            files_by_format=files_by_format,
            secrets=secrets,
        )

    @staticmethod
    def check_roots(roots: Sequence[Path]) -> None:
        """CorpusError if a folder is missing, not a folder, or on a pseudo file system."""
        _resolve_roots(roots)

    @classmethod
    def open_cached(
        cls, roots: Sequence[Path], cache_dir: Path, *, secrets: tuple[Secret, ...] = ()
    ) -> LocalIndex | None:
        """The index of `roots` as last refreshed, reading no file (a worker serves it while a
        refresh runs); None if there is none yet, or it was written by another version."""
        resolved = _resolve_roots(roots)
        path = _cache_base(cache_dir, resolved) / "index.sqlite"
        if not path.is_file():
            return None
        store: IndexStore | None = None
        try:
            store = IndexStore(path)
            if not store.schema_is_current():
                store.close()
                return None
            postings, keys, _ = store.postings()
            files_by_format, skipped = store.summary()
        except (sqlite3.Error, OSError) as exc:
            logger.warning("local index: the cached index %s cannot be used: %s", path, exc)
            if store is not None:
                store.close()
            return None
        if postings.doc_count == 0:
            store.close()
            return None
        return cls(
            store=store,
            postings=postings,
            keys=keys,
            roots=resolved,
            refresh=Refresh(),
            skipped=skipped,
            files_by_format=files_by_format,
            secrets=secrets,
        )

    def reload_if_changed(self) -> bool:
        """Serve the store's newest state if another refresh (`client.py index`, another
        worker, this worker's background refresh) has committed one since: a running worker's
        next search sees new documents without a restart. A cheap read when nothing changed."""
        if self._store.generation() == self._state[2]:
            return False
        with self._reload_lock:
            if self._store.generation() == self._state[2]:
                return False  # another search thread reloaded it meanwhile
            postings, keys, generation = self._store.postings()
            files_by_format, read_skips = self._store.summary()
            self._state = (postings, keys, generation)
            self.files_by_format = files_by_format
            listed = [s for s in self._skipped if s.rel not in {r.rel for r in read_skips}]
            self._skipped = [*listed, *read_skips]
        logger.info("local index: now serving %d passages (refreshed)", postings.doc_count)
        return True

    def search(self, query: str, k: int = 5) -> list[SearchHit]:
        """The top `k` distinct passages for `query`, best first; passages scoring <= 0 are
        dropped, and so is any passage holding a configured secret (defence in depth: a cache
        built by another process was not checked against this one's secrets). A passage whose
        text equals one ranked above it (the same file in two folders, a boilerplate section
        repeated across files) is left out: it would only repeat the same evidence."""
        if k <= 0:
            return []
        with contextlib.suppress(sqlite3.Error):  # a busy or broken store: serve what we have
            self.reload_if_changed()
        postings, keys, generation = self._state
        if (kept := self._recent.get(query, k, generation)) is not None:
            return list(kept)
        hits = self._search(query, k, postings, keys, generation)
        self._recent.put(query, k, generation, hits)
        return list(hits)

    def _search(
        self, query: str, k: int, postings: Postings, keys: np.ndarray, generation: str | None
    ) -> list[SearchHit]:
        hasher = TermHasher()
        terms = query_hashes(hasher, query)
        names = self._query_names(query, postings, generation, hasher)
        # Spare candidates for rows gone (another process refreshed the store), refused and
        # repeated passages; more are fetched while duplicates crowd out the top k. What the
        # query names re-ranks a deeper pool (search/phrases.py).
        wanted = max(k + 5, PHRASE_POOL) if names else k + 5
        while True:
            ranked = postings.top(terms, wanted)
            hits = self._distinct(ranked, keys, len(ranked) if names else k)
            if names:
                hits = names.ranked(hits)[:k]
            if len(hits) == k or len(ranked) < wanted:
                return hits
            wanted *= 4

    def _query_names(
        self, query: str, postings: Postings, generation: str | None, hasher: TermHasher
    ) -> QueryNames:
        """What `query` names (phrases.py); the passages per document name are counted once
        per generation of the store."""
        if self._names[0] != generation:
            per_name: dict[str, int] = {}
            for rel_path, count in self._store.passages_per_file().items():
                name = document_name(rel_path)
                per_name[name] = per_name.get(name, 0) + count
            self._names = (generation, per_name)
        per_name = self._names[1]
        df = {w: postings.df(hasher(w)) for w in set(tokens(query)) if w in per_name}
        documents = named_documents(query, per_name, df)
        return QueryNames(quoted_phrases(query), quoted_definitions(query), frozenset(documents))

    def _distinct(
        self, ranked: list[tuple[int, float]], keys: np.ndarray, k: int
    ) -> list[SearchHit]:
        rows = self._store.passages([int(keys[doc]) for doc, _ in ranked])
        hits: list[SearchHit] = []
        seen: set[str] = set()
        for doc, score in ranked:
            passage = rows.get(int(keys[doc]))
            if passage is None:
                continue
            content = _content_key(passage.text)
            if passage.id in seen or content in seen:
                continue
            if secret_in((passage.text, passage.title), self._secrets):
                continue
            seen.update((passage.id, content))
            hits.append(SearchHit(passage=passage, score=score))
            if len(hits) == k:
                break
        return hits

    def passages(self) -> list[Passage]:
        """Every passage, in file and reading order."""
        return self._store.all_passages()

    def close(self) -> None:
        self._store.close()

    @property
    def passage_count(self) -> int:
        return self._state[0].doc_count

    @property
    def skipped(self) -> list[SkippedFile]:
        """The files not indexed, each with the reason."""
        return list(self._skipped)

    @property
    def rebuilt(self) -> bool:
        """True if this open() re-read any file, False if all came from the cache."""
        return self.refresh.processed > 0


def _refreshed(
    base: Path,
    files: list[CorpusFile],
    display: Callable[[CorpusFile], str],
    format_of: Callable[[CorpusFile], str],
    extract: Callable[[CorpusFile], list[Passage]],
    progress: Progress | None,
) -> tuple[IndexStore, Refresh, Postings, np.ndarray]:
    for attempt in (1, 2):
        store: IndexStore | None = None
        try:
            store = IndexStore(base / "index.sqlite")
            refresh = store.refresh(files, display, format_of, extract, progress)
            postings, keys, _ = store.postings(refresh)
            return store, refresh, postings, keys
        except (sqlite3.Error, OSError) as exc:
            if store is not None:
                store.close()
            if is_busy(exc):  # held by another process: not corrupt, so never deleted
                raise CorpusError(
                    f"the index cache {base} is held by another process for too long ({exc}); "
                    "try again when its refresh has finished"
                ) from None
            if attempt == 2 or not isinstance(exc, sqlite3.DatabaseError):
                raise CorpusError(f"the index cache {base} cannot be used: {exc}") from None
            # The cache is ours and disposable: a corrupt one is rebuilt, not fatal.
            logger.warning("local index: rebuilding the corrupt cache %s (%s)", base, exc)
            shutil.rmtree(base, ignore_errors=True)
    raise AssertionError("unreachable")


def _resolve_roots(roots: Sequence[Path]) -> list[Path]:
    if not roots:
        raise CorpusError("no folders to index were given")
    resolved = []
    for root in roots:
        path = Path(root).expanduser().resolve()
        if not path.exists():
            raise CorpusError(f"folder to index does not exist: {root}")
        if not path.is_dir():
            raise CorpusError(f"folder to index is not a directory: {root}")
        if is_pseudo_fs(path):
            raise CorpusError(f"folder to index is on a kernel pseudo file system: {root}")
        resolved.append(path)
    # Sorted and deduplicated, so the cache key does not depend on argument order.
    return sorted(set(resolved))


def _display_rel(roots: list[Path], file: CorpusFile) -> str:
    """The file's name in citations: relative to its folder, under the folder's name when
    several folders are indexed."""
    return file.rel if len(roots) == 1 else f"{roots[file.root_index].name}/{file.rel}"


def _drop_old_layout(base: Path) -> None:
    """Remove the bm25s generation folders of the previous cache layout (best effort)."""
    if base.is_dir():
        for entry in base.iterdir():
            if entry.is_dir() and entry.name.startswith(("gen-", ".tmp-")):
                shutil.rmtree(entry, ignore_errors=True)


def _content_key(text: str) -> str:
    """Equal for passages whose text differs only in whitespace."""
    return "text:" + hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


def _cache_base(cache_dir: Path, resolved: list[Path]) -> Path:
    return cache_dir.expanduser().resolve() / f"local-index-{_digest(*map(str, resolved))}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
