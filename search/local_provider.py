"""`local`: the embedded default provider, BM25 over the worker's document folders.

A worker never waits for indexing (`LocalSearch.refreshing`): it serves the index as last
refreshed while a refresh runs in a background thread, and every search first picks up any
newer state committed since (by that refresh, `client.py index`, or another worker). Only the
very first build, when there is no index yet, holds the searches that come before it ends."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from common.settings import SharedSettings
from observability import tracing
from search.base import SearchResult
from search.demo_corpus import DEMO_PREFIX, materialise_demo_corpus
from search.documents.budget import FileBudget
from search.documents.secrets import secrets_from_env
from search.errors import SearchError
from search.index_store import Progress
from search.local_index import CorpusError, LocalIndex

log = logging.getLogger(__name__)
CORPUS_ENV = "TTDR_CORPUS"
NO_INDEX = "LocalIndexUnavailable"
_FIRST_BUILD_POLL_SECONDS = 0.2
_STOP_WAIT_SECONDS = 5.0


class _RefreshStopped(Exception):
    pass


def cache_dir_of(settings: SharedSettings, env: Mapping[str, str]) -> Path:
    """TTDR_CACHE_DIR, else `$XDG_CACHE_HOME/ttdr` (XDG's variable, not ours), else
    `~/.cache/ttdr`."""
    if settings.cache_dir is not None:
        return settings.cache_dir.expanduser()
    return (Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ttdr").expanduser()


def cache_dir_from_env(env: Mapping[str, str]) -> Path:
    return cache_dir_of(SharedSettings.load(env), env)


def corpus_roots(raw: str | None, cache_dir: Path) -> list[Path]:
    """TTDR_CORPUS's value: folders separated by the OS path separator; unset = the demo corpus.
    An empty entry (`:`, `docs:`, `a::b`) is refused, as `--corpus ""` is: in a PATH-like list
    it would mean the current folder, which nobody means to index."""
    if raw is None or not raw.strip():
        return [materialise_demo_corpus(cache_dir)]
    parts = raw.split(os.pathsep)
    if any(not part.strip() for part in parts):
        raise CorpusError(
            f"{CORPUS_ENV}={raw!r} has an empty entry: name each folder, separated by "
            f"{os.pathsep!r} (unset it for the demo corpus)"
        )
    return [Path(part.strip()).expanduser() for part in parts]


def corpus_roots_from_env(env: Mapping[str, str], cache_dir: Path) -> list[Path]:
    return corpus_roots(SharedSettings.load(env).corpus, cache_dir)


def budget_of(settings: SharedSettings) -> FileBudget:
    """TTDR_INDEX_FILE_SECONDS / _MEMORY_MB (bounds checked by the model)."""
    return FileBudget(seconds=settings.index_file_seconds, memory_mib=settings.index_file_memory_mb)


class LocalSearch:
    name = "local"

    def __init__(self, index: LocalIndex | None) -> None:
        self._index = index
        # The background refresh of `refreshing`: set when it has ended, with its failure.
        self._refreshed = threading.Event()
        self._refreshed.set()
        self._refresh_error: str | None = None
        self._stopping = threading.Event()
        self._reopen: Callable[[], LocalIndex | None] = lambda: None

    @property
    def index(self) -> LocalIndex:
        if self._index is None:
            raise CorpusError("the local index is not built yet")
        return self._index

    @property
    def refresh_running(self) -> bool:
        """Whether the background refresh of `refreshing` has not ended yet."""
        return not self._refreshed.is_set()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LocalSearch:
        """Refresh the index now, then serve it (the CLI, tests, benchmarks). `env`'s settings
        are read by SharedSettings; `env` itself gives XDG_CACHE_HOME and the secrets' values
        (documents/secrets.py: any variable named like a key, not only ours)."""
        settings = SharedSettings.load(env)
        cache_dir = cache_dir_of(settings, env)
        roots = corpus_roots(settings.corpus, cache_dir)
        return cls(
            LocalIndex.open(
                roots,
                cache_dir / "index",
                secrets=secrets_from_env(env),
                budget=budget_of(settings),
            )
        )

    @classmethod
    def refreshing(cls, settings: SharedSettings, env: Mapping[str, str]) -> LocalSearch:
        """Serve the index as last refreshed at once and refresh it in a background thread
        (the worker: indexing never delays its readiness). A bad folder is still refused here,
        in one line (CorpusError); what the refresh finds is logged. `env` as in from_env."""
        cache_dir = cache_dir_of(settings, env)
        roots = corpus_roots(settings.corpus, cache_dir)
        secrets, budget = secrets_from_env(env), budget_of(settings)
        LocalIndex.check_roots(roots)
        search = cls(LocalIndex.open_cached(roots, cache_dir / "index", secrets=secrets))
        search._reopen = lambda: LocalIndex.open_cached(roots, cache_dir / "index", secrets=secrets)
        search._refresh_in_background(
            lambda progress: LocalIndex.open(
                roots, cache_dir / "index", secrets=secrets, budget=budget, progress=progress
            )
        )
        return search

    def _refresh_in_background(self, open_index: Callable[[Progress], LocalIndex]) -> None:
        self._refreshed.clear()
        served = self._index

        def progress(done: int, total: int, name: str) -> None:
            if self._stopping.is_set():  # rolls the refresh back: the next start redoes it
                raise _RefreshStopped("the worker is stopping")

        def refresh() -> None:
            try:
                fresh = open_index(progress)
            except _RefreshStopped:
                log.info("local index: refresh stopped with the worker (rolled back)")
            except Exception as exc:  # reported, and the searches say it
                self._refresh_error = str(exc) if isinstance(exc, CorpusError) else repr(exc)
                log.error("local index: the refresh failed: %s", self._refresh_error)
            else:
                if served is None:
                    self._index = fresh
                else:
                    fresh.close()  # the served index takes the new state at its next search
            finally:
                self._refreshed.set()

        if served is not None:
            log.info(
                "local index: serving %d cached passages while it is refreshed",
                served.passage_count,
            )
        threading.Thread(target=refresh, name="local-index-refresh", daemon=True).start()

    async def _ready_index(self) -> LocalIndex:
        """The index to search: the served one, else the first build once it ends."""
        if self._index is not None:
            return self._index
        if not self._refreshed.is_set():
            log.info("local search: waiting for the first build of the index")
        while not self._refreshed.is_set():
            await asyncio.sleep(_FIRST_BUILD_POLL_SECONDS)
        if self._index is None:  # the build failed: maybe another process has built one since
            self._index = await asyncio.to_thread(self._reopen)
        if self._index is None:
            raise SearchError(
                f"local search has no index: {self._refresh_error or 'not built'}; fix "
                f"{CORPUS_ENV} (or run `client.py index` to see why) and retry",
                NO_INDEX,
                retryable=False,
            )
        return self._index

    def _document_name(self, index: LocalIndex, rel: str) -> str:
        """How a reader knows the document: the demo corpus's files are Python's own docs."""
        if len(index.roots) == 1 and index.roots[0].name.startswith(DEMO_PREFIX):
            kind, _, name = rel.rpartition("/")
            topic = name.rsplit(".", 1)[0]
            return f"Python documentation: {topic}" + (
                " (language reference)" if kind == "topics" else ""
            )
        return rel

    async def aclose(self) -> None:
        """Stop a background refresh at its next file (waiting a little for it), and close the
        index's SQLite connection (the worker calls this when it stops)."""
        self._stopping.set()
        await asyncio.to_thread(self._refreshed.wait, _STOP_WAIT_SECONDS)
        if self._index is not None:
            self._index.close()

    async def search(self, query: str, k: int) -> list[SearchResult]:
        index = await self._ready_index()
        with tracing.search_span(self.name, query, k) as span:
            # BM25 scoring and the SQLite read are CPU and disk work: keep them off the event loop.
            hits = await asyncio.to_thread(index.search, query, k)
            span.set_attribute("ttdr.search.result_count", len(hits))
        return [
            SearchResult(
                id=hit.passage.id,
                title=hit.passage.title,
                location=hit.passage.citation,
                provider=self.name,
                text=hit.passage.text,
                score=hit.score,
                document=self._document_name(
                    index, hit.passage.rel_path or hit.passage.source_path
                ),
                anchor=hit.passage.locator,
            )
            for hit in hits
        ]
