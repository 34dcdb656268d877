"""The desk's settings, read once from the environment and checked before anything listens."""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from common.errors import UsageError
from common.setting_numbers import ascii_float, ascii_int
from common.temporal_connection import task_queue_from_env

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


def _number(env: Mapping[str, str], name: str, default: float, kind: type) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:  # ASCII digits only (int() reads other scripts' digits; float() reads nan)
        value = ascii_int(raw) if kind is int else ascii_float(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise DeskSettingsError(f"{name} must be {what} in ASCII digits, not {raw!r}") from None
    if value <= 0:
        raise DeskSettingsError(f"{name} must be positive, not {raw!r}")
    return value


def _corpus_roots(env: Mapping[str, str]) -> tuple[Path, ...]:
    """The worker's corpus folders (TTDR_CORPUS), or the demo corpus in its cache, if there."""
    raw = env.get("TTDR_CORPUS", "").strip()
    if raw:
        return tuple(Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip())
    cache = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ttdr"
    cache = Path(env.get("TTDR_CACHE_DIR") or cache).expanduser()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (cache / f"{DEMO_PREFIX}{version}",)


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
    env = os.environ if env is None else env
    if not 0 < port < 65536:
        raise DeskSettingsError(f"--port must be 1-65535, not {port}")
    token = env.get(TOKEN_ENV) or None
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise DeskSettingsError(f"{TOKEN_ENV} must have at least {MIN_TOKEN_CHARS} characters")
    check_bind(host, token)
    max_cost = env.get("TTDR_SERVE_MAX_COST_USD", "").strip()
    caps = Caps(
        runs_per_minute=int(_number(env, "TTDR_SERVE_RUNS_PER_MINUTE", 6, int)),
        max_llm_calls=int(_number(env, "TTDR_SERVE_MAX_LLM_CALLS", 2_000, int)),
        max_total_tokens=int(_number(env, "TTDR_SERVE_MAX_TOKENS", 5_000_000, int)),
        max_cost_usd=_number(env, "TTDR_SERVE_MAX_COST_USD", 0, float) if max_cost else None,
    )
    return DeskSettings(
        host=host,
        port=port,
        token=token,
        task_queue=task_queue_from_env(env),
        web_queue=env.get("TTDR_SERVE_WEB_QUEUE") or None,
        web_ui_url=env.get("TTDR_WEB_UI_URL", DEFAULT_WEB_UI).rstrip("/"),
        corpus_roots=_corpus_roots(env),
        caps=caps,
    )
