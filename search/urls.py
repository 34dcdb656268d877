"""Canonical URLs: one id per web page, so the run-wide source registry de-duplicates pages."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that only track the click, never change the page.
_TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "ref_src"}
)


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, default port dropped, fragment and utm_* / click ids dropped,
    query kept in order, trailing slash removed (except for the bare root)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in _TRACKING_PARAMS
    ]
    path = parts.path.rstrip("/") or "/"
    if path == "/" and not query:
        path = ""
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def url_id(url: str) -> str:
    """The SearchResult/Source id of a web page: a short hash of its canonical URL."""
    return "web-" + hashlib.sha256(canonical_url(url).encode()).hexdigest()[:16]
