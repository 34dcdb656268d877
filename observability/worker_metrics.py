"""The worker's metrics in three calls (worker.py): configure from the environment, the
activity interceptor, and the runs-in-flight gauges while the worker runs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping

from temporalio import worker
from temporalio.client import Client

from common.settings import WorkerSettings
from observability import run_metrics
from observability.metrics import Metrics, MetricsConfigError, MetricsSettings, configure_metrics
from observability.node_metrics import MetricsInterceptor

WORKER_SERVICE = "ttdr-worker"


def metrics_from_settings(
    settings: WorkerSettings,
    env: Mapping[str, str],
    announce: Callable[[str], object] | None = None,
) -> Metrics | None:
    """The worker's ports from its settings, the OTEL_* variables from `env`. Raises
    MetricsConfigError (one line naming the variable) on a setting the model cannot judge
    alone: equal ports, a bad OTLP variable, a port that cannot be bound."""
    return configure_metrics(MetricsSettings.from_settings(WORKER_SERVICE, settings, env), announce)


def interceptors(client: Client, metrics: Metrics | None) -> list[worker.Interceptor]:
    return [] if metrics is None else [MetricsInterceptor(client, metrics.instruments)]


@contextlib.asynccontextmanager
async def runs_in_flight(
    client: Client, metrics: Metrics | None, task_queue: str, interval: float
) -> AsyncIterator[None]:
    """`interval`: seconds between reads of the open runs (TTDR_RUN_METRICS_SECONDS; 0: off)."""
    if metrics is None:
        yield
        return
    meter = metrics.provider.get_meter("ttdr.runs")
    async with run_metrics.collect_runs(client, meter, task_queue, interval):
        yield


__all__ = [
    "Metrics",
    "MetricsConfigError",
    "interceptors",
    "metrics_from_settings",
    "runs_in_flight",
]
