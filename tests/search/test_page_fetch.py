"""Page reading (search/fetch.py, passages.py): the fetcher's address checks, caps
and content types, and exactly where its limits are (the redirect limit, the request it sends,
the size and time caps); passages ranked against the question. Every address rule:
test_fetch_addresses.py; a poisoned page through the real workflow: test_poisoned_page.py."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from search import fetch
from search.fetch import (
    MAX_REDIRECTS,
    FetchRefused,
    FetchSettings,
    PageFetcher,
)
from search.passages import best_passages, chunks
from search.providers.searxng import SearxngSearch
from search.web import PageReader
from tests.support.fake_search import FakeHTTPServer, Reply, repeat

LOOPBACK_OK = FetchSettings(allow_loopback=True, timeout_seconds=10)
STRICT = FetchSettings(timeout_seconds=10)

ARTICLE = """<html><head><title>Context managers</title></head><body>
<nav>Home | Docs | Blog</nav>
<article><h1>The with statement</h1>
<p>The with statement calls the context manager's __enter__ method on entry and its __exit__
method on exit, even when the block raises an exception.</p>
<p>A context manager is any object that implements __enter__ and __exit__; contextlib offers
helpers such as contextmanager and ExitStack to build them.</p>
</article><footer>Copyright</footer></body></html>"""


@pytest.fixture
def pages() -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer() as server:
        yield server


async def fetch_with(settings: FetchSettings, url: str) -> fetch.Page | None:
    fetcher = PageFetcher(settings)
    try:
        return await fetcher.fetch(url)
    finally:
        await fetcher.aclose()


async def test_reads_main_text_of_a_loopback_page_when_allowed(pages: FakeHTTPServer) -> None:
    pages.reply("/article", Reply.html(ARTICLE))

    page = await fetch_with(LOOPBACK_OK, f"{pages.base_url}/article")

    assert page is not None and not page.truncated
    assert "__enter__ method on entry" in page.text
    assert "<p>" not in page.text


async def test_loopback_is_refused_without_the_setting(pages: FakeHTTPServer) -> None:
    pages.reply("/article", Reply.html(ARTICLE))
    with pytest.raises(FetchRefused, match="non-public"):
        await fetch_with(STRICT, f"{pages.base_url}/article")
    assert pages.seen == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
        "http://0.0.0.0/",
        "http://localhost/",
    ],
)
async def test_non_public_addresses_are_refused(url: str) -> None:
    with pytest.raises(FetchRefused):
        await fetch_with(STRICT, url)


@pytest.mark.parametrize("url", ["http://10.0.0.1/", "http://169.254.169.254/"])
async def test_setting_allows_loopback_only(url: str) -> None:
    with pytest.raises(FetchRefused):
        await fetch_with(LOOPBACK_OK, url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://x/"])
async def test_only_http_schemes(url: str) -> None:
    with pytest.raises(FetchRefused, match="http"):
        await fetch_with(LOOPBACK_OK, url)


@pytest.mark.parametrize(
    "target", ["http://127.0.0.1:{port}/secret", "http://10.0.0.7/", "http://[::1]:{port}/secret"]
)
async def test_redirect_to_a_private_address_is_refused(
    target: str, pages: FakeHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Setting off; the first hop (on 127.0.0.2) counts as public for this test, so only the
    redirect's re-check can stop the fetch."""
    with FakeHTTPServer(host="127.0.0.2") as front:
        public = fetch.is_public_address
        monkeypatch.setattr(fetch, "is_public_address", lambda a: a == "127.0.0.2" or public(a))
        location = target.format(port=pages.port)
        front.reply("/start", Reply(302, b"", {"Location": location}))
        pages.reply("/secret", Reply.html("<p>internal</p>"))

        with pytest.raises(FetchRefused, match="non-public"):
            await fetch_with(STRICT, f"http://127.0.0.2:{front.port}/start")

        assert [s.path for s in front.seen] == ["/start"]
    assert pages.seen == []


async def test_redirect_to_an_allowed_page_is_followed(pages: FakeHTTPServer) -> None:
    pages.reply("/old", Reply(301, b"", {"Location": "/article"}))
    pages.reply("/article", Reply.html(ARTICLE))
    page = await fetch_with(LOOPBACK_OK, f"{pages.base_url}/old")
    assert page is not None and page.url.endswith("/article")


