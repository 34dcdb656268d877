"""Reciprocal-rank fusion: one ranked list from the lists several queries got.

A retrieval searches the model's query and the queries that anchor it on the user's question
and the plan section it serves (workflows/topics.py); a passage ranked well by several lists
comes first. RRF needs no score calibration across queries, so BM25 and web providers fuse the
same way (Cormack, Clarke & Büttcher, 2009; k = 60 as there).
"""

from __future__ import annotations

from collections.abc import Sequence

from search.base import SearchResult
from search.phrases import defines_any, quoted_definitions

RRF_K = 60


def fused(lists: Sequence[Sequence[SearchResult]], k: int) -> list[SearchResult]:
    """The top `k` results over `lists` by summed 1/(RRF_K + rank); the first list (the query
    itself) wins a tie; each result once, by id."""
    scores: dict[str, float] = {}
    first: dict[str, tuple[int, int, SearchResult]] = {}
    for which, results in enumerate(lists):
        for rank, result in enumerate(results, 1):
            scores[result.id] = scores.get(result.id, 0.0) + 1.0 / (RRF_K + rank)
            first.setdefault(result.id, (which, rank, result))
    order = sorted(scores, key=lambda rid: (-scores[rid], first[rid][0], first[rid][1]))
    return [first[rid][2] for rid in order[:k]]


def definition_first(
    ranked: Sequence[SearchResult], own: Sequence[SearchResult], query: str
) -> list[SearchResult]:
    """`ranked` (the fused list) with the query's own best result that defines an API name
    the query quotes moved first. "The `__exit__` method" (a lead, workflows/leads.py) got
    the entry that says what `__exit__` does first, and the anchors, which rank the with
    statement's prose on two lists, fused it out of the top three."""
    definitions = quoted_definitions(query)
    if not definitions:
        return list(ranked)
    entry = next((r for r in own if defines_any(definitions, r.text)), None)
    if entry is None:
        return list(ranked)
    return [entry, *(r for r in ranked if r.id != entry.id)]
