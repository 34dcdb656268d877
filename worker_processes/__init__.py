"""`python worker.py --processes N`: N worker processes on one host (worker_processes/children.py).

N comes from `--processes`, else TTDR_WORKER_PROCESSES, else the number of cores this process
may run on. With N = 1 worker.py runs as a single worker, as before. With more, this process
only supervises; what the children would each do once per host it does once for them:
- the embedded llama.cpp model (no LLM endpoint configured) is started here, and every child
  talks to that one server;
- with TTDR_METRICS_PORT set, it serves the children's metrics merged on the configured ports
  (worker_processes/metrics.py), each sample labelled `worker_process`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from activities.llm_settings import LLMConfigError, LLMSettings
from common.settings import SettingsError, WorkerSettings
from embedded.llama_server import MODEL_ALIAS, LlamaServer
from embedded.process import EmbeddedServiceError
from observability.metrics import (
    HOST_ENV,
    PORT_ENV,
    SDK_PORT_ENV,
    MetricsConfigError,
    MetricsSettings,
)
from search.local_provider import cache_dir_of
from worker_processes.children import CHILD_ENV, Supervisor
from worker_processes.metrics import MetricsProxy, free_port

PROCESSES_ENV = "TTDR_WORKER_PROCESSES"
MAX_PROCESSES = 256


class ProcessCountError(ValueError):
    """A wrong --processes; the message is one line (TTDR_WORKER_PROCESSES: SettingsError)."""


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # a container's CPU set, not the host's count
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def process_count(argv: Sequence[str], settings: WorkerSettings, prog: str = "worker.py") -> int:
    """--processes, else TTDR_WORKER_PROCESSES (checked by the model), else the cores."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Run TTD-DR workers (configuration: environment variables, "
            "see docs/operate/environment.md)."
        ),
    )
    parser.add_argument(
        "--processes",
        metavar="N",
        help=f"worker processes on this host (default: {PROCESSES_ENV}, else the number of "
        "cores); 1 runs a single worker without a supervisor",
    )
    args = parser.parse_args(list(argv))
    raw = args.processes
    if raw is None:
        return settings.worker_processes or cores()
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_PROCESSES):
        raise ProcessCountError(
            f"--processes={raw!r} is not a number of worker processes from 1 to {MAX_PROCESSES}"
        )
    return int(raw)


def main(
    single: Callable[[], int],
    script: Path,
    argv: Sequence[str] | None = None,
    prog: str = "worker.py",
) -> int:
    """worker.py's entry point: `single()` for one process, else the supervisor over `script`
    (run as `python script`, also when the worker was started as the installed `ttdr-worker`).
    `prog` names the command in the usage line."""
    try:  # once, before N workers start: each would refuse a bad value and be restarted
        settings = WorkerSettings.load(os.environ)
        count = process_count(sys.argv[1:] if argv is None else argv, settings, prog)
    except (SettingsError, ProcessCountError) as err:
        print(f"worker: {err}", file=sys.stderr)
        return 2
    if count == 1:
        return single()
    command = [sys.executable, str(script)]
    return asyncio.run(supervise(count, command, dict(os.environ), settings))


@contextlib.contextmanager
def _embedded_model(env: dict[str, str], settings: WorkerSettings) -> Iterator[None]:
    """The one llama.cpp server of the host, when no endpoint is configured (env is updated)."""
    if LLMSettings.from_settings(settings) is not None:
        yield
        return
    log = cache_dir_of(settings, env) / "logs" / "llama-server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(
        "supervisor: no LLM endpoint configured: starting the embedded llama.cpp model", flush=True
    )
    server = LlamaServer(log).start()
    env.update(
        {
            "TTDR_LLM_BASE_URL": server.base_url,
            "TTDR_LLM_MODEL": MODEL_ALIAS,
            "TTDR_LLM_JUDGE_MODEL": MODEL_ALIAS,
            "TTDR_LLM_RESPONSE_FORMAT": "json_object",  # llama.cpp's schema-constrained output
        }
    )
    try:
        yield
    finally:
        server.stop()


def _metrics_plan(env: Mapping[str, str], count: int) -> tuple[MetricsSettings, list[int]] | None:
    """The configured Prometheus ports and two private ports per child; None without a port (or
    with a wrong setting, which child 0 then reports in its one line)."""
    try:
        settings = MetricsSettings.from_env("ttdr-worker", env)
    except (MetricsConfigError, SettingsError):
        return None
    if settings.port is None or settings.sdk_port is None:
        return None
    return settings, [free_port() for _ in range(2 * count)]


async def supervise(
    count: int, command: Sequence[str], env: dict[str, str], settings: WorkerSettings
) -> int:
    try:
        with _embedded_model(env, settings):
            return await _supervise(count, command, env)
    except LLMConfigError as err:
        print(f"worker: {err}", file=sys.stderr)
        return 2
    except EmbeddedServiceError as err:
        print(f"worker: {err}", file=sys.stderr)
        return 2


def child_env(env: Mapping[str, str], index: int, ports: list[int] | None) -> dict[str, str]:
    """Child `index`'s environment, at each (re)start. With metrics on, it gets two private
    ports picked now, written into `ports` for the supervisor's merged view: a port picked
    once could be taken meanwhile (an outgoing connection's local port, one in TIME_WAIT), and
    a child restarted on it failed to start again and again ("Address already in use")."""
    child = {**env, PROCESSES_ENV: "1", CHILD_ENV: str(index)}
    attributes = env.get("OTEL_RESOURCE_ATTRIBUTES", "").strip()
    child["OTEL_RESOURCE_ATTRIBUTES"] = ",".join(
        a for a in (attributes, f"ttdr.worker.process={index}") if a
    )
    if ports is not None:
        ports[2 * index], ports[2 * index + 1] = free_port(), free_port()
        child[PORT_ENV], child[SDK_PORT_ENV] = str(ports[2 * index]), str(ports[2 * index + 1])
        child[HOST_ENV] = "127.0.0.1"
    return child


async def _supervise(count: int, command: Sequence[str], env: dict[str, str]) -> int:
    plan = _metrics_plan(env, count)

    def env_for(index: int) -> dict[str, str]:
        return child_env(env, index, plan[1] if plan is not None else None)

    supervisor = Supervisor(count, command, env_for)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, supervisor.stop)
    async with contextlib.AsyncExitStack() as stack:
        if plan is not None:
            settings, ports = plan
            for port, offset in ((settings.port, 0), (settings.sdk_port, 1)):
                assert port is not None
                proxy = MetricsProxy(
                    settings.host,
                    port,
                    lambda offset=offset: [(str(i), ports[2 * i + offset]) for i in range(count)],
                )
                try:
                    await stack.enter_async_context(proxy.serving())
                except OSError as err:
                    print(
                        f"worker: metrics: cannot listen on {settings.host}:{port} "
                        f"({err.strerror})",
                        file=sys.stderr,
                    )
                    return 2
            supervisor.say(
                f"metrics of all {count} processes on http://{settings.host}:{settings.port}"
                f"/metrics (product) and http://{settings.host}:{settings.sdk_port}/metrics "
                "(Temporal SDK), label worker_process"
            )
        supervisor.say(f"starting {count} worker processes")
        return await supervisor.run()
