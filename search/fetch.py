"""Read one web page safely: http(s) only, public addresses only, capped size and time.

The host is resolved first and every address checked (no loopback, private, link-local,
multicast or reserved targets, so a search result or redirect cannot reach the worker's own
network); the request then goes to the checked address itself (Host header and TLS SNI keep
the name), so a second DNS answer cannot swap in another address. Redirects are followed by
hand and each hop is checked again. `allow_loopback` (TTDR_FETCH_ALLOW_PRIVATE=1) exists for
tests against loopback servers only; even then private, link-local (cloud metadata), multicast
and reserved addresses stay refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
import trafilatura
from pydantic import BaseModel, ConfigDict

log = logging.getLogger(__name__)
MAX_PAGE_BYTES = 2 * 1024 * 1024
FETCH_TIMEOUT_SECONDS = 15.0
MAX_REDIRECTS = 5
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_USER_AGENT = "ttdr-research-agent/0.1 (+https://github.com/)"


class FetchRefused(Exception):
    """The URL may not be fetched (scheme, address or redirect); the message says why."""


class Page(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str  # the final URL after redirects
    text: str  # the main text (extracted from HTML, or plain text as is)
    truncated: bool  # the body was cut at the byte cap


class FetchSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_bytes: int = MAX_PAGE_BYTES
    timeout_seconds: float = FETCH_TIMEOUT_SECONDS
    allow_loopback: bool = False  # tests only: lets loopback addresses through


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def address_allowed(address: str, allow_loopback: bool) -> bool:
    if allow_loopback and ipaddress.ip_address(address.split("%", 1)[0]).is_loopback:
        return True
    return is_public_address(address)


async def resolve_checked(host: str, port: int, allow_loopback: bool) -> str:
    """The first address of `host`, after checking that every address it resolves to is public."""
    try:
        infos = await asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as err:  # UnicodeError: a name IDNA cannot encode (a..b)
        raise FetchRefused(f"cannot resolve {host}: {err}") from None
    # IPv4 first: many hosts have no IPv6 route, and every address is checked either way.
    addresses = sorted({str(info[4][0]) for info in infos}, key=lambda a: ":" in a)
    if not addresses:
        raise FetchRefused(f"{host} resolves to no address")
    for address in addresses:
        if not address_allowed(address, allow_loopback):
            raise FetchRefused(f"{host} resolves to non-public address {address}")
    return addresses[0]


class PageFetcher:
    def __init__(self, settings: FetchSettings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        # Redirects are followed by hand (each hop re-checked); env proxies would bypass the check.
        self._http = http or httpx.AsyncClient(follow_redirects=False, trust_env=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def fetch(self, url: str) -> Page | None:
        """The page's main text; None for a body that is not HTML or text. Raises FetchRefused
        for a forbidden target, httpx errors / TimeoutError for network failures."""
        async with asyncio.timeout(self.settings.timeout_seconds):
            for _ in range(MAX_REDIRECTS + 1):
                result = await self._fetch_once(url)
                if isinstance(result, str):
                    url = result  # a redirect: check the next hop like the first
                    continue
                return result
        raise FetchRefused(f"more than {MAX_REDIRECTS} redirects from {url}")

    async def _fetch_once(self, url: str) -> Page | str | None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchRefused(f"only http(s) URLs are fetched, not {url!r}")
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = await resolve_checked(host, port, self.settings.allow_loopback)
        pinned = f"[{address}]" if ":" in address else address
        target = urlunsplit((parts.scheme, f"{pinned}:{port}", parts.path or "/", parts.query, ""))
        headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": _USER_AGENT}
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        async with self._http.stream(
            "GET", target, headers=headers, extensions=extensions
        ) as response:
            if response.is_redirect and "location" in response.headers:
                return urljoin(url, response.headers["location"])
            response.raise_for_status()
            kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if kind not in (*_HTML_TYPES, "text/plain"):
                log.info("skipping %s: content type %r is not HTML or text", url, kind)
                return None
            body, truncated = await self._read_capped(response)
        text = body.decode(response.encoding or "utf-8", errors="replace")
        if kind == "text/plain":
            return Page(url=url, text=text, truncated=truncated)
        # Extraction is CPU work: keep it off the worker's event loop.
        return Page(url=url, text=await asyncio.to_thread(main_text, text), truncated=truncated)

    async def _read_capped(self, response: httpx.Response) -> tuple[bytes, bool]:
        """At most max_bytes of the body; stops reading (and closes) once past the cap."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > self.settings.max_bytes:
                return b"".join(chunks)[: self.settings.max_bytes], True
        return b"".join(chunks), False


def main_text(html: str) -> str:
    """trafilatura's main-content extraction; its plain-text rendering when that finds nothing
    (very short pages)."""
    text = trafilatura.extract(html, include_comments=False, include_tables=True)
    return text or trafilatura.html2txt(html) or ""
