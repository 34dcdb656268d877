"""Run a TTD-DR worker: `python worker.py`.

Environment: TEMPORAL_ADDRESS (localhost:7233), TEMPORAL_NAMESPACE (default), TTDR_TASK_QUEUE
(ttdr); the LLM endpoint (TTDR_LLM_* / OPENAI_*, see activities/llm_settings.py: with none set,
the embedded llama.cpp model is started); TTDR_SEARCH (providers, default local; see
activities/search/chain.py) and TTDR_CORPUS / TTDR_CACHE_DIR for local search;
OTEL_EXPORTER_OTLP_ENDPOINT / _PROTOCOL / OTEL_SERVICE_NAME for traces (observability/tracing.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from temporalio.client import Client
from temporalio.worker import Worker

from activities.llm import LLMClient
from activities.llm_settings import LLMConfigError, LLMSettings
from activities.nodes import ResearchActivities
from activities.search import chain
from activities.search.base import SearchProvider
from activities.search.local_index import CorpusError
from activities.search.local_provider import cache_dir_from_env
from activities.search.web import SearchConfigError
from cli.connection import TemporalUnreachable, connect_temporal
from embedded.llama_server import MODEL_ALIAS, LlamaServer
from embedded.process import EmbeddedServiceError
from observability import tracing
from observability.search_attributes import ensure_search_attributes
from workflows.batch import BatchResearchWorkflow
from workflows.research import DeepResearchWorkflow

log = logging.getLogger("ttdr.worker")
DEFAULT_TASK_QUEUE = "ttdr"


@dataclass(frozen=True)
class TemporalTarget:
    address: str
    namespace: str
    task_queue: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TemporalTarget:
        return cls(
            address=env.get("TEMPORAL_ADDRESS", "localhost:7233"),
            namespace=env.get("TEMPORAL_NAMESPACE", "default"),
            task_queue=env.get("TTDR_TASK_QUEUE", DEFAULT_TASK_QUEUE),
        )


class StartupError(RuntimeError):
    """The worker cannot start; the one-line message says what to fix."""


async def connect(target: TemporalTarget) -> Client:
    try:
        return await connect_temporal(target.address, target.namespace)
    except TemporalUnreachable as err:
        raise StartupError(str(err)) from None


def build_worker(client: Client, task_queue: str, llm: LLMClient, search: SearchProvider) -> Worker:
    activities = ResearchActivities(llm, search)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[DeepResearchWorkflow, BatchResearchWorkflow],
        activities=activities.all(),
        # RunActivity:<node> spans with the node's attributes, under the run's trace.
        interceptors=tracing.worker_interceptors(client),
        # Activities are async and I/O-bound (waiting on the LLM): many can be in flight at once.
        max_concurrent_activities=200,
        # After a worker crash its sticky queue holds the run's next workflow task until this
        # timeout (SDK default 10 s); a short one lets another worker take over sooner.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=3),
    )


@contextlib.asynccontextmanager
async def llm_client_from_env(env: Mapping[str, str], log_dir: Path) -> AsyncIterator[LLMClient]:
    """The configured endpoint, or the embedded llama.cpp model when none is configured."""
    try:
        settings = LLMSettings.from_env(env)
    except LLMConfigError as err:
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
    llm = LLMClient(settings)
    try:
        yield llm
    finally:
        await llm.aclose()
        if server is not None:
            server.stop()


def search_from_env(env: Mapping[str, str]) -> SearchProvider:
    """TTDR_SEARCH (ordered providers, default `local`); see activities/search/chain.py."""
    try:
        return chain.search_from_env(env)
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


async def run_worker(env: Mapping[str, str]) -> None:
    target = TemporalTarget.from_env(env)
    client = await connect(target)
    added = await ensure_search_attributes(client, target.namespace)
    if added:
        log.info("registered search attributes: %s", ", ".join(added))
    search = search_from_env(env)
    async with llm_client_from_env(env, cache_dir_from_env(env) / "logs") as llm:
        worker = build_worker(client, target.task_queue, llm, search)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(
            f"worker ready: {target.address} namespace={target.namespace} "
            f"task_queue={target.task_queue} llm={llm.settings.base_url} "
            f"model={llm.settings.model}",
            flush=True,
        )
        try:
            async with worker:
                await stop.wait()
        finally:
            await chain.close_search(search)


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("TTDR_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        provider = tracing_from_env(os.environ)
        try:
            asyncio.run(run_worker(os.environ))
        finally:
            tracing.shutdown_tracing(provider)  # also after SIGTERM: flush the last spans
    except StartupError as err:
        print(f"worker: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
