"""The search library's failures as an activity raises them (activities/search_failures.py):
Temporal's retry decision and the message a user reads come from the SearchError's fields. Run
in the SDK's activity environment, so activity.info() (the attempt, the retry policy) is real."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.search_failures import search_in_activity
from search.base import SearchResult
from search.errors import SearchError


class FailingProvider:
    name = "stub"

    def __init__(self, error: SearchError) -> None:
        self.error = error

    async def search(self, query: str, k: int) -> list[SearchResult]:
        raise self.error


async def raised_in_activity(error: SearchError, attempt: int = 1) -> ApplicationError:
    @activity.defn(name="retrieve")
    async def retrieve() -> list[SearchResult]:
        return await search_in_activity(FailingProvider(error), "q", 3)

    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, attempt=attempt, retry_policy=RetryPolicy(maximum_attempts=3)
    )
    with pytest.raises(ApplicationError) as caught:
        await env.run(retrieve)
    return caught.value


async def test_a_rate_limit_is_retried_after_the_providers_retry_after() -> None:
    error = await raised_in_activity(
        SearchError("search provider brave answered 429 (slow)", "SearchRateLimited", retry_after=7)
    )
    assert error.type == "SearchRateLimited" and not error.non_retryable
    assert error.next_retry_delay == timedelta(seconds=7)
    assert error.message == (
        "search provider brave answered 429 (slow); will retry after 7s as Retry-After asks"
    )


async def test_the_last_attempt_says_no_retry_is_left() -> None:
    error = await raised_in_activity(SearchError("down", "SearchUnavailable"), attempt=3)
    assert error.message.startswith("down; that was attempt 3 of 3, the last: no retry left")


async def test_a_bad_key_fails_the_activity_at_once_with_what_to_fix() -> None:
    message = "search provider tavily refused the request (401: bad key): set TAVILY_API_KEY"
    error = await raised_in_activity(SearchError(message, "SearchAuthError", retryable=False))
    assert error.non_retryable and error.type == "SearchAuthError"
    assert error.message == message  # no "will retry" on an error that is not retried
