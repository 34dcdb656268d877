"""Search failures as Temporal ApplicationErrors whose retryability says what to do.

401/403 cannot be fixed by a retry (non-retryable, names the variable to fix); 429 is retried
after the provider's Retry-After; 5xx, timeouts and connection errors are retried. Within one
attempt the provider chain (chain.py) falls through to the next provider on retryable errors.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from temporalio.exceptions import ApplicationError

from activities.attempts import what_next
from activities.llm import retry_after_seconds

AUTH_ERROR = "SearchAuthError"
RATE_LIMITED = "SearchRateLimited"
UNAVAILABLE = "SearchUnavailable"
BAD_REQUEST = "SearchBadRequest"
BAD_RESPONSE = "SearchBadResponse"


def transport_error(provider: str, err: httpx.HTTPError) -> ApplicationError:
    if isinstance(err, httpx.TimeoutException):
        return ApplicationError(
            f"search provider {provider} timed out ({type(err).__name__})", type=UNAVAILABLE
        )
    return ApplicationError(
        f"cannot reach search provider {provider}: {type(err).__name__}: {err}", type=UNAVAILABLE
    )


def http_error(provider: str, response: httpx.Response, fix: str) -> ApplicationError:
    """`fix` names what to change on 401/403, e.g. 'set TAVILY_API_KEY to a valid key'."""
    status = response.status_code
    detail = (response.text or response.reason_phrase).strip().replace("\n", " ")[:300]
    if status in (401, 403):
        return ApplicationError(
            f"search provider {provider} refused the request ({status}: {detail}): {fix}",
            type=AUTH_ERROR,
            non_retryable=True,
        )
    if status == 429 or status >= 500 or status == 408:
        delay = retry_after_seconds(response.headers.get("Retry-After"))
        return ApplicationError(
            f"search provider {provider} answered {status} ({detail}); {what_next(delay)}",
            type=RATE_LIMITED if status == 429 else UNAVAILABLE,
            next_retry_delay=timedelta(seconds=delay) if delay is not None else None,
        )
    return ApplicationError(
        f"search provider {provider} rejected the request ({status}: {detail})",
        type=BAD_REQUEST,
        non_retryable=True,
    )


def rate_limited(provider: str, why: str) -> ApplicationError:
    return ApplicationError(
        f"search provider {provider} is over its quota ({why}); {what_next()}", type=RATE_LIMITED
    )


def bad_response(provider: str, why: str) -> ApplicationError:
    return ApplicationError(
        f"search provider {provider} answered 200 with an unexpected body: {why}",
        type=BAD_RESPONSE,
    )
