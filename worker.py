"""Run a TTD-DR worker: `python worker.py` (installed: `ttdr-worker`, the same entry()).

Environment: the Temporal connection as the `temporal` CLI reads it (TEMPORAL_ADDRESS, default
localhost:7233; TEMPORAL_NAMESPACE, default `default`; TEMPORAL_API_KEY, TEMPORAL_TLS_*,
temporal.toml profiles: see common/temporal_connection.py), TTDR_TASK_QUEUE (ttdr); the LLM endpoint
(TTDR_LLM_* / OPENAI_*, see activities/llm_settings.py: with none set, the embedded llama.cpp
model is started); TTDR_SEARCH (providers, default local; see
search/chain.py) and TTDR_CORPUS / TTDR_CACHE_DIR for local search (the per-file
reading budget: TTDR_INDEX_FILE_SECONDS / TTDR_INDEX_FILE_MEMORY_MB);
OTEL_EXPORTER_OTLP_ENDPOINT / _PROTOCOL / OTEL_SERVICE_NAME for traces (observability/tracing.py);
TTDR_METRICS_PORT and the same OTLP variables for metrics (observability/metrics.py);
TTDR_LLM_PRICES (activities/prices.py) and TTDR_LLM_MAX_RPM (node activities started per minute
on the LLM task queue `<queue>-llm`, for all workers together; unset: no limit, and node
activities stay on the workflow's queue, started eagerly: workflows/calls.py);
TTDR_DEPLOYMENT and TTDR_BUILD_ID (Worker Versioning: runs pinned to the build they started on).
Every variable is read into WorkerSettings (common/settings/) once, in main(), before anything
connects: a wrong value is one line and exit code 2 (docs/operate/environment.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

from opentelemetry.sdk.trace import TracerProvider
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.service import RPCError
from temporalio.worker import Worker, WorkerDeploymentConfig

from activities.continuation import ContinuationActivities
from activities.dispatch import dispatch_activity
from activities.llm import LLMClient
from activities.llm_settings import LLMConfigError, LLMSettings
from activities.nodes import ResearchActivities
from activities.notify import Notifier
from activities.prices import PriceConfigError, PriceTable
from common.errors import CommandError
from common.settings import SettingsError, WorkerSettings
from common.temporal_connection import TemporalSettings, load_settings
from common.temporal_connection import connect as connect_temporal
from common.temporal_plugin import carries_plugin
from embedded.llama_server import MODEL_ALIAS, LlamaServer
from embedded.process import EmbeddedServiceError
from observability import tracing, worker_metrics
from observability.search_attributes import ensure_search_attributes
from search import chain
from search.base import SearchProvider
from search.local_index import CorpusError
from search.local_provider import cache_dir_of
from search.web import SearchConfigError
from workflows.calls import llm_task_queue

log = logging.getLogger("ttdr.worker")
DEPLOYMENT_ENV, BUILD_ID_ENV = "TTDR_DEPLOYMENT", "TTDR_BUILD_ID"


class StartupError(RuntimeError):
    """The worker cannot start; the one-line message says what to fix."""


def worker_settings(env: Mapping[str, str]) -> WorkerSettings:
    """Every variable the worker reads, checked; a bad one is a StartupError naming it."""
    try:
        return WorkerSettings.load(env)
    except SettingsError as err:
        raise StartupError(str(err)) from None


async def connect(env: Mapping[str, str]) -> tuple[Client, TemporalSettings]:
    """The Temporal connection from the environment (common/temporal_connection.py: envconfig)."""
    try:
        target = load_settings(env)
        return await connect_temporal(target), target
    except CommandError as err:  # a wrong setting, or the server does not answer
        raise StartupError(str(err)) from None


class WorkerGroup:
    """The Temporal workers of one worker process, started and stopped together (`async with`):
    one on the workflow task queue (the workflows, and the node activities of runs started
    before the LLM queue existed) and one on its LLM queue (`<queue>-llm`, workflows/calls.py)
    for the node activities, whose dispatch rate the server holds for all workers at once."""

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> WorkerGroup:
        async with contextlib.AsyncExitStack() as stack:
            for worker in self.workers:
                await stack.enter_async_context(worker)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()


def build_worker(
    client: Client,
    task_queue: str,
    llm: LLMClient,
    search: SearchProvider,
    metrics: worker_metrics.Metrics | None = None,
    *,
    llm_max_rpm: float | None = None,
    version: WorkerDeploymentVersion | None = None,
    notify_loopback: bool | None = None,
) -> WorkerGroup:
    """`llm_max_rpm`: node activities started per minute on the LLM queue, by all workers
    together (the server's task-queue rate limit; every worker should set the same value).
    `version`: Worker Versioning (docs/operate/many-users.md, "Deploying a new version"): both
    workers join this deployment version, and runs are pinned to the version they started on.
    `notify_loopback`: watched topics may notify a loopback address (tests only); None: as
    this process's TTDR_NOTIFY_ALLOW_LOOPBACK says (tests build workers without main())."""
    if not carries_plugin(client):
        raise ValueError(
            "the worker's client must be connected with plugins=[ResearchPlugin()] "
            "(common/temporal_plugin.py): it brings the converter and the workflows"
        )
    activities = ResearchActivities(llm, search).all()
    # Follow-ups and watched topics: read the parent run by its id, POST a topic's changes.
    continuation = ContinuationActivities(client, search, llm.redactor)
    if notify_loopback is None:
        notify_loopback = worker_settings(os.environ).notify_allow_loopback
    notifier = Notifier(allow_loopback=notify_loopback)
    activities = [*activities, continuation.load_parent, notifier.notify]
    common: dict[str, Any] = {
        # Per-node and per-run metrics (observability/node_metrics.py), when configured. The
        # client's plugin adds tracing and the workflows (common/temporal_plugin.py).
        "interceptors": worker_metrics.interceptors(client, metrics),
        # Activities are async and I/O-bound (waiting on the LLM): many can be in flight at once.
        "max_concurrent_activities": 200,
    }
    if version is not None:
        common["deployment_config"] = WorkerDeploymentConfig(
            version=version,
            use_worker_versioning=True,
            # A run finishes on the code it started with: a new build never replays it.
            default_versioning_behavior=VersioningBehavior.PINNED,
        )
    workflows = Worker(
        client,
        task_queue=task_queue,
        # The research and batch workflows come with the client's plugin,
        # + the local activity that tells a run whether a limit is set (workflows/calls.py):
        # without one, node activities stay on this queue and start eagerly.
        activities=[*activities, dispatch_activity(llm_max_rpm)],
        # After a worker crash its sticky queue holds the run's next workflow task until this
        # timeout (SDK default 10 s); a short one lets another worker take over sooner.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=3),
        **common,
    )
    llm_calls = Worker(
        client,
        task_queue=llm_task_queue(task_queue),
        activities=activities,
        max_task_queue_activities_per_second=llm_max_rpm / 60 if llm_max_rpm else None,
        **common,
    )
    return WorkerGroup([workflows, llm_calls])


def deployment_version(settings: WorkerSettings) -> WorkerDeploymentVersion | None:
    """TTDR_DEPLOYMENT and TTDR_BUILD_ID: both (Worker Versioning) or neither (unversioned)."""
    name, build_id = (settings.deployment or "").strip(), (settings.build_id or "").strip()
    if not name and not build_id:
        return None
    if not name or not build_id:
        missing = DEPLOYMENT_ENV if not name else BUILD_ID_ENV
        raise StartupError(
            f"{missing} is not set: Worker Versioning needs both {DEPLOYMENT_ENV} and "
            f"{BUILD_ID_ENV} (or neither, for an unversioned worker)"
        )
    return WorkerDeploymentVersion(deployment_name=name, build_id=build_id)


def deployment_version_from_env(env: Mapping[str, str]) -> WorkerDeploymentVersion | None:
    return deployment_version(worker_settings(env))


async def first_version_becomes_current(
    client: Client, version: WorkerDeploymentVersion, attempts: int = 50
) -> None:
    """On a deployment whose current version was never set (its first deploy), make this
    version current, or new runs would wait for one. Later versions are made current by an
    operator (docs/operate/many-users.md, "Deploying a new version"). Best effort: a failure is
    logged."""
    describe = DescribeWorkerDeploymentRequest(
        namespace=client.namespace, deployment_name=version.deployment_name
    )
    problem = "the deployment did not appear"
    for _ in range(attempts):
        try:
            info = await client.workflow_service.describe_worker_deployment(describe)
            routing = info.worker_deployment_info.routing_config
            if routing.HasField("current_version_changed_time"):
                return  # an operator (or an earlier worker) has chosen the current version
            await client.workflow_service.set_worker_deployment_current_version(
                SetWorkerDeploymentCurrentVersionRequest(
                    namespace=client.namespace,
                    deployment_name=version.deployment_name,
                    build_id=version.build_id,
                    identity=f"ttdr worker {version.to_canonical_string()} (first version)",
                )
            )
            log.info("%s is the deployment's first version: made current", version)
            return
        except RPCError as err:  # not there yet (no poll registered), or a concurrent change
            problem = err.message
            await asyncio.sleep(0.2)
    log.warning("could not make %s current (%s): set it with the CLI", version, problem)


def llm_max_rpm_from_env(env: Mapping[str, str]) -> float | None:
    """TTDR_LLM_MAX_RPM: the provider's requests per minute for all workers (unset: no limit;
    at least 1: 0.0001 was once accepted, about one call a week, a run that never ends)."""
    return worker_settings(env).llm_max_rpm


@contextlib.asynccontextmanager
async def llm_client_from_settings(
    worker: WorkerSettings, log_dir: Path
) -> AsyncIterator[LLMClient]:
    """The configured endpoint, or the embedded llama.cpp model when none is configured."""
    try:
        settings = LLMSettings.from_settings(worker)
        prices = PriceTable.from_settings(worker)  # TTDR_LLM_PRICES over the defaults
    except (LLMConfigError, PriceConfigError) as err:
        raise StartupError(str(err)) from None
    server: LlamaServer | None = None
    if settings is None:
        log.info("no LLM endpoint configured: starting the embedded llama.cpp model")
        try:
            server = await asyncio.to_thread(LlamaServer(log_dir / "llama-server.log").start)
        except EmbeddedServiceError as err:
            raise StartupError(str(err)) from None
        settings = LLMSettings(
            base_url=server.base_url,
            model=MODEL_ALIAS,
            judge_model=MODEL_ALIAS,
            response_format="json_object",  # llama.cpp's form of schema-constrained output
        )
    llm = LLMClient(settings, prices=prices)
    for model in sorted({settings.model, settings.judge_model}):
        if prices.price_of(model) is None:
            log.warning(
                "model %s has no price (TTDR_LLM_PRICES): costs are not counted and runs with "
                "max_cost_usd fail at their first LLM call",
                model,
            )
    try:
        yield llm
    finally:
        await llm.aclose()
        if server is not None:
            server.stop()


def search_from_env(env: Mapping[str, str]) -> SearchProvider:
    return search_from_settings(worker_settings(env), env)


def search_from_settings(settings: WorkerSettings, env: Mapping[str, str]) -> SearchProvider:
    """TTDR_SEARCH (ordered providers, default `local`); see search/chain.py. The
    local index is checked here but refreshed in the background: the worker is ready at once,
    serving the index as last refreshed (search/local_provider.py)."""
    try:
        return chain.search_from_settings(settings, env)
    except SearchConfigError as err:
        raise StartupError(f"search: {err}") from None
    except CorpusError as err:
        raise StartupError(f"local search: {err}") from None


def tracing_from_env(env: Mapping[str, str]) -> TracerProvider | None:
    """OTLP traces when OTEL_EXPORTER_OTLP_ENDPOINT is set (one line says where), else none."""
    try:
        return tracing.configure_tracing(
            tracing.WORKER_SERVICE, env, announce=lambda line: print(line, flush=True)
        )
    except tracing.TracingConfigError as err:
        raise StartupError(str(err)) from None


def metrics_from_settings(
    settings: WorkerSettings, env: Mapping[str, str]
) -> worker_metrics.Metrics | None:
    """Metrics when TTDR_METRICS_PORT or an OTLP endpoint is set (one line each says where).
    Before any client connects: the Temporal SDK's runtime is chosen then."""
    try:
        return worker_metrics.metrics_from_settings(
            settings, env, announce=lambda line: print(line, flush=True)
        )
    except worker_metrics.MetricsConfigError as err:
        raise StartupError(str(err)) from None


async def run_worker(
    env: Mapping[str, str],
    metrics: worker_metrics.Metrics | None = None,
    settings: WorkerSettings | None = None,
) -> None:
    settings = settings or worker_settings(env)
    client, target = await connect(env)
    added = await ensure_search_attributes(client, target.namespace)
    if added:
        log.info("registered search attributes: %s", ", ".join(added))
    search = search_from_settings(settings, env)
    rpm = settings.llm_max_rpm
    version = deployment_version(settings)
    async with llm_client_from_settings(settings, cache_dir_of(settings, env) / "logs") as llm:
        worker = build_worker(
            client,
            target.task_queue,
            llm,
            search,
            metrics,
            llm_max_rpm=rpm,
            version=version,
            notify_loopback=settings.notify_allow_loopback,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        where = (
            f"LLM calls on {llm_task_queue(target.task_queue)}, at most {rpm:g}/min for all workers"
            if rpm
            else "LLM calls on the same queue, started eagerly: no TTDR_LLM_MAX_RPM"
        )
        print(
            f"worker ready: {target.describe()} task_queue={target.task_queue} ({where}) "
            f"{f'version={version.to_canonical_string()} (pinned) ' if version else ''}"
            f"llm={llm.settings.base_url} "
            f"model={llm.settings.model}",
            flush=True,
        )
        try:
            in_flight = worker_metrics.runs_in_flight(
                client, metrics, target.task_queue, settings.run_metrics_seconds
            )
            async with worker, in_flight:
                if version is not None:
                    await first_version_becomes_current(client, version)
                await stop.wait()
        finally:
            await chain.close_search(search)


def main() -> int:
    try:  # before anything connects or starts: a bad variable is one line, exit code 2
        settings = worker_settings(os.environ)
    except StartupError as err:
        print(f"worker: {err}", file=sys.stderr)
        return 2
    level = settings.log_level
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":
        # httpx logs every request at INFO (each LLM call, search and page fetch): 206 of 213
        # lines of a run's log. Failures are reported by the product's own lines.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    tracing.capture_content(settings.trace_content)
    try:
        provider = tracing_from_env(os.environ)
        metrics = metrics_from_settings(settings, os.environ)
        try:
            asyncio.run(run_worker(os.environ, metrics, settings))
        finally:
            tracing.shutdown_tracing(provider)  # also after SIGTERM: flush the last spans
            if metrics is not None:
                metrics.shutdown()
    except StartupError as err:
        print(f"worker: {err}", file=sys.stderr)
        return 2
    return 0


def entry() -> NoReturn:
    """`python worker.py [--processes N]` or the installed `ttdr-worker` (pyproject.toml's
    [project.scripts]): one worker, or N under a supervisor; leaves with the exit code."""
    import worker_processes

    # --processes N / TTDR_WORKER_PROCESSES: N of these under one supervisor (worker_processes/),
    # each started as `python <this file>` (also when this process is `ttdr-worker`).
    code = worker_processes.main(main, Path(__file__), prog=Path(sys.argv[0]).name or "worker.py")
    # Leave without interpreter finalisation, as client.py does: the SDK's native threads could
    # abort it after a start-up error was printed ("Fatal Python error: PyGILState_Release",
    # exit 134 instead of 2, in 3 of 12 tries with a bad TTDR_CORPUS). Spans and metrics were
    # flushed by main() already.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
