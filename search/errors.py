"""Search failures as plain exceptions whose fields say what to do; no Temporal here.

401/403 cannot be fixed by a retry (not retryable, names the variable to fix); 429 is retried
after the provider's Retry-After; 5xx, timeouts and connection errors are retried. Within one
attempt the provider chain (chain.py) falls through to the next provider on retryable errors.
The retrieval activity turns a SearchError into Temporal's ApplicationError
(activities/search_failures.py); the CLI prints its message.
"""

from __future__ import annotations

import httpx

from common.retry_after import retry_after_seconds

AUTH_ERROR = "SearchAuthError"
RATE_LIMITED = "SearchRateLimited"
UNAVAILABLE = "SearchUnavailable"
BAD_REQUEST = "SearchBadRequest"
BAD_RESPONSE = "SearchBadResponse"


class SearchError(Exception):
    """A failed search. `kind` is one of the names above (the activity's error type);
    `retry_after` is the provider's Retry-After in seconds, when it gave one."""

    def __init__(
        self, message: str, kind: str, *, retryable: bool = True, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.retryable = retryable
        self.retry_after = retry_after


def transport_error(provider: str, err: httpx.HTTPError) -> SearchError:
    if isinstance(err, httpx.TimeoutException):
        return SearchError(
            f"search provider {provider} timed out ({type(err).__name__})", UNAVAILABLE
        )
    return SearchError(
        f"cannot reach search provider {provider}: {type(err).__name__}: {err}", UNAVAILABLE
    )


def http_error(provider: str, response: httpx.Response, fix: str) -> SearchError:
    """`fix` names what to change on 401/403, e.g. 'set TAVILY_API_KEY to a valid key'."""
    status = response.status_code
    detail = (response.text or response.reason_phrase).strip().replace("\n", " ")[:300]
    if status in (401, 403):
        return SearchError(
            f"search provider {provider} refused the request ({status}: {detail}): {fix}",
            AUTH_ERROR,
            retryable=False,
        )
    if status == 429 or status >= 500 or status == 408:
        return SearchError(
            f"search provider {provider} answered {status} ({detail})",
            RATE_LIMITED if status == 429 else UNAVAILABLE,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    return SearchError(
        f"search provider {provider} rejected the request ({status}: {detail})",
        BAD_REQUEST,
        retryable=False,
    )


def rate_limited(provider: str, why: str) -> SearchError:
    return SearchError(f"search provider {provider} is over its quota ({why})", RATE_LIMITED)


def bad_response(provider: str, why: str) -> SearchError:
    return SearchError(
        f"search provider {provider} answered 200 with an unexpected body: {why}", BAD_RESPONSE
    )
