"""The client's settings (`client.py`, `ttdr`: every command, the MCP server and the desk
included): read once in cli/main.py, before any command connects."""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr

from common.settings.base import AsciiFloat, AsciiInt
from common.settings.fields import setting
from common.settings.shared import SharedSettings


class ClientSettings(SharedSettings):
    process: ClassVar[str] = "client"

    web_ui_url: str = setting(
        "http://localhost:8233",
        "the Temporal Web UI base of the links printed (and shown by the desk)",
    )
    priority: AsciiInt | None = setting(
        None,
        "the runs' priority, 1 (highest) to 5, when `--priority` is not given",
        shown="unset (the server treats it as 3)",
        ge=1,
        le=5,
    )
    fairness_key: str | None = setting(
        None, "the runs' fairness key when `--fairness-key` is not given", shown="none"
    )
    schedule_allow_seconds: bool = setting(
        False, "`true` allows a schedule interval under one minute, **for tests only**"
    )
    mcp_max_runs: AsciiInt = setting(
        3, "runs started through MCP running at once on the task queue", ge=1, le=1000
    )
    mcp_max_llm_calls: AsciiInt = setting(
        500, "a run's `max_llm_calls` at most, through MCP", ge=1, le=20_000
    )
    mcp_max_tokens: AsciiInt = setting(
        2_000_000, "a run's `max_total_tokens` at most, through MCP", ge=1000, le=100_000_000
    )
    mcp_max_cost_usd: AsciiFloat | None = setting(
        None,
        "a run's `max_cost_usd` at most, in US dollars, through MCP; when set it is also "
        "given to every run that names none",
        shown="5, given only to runs that ask",
        ge=0.01,
        le=1_000_000,
    )
    mcp_token: SecretStr | None = setting(
        None,
        "the Bearer token every MCP HTTP request needs; required for a bind beyond loopback "
        "(16+ printable ASCII characters)",
        min_length=16,
    )
    mcp_allowed_hosts: str | None = setting(
        None, "more `name:port` values the MCP Host and Origin checks accept, comma-separated"
    )
    serve_token: SecretStr | None = setting(
        None,
        "the token every desk request needs; required for any `--host` but loopback "
        "(16+ characters)",
        min_length=16,
    )
    serve_web_queue: str | None = setting(
        None,
        "the task queue of workers started with a web `TTDR_SEARCH`",
        shown="none: the desk offers no web search",
    )
    serve_runs_per_minute: AsciiInt = setting(6, "runs the desk's pages may start per minute", ge=1)
    serve_max_llm_calls: AsciiInt = setting(2_000, "a desk run's `max_llm_calls` at most", ge=1)
    serve_max_tokens: AsciiInt = setting(5_000_000, "a desk run's `max_total_tokens` at most", ge=1)
    serve_max_cost_usd: AsciiFloat | None = setting(
        None,
        "when set, every desk run needs a `max_cost_usd` (US dollars) no higher than this",
        gt=0,
    )
