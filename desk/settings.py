"""The desk's settings, from the client's (ClientSettings), checked before anything listens."""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from common.errors import UsageError
from common.settings import ClientSettings, SettingsError

TOKEN_ENV = "TTDR_SERVE_TOKEN"
MIN_TOKEN_CHARS = 16
DEFAULT_WEB_UI = "http://localhost:8233"
DEMO_PREFIX = "python-docs-"  # search/demo_corpus.py names its folder so


class DeskSettingsError(UsageError):
    """A desk setting is wrong: one line naming it (exit code 2, nothing listens)."""


@dataclass(frozen=True)
class Caps:
    """What one page may start: runs per minute and the largest budgets a run may ask for."""

    runs_per_minute: int = 6
    max_llm_calls: int = 2_000
    max_total_tokens: int = 5_000_000
    max_cost_usd: float | None = None  # None: no money cap beyond the run's own budget


@dataclass(frozen=True)
class DeskSettings:
    host: str = "127.0.0.1"
    port: int = 8400
    token: str | None = field(default=None, repr=False)  # never shown, never logged
    task_queue: str = "ttdr"
    web_queue: str | None = None  # task queue of workers that search the web, if any
    web_ui_url: str = DEFAULT_WEB_UI
    corpus_roots: tuple[Path, ...] = ()
    caps: Caps = Caps()
    poll_seconds: float = 1.0
    schedule_allow_seconds: bool = False  # TTDR_SCHEDULE_ALLOW_SECONDS, tests only

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _corpus_roots(settings: ClientSettings, env: Mapping[str, str]) -> tuple[Path, ...]:
    """The worker's corpus folders (TTDR_CORPUS), or the demo corpus in its cache, if there."""
    raw = (settings.corpus or "").strip()
    if raw:
        return tuple(Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip())
    cache = settings.cache_dir or Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ttdr"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (cache.expanduser() / f"{DEMO_PREFIX}{version}",)


def check_bind(host: str, token: str | None) -> None:
    """Loopback needs nothing; any other address needs a token, or the desk does not start."""
    if is_loopback(host):
        return
    if not token:
        raise DeskSettingsError(
            f"--host {host} is not a loopback address: set {TOKEN_ENV} (at least "
            f"{MIN_TOKEN_CHARS} characters) so that only people with the token can start runs"
        )


def load_settings(host: str, port: int, env: Mapping[str, str] | None = None) -> DeskSettings:
    """desk_settings over env (default os.environ), checked by ClientSettings."""
    env = os.environ if env is None else env
    try:
        client = ClientSettings.load(env)
    except SettingsError as err:
        raise DeskSettingsError(str(err)) from None
    return desk_settings(host, port, client, env)


def desk_settings(
    host: str, port: int, client: ClientSettings, env: Mapping[str, str]
) -> DeskSettings:
    """The desk's settings from the client's (checked at start); `env` only for XDG_CACHE_HOME."""
    if not 0 < port < 65536:
        raise DeskSettingsError(f"--port must be 1-65535, not {port}")
    token = client.serve_token.get_secret_value() if client.serve_token else None
    check_bind(host, token)
    caps = Caps(
        runs_per_minute=client.serve_runs_per_minute,
        max_llm_calls=client.serve_max_llm_calls,
        max_total_tokens=client.serve_max_tokens,
        max_cost_usd=client.serve_max_cost_usd,
    )
    return DeskSettings(
        host=host,
        port=port,
        token=token,
        task_queue=client.task_queue,
        web_queue=client.serve_web_queue,
        web_ui_url=client.web_ui_url.rstrip("/"),
        corpus_roots=_corpus_roots(client, env),
        caps=caps,
        schedule_allow_seconds=client.schedule_allow_seconds,
    )
