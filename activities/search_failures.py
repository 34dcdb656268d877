"""The search library (search/) as the activities use it: its failures become Temporal errors.

search/ knows nothing of Temporal, so the CLI and the bench can use it without a worker. Here
a SearchError becomes an ApplicationError of the same kind: retryable ones say when the next
attempt comes (or that this was the last, activities/attempts.py) and carry the provider's
Retry-After as the next retry delay; the others fail the activity at once.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.exceptions import ApplicationError

from activities.attempts import what_next
from search.base import SearchProvider, SearchResult
from search.errors import SearchError


def activity_error(err: SearchError) -> ApplicationError:
    if not err.retryable:
        return ApplicationError(err.message, type=err.kind, non_retryable=True)
    delay = err.retry_after
    return ApplicationError(
        f"{err.message}; {what_next(delay)}",
        type=err.kind,
        next_retry_delay=timedelta(seconds=delay) if delay is not None else None,
    )


async def search_in_activity(provider: SearchProvider, query: str, k: int) -> list[SearchResult]:
    """provider.search, failing the activity the way Temporal should retry it."""
    try:
        return await provider.search(query, k)
    except SearchError as err:
        raise activity_error(err) from None
