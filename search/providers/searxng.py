"""`searxng`: a self-hosted SearXNG, GET {TTDR_SEARXNG_URL}/search?q=...&format=json
(the instance must list `json` under `search.formats` in its settings.yml)."""

from __future__ import annotations

from typing import Any

from common.settings import WorkerSettings
from search.web import HttpRequest, PageReader, WebHit, WebSearchProvider, required


class SearxngSearch(WebSearchProvider):
    name = "searxng"
    auth_fix = (
        "check TTDR_SEARXNG_URL and that the instance allows format=json "
        "(search.formats in its settings.yml)"
    )

    def __init__(self, base_url: str, reader: PageReader | None) -> None:
        super().__init__(reader)
        self._url = base_url.rstrip("/") + "/search"

    @classmethod
    def from_settings(cls, settings: WorkerSettings, reader: PageReader | None) -> SearxngSearch:
        return cls(required(settings.searxng_url, "TTDR_SEARXNG_URL", cls.name), reader)

    def _request(self, query: str, k: int) -> HttpRequest:
        return HttpRequest(url=self._url, params={"q": query, "format": "json"})

    def _parse(self, data: Any) -> list[WebHit]:
        # {"query": ..., "results": [{"url", "title", "content", "engine", "score"}], ...}
        return [
            WebHit(title=r.get("title") or "", url=r["url"], snippet=r.get("content") or "")
            for r in data["results"]
        ]
