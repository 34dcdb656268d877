"""Which addresses the page fetcher (search/fetch.py) refuses: every documented class,
IPv4 and IPv6, with and without loopback allowed; EVERY address a name resolves to is checked,
not only the first; a name that cannot be resolved is refused with its reason.

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
from pathlib import Path

import pytest

from search.fetch import (
    FetchRefused,
    FetchSettings,
    address_allowed,
    is_public_address,
    resolve_checked,
)
from tests.search.test_page_fetch import fetch_with
from tests.support.paths import ROOT

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
from search.fetch import FetchRefused, resolve_checked
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
