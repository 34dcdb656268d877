"""Web search providers against loopback fakes of their documented APIs, the fallback chain,
start-up errors and canonical-URL de-duplication."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from common.settings import WorkerSettings
from search import chain
from search.base import SearchResult
from search.chain import SearchChain
from search.errors import SearchError
from search.providers.brave import BraveSearch
from search.providers.google import GoogleSearch
from search.providers.searxng import SearxngSearch
from search.providers.tavily import TavilySearch
from search.urls import canonical_url, url_id
from search.web import WebSearchProvider
from tests.support.fake_search import FakeHTTPServer, Reply
from worker import StartupError, search_from_env

HITS = [
    ("Context managers", "https://docs.example.org/with?utm_source=feed", "The with statement"),
    ("Generators", "https://docs.example.org/gen/", "yield makes a generator"),
    ("Same page again", "HTTPS://DOCS.example.org/with#top", "duplicate of the first"),
]


@pytest.fixture
def api() -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer() as server:
        yield server


# Each provider's documented success shape, built from HITS.
def tavily_body() -> dict:
    results = [{"title": t, "url": u, "content": c, "score": 0.9} for t, u, c in HITS]
    return {"query": "q", "results": results, "response_time": 0.5}


def google_body() -> dict:
    items = [
        {"kind": "customsearch#result", "title": t, "link": u, "snippet": c} for t, u, c in HITS
    ]
    return {"kind": "customsearch#search", "items": items}


def brave_body() -> dict:
    results = [{"title": t, "url": u, "description": c} for t, u, c in HITS]
    return {"type": "search", "web": {"type": "search", "results": results}}


def searxng_body() -> dict:
    results = [
        {"title": t, "url": u, "content": c, "engine": "ddg", "score": 1.0} for t, u, c in HITS
    ]
    return {"query": "q", "number_of_results": 3, "results": results}


def make(name: str, base: str) -> tuple[WebSearchProvider, str]:
    """A provider pointed at the fake (base-URL override), and the path it calls."""
    settings = WorkerSettings.load({
        "TAVILY_API_KEY": "tvly-test",
        "TTDR_TAVILY_URL": base,
        "GOOGLE_API_KEY": "g-key",
        "GOOGLE_CSE_ID": "cse-1",
        "TTDR_GOOGLE_URL": f"{base}/customsearch/v1",
        "BRAVE_API_KEY": "brave-key",
        "TTDR_BRAVE_URL": f"{base}/res/v1/web/search",
        "TTDR_SEARXNG_URL": base,
    })  # fmt: skip
    if name == "tavily":
        return TavilySearch.from_settings(settings, None), "/search"
    if name == "google":
        return GoogleSearch.from_settings(settings, None), "/customsearch/v1"
    if name == "brave":
        return BraveSearch.from_settings(settings, None), "/res/v1/web/search"
    return SearxngSearch.from_settings(settings, None), "/search"


BODIES = {
    "tavily": tavily_body,
    "google": google_body,
    "brave": brave_body,
    "searxng": searxng_body,
}
KEY_VARS = {
    "tavily": "TAVILY_API_KEY",
    "google": "GOOGLE_API_KEY",
    "brave": "BRAVE_API_KEY",
    "searxng": "TTDR_SEARXNG_URL",
}


@pytest.mark.parametrize("name", list(BODIES))
async def test_provider_parses_documented_shape(name: str, api: FakeHTTPServer) -> None:
    provider, path = make(name, api.base_url)
    api.reply(path, Reply.json(BODIES[name]()))

    results = await provider.search("python with statement", 5)
    await provider.aclose()

    # The third hit is the first one's URL in another spelling: de-duplicated.
    assert [r.title for r in results] == ["Context managers", "Generators"]
    assert [r.location for r in results] == [
        "https://docs.example.org/with",
        "https://docs.example.org/gen",
    ]
    assert all(r.provider == name for r in results)
    assert results[0].id == url_id("https://docs.example.org/with#x")
    assert results[0].text == "The with statement"  # no page reader: the snippet
    seen = api.requests_to(path)[0]
    if name == "tavily":
        assert seen.method == "POST"
        assert seen.headers["authorization"] == "Bearer tvly-test"
        assert seen.json()["query"] == "python with statement"
        assert seen.json()["max_results"] == 5
    elif name == "google":
        assert seen.query == {
            "key": "g-key",
            "cx": "cse-1",
            "q": "python with statement",
            "num": "5",
        }
    elif name == "brave":
        assert seen.headers["x-subscription-token"] == "brave-key"
        assert seen.query == {"q": "python with statement", "count": "5"}
    else:
        assert seen.query == {"q": "python with statement", "format": "json"}


@pytest.mark.parametrize("name", list(BODIES))
@pytest.mark.parametrize("status", [401, 403])
async def test_auth_errors_are_not_retried(name: str, status: int, api: FakeHTTPServer) -> None:
    provider, path = make(name, api.base_url)
    api.reply(path, Reply.json({"error": {"code": status, "message": "bad key"}}, status))

    with pytest.raises(SearchError) as caught:
        await provider.search("q", 3)
    await provider.aclose()

    assert caught.value.kind == "SearchAuthError"
    assert not caught.value.retryable
    assert name in str(caught.value) and KEY_VARS[name] in str(caught.value)


@pytest.mark.parametrize("name", list(BODIES))
async def test_rate_limit_retries_after_retry_after(name: str, api: FakeHTTPServer) -> None:
    provider, path = make(name, api.base_url)
    api.reply(path, Reply.json({"detail": "slow down"}, 429, **{"Retry-After": "7"}))

    with pytest.raises(SearchError) as caught:
        await provider.search("q", 3)
    await provider.aclose()

    assert caught.value.kind == "SearchRateLimited"
    assert caught.value.retryable
    assert caught.value.retry_after == 7


@pytest.mark.parametrize("name", list(BODIES))
async def test_server_error_is_retryable(name: str, api: FakeHTTPServer) -> None:
    provider, path = make(name, api.base_url)
    api.reply(path, Reply(500, b"internal error"))

    with pytest.raises(SearchError) as caught:
        await provider.search("q", 3)
    await provider.aclose()

    assert caught.value.kind == "SearchUnavailable"
    assert caught.value.retryable


async def test_google_quota_403_is_a_rate_limit_not_an_auth_error(api: FakeHTTPServer) -> None:
    provider, path = make("google", api.base_url)
    error = {"code": 403, "message": "quota", "errors": [{"reason": "dailyLimitExceeded"}]}
    api.reply(path, Reply.json({"error": error}, 403))
    with pytest.raises(SearchError) as caught:
        await provider.search("q", 3)
    await provider.aclose()
    assert caught.value.kind == "SearchRateLimited" and caught.value.retryable


async def test_timeout_is_retryable(api: FakeHTTPServer) -> None:
    import httpx

    provider = SearxngSearch(api.base_url, None)
    provider._http = httpx.AsyncClient(timeout=0.2)

    def slow(_: object) -> Reply:
        import time

        time.sleep(1.0)
        return Reply.json(searxng_body())

    api.route("/search", slow)
    with pytest.raises(SearchError) as caught:
        await provider.search("q", 3)
    await provider.aclose()
    assert caught.value.kind == "SearchUnavailable" and "timed out" in str(caught.value)


async def test_malformed_body_is_retryable(api: FakeHTTPServer) -> None:
    provider, path = make("brave", api.base_url)
    api.reply(path, Reply.json({"web": {"results": [{"title": "no url"}]}}))
    with pytest.raises(SearchError) as caught:
        await provider.search("q", 3)
    await provider.aclose()
    assert caught.value.kind == "SearchBadResponse" and caught.value.retryable


# ---------------------------------------------------------------- the fallback chain


class Stub:
    def __init__(self, name: str, outcome: list[SearchResult] | Exception) -> None:
        self.name = name
        self.outcome = outcome
        self.calls = 0

    async def search(self, query: str, k: int) -> list[SearchResult]:
        self.calls += 1
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def hit(provider: str) -> SearchResult:
    return SearchResult(
        id=f"{provider}-1",
        title="t",
        location="https://x.org",
        provider=provider,
        text="x",
        score=1,
    )


async def test_first_provider_500_falls_back_to_second(api: FakeHTTPServer) -> None:
    first, _ = make("tavily", api.base_url)
    api.reply("/search", Reply(500, b"down"))
    api.reply("/res/v1/web/search", Reply.json(brave_body()))
    second, _ = make("brave", api.base_url)

    results = await SearchChain([first, second]).search("q", 3)

    assert {r.provider for r in results} == {"brave"}
    assert [s.path for s in api.seen] == ["/search", "/res/v1/web/search"]


async def test_first_provider_empty_falls_back_to_second(api: FakeHTTPServer) -> None:
    api.reply("/customsearch/v1", Reply.json({"kind": "customsearch#search"}))  # no "items"
    api.reply("/res/v1/web/search", Reply.json(brave_body()))
    first, _ = make("google", api.base_url)
    second, _ = make("brave", api.base_url)

    results = await SearchChain([first, second]).search("q", 3)

    assert {r.provider for r in results} == {"brave"}


async def test_auth_error_fails_fast_without_fallback() -> None:
    auth = SearchError("bad key", "SearchAuthError", retryable=False)
    second = Stub("local", [hit("local")])
    with pytest.raises(SearchError) as caught:
        await SearchChain([Stub("tavily", auth), second]).search("q", 3)
    assert caught.value.kind == "SearchAuthError" and second.calls == 0


async def test_all_failing_raises_retryable_with_longest_retry_after() -> None:
    limited = SearchError("429", "SearchRateLimited", retry_after=9)
    down = SearchError("500", "SearchUnavailable")
    with pytest.raises(SearchError) as caught:
        await SearchChain([Stub("tavily", limited), Stub("brave", down)]).search("q", 3)
    assert caught.value.retryable
    assert caught.value.kind == "SearchUnavailable"
    assert caught.value.retry_after == 9


async def test_all_empty_is_an_empty_answer() -> None:
    assert await SearchChain([Stub("tavily", []), Stub("local", [])]).search("q", 3) == []


# ---------------------------------------------------------------- start-up configuration


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"TTDR_SEARCH": "bing"}, "unknown provider(s) bing"),
        ({"TTDR_SEARCH": "tavily"}, "TAVILY_API_KEY"),
        ({"TTDR_SEARCH": "google", "GOOGLE_API_KEY": "k"}, "GOOGLE_CSE_ID"),
        ({"TTDR_SEARCH": "local,brave"}, "BRAVE_API_KEY"),
        ({"TTDR_SEARCH": "searxng"}, "TTDR_SEARXNG_URL"),
    ],
)
def test_unconfigured_provider_is_a_startup_error(
    env: dict[str, str], needle: str, cache_dir: Path
) -> None:
    with pytest.raises(StartupError, match="search") as caught:
        search_from_env({**env, "TTDR_CACHE_DIR": str(cache_dir)})
    assert needle in str(caught.value)


def test_chain_order_follows_ttdr_search(cache_dir: Path) -> None:
    env = {
        "TTDR_SEARCH": "brave, tavily,local",
        "BRAVE_API_KEY": "b",
        "TAVILY_API_KEY": "t",
        "TTDR_CACHE_DIR": str(cache_dir),
    }
    search = search_from_env(env)
    assert isinstance(search, SearchChain)
    assert [p.name for p in search.providers] == ["brave", "tavily", "local"]
    assert search_from_env({"TTDR_CACHE_DIR": str(cache_dir)}).name == "local"


# ---------------------------------------------------------------- canonical URLs


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://Example.COM/a/b/?utm_source=x&q=1#frag", "https://example.com/a/b?q=1"),
        ("https://example.com/", "https://example.com"),
        ("http://example.com:80/x/?fbclid=1&gclid=2", "http://example.com/x"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://example.com/x?b=2&a=1", "https://example.com/x?b=2&a=1"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_same_page_gets_same_id() -> None:
    spellings = [
        "https://docs.python.org/3/reference/compound_stmts.html#the-with-statement",
        "https://DOCS.python.org/3/reference/compound_stmts.html?utm_medium=email",
        "HTTPS://docs.python.org/3/reference/compound_stmts.html/",
    ]
    assert len({url_id(u) for u in spellings}) == 1
    assert url_id(spellings[0]) != url_id("https://docs.python.org/3/reference/")


async def test_closing_the_chain_closes_web_clients_and_leaves_local_alone(
    tmp_path: Path,
) -> None:
    (tmp_path / "doc.md").write_text("# Doc\n\nSome text about context managers.\n")
    env = {
        "TTDR_SEARCH": "searxng,local",
        "TTDR_SEARXNG_URL": "http://127.0.0.1:9",
        "TTDR_CORPUS": str(tmp_path),
        "TTDR_CACHE_DIR": str(tmp_path / "cache"),
    }
    search = chain.search_from_env(env)
    assert isinstance(search, chain.SearchChain)
    web = search.providers[0]
    await chain.close_search(search)
    assert web._http.is_closed  # the worker closes its clients when it stops
    assert search.providers[1].name == "local"
