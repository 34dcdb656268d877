"""After its last attempt, a failure says so instead of "will retry" (issue 26 item 12).

The same message was built for every attempt, so a run that failed once `retry.maximum_attempts`
ran out still ended in "…503 (server error); will retry". A real worker and the fake provider
answering 503 every time: the error the client shows names the last attempt.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError

from activities.attempts import what_next
from activities.search_failures import activity_error
from search.errors import http_error
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer
from testing.scripted_llm import Script
from tests.product.test_reliability import (
    FAST_RETRY,
    application_error,
    fault_config,
    in_process_worker,
    start_research,
)


async def test_the_final_error_says_the_attempts_ran_out(
    client: Client, fake_server: FakeLLMServer, script: Script, local_search: LocalSearch
) -> None:
    body = {"error": {"message": "server error", "type": "server_error"}}
    fake_server.inject_fault("JudgeAnswer", 503, body=body, times=100)
    async with in_process_worker(client, fake_server, local_search) as queue:
        handle = await start_research(
            client, queue, fault_config(retry={**FAST_RETRY, "maximum_attempts": 2})
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await asyncio.wait_for(handle.result(), 30)

    cause = application_error(failure.value)
    assert cause.type == "LLMServerError"
    assert "answered 503 (server error)" in cause.message
    assert "will retry" not in cause.message
    assert "that was attempt 2 of 2, the last: no retry left" in cause.message
    assert "retry.maximum_attempts" in cause.message
    assert [r.status for r in fake_server.calls("JudgeAnswer")] == [503, 503]


def test_outside_the_last_attempt_a_failure_still_says_it_will_retry() -> None:
    assert what_next() == "will retry"
    assert what_next(7) == "will retry after 7s as Retry-After asks"
    error = activity_error(
        http_error("brave", httpx.Response(503, text="busy"), "set BRAVE_API_KEY")
    )
    assert error.message == "search provider brave answered 503 (busy); will retry"
    assert not error.non_retryable and error.type == "SearchUnavailable"
