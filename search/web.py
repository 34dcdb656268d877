"""The shared half of every web search provider: the HTTP call and its error mapping, de-dup
by canonical URL, and reading the top results' pages into ranked passages.

A provider module only says how to ask (`_request`) and how to read the answer (`_parse`).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from observability import tracing
from search import errors
from search.base import SearchResult
from search.fetch import FetchRefused, PageFetcher
from search.passages import best_passages
from search.urls import canonical_url, url_id

log = logging.getLogger(__name__)
SEARCH_TIMEOUT_SECONDS = 20.0
PAGES_READ = 5  # top results whose pages are fetched
PASSAGE_BUDGET = 1500  # characters of ranked passages kept per page (what the prompt shows)


class SearchConfigError(ValueError):
    """A provider is named in TTDR_SEARCH but not configured; the message names the variable."""


class WebHit(BaseModel):
    """One result as a provider lists it, before its page is read."""

    model_config = ConfigDict(frozen=True)

    title: str
    url: str
    snippet: str = ""


class HttpRequest(BaseModel):
    method: str = "GET"
    url: str
    params: dict[str, str | int] = {}
    headers: dict[str, str] = {}
    json_body: dict[str, Any] | None = None


def required(value: str | SecretStr | None, name: str, provider: str) -> str:
    """A provider's setting (WorkerSettings field `value`, variable `name`) that must be set."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    value = (value or "").strip()
    if not value:
        raise SearchConfigError(f"search provider {provider} needs {name} (TTDR_SEARCH names it)")
    return value


class WebSearchProvider(ABC):
    name: str
    auth_fix: str  # what to change when the provider answers 401/403

    def __init__(
        self,
        reader: PageReader | None,
        http: httpx.AsyncClient | None = None,
        timeout_seconds: float = SEARCH_TIMEOUT_SECONDS,
    ) -> None:
        self._reader = reader
        self._http = http or httpx.AsyncClient(timeout=timeout_seconds)

    @abstractmethod
    def _request(self, query: str, k: int) -> HttpRequest: ...

    @abstractmethod
    def _parse(self, data: Any) -> list[WebHit]:
        """The hits of a 200 answer; raise KeyError/TypeError/ValueError on a wrong shape."""

    async def aclose(self) -> None:
        """Close this provider's client and the page reader (shared; closing twice is fine)."""
        await self._http.aclose()
        if self._reader is not None:
            await self._reader.aclose()

    async def search(self, query: str, k: int) -> list[SearchResult]:
        with tracing.search_span(self.name, query, k) as span:
            hits = _dedupe(await self._hits(query, k))[:k]
            results = [self._result(rank, hit, hit.snippet) for rank, hit in enumerate(hits)]
            if self._reader is not None:
                results = await self._reader.read(query, results)
            span.set_attribute("ttdr.search.result_count", len(results))
        return results

    async def _hits(self, query: str, k: int) -> list[WebHit]:
        req = self._request(query, k)
        try:
            response = await self._http.request(
                req.method, req.url, params=req.params, headers=req.headers, json=req.json_body
            )
        except httpx.HTTPError as err:
            raise errors.transport_error(self.name, err) from None
        if response.status_code != 200:
            raise self._error(response)
        try:
            return self._parse(response.json())
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise errors.bad_response(self.name, f"{type(err).__name__}: {err}") from None

    def _error(self, response: httpx.Response) -> Exception:
        return errors.http_error(self.name, response, self.auth_fix)

    def _result(self, rank: int, hit: WebHit, text: str) -> SearchResult:
        url = canonical_url(hit.url)
        return SearchResult(
            id=url_id(url),
            title=hit.title.strip() or url,
            location=url,
            provider=self.name,
            text=text,
            document=url,
            score=1.0 / (rank + 1),  # providers rank; their raw scores are not comparable
        )


def _dedupe(hits: list[WebHit]) -> list[WebHit]:
    seen: set[str] = set()
    out: list[WebHit] = []
    for hit in hits:
        if not hit.url.startswith(("http://", "https://")):
            continue
        key = canonical_url(hit.url)
        if key not in seen:
            seen.add(key)
            out.append(hit)
    return out


class PageReader:
    """Replaces each top result's snippet by the page's passages that best answer the query;
    a page that cannot be read (refused, failed, not HTML) keeps its snippet."""

    def __init__(self, fetcher: PageFetcher, pages: int = PAGES_READ) -> None:
        self._fetcher = fetcher
        self._pages = pages

    async def aclose(self) -> None:
        await self._fetcher.aclose()

    async def read(self, query: str, results: list[SearchResult]) -> list[SearchResult]:
        top = results[: self._pages]
        texts = await asyncio.gather(*(self._passages(query, r) for r in top))
        read = [
            r.model_copy(update={"text": t}) if t else r for r, t in zip(top, texts, strict=True)
        ]
        return [*read, *results[self._pages :]]

    async def _passages(self, query: str, result: SearchResult) -> str | None:
        try:
            page = await self._fetcher.fetch(result.location)
        except (FetchRefused, httpx.HTTPError, TimeoutError) as err:
            log.info("page not read, keeping the snippet: %s: %s", result.location, err)
            return None
        if page is None or not page.text.strip():
            return None
        return best_passages(query, page.text, PASSAGE_BUDGET) or None
