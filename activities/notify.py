"""`--notify URL`: a watched topic's changes POSTed as JSON, under the page fetcher's address
rules (search/fetch.py): http(s) only, every address the host resolves to must be
public, the request goes to the checked address itself (no second DNS answer swaps it), no
redirect is followed, no proxy from the environment. Loopback is let through only when the
caller's settings allow it (TTDR_NOTIFY_ALLOW_LOOPBACK, tests); private, link-local and reserved
addresses never are.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from search.fetch import FetchRefused, resolve_checked
from workflows.activity_types import NotifyActivities
from workflows.continuation_models import NOTIFY_ACTIVITY, NotifyInput

MAX_URL_CHARS = 2_000
TIMEOUT_SECONDS = 10.0
_USER_AGENT = "ttdr-research-agent/0.1 (watched topic)"


class NotifyRefused(ValueError):
    """The URL may not be notified; the message says why in one line."""


def url_shape_problem(url: str) -> str | None:
    """Why `url` cannot be a notification target before any lookup, or None."""
    if len(url) > MAX_URL_CHARS:
        return f"the URL has {len(url)} characters; the limit is {MAX_URL_CHARS}"
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "the URL contains spaces or control characters"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"only http(s) URLs with a host are notified, not {url!r}"
    if parts.username or parts.password:
        return "the URL must not carry a user name or password"
    return None


async def checked_target(url: str, allow_loopback: bool) -> tuple[str, str]:
    """(the URL with the checked address in place of the host, the Host header); raises
    NotifyRefused when the URL or any address of its host is not allowed."""
    if problem := url_shape_problem(url):
        raise NotifyRefused(problem)
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = await resolve_checked(host, port, allow_loopback)
    except ValueError as err:  # a port out of range
        raise NotifyRefused(f"invalid URL {url!r}: {err}") from None
    except FetchRefused as err:
        raise NotifyRefused(str(err)) from None
    pinned = f"[{address}]" if ":" in address else address
    target = urlunsplit((parts.scheme, f"{pinned}:{port}", parts.path or "/", parts.query, ""))
    return target, parts.netloc


class Notifier(NotifyActivities):
    """notify, as the workflow calls it (workflows/activity_types.py NotifyActivities)."""

    def __init__(self, allow_loopback: bool = False) -> None:
        self._allow_loopback = allow_loopback

    @activity.defn(name=NOTIFY_ACTIVITY)
    async def notify(self, inp: NotifyInput) -> None:
        """POST the changes; a refused target or a 4xx answer is final, anything else retried."""
        try:
            target, host = await checked_target(inp.url, self._allow_loopback)
        except NotifyRefused as err:
            raise ApplicationError(str(err), type="NotifyRefused", non_retryable=True) from None
        body = inp.model_dump(mode="json", exclude={"url"})
        parts = urlsplit(inp.url)
        extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
        async with httpx.AsyncClient(
            follow_redirects=False, trust_env=False, timeout=TIMEOUT_SECONDS
        ) as http:
            try:
                response = await http.post(
                    target,
                    json=body,
                    headers={"Host": host, "User-Agent": _USER_AGENT},
                    extensions=extensions,
                )
            except httpx.HTTPError as err:
                raise ApplicationError(
                    f"notification to {parts.hostname} failed: {type(err).__name__}",
                    type="NotifyUnreachable",
                ) from None
        if 200 <= response.status_code < 300:
            return
        final = response.status_code < 500
        raise ApplicationError(
            f"notification to {parts.hostname} answered HTTP {response.status_code}",
            type="NotifyRejected",
            non_retryable=final,
        )
