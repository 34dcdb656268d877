"""The worker's metrics: the Temporal SDK's runtime metrics and the product's own.

Two ways out, each switched on by the environment alone:
- TTDR_METRICS_PORT=9464: a Prometheus scrape endpoint (http://HOST:PORT/metrics) with the
  product's metrics (OpenTelemetry SDK -> opentelemetry-exporter-prometheus). The Temporal SDK
  serves its own metrics from its core (Rust) on a second port, TTDR_SDK_METRICS_PORT (default
  TTDR_METRICS_PORT + 1). TTDR_METRICS_HOST is the bind address (default 127.0.0.1; 0.0.0.0 in
  a container so that Prometheus can reach it).
- OTEL_EXPORTER_OTLP_ENDPOINT (or _METRICS_ENDPOINT): OTLP every 15 s (OTEL_METRIC_EXPORT_INTERVAL
  in ms) to the collector, with the same protocol variables as traces; the SDK's metrics go there
  too when no Prometheus port is set (its core exports to one place only).
  OTEL_METRICS_EXPORTER=none turns OTLP metrics off while keeping OTLP traces.

Names and units follow OpenTelemetry's GenAI semantic conventions where they exist
(gen_ai.client.operation.duration, gen_ai.client.token.usage); the rest are `ttdr.*`. Labels
name nodes, models, error types, stop reasons and Temporal run ids (random UUIDs), never a
question, a prompt, a workflow id (the product's carry a slug of the question) or a key.
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from opentelemetry import metrics as otel_metrics
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from temporalio.runtime import (
    OpenTelemetryConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
)

from common.setting_numbers import ascii_int
from common.settings import WorkerSettings

Protocol = Literal["grpc", "http/protobuf"]
METER_NAME = "ttdr"
PORT_ENV = "TTDR_METRICS_PORT"
SDK_PORT_ENV = "TTDR_SDK_METRICS_PORT"
HOST_ENV = "TTDR_METRICS_HOST"  # a child's, written by the supervisor (worker_processes)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_EXPORT_MILLIS = 15_000

# Bucket boundaries: the GenAI conventions' advice for durations and tokens, extended for slow
# local models; scores are 0..1; iterations are small integers.
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24,
                    20.48, 40.96, 81.92, 163.84, 327.68)  # fmt: skip
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576)
SCORE_BUCKETS = tuple(round(0.1 * i, 1) for i in range(11))
ITERATION_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30)


class MetricsConfigError(ValueError):
    """A metrics variable is unusable; the message names it."""


@dataclass(frozen=True)
class OTLPMetricsTarget:
    protocol: Protocol
    endpoint: str
    interval_millis: int


@dataclass(frozen=True)
class MetricsSettings:
    service_name: str
    host: str = DEFAULT_HOST
    port: int | None = None
    sdk_port: int | None = None
    otlp: OTLPMetricsTarget | None = None

    @property
    def enabled(self) -> bool:
        return self.port is not None or self.otlp is not None

    @classmethod
    def from_settings(
        cls, service_name: str, settings: WorkerSettings, env: Mapping[str, str]
    ) -> MetricsSettings:
        """The ports and host from the worker's settings (their ranges checked there); the
        OTEL_* variables, the SDK's and not ours, from `env`."""
        port, sdk_port = settings.metrics_port, settings.sdk_metrics_port
        if port is not None and sdk_port is None:
            sdk_port = port + 1
        if port is not None and sdk_port == port:
            raise MetricsConfigError(f"{SDK_PORT_ENV} must differ from {PORT_ENV} ({port})")
        return cls(
            service_name=env.get("OTEL_SERVICE_NAME", "").strip() or service_name,
            host=settings.metrics_host.strip() or DEFAULT_HOST,
            port=port,
            sdk_port=sdk_port if port is not None else None,
            otlp=_otlp_target(env),
        )

    @classmethod
    def from_env(cls, service_name: str, env: Mapping[str, str]) -> MetricsSettings:
        """from_settings over `env`'s WorkerSettings; a bad port is its SettingsError."""
        return cls.from_settings(service_name, WorkerSettings.load(env), env)

    def describe(self) -> list[str]:
        lines = []
        if self.port is not None:
            lines.append(
                f"metrics: Prometheus on http://{self.host}:{self.port}/metrics (product), "
                f"http://{self.host}:{self.sdk_port}/metrics (Temporal SDK)"
            )
        if self.otlp is not None:
            sdk = "" if self.port is not None else " (product and Temporal SDK)"
            lines.append(f"metrics: OTLP {self.otlp.protocol} to {self.otlp.endpoint}{sdk}")
        return lines