async def test_oversized_page_is_capped_not_fully_read(pages: FakeHTTPServer) -> None:
    paragraph = b"<p>" + b"context manager exit " * 3000 + b"</p>\n"  # ~63 KB
    total_chunks = 1000  # ~63 MB, far more than kernel socket buffers hold
    head = b"<html><body>"
    pages.reply(
        "/huge",
        Reply(200, _chain(head, repeat(paragraph, total_chunks)), {"Content-Type": "text/html"}),
    )
    settings = FetchSettings(allow_loopback=True, max_bytes=256 * 1024, timeout_seconds=10)

    started = time.monotonic()
    page = await fetch_with(settings, f"{pages.base_url}/huge")

    assert page is not None and page.truncated
    assert len(page.text) <= settings.max_bytes
    assert time.monotonic() - started < 5
    time.sleep(0.2)  # let the server notice the closed connection
    assert not pages.stream_finished
    assert pages.streamed_bytes < len(paragraph) * total_chunks // 2


@pytest.mark.parametrize("kind", ["application/pdf", "image/png", "application/octet-stream"])
async def test_non_html_bodies_are_skipped(kind: str, pages: FakeHTTPServer) -> None:
    pages.reply("/file", Reply(200, b"%PDF-1.7 binary", {"Content-Type": kind}))
    assert await fetch_with(LOOPBACK_OK, f"{pages.base_url}/file") is None


async def test_plain_text_is_kept_as_is(pages: FakeHTTPServer) -> None:
    pages.reply("/notes.txt", Reply(200, b"line one\nline two", {"Content-Type": "text/plain"}))
    page = await fetch_with(LOOPBACK_OK, f"{pages.base_url}/notes.txt")
    assert page is not None and page.text == "line one\nline two"


def test_passages_are_ranked_against_the_question() -> None:
    # Each filler paragraph is one ~690-character chunk of its own.
    filler = "\n\n".join(
        f"Paragraph {i} talks about gardening and tomatoes. " * 14 for i in range(6)
    )
    needle = "The __exit__ method of a context manager runs on exit."
    text = f"{filler}\n\n{needle}\n\n{filler}"
    assert all(len(c) <= 700 for c in chunks(text))
    assert best_passages("context manager __exit__", text, 700) == needle
    two = best_passages("context manager __exit__ gardening", text, 1500)
    assert needle in two and len(two) <= 1500


async def test_search_results_carry_ranked_page_passages(pages: FakeHTTPServer) -> None:
    pages.reply("/article", Reply.html(ARTICLE))
    pages.reply("/gone", Reply(404, b"missing"))
    results = [
        {"title": "Article", "url": f"{pages.base_url}/article?utm_source=x", "content": "snip"},
        {"title": "Gone", "url": f"{pages.base_url}/gone", "content": "gone snippet"},
    ]
    pages.reply("/search", Reply.json({"query": "q", "results": results}))
    provider = SearxngSearch(pages.base_url, PageReader(PageFetcher(LOOPBACK_OK)))

    found = await provider.search("what must a context manager implement", 5)
    await provider.aclose()

    assert [r.location for r in found] == [f"{pages.base_url}/article", f"{pages.base_url}/gone"]
    assert "implements __enter__ and __exit__" in found[0].text
    assert found[1].text == "gone snippet"  # an unreadable page keeps its snippet


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


# ------------------------------------------ redirects, the request, the size and time caps, exactly


def chain(pages: FakeHTTPServer, hops: int) -> None:
    """/hop0 -> /hop1 -> ... -> /hop{hops}, which is the page."""
    for i in range(hops):
        pages.reply(f"/hop{i}", Reply(302, b"", {"Location": f"/hop{i + 1}"}))
    pages.reply(f"/hop{hops}", Reply(200, b"the end", {"Content-Type": "text/plain"}))


async def test_the_redirect_limit_is_exact(pages: FakeHTTPServer) -> None:
    chain(pages, MAX_REDIRECTS)
    page = await fetch_with(LOOPBACK_OK, f"{pages.base_url}/hop0")
    assert page is not None and page.text == "the end"
    assert page.url == f"{pages.base_url}/hop{MAX_REDIRECTS}"


async def test_one_redirect_over_the_limit_is_refused(pages: FakeHTTPServer) -> None:
    chain(pages, MAX_REDIRECTS + 1)
    with pytest.raises(FetchRefused, match=f"more than {MAX_REDIRECTS} redirects"):
        await fetch_with(LOOPBACK_OK, f"{pages.base_url}/hop0")
    assert pages.requests_to(f"/hop{MAX_REDIRECTS + 1}") == []


