"""TTDR_SEARCH: an ordered chain of providers, tried in turn within one activity attempt.

Policy (one attempt of retrieval_engine):
- a provider that returns results ends the search;
- one that returns nothing, or fails with a retryable error (429, 5xx, timeout, unreachable,
  malformed answer), passes to the next provider;
- a non-retryable error (401/403: a bad key; another 4xx: a bad request) fails the activity at
  once, non-retryably, naming the provider and the variable to fix — a broken key is surfaced,
  not hidden behind a fallback that would quietly change where the report's sources come from;
- when every provider failed or came back empty and at least one failed, the attempt raises a
  retryable error (honouring the longest Retry-After seen) so Temporal retries the whole chain;
  when all simply found nothing, the result is empty (the answer says no documents were found).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from common.settings import WorkerSettings
from search import errors
from search.base import SearchProvider, SearchResult
from search.fetch import FetchSettings, PageFetcher
from search.local_provider import LocalSearch
from search.providers import brave, google, searxng, tavily
from search.web import PageReader, SearchConfigError, WebSearchProvider

log = logging.getLogger(__name__)
WEB_PROVIDERS = ("tavily", "google", "brave", "searxng")
KNOWN_PROVIDERS = ("local", *WEB_PROVIDERS)


class SearchChain:
    def __init__(self, providers: Sequence[SearchProvider]) -> None:
        if not providers:
            raise ValueError("a search chain needs at least one provider")
        self.providers = list(providers)
        self.name = ",".join(p.name for p in self.providers)

    async def aclose(self) -> None:
        await close_search(*self.providers)

    async def search(self, query: str, k: int) -> list[SearchResult]:
        failures: list[errors.SearchError] = []
        for provider in self.providers:
            try:
                results = await provider.search(query, k)
            except errors.SearchError as err:
                if not err.retryable:
                    raise
                log.warning("search provider %s failed, trying the next: %s", provider.name, err)
                failures.append(err)
                continue
            if results:
                return results
            log.info("search provider %s found nothing, trying the next", provider.name)
        if not failures:
            return []
        delays = [f.retry_after for f in failures if f.retry_after is not None]
        raise errors.SearchError(
            "every search provider failed or found nothing: " + "; ".join(str(f) for f in failures),
            errors.RATE_LIMITED
            if all(f.kind == errors.RATE_LIMITED for f in failures)
            else errors.UNAVAILABLE,
            retry_after=max(delays) if delays else None,
        )


def provider_names(raw: str) -> list[str]:
    """TTDR_SEARCH's value (WorkerSettings.search), e.g. "tavily,brave,local"; nothing listed
    means "local". Unknown names are an error."""
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    if not names:
        names = ["local"]
    unknown = [n for n in names if n not in KNOWN_PROVIDERS]
    if unknown:
        raise SearchConfigError(
            f"TTDR_SEARCH names unknown provider(s) {', '.join(unknown)}; "
            f"known: {', '.join(KNOWN_PROVIDERS)}"
        )
    return names


def web_provider(
    name: str, settings: WorkerSettings, reader: PageReader | None
) -> WebSearchProvider:
    factories = {
        "tavily": tavily.TavilySearch.from_settings,
        "google": google.GoogleSearch.from_settings,
        "brave": brave.BraveSearch.from_settings,
        "searxng": searxng.SearxngSearch.from_settings,
    }
    return factories[name](settings, reader)


def page_reader(settings: WorkerSettings) -> PageReader | None:
    """Pages are read unless TTDR_FETCH_PAGES is false (then the providers' snippets are used);
    TTDR_FETCH_ALLOW_PRIVATE lets pages on loopback be read: for tests only."""
    if not settings.fetch_pages:
        return None
    return PageReader(PageFetcher(FetchSettings(allow_loopback=settings.fetch_allow_private)))


def search_from_settings(settings: WorkerSettings, env: Mapping[str, str]) -> SearchProvider:
    """The configured chain (a lone provider as itself). Raises SearchConfigError for an unknown
    or unconfigured provider and CorpusError for a bad corpus folder, at worker start-up; what
    the local index's refresh finds later is logged (local_provider.py). `env`: the process's
    environment, for what no setting holds (LocalSearch.refreshing)."""
    names = provider_names(settings.search)
    reader = page_reader(settings) if any(n in WEB_PROVIDERS for n in names) else None
    names = list(dict.fromkeys(names))  # a name listed twice is tried once
    # Web settings are checked before the (slower) local index is opened.
    built: dict[str, SearchProvider] = {
        n: web_provider(n, settings, reader) for n in names if n in WEB_PROVIDERS
    }
    if "local" in names:
        # The worker's index is refreshed in the background: it never delays readiness.
        built["local"] = LocalSearch.refreshing(settings, env)
    providers = [built[n] for n in names]
    return providers[0] if len(providers) == 1 else SearchChain(providers)


def search_from_env(env: Mapping[str, str]) -> SearchProvider:
    """search_from_settings over `env`'s WorkerSettings (tests, benchmarks); a bad value is the
    model's SettingsError."""
    return search_from_settings(WorkerSettings.load(env), env)


async def close_search(*providers: SearchProvider) -> None:
    """Close what providers hold: HTTP clients, the local index's SQLite connection."""
    for provider in providers:
        aclose = getattr(provider, "aclose", None)
        if aclose is not None:
            await aclose()