def _otlp_target(env: Mapping[str, str]) -> OTLPMetricsTarget | None:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if env.get("OTEL_METRICS_EXPORTER", "").strip().lower() == "none":
        return None
    own = env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "").strip()
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if not (own or base):
        return None
    protocol = (
        (
            env.get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
            or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "grpc"
        )
        .strip()
        .lower()
    )
    if protocol not in ("grpc", "http/protobuf"):
        raise MetricsConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: use grpc or http/protobuf"
        )
    endpoint = own or base
    if not own and protocol == "http/protobuf":
        endpoint = f"{base.rstrip('/')}/v1/metrics"  # the generic variable is a base URL
    raw_interval = env.get("OTEL_METRIC_EXPORT_INTERVAL", "").strip()
    try:
        interval = ascii_int(raw_interval) if raw_interval else DEFAULT_EXPORT_MILLIS
    except ValueError:
        interval = -1
    if interval < 0:
        raise MetricsConfigError(
            f"OTEL_METRIC_EXPORT_INTERVAL={raw_interval!r} is not a number of milliseconds"
        )
    return OTLPMetricsTarget(cast(Protocol, protocol), endpoint, max(interval, 1000))


# ---------------------------------------------------------------------- the product's instruments


@dataclass
class Instruments:
    """Every instrument the product records, created once per meter."""

    meter: Meter
    llm_duration: Any = field(init=False)
    llm_token_usage: Any = field(init=False)
    node_llm_calls: Any = field(init=False)
    node_tokens: Any = field(init=False)
    node_cost: Any = field(init=False)
    activity_retries: Any = field(init=False)
    activity_errors: Any = field(init=False)
    judge_score: Any = field(init=False)
    run_iterations: Any = field(init=False)
    run_quality: Any = field(init=False)
    runs_finished: Any = field(init=False)

    def __post_init__(self) -> None:
        m = self.meter
        self.llm_duration = m.create_histogram(
            "gen_ai.client.operation.duration", "s", "Duration of one LLM request (any outcome)",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )  # fmt: skip
        self.llm_token_usage = m.create_histogram(
            "gen_ai.client.token.usage", "{token}", "Tokens of one LLM request, by type",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )  # fmt: skip
        self.node_llm_calls = m.create_counter(
            "ttdr.llm.calls", "{call}", "LLM calls of a node's completed activities"
        )
        self.node_tokens = m.create_counter(
            "ttdr.llm.tokens", "{token}", "Tokens a node's completed activities used, by type"
        )
        self.node_cost = m.create_counter(
            "ttdr.llm.cost_usd", "{USD}", "Cost of a node's completed activities (its price table)"
        )
        self.activity_retries = m.create_counter(
            "ttdr.activity.retries", "{attempt}", "Activity attempts after the first, by node"
        )
        self.activity_errors = m.create_counter(
            "ttdr.activity.errors", "{error}", "Failed activity attempts, by node and error.type"
        )
        self.judge_score = m.create_histogram(
            "ttdr.judge.score", "1", "Scores (0..1) given by the quality judge and variant judges",
            explicit_bucket_boundaries_advisory=SCORE_BUCKETS,
        )  # fmt: skip
        self.run_iterations = m.create_histogram(
            "ttdr.run.iterations", "{iteration}", "Denoising iterations of a run, at its report",
            explicit_bucket_boundaries_advisory=ITERATION_BUCKETS,
        )  # fmt: skip
        self.run_quality = m.create_histogram(
            "ttdr.run.quality", "1", "A run's last quality score, at its report",
            explicit_bucket_boundaries_advisory=SCORE_BUCKETS,
        )  # fmt: skip
        self.runs_finished = m.create_counter(
            "ttdr.runs.reported", "{run}", "Runs that reached their report, by ttdr.stop_reason"
        )


