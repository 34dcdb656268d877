"""The worker's settings (`worker.py`, `ttdr-worker`): read once in main(), before it connects."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import SecretStr, field_validator

from common.settings.base import AsciiFloat, AsciiInt, UpperCase
from common.settings.fields import setting
from common.settings.shared import SharedSettings

LogLevel = Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], UpperCase]


class WorkerSettings(SharedSettings):
    process: ClassVar[str] = "worker"

    log_level: LogLevel = setting(
        "INFO", "the log level; httpx's line per HTTP request shows only with `DEBUG`"
    )
    worker_processes: AsciiInt | None = setting(
        None,
        "worker processes on this host (1: a single worker, no supervisor); `--processes N` wins",
        shown="the number of cores this process may use",
        ge=1,
        le=256,
    )
    worker_process: AsciiInt | None = setting(
        None,
        "set by the supervisor in each worker process's environment: its index (logs, "
        "OpenTelemetry resource); not for operators to set",
        ge=0,
        le=255,
    )
    llm_max_rpm: AsciiFloat | None = setting(
        None,
        "LLM requests per minute for all workers together, held by the Temporal server on the "
        "`<queue>-llm` task queue",
        shown="unset: no limit",
        ge=1,
        le=1_000_000,
    )
    deployment: str | None = setting(
        None,
        "Worker Versioning: the deployment name (no `.`); with `TTDR_BUILD_ID`, both or neither",
        shown="unset: unversioned",
    )
    build_id: str | None = setting(
        None, "Worker Versioning: this build's id; with `TTDR_DEPLOYMENT`", shown="unset"
    )
    search: str = setting(
        "local",
        "the search providers, comma-separated, in the order they are tried: `local`, "
        "`tavily`, `google`, `brave`, `searxng` (`search/chain.py`)",
    )
    fetch_pages: bool = setting(
        True, "`false`: web results' pages are not fetched, the providers' snippets are used"
    )
    fetch_allow_private: bool = setting(
        False, "`true` lets the page fetcher read pages on loopback, **for tests only**"
    )
    tavily_url: str = setting("https://api.tavily.com", "Tavily's base URL")
    google_url: str = setting(
        "https://www.googleapis.com/customsearch/v1", "the Google Custom Search URL"
    )
    brave_url: str = setting(
        "https://api.search.brave.com/res/v1/web/search", "the Brave Search URL"
    )
    searxng_url: str | None = setting(
        None, "a SearXNG instance's base URL", shown="none (required by `searxng`)"
    )
    tavily_api_key: SecretStr | None = setting(
        None, "Tavily's key (Bearer)", shown="none (required by `tavily`)", env="TAVILY_API_KEY"
    )
    google_api_key: SecretStr | None = setting(
        None,
        "the Custom Search JSON API key",
        shown="none (required by `google`)",
        env="GOOGLE_API_KEY",
    )
    google_cse_id: str | None = setting(
        None,
        "the Custom Search engine id",
        shown="none (required by `google`)",
        env="GOOGLE_CSE_ID",
    )
    brave_api_key: SecretStr | None = setting(
        None,
        "Brave Search's key (`X-Subscription-Token`)",
        shown="none (required by `brave`)",
        env="BRAVE_API_KEY",
    )
    metrics_port: AsciiInt | None = setting(
        None,
        "the port of the product's Prometheus metrics (`/metrics`)",
        shown="unset: no Prometheus endpoint",
        ge=1,
        le=65535,
    )
    sdk_metrics_port: AsciiInt | None = setting(
        None,
        "the port of the Temporal SDK's Prometheus metrics (must differ from the one above)",
        shown="`TTDR_METRICS_PORT` + 1",
        ge=1,
        le=65535,
    )
    metrics_host: str = setting("127.0.0.1", "the bind address of both metrics ports")
    run_metrics_seconds: AsciiFloat = setting(
        30.0,
        "seconds between the worker's reads of the runs in flight for the run gauges; `0` off",
        ge=0,
    )

    @field_validator("deployment")
    @classmethod
    def _no_dot(cls, name: str | None) -> str | None:
        if name is not None and "." in name:
            raise ValueError("must not contain '.'")
        return name
