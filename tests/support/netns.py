"""Network namespaces joined by veth links to one bridge (iproute2), for partition tests.

The test process stays in the root namespace, on the bridge's address; every other part (the
Temporal dev server, each worker) runs in a namespace of its own behind its own veth link, so a
link taken down cuts exactly that part off. Only private addresses on virtual links are used:
nothing reaches a real network. Needs root (CAP_NET_ADMIN); `unavailable()` says why not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field

SUBNET = "10.213.{n}"  # a /24 on the bridge; .1 is the root namespace


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def unavailable() -> str | None:
    """Why namespaces cannot be made here, or None when they can."""
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_NET_ADMIN)"
    probe = f"ttdr-probe-{uuid.uuid4().hex[:6]}"
    try:
        _ip("netns", "add", probe)
    except subprocess.CalledProcessError as err:
        return f"`ip netns add` failed: {err.stderr.strip()}"
    _ip("netns", "del", probe)
    return None


@dataclass
class Namespace:
    name: str
    address: str
    host_link: str  # the veth end in the root namespace: down = this namespace is cut off

    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def cut(self) -> None:
        _ip("link", "set", self.host_link, "down")


@dataclass
class Topology:
    """A bridge in the root namespace and namespaces hanging off it; a context manager that
    removes everything it made."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:5])
    subnet: int = 213
    namespaces: list[Namespace] = field(default_factory=list)
    _bridge_up: bool = False

    @property
    def bridge(self) -> str:
        return f"tbr{self.tag}"

    @property
    def host_address(self) -> str:
        return f"10.{self.subnet}.0.1"

    def __enter__(self) -> Topology:
        _ip("link", "add", self.bridge, "type", "bridge")
        self._bridge_up = True
        _ip("addr", "add", f"{self.host_address}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        return self

    def add(self, label: str) -> Namespace:
        index = len(self.namespaces) + 2
        ns = Namespace(
            name=f"ttdr-{self.tag}-{label}",
            address=f"10.{self.subnet}.0.{index}",
            host_link=f"th{self.tag}{index}",
        )
        inner = f"tn{self.tag}{index}"
        _ip("netns", "add", ns.name)
        self.namespaces.append(ns)
        _ip("link", "add", ns.host_link, "type", "veth", "peer", "name", inner)
        _ip("link", "set", inner, "netns", ns.name)
        _ip("link", "set", ns.host_link, "master", self.bridge)
        _ip("link", "set", ns.host_link, "up")
        inside = ["netns", "exec", ns.name, "ip"]
        _ip(*inside, "addr", "add", f"{ns.address}/24", "dev", inner)
        _ip(*inside, "link", "set", inner, "up")
        _ip(*inside, "link", "set", "lo", "up")
        return ns

    def __exit__(self, *exc: object) -> None:
        for ns in self.namespaces:
            subprocess.run(["ip", "link", "del", ns.host_link], capture_output=True)
            subprocess.run(["ip", "netns", "del", ns.name], capture_output=True)
        if self._bridge_up:
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
