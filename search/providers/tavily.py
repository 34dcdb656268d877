"""`tavily`: POST {TTDR_TAVILY_URL or https://api.tavily.com}/search, Bearer TAVILY_API_KEY."""

from __future__ import annotations

from typing import Any

from common.settings import WorkerSettings
from search.web import HttpRequest, PageReader, WebHit, WebSearchProvider, required


class TavilySearch(WebSearchProvider):
    name = "tavily"
    auth_fix = "set TAVILY_API_KEY to a valid Tavily API key"

    def __init__(self, api_key: str, base_url: str, reader: PageReader | None) -> None:
        super().__init__(reader)
        self._key = api_key
        self._url = base_url.rstrip("/") + "/search"

    @classmethod
    def from_settings(cls, settings: WorkerSettings, reader: PageReader | None) -> TavilySearch:
        key = required(settings.tavily_api_key, "TAVILY_API_KEY", cls.name)
        return cls(key, settings.tavily_url, reader)

    def _request(self, query: str, k: int) -> HttpRequest:
        return HttpRequest(
            method="POST",
            url=self._url,
            headers={"Authorization": f"Bearer {self._key}"},
            json_body={"query": query, "max_results": min(k, 20), "search_depth": "basic"},
        )

    def _parse(self, data: Any) -> list[WebHit]:
        # {"query": ..., "results": [{"title", "url", "content", "score"}], ...}
        return [
            WebHit(title=r.get("title") or "", url=r["url"], snippet=r.get("content") or "")
            for r in data["results"]
        ]
