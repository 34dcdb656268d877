"""Recent searches of one index, answered again without scoring.

Every retrieval of a run searches its anchors (the user's question, the plan section) beside
the model's question, and the two siblings of an iteration do so at once: the same few queries
are scored many times a run. The answer depends only on the query, `k` and the store's
generation, so it is kept per generation; a refresh (a new generation) makes every kept answer
stale at once. Bounded (256 answers of a few passages each: about 2 MB at 1.5 KB a passage),
least recently used first out; safe across the search threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

RECENT_SEARCHES_MAX = 256

Hits = TypeVar("Hits")


class RecentSearches(Generic[Hits]):
    def __init__(self, size: int = RECENT_SEARCHES_MAX) -> None:
        self._size = size
        self._kept: OrderedDict[tuple[str, int], tuple[str | None, Hits]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, query: str, k: int, generation: str | None) -> Hits | None:
        with self._lock:
            kept = self._kept.get((query, k))
            if kept is None or kept[0] != generation:
                return None
            self._kept.move_to_end((query, k))
            return kept[1]

    def put(self, query: str, k: int, generation: str | None, hits: Hits) -> None:
        with self._lock:
            self._kept[(query, k)] = (generation, hits)
            self._kept.move_to_end((query, k))
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
