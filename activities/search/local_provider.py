"""`local`: the embedded default provider, BM25 over the worker's document folders."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path

from activities.search.base import SearchResult
from activities.search.demo_corpus import DEMO_PREFIX, materialise_demo_corpus
from activities.search.documents.secrets import secrets_from_env
from activities.search.local_index import LocalIndex
from observability import tracing


def cache_dir_from_env(env: Mapping[str, str]) -> Path:
    default = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ttdr"
    return Path(env.get("TTDR_CACHE_DIR") or default).expanduser()


def corpus_roots_from_env(env: Mapping[str, str], cache_dir: Path) -> list[Path]:
    """TTDR_CORPUS: folders separated by the OS path separator; unset = the demo corpus."""
    raw = env.get("TTDR_CORPUS", "").strip()
    if not raw:
        return [materialise_demo_corpus(cache_dir)]
    return [Path(part).expanduser() for part in raw.split(os.pathsep) if part.strip()]


class LocalSearch:
    name = "local"

    def __init__(self, index: LocalIndex) -> None:
        self._index = index

    @property
    def index(self) -> LocalIndex:
        return self._index

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LocalSearch:
        cache_dir = cache_dir_from_env(env)
        roots = corpus_roots_from_env(env, cache_dir)
        return cls(LocalIndex.open(roots, cache_dir / "index", secrets=secrets_from_env(env)))

    def _document_name(self, rel: str) -> str:
        """How a reader knows the document: the demo corpus's files are Python's own docs."""
        if len(self._index.roots) == 1 and self._index.roots[0].name.startswith(DEMO_PREFIX):
            kind, _, name = rel.rpartition("/")
            topic = name.rsplit(".", 1)[0]
            return f"Python documentation: {topic}" + (
                " (language reference)" if kind == "topics" else ""
            )
        return rel

    async def aclose(self) -> None:
        """Close the index's SQLite connection (the worker calls this when it stops)."""
        self._index.close()

    async def search(self, query: str, k: int) -> list[SearchResult]:
        with tracing.search_span(self.name, query, k) as span:
            # BM25 scoring and the SQLite read are CPU and disk work: keep them off the event loop.
            hits = await asyncio.to_thread(self._index.search, query, k)
            span.set_attribute("ttdr.search.result_count", len(hits))
        return [
            SearchResult(
                id=hit.passage.id,
                title=hit.passage.title,
                location=hit.passage.citation,
                provider=self.name,
                text=hit.passage.text,
                score=hit.score,
                document=self._document_name(hit.passage.rel_path or hit.passage.source_path),
                anchor=hit.passage.locator,
            )
            for hit in hits
        ]
