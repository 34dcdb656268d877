"""The worker's metrics in three calls (worker.py): configure from the environment, the
activity interceptor, and the runs-in-flight gauges while the worker runs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping

from temporalio import worker
from temporalio.client import Client

from observability import run_metrics
from observability.metrics import Metrics, MetricsConfigError, configure_metrics
from observability.node_metrics import MetricsInterceptor

WORKER_SERVICE = "ttdr-worker"


def metrics_from_env(
    env: Mapping[str, str], announce: Callable[[str], object] | None = None
) -> Metrics | None:
    """Raises MetricsConfigError (one line naming the variable) on a bad setting."""
    run_metrics.interval_from_env(env)  # a bad value fails at start, not in the background
    return configure_metrics(WORKER_SERVICE, env, announce)


def interceptors(client: Client, metrics: Metrics | None) -> list[worker.Interceptor]:
    return [] if metrics is None else [MetricsInterceptor(client, metrics.instruments)]


@contextlib.asynccontextmanager
async def runs_in_flight(
    client: Client, metrics: Metrics | None, task_queue: str, env: Mapping[str, str]
) -> AsyncIterator[None]:
    if metrics is None:
        yield
        return
    meter = metrics.provider.get_meter("ttdr.runs")
    interval = run_metrics.interval_from_env(env)
    async with run_metrics.collect_runs(client, meter, task_queue, interval):
        yield


__all__ = ["Metrics", "MetricsConfigError", "interceptors", "metrics_from_env", "runs_in_flight"]
