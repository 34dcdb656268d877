"""`brave`: GET {TTDR_BRAVE_URL or https://api.search.brave.com/res/v1/web/search}?q=&count=,
header X-Subscription-Token: BRAVE_API_KEY."""

from __future__ import annotations

from typing import Any

from common.settings import WorkerSettings
from search.web import HttpRequest, PageReader, WebHit, WebSearchProvider, required


class BraveSearch(WebSearchProvider):
    name = "brave"
    auth_fix = "set BRAVE_API_KEY to a valid Brave Search API subscription token"

    def __init__(self, api_key: str, url: str, reader: PageReader | None) -> None:
        super().__init__(reader)
        self._key = api_key
        self._url = url

    @classmethod
    def from_settings(cls, settings: WorkerSettings, reader: PageReader | None) -> BraveSearch:
        key = required(settings.brave_api_key, "BRAVE_API_KEY", cls.name)
        return cls(key, settings.brave_url, reader)

    def _request(self, query: str, k: int) -> HttpRequest:
        return HttpRequest(
            url=self._url,
            params={"q": query, "count": max(1, min(k, 20))},  # count is at most 20
            headers={"X-Subscription-Token": self._key, "Accept": "application/json"},
        )

    def _parse(self, data: Any) -> list[WebHit]:
        # {"web": {"results": [{"title", "url", "description"}]}}; no "web" when nothing matched.
        web = data.get("web") or {}
        return [
            WebHit(title=r.get("title") or "", url=r["url"], snippet=r.get("description") or "")
            for r in web.get("results", [])
        ]
