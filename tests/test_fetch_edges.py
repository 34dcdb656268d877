"""Every documented rule of the page fetcher (activities/search/fetch.py) at its edge: which
addresses are refused (as classes, IPv4 and IPv6), that EVERY address a name resolves to is
checked and not only the first, the redirect limit, the size cap and the time cap.

Names are resolved by the real resolver: for "every address", a child process gets a mount
namespace of its own in which /etc/hosts names hosts with several addresses (needs root and
`unshare`, as on the project's machines and CI; skipped elsewhere). Servers are on loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from activities.search import fetch
from activities.search.fetch import (
    MAX_REDIRECTS,
    FetchRefused,
    FetchSettings,
    PageFetcher,
    address_allowed,
    is_public_address,
    resolve_checked,
)
from tests.support.fake_search import FakeHTTPServer, Reply

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK_OK = FetchSettings(allow_loopback=True, timeout_seconds=10)

REFUSED_ALWAYS = [
    "10.0.0.1",  # private
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # link-local: cloud metadata
    "100.64.0.1",  # carrier-grade NAT: not global
    "192.0.2.10",  # documentation
    "198.18.0.1",  # benchmarking
    "224.0.0.251",  # multicast
    "239.255.255.250",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "0.0.0.0",  # unspecified
    "fc00::1",  # unique local
    "fd12:3456::1",
    "fe80::1",  # link-local
    "fe80::1%eth0",  # with a zone
    "ff02::1",  # multicast
    "::",  # unspecified
    "2001:db8::1",  # documentation
    "::ffff:10.0.0.1",  # IPv4-mapped private
    "::ffff:169.254.169.254",
]
LOOPBACK = ["127.0.0.1", "127.255.255.254", "::1"]
PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED_ALWAYS + LOOPBACK)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(address)
    assert not address_allowed(address, allow_loopback=False)


@pytest.mark.parametrize("address", REFUSED_ALWAYS)
def test_allowing_loopback_lets_nothing_else_through(address: str) -> None:
    assert not address_allowed(address, allow_loopback=True)


@pytest.mark.parametrize("address", LOOPBACK)
def test_allowing_loopback_lets_loopback_through(address: str) -> None:
    assert address_allowed(address, allow_loopback=True)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    """Only checked as text: nothing is sent to them."""
    assert is_public_address(address)
    assert address_allowed(address, allow_loopback=False)


# ---------------------------------------------------------------- every resolved address

HOSTS = """\
127.0.0.1 mixed.test
10.1.2.3 mixed.test
10.1.2.3 private-first.test
127.0.0.1 private-first.test
127.0.0.1 link-local-v6.test
fe80::1 link-local-v6.test
::1 v6-first.test
127.0.0.1 v6-first.test
127.0.0.1 loop.test
127.0.0.2 loop.test
2606:4700:4700::1111 dual.test
8.8.8.8 dual.test
"""
PROBE = """
import asyncio, json, sys
from activities.search.fetch import FetchRefused, resolve_checked
out = {}
for host, allow in json.loads(sys.argv[1]):
    try:
        out[f"{host} {allow}"] = asyncio.run(resolve_checked(host, 80, allow))
    except FetchRefused as err:
        out[f"{host} {allow}"] = f"refused: {err}"
print(json.dumps(out))
"""


def resolve_with_hosts(tmp_path: Path, queries: list[tuple[str, bool]]) -> dict[str, str]:
    """resolve_checked in a child whose /etc/hosts is HOSTS (a mount namespace of its own)."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare for a private /etc/hosts")
    hosts = tmp_path / "hosts"
    hosts.write_text(HOSTS)
    script = 'mount --bind "$0" /etc/hosts && exec "$1" -c "$2" "$3"'
    command = [
        "unshare", "-m", "sh", "-c", script, str(hosts), sys.executable, PROBE,
        json.dumps(queries),
    ]  # fmt: skip
    done = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0 and "unshare" in done.stderr and "mount" not in done.stdout:
        pytest.skip(f"no mount namespace here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_every_resolved_address_is_checked_not_only_the_first(tmp_path: Path) -> None:
    # In this process: a literal address resolves to itself.
    assert await resolve_checked("127.0.0.1", 80, True) == "127.0.0.1"
    assert await resolve_checked("::1", 80, True) == "::1"
    with pytest.raises(FetchRefused, match=r"non-public address 10\.9\.9\.9"):
        await resolve_checked("10.9.9.9", 80, True)

    found = resolve_with_hosts(
        tmp_path,
        [
            ("mixed.test", True),
            ("private-first.test", True),
            ("link-local-v6.test", True),
            ("v6-first.test", True),
            ("loop.test", True),
            ("loop.test", False),
            ("dual.test", False),
        ],
    )
    # The first address (loopback, allowed) passes; the second is private: refused.
    assert found["mixed.test True"] == "refused: mixed.test resolves to non-public address 10.1.2.3"
    assert found["private-first.test True"] == (
        "refused: private-first.test resolves to non-public address 10.1.2.3"
    )
    assert found["link-local-v6.test True"] == (
        "refused: link-local-v6.test resolves to non-public address fe80::1"
    )
    # Every address allowed: the request goes to the IPv4 one, whatever order DNS gave.
    assert found["v6-first.test True"] == "127.0.0.1"
    assert found["loop.test True"] in {"127.0.0.1", "127.0.0.2"}  # either: both were checked
    assert found["loop.test False"].startswith("refused: loop.test resolves to non-public address")
    # Public addresses (only resolved here, never contacted): IPv4 first, not text order.
    assert found["dual.test False"] == "8.8.8.8"


@pytest.mark.parametrize("host", ["a b", "a..b", "x" * 300])
async def test_a_name_that_cannot_be_resolved_is_refused_with_its_reason(host: str) -> None:
    """Not an uncaught error: a malformed host in a search result or a redirect must cost
    that one page, not the retrieval activity."""
    with pytest.raises(FetchRefused, match=f"cannot resolve {host}: "):
        await resolve_checked(host, 80, True)
    with pytest.raises(FetchRefused, match="cannot resolve"):
        await fetch_with(LOOPBACK_OK, f"http://{host.replace(' ', '%20')}/")


# ---------------------------------------------------------------- fetching: redirects and caps


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
