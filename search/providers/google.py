"""`google`: Custom Search JSON API, GET {TTDR_GOOGLE_URL or
https://www.googleapis.com/customsearch/v1}?key=GOOGLE_API_KEY&cx=GOOGLE_CSE_ID&q=...&num=..."""

from __future__ import annotations

from typing import Any

import httpx

from common.settings import WorkerSettings
from search import errors
from search.web import HttpRequest, PageReader, WebHit, WebSearchProvider, required

# Google reports an exhausted quota as 403 with one of these reasons: a wait, not a bad key.
_QUOTA_REASONS = frozenset({"dailyLimitExceeded", "rateLimitExceeded", "userRateLimitExceeded"})


class GoogleSearch(WebSearchProvider):
    name = "google"
    auth_fix = "set GOOGLE_API_KEY (with the Custom Search API enabled) and GOOGLE_CSE_ID"

    def __init__(self, api_key: str, cse_id: str, url: str, reader: PageReader | None) -> None:
        super().__init__(reader)
        self._key = api_key
        self._cx = cse_id
        self._url = url

    @classmethod
    def from_settings(cls, settings: WorkerSettings, reader: PageReader | None) -> GoogleSearch:
        key = required(settings.google_api_key, "GOOGLE_API_KEY", cls.name)
        cx = required(settings.google_cse_id, "GOOGLE_CSE_ID", cls.name)
        return cls(key, cx, settings.google_url, reader)

    def _request(self, query: str, k: int) -> HttpRequest:
        # `num` is 1-10 in this API.
        params: dict[str, str | int] = {"key": self._key, "cx": self._cx, "q": query}
        params["num"] = max(1, min(k, 10))
        return HttpRequest(url=self._url, params=params)

    def _parse(self, data: Any) -> list[WebHit]:
        # {"items": [{"title", "link", "snippet"}], ...}; no "items" when nothing matched.
        return [
            WebHit(title=r.get("title") or "", url=r["link"], snippet=r.get("snippet") or "")
            for r in data.get("items", [])
        ]

    def _error(self, response: httpx.Response) -> Exception:
        if response.status_code == 403 and _quota_reason(response):
            return errors.rate_limited(self.name, f"403 {_quota_reason(response)}")
        return super()._error(response)


def _quota_reason(response: httpx.Response) -> str | None:
    # {"error": {"code": 403, "errors": [{"domain": "usageLimits", "reason": "..."}], ...}}
    try:
        details = response.json()["error"].get("errors") or []
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    for detail in details:
        if isinstance(detail, dict) and detail.get("reason") in _QUOTA_REASONS:
            return str(detail["reason"])
    return None