async def test_a_redirect_loop_ends(pages: FakeHTTPServer) -> None:
    pages.reply("/loop", Reply(302, b"", {"Location": "/loop"}))
    with pytest.raises(FetchRefused, match="redirects"):
        await fetch_with(LOOPBACK_OK, f"{pages.base_url}/loop")
    assert len(pages.requests_to("/loop")) == MAX_REDIRECTS + 1


@pytest.mark.parametrize(
    "target", ["file:///etc/passwd", "gopher://127.0.0.1/", "ftp://127.0.0.1/x"]
)
async def test_a_redirect_to_another_scheme_is_refused(pages: FakeHTTPServer, target: str) -> None:
    pages.reply("/go", Reply(302, b"", {"Location": target}))
    with pytest.raises(FetchRefused, match=r"only http\(s\) URLs"):
        await fetch_with(LOOPBACK_OK, f"{pages.base_url}/go")


async def test_the_request_goes_to_the_checked_address_with_the_name_as_host(
    pages: FakeHTTPServer,
) -> None:
    pages.reply("/p", Reply(200, b"hello", {"Content-Type": "text/plain"}))
    page = await fetch_with(LOOPBACK_OK, f"http://localhost:{pages.port}/p?q=1#frag")
    assert page is not None and page.text == "hello"
    seen = pages.requests_to("/p")[0]
    assert seen.headers["host"] == f"localhost:{pages.port}"
    assert seen.query == {"q": "1"}
    assert seen.headers["user-agent"].startswith("ttdr-research-agent/")


async def test_proxy_settings_in_the_environment_are_ignored(
    pages: FakeHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy would make the request on the fetcher's behalf, past the address check."""
    with FakeHTTPServer() as proxy:
        proxy.route("/", lambda _: Reply(200, b"from the proxy", {"Content-Type": "text/plain"}))
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, proxy.base_url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        pages.reply("/p", Reply(200, b"direct", {"Content-Type": "text/plain"}))
        page = await fetch_with(LOOPBACK_OK, f"{pages.base_url}/p")
        assert page is not None and page.text == "direct"
        assert proxy.seen == []


@pytest.mark.parametrize(
    ("size", "truncated"), [(999, False), (1000, False), (1001, True), (5000, True)]
)
async def test_the_size_cap_is_exact(pages: FakeHTTPServer, size: int, truncated: bool) -> None:
    """A body of exactly max_bytes is whole; one byte more is cut to max_bytes."""
    settings = FetchSettings(allow_loopback=True, max_bytes=1000, timeout_seconds=10)
    pages.reply("/t", Reply(200, b"a" * size, {"Content-Type": "text/plain"}))
    page = await fetch_with(settings, f"{pages.base_url}/t")
    assert page is not None
    assert (len(page.text), page.truncated) == (min(size, 1000), truncated)


def paced(chunk: bytes, times: int) -> Iterator[bytes]:
    for _ in range(times):
        yield chunk
        time.sleep(0.01)  # separate network reads


@pytest.mark.parametrize(("times", "truncated"), [(3, False), (30, True)])
async def test_a_body_read_in_many_pieces_is_joined_exactly(
    pages: FakeHTTPServer, times: int, truncated: bool
) -> None:
    settings = FetchSettings(allow_loopback=True, max_bytes=1000, timeout_seconds=10)
    piece = b"0123456789" * 10
    pages.route("/s", lambda _: Reply(200, paced(piece, times), {"Content-Type": "text/plain"}))
    page = await fetch_with(settings, f"{pages.base_url}/s")
    assert page is not None and page.truncated is truncated
    assert page.text == (piece * times)[:1000].decode()


def stalled() -> Iterator[bytes]:
    yield b"<p>first bytes</p>"
    for _ in range(40):  # then nothing for 4 s
        time.sleep(0.1)
    yield b"<p>too late</p>"


async def test_a_page_that_stalls_is_given_up_at_the_time_cap(pages: FakeHTTPServer) -> None:
    pages.route("/slow", lambda _: Reply(200, stalled(), {"Content-Type": "text/html"}))
    settings = FetchSettings(allow_loopback=True, timeout_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await fetch_with(settings, f"{pages.base_url}/slow")
    assert time.monotonic() - started < 3.5  # well before the page would have finished