def observe_process(meter: Meter) -> None:
    """process.cpu.time (by cpu.mode) and process.memory.usage (resident set) of this process."""

    def cpu(_: CallbackOptions) -> Iterable[Observation]:
        times = os.times()
        yield Observation(times.user, {"cpu.mode": "user"})
        yield Observation(times.system, {"cpu.mode": "system"})

    def memory(_: CallbackOptions) -> Iterable[Observation]:
        yield Observation(resident_bytes())

    meter.create_observable_counter("process.cpu.time", [cpu], "s", "CPU time of the worker")
    meter.create_observable_gauge(
        "process.memory.usage", [memory], "By", "Resident memory of the worker process"
    )


def resident_bytes() -> int:
    """Current resident set size (Linux /proc), else the peak one from getrusage."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


# ---------------------------------------------------------------------- set-up


@dataclass
class Metrics:
    """The configured metrics of a process; shutdown() flushes and stops the exporters."""

    settings: MetricsSettings
    provider: MeterProvider
    instruments: Instruments
    _stop_server: Callable[[], None] | None = None

    def shutdown(self) -> None:
        self.provider.shutdown()
        if self._stop_server is not None:
            self._stop_server()


def configure_metrics(
    settings: MetricsSettings,
    announce: Callable[[str], object] | None = None,
) -> Metrics | None:
    """Install the meter provider and the Temporal SDK's default runtime when metrics are
    configured; None (no exporter, no port) otherwise. Call once, before any Temporal client
    connects: the SDK's runtime is chosen when the first client is created."""
    if not settings.enabled:
        return None
    readers: list[MetricReader] = []
    stop_server = None
    if settings.port is not None:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server

        try:
            server, _ = start_http_server(settings.port, addr=settings.host)
        except OSError as err:
            raise MetricsConfigError(
                f"{PORT_ENV}: cannot listen on {settings.host}:{settings.port} ({err.strerror})"
            ) from None
        stop_server = server.shutdown
        readers.append(PrometheusMetricReader())
    if settings.otlp is not None:
        readers.append(
            PeriodicExportingMetricReader(
                _otlp_exporter(settings.otlp), export_interval_millis=settings.otlp.interval_millis
            )
        )
    provider = MeterProvider(
        metric_readers=readers,
        resource=Resource.create({"service.name": settings.service_name}),
    )
    otel_metrics.set_meter_provider(provider)
    meter = provider.get_meter(METER_NAME)
    observe_process(meter)
    try:
        runtime = Runtime(telemetry=TelemetryConfig(metrics=_sdk_metrics(settings)))
    except RuntimeError as err:  # e.g. the SDK's port is taken
        provider.shutdown()
        if stop_server is not None:
            stop_server()
        raise MetricsConfigError(f"Temporal SDK metrics: {err}") from None
    Runtime.set_default(runtime)
    if announce is not None:
        for line in settings.describe():
            announce(line)
    return Metrics(settings, provider, Instruments(meter), stop_server)


def _otlp_exporter(target: OTLPMetricsTarget) -> Any:
    if target.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter(endpoint=target.endpoint)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as OTLPHttpMetricExporter,
    )

    return OTLPHttpMetricExporter(endpoint=target.endpoint)


def _sdk_metrics(settings: MetricsSettings) -> PrometheusConfig | OpenTelemetryConfig | None:
    """The SDK core exports to one place: its own Prometheus port, else OTLP."""
    if settings.sdk_port is not None:
        return PrometheusConfig(
            bind_address=f"{settings.host}:{settings.sdk_port}",
            counters_total_suffix=True,
            unit_suffix=True,
            durations_as_seconds=True,
        )
    if settings.otlp is not None:
        return OpenTelemetryConfig(
            url=settings.otlp.endpoint,
            http=settings.otlp.protocol == "http/protobuf",
            durations_as_seconds=True,
        )
    return None
