"""Local-documents search: BM25 over passages of the files in one or more folders.

This is the product's embedded default search: no network, no service. Files (`.md`, `.txt`,
`.rst`, `.html`/`.htm`) are split into passages of roughly 400-1200 characters at headings
and paragraph breaks, ranked with `bm25s`, and the index is cached on disk.

Cache layout, under the caller's cache folder::

    local-index-<hash of the resolved roots>/
        gen-<hash of the manifest>/   bm25s files + corpus.jsonl (the passages) + manifest.json
        .tmp-*/                       a build in progress

A generation folder is only ever created by renaming a finished build into place, so a
reader never sees a half-written index, and two processes building at once each produce a
complete, identical folder (the second rename loses harmlessly). Opening computes the
manifest (relative path, size, mtime_ns of every file) and loads the matching generation if
there is one, else builds it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bm25s
from pydantic import BaseModel, ConfigDict

from activities.search.documents.extract import Passage, file_passages
from activities.search.documents.files import (
    DEFAULT_MAX_FILE_BYTES,
    CorpusFile,
    SkipFile,
    SkippedFile,
    is_pseudo_fs,
    list_files,
)
from activities.search.documents.registry import SUFFIXES
from activities.search.documents.secrets import Secret

logger = logging.getLogger(__name__)

# Bump when chunking or ranking changes, so old caches are not reused.
_INDEX_FORMAT = 2
_SUFFIXES = SUFFIXES
_STOPWORDS = "en"
_MANIFEST = "manifest.json"
_SKIPPED = "skipped.json"
# A build folder untouched for this long belongs to a process that died.
_STALE_TMP_SECONDS = 3600.0


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
        retriever: bm25s.BM25,
        passages: list[Passage],
        rebuilt: bool,
        skipped: list[SkippedFile],
        roots: list[Path],
    ) -> None:
        self.roots = roots  # the resolved corpus folders; citations are relative to them
        self._retriever = retriever
        self._passages = passages
        self._rebuilt = rebuilt
        self._skipped = skipped

    @classmethod
    def open(
        cls,
        roots: Sequence[Path],
        cache_dir: Path,
        *,
        secrets: tuple[Secret, ...] = (),
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    ) -> LocalIndex:
        """Load the cached index of `roots`, or (re)build it if the files changed. Files that
        cannot or must not be read are skipped, each with one warning line (see `skipped`)."""
        resolved = _resolve_roots(roots)
        cache_dir = cache_dir.expanduser().resolve()
        listing = list_files(resolved, _SUFFIXES, exclude=cache_dir, max_bytes=max_file_bytes)
        files = listing.files
        if not files:
            names = ", ".join(sorted(_SUFFIXES))
            raise CorpusError(
                f"no indexable files ({names}) under: {', '.join(map(str, resolved))}"
            )
        manifest = _manifest(files)
        base = cache_dir / f"local-index-{_digest(*map(str, resolved))}"
        generation = base / f"gen-{_digest(json.dumps(manifest, sort_keys=True))}"
        if generation.is_dir():
            loaded = _load(generation, manifest)
            if loaded is not None:
                skipped = listing.skipped + loaded[2]
                _warn(skipped)
                return cls(
                    retriever=loaded[0],
                    passages=loaded[1],
                    rebuilt=False,
                    skipped=skipped,
                    roots=resolved,
                )
        retriever, passages, unread = _build(files, resolved, secrets, max_file_bytes)
        _save(base, generation, retriever, passages, manifest, unread)
        skipped = listing.skipped + unread
        _warn(skipped)
        return cls(
            retriever=retriever, passages=passages, rebuilt=True, skipped=skipped, roots=resolved
        )

    def search(self, query: str, k: int = 5) -> list[SearchHit]:
        """The top `k` passages for `query`, best first; passages scoring <= 0 are dropped."""
        if k <= 0:
            return []
        vocab = self._retriever.vocab_dict
        words = bm25s.tokenize(query, stopwords=_STOPWORDS, return_ids=False, show_progress=False)
        tokens = [t for t in words[0] if t in vocab]
        if not tokens:
            return []
        docs, scores = self._retriever.retrieve(
            [tokens], k=min(k, len(self._passages)), show_progress=False, n_threads=0
        )
        return [
            SearchHit(passage=self._passages[int(doc)], score=float(score))
            for doc, score in zip(docs[0], scores[0], strict=True)
            if score > 0
        ]

    @property
    def passage_count(self) -> int:
        return len(self._passages)

    @property
    def skipped(self) -> list[SkippedFile]:
        """The files not indexed, each with the reason."""
        return list(self._skipped)

    @property
    def rebuilt(self) -> bool:
        """True if this open() (re)built the index, False if it was loaded from the cache."""
        return self._rebuilt


# --- corpus files -------------------------------------------------------------------------


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


def _warn(skipped: list[SkippedFile]) -> None:
    for skip in skipped:
        logger.warning("local index: %s", skip.line())


def _manifest(files: list[CorpusFile]) -> dict[str, Any]:
    """What the index was built from; any difference means it must be rebuilt."""
    return {
        "format": _INDEX_FORMAT,
        "bm25s": bm25s.__version__,
        "files": [
            {
                "root": f.root_index,
                "path": f.rel,
                "size": f.size,
                "mtime_ns": f.mtime_ns,
                "inode": f.inode,
            }
            for f in files
        ],
    }


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


# --- building, saving, loading ------------------------------------------------------------


def _build(
    files: list[CorpusFile], roots: list[Path], secrets: tuple[Secret, ...], max_bytes: int
) -> tuple[bm25s.BM25, list[Passage], list[SkippedFile]]:
    started = time.perf_counter()
    passages: list[Passage] = []
    unread: list[SkippedFile] = []
    for file in files:
        display = _display_rel(roots, file)
        try:
            found = file_passages(file, display, max_bytes, secrets)
        except SkipFile as skip:
            unread.append(SkippedFile(display, str(skip)))
            continue
        passages.extend(found)
    if not passages:
        raise CorpusError(f"the files under {', '.join(map(str, roots))} contain no text")
    # The title is indexed with each passage: it names the topic the passage belongs to.
    tokenized = bm25s.tokenize(
        [f"{p.title}\n{p.text}" for p in passages], stopwords=_STOPWORDS, show_progress=False
    )
    retriever = bm25s.BM25()
    retriever.index(tokenized, show_progress=False)
    logger.info(
        "indexed %d passages from %d files in %.2fs",
        len(passages),
        len(files),
        time.perf_counter() - started,
    )
    return retriever, passages, unread


def _save(
    base: Path,
    generation: Path,
    retriever: bm25s.BM25,
    passages: list[Passage],
    manifest: dict[str, Any],
    unread: list[SkippedFile],
) -> None:
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=base))
    try:
        retriever.save(
            tmp,
            corpus=[p.model_dump() for p in passages],
            show_progress=False,
            raise_on_serialization_error=True,
        )
        (tmp / _MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        skipped = [{"rel": u.rel, "reason": u.reason} for u in unread]
        (tmp / _SKIPPED).write_text(json.dumps(skipped), encoding="utf-8")
        try:
            tmp.rename(generation)
        except OSError:
            # Another process renamed the same generation into place first; it is identical.
            logger.debug("index generation already present: %s", generation)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _prune(base, keep=generation)


def _prune(base: Path, keep: Path) -> None:
    """Drop superseded generations and builds abandoned by dead processes (best effort)."""
    for entry in base.iterdir():
        try:
            if _is_prunable(entry, keep):
                shutil.rmtree(entry)
        except OSError as exc:
            logger.debug("could not prune %s: %s", entry, exc)


def _is_prunable(entry: Path, keep: Path) -> bool:
    if entry.name.startswith("gen-"):
        return entry != keep
    # A build in progress is young; an old one belongs to a process that died.
    return (
        entry.name.startswith(".tmp-") and time.time() - entry.stat().st_mtime > _STALE_TMP_SECONDS
    )


def _load(
    generation: Path, manifest: dict[str, Any]
) -> tuple[bm25s.BM25, list[Passage], list[SkippedFile]] | None:
    """The cached index, or None if it is unreadable or not for these files."""
    try:
        stored = json.loads((generation / _MANIFEST).read_text(encoding="utf-8"))
        if stored != manifest:
            return None
        retriever = bm25s.BM25.load(generation, load_corpus=True, show_progress=False)
        passages = [Passage.model_validate(doc) for doc in retriever.corpus]
        unread = [
            SkippedFile(u["rel"], u["reason"])
            for u in json.loads((generation / _SKIPPED).read_text(encoding="utf-8"))
        ]
        if len(passages) != retriever.scores["num_docs"]:
            raise ValueError("passage count does not match the index")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # e.g. a concurrent process pruned it mid-read: rebuilding is always correct.
        logger.warning("ignoring unreadable index cache %s: %s", generation, exc)
        return None
    retriever.corpus = None  # the passages list is the one copy kept
    return retriever, passages, unread
