"""Real processes for the tests: `client.py` run as a user runs it, `worker.py` as a subprocess
that can be killed, and a way to hold one LLM request at the fake server so a kill lands while
that call is in flight."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.temporal_connection import local_server_env
from testing.fake_llm import FakeLLMServer, RecordedRequest, Responder

if TYPE_CHECKING:
    from temporalio.client import Client

ROOT = Path(__file__).resolve().parents[1]
READY_LINE = "worker ready:"
# Inherited settings that would point a worker subprocess somewhere else than the test's parts.
_FOREIGN_PREFIXES = ("TTDR_", "OPENAI_", "TEMPORAL_")


# What client.py prints (cli/stalls.py) when the run it follows cannot move: a test fails at once.
_STALLED = ("waiting: no worker polls task queue", "waiting: the worker fails this run's")


async def run_client_py(
    *args: str, env: Mapping[str, str], timeout_seconds: float = 90, stalls_fail: bool = True
) -> tuple[int, str, str]:
    """`python client.py ARGS` from the repository root: (exit code, stdout, stderr).

    Fails fast, saying what the client waited for: at once when the client reports that its run
    cannot move (no worker on the queue, e.g. a test started a workflow by mistake; a workflow
    task failing), and after `timeout_seconds` with its last output otherwise."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "client.py"),
        *args,
        env=dict(env),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    out: list[str] = []
    err: list[str] = []
    stalled: list[str] = []
    stall = asyncio.Event()

    async def collect(stream: asyncio.StreamReader, lines: list[str]) -> None:
        async for raw in stream:
            line = raw.decode(errors="replace")
            lines.append(line)
            if stalls_fail and line.startswith(_STALLED):
                stalled.append(line.strip())
                stall.set()

    readers = [
        asyncio.ensure_future(collect(process.stdout, out)),
        asyncio.ensure_future(collect(process.stderr, err)),
    ]
    stalling = asyncio.ensure_future(stall.wait())
    command = "client.py " + " ".join(args)
    try:
        done, _ = await asyncio.wait(
            [asyncio.gather(*readers), stalling],
            timeout=timeout_seconds,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if stalled:
            raise AssertionError(f"{command}: {stalled[0]}\nstdout:\n{''.join(out)}")
        if not done:
            tail = "".join(out[-3:] + err[-3:]).strip() or "(no output)"
            raise AssertionError(
                f"{command} still running after {timeout_seconds}s; its last output:\n{tail}"
            )
        await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        for task in (*readers, stalling):
            task.cancel()
    assert process.returncode is not None
    return process.returncode, "".join(out), "".join(err)


def worker_env(
    *,
    temporal_address: str,
    task_queue: str,
    llm_base_url: str,
    api_key: str,
    cache_dir: Path,
    model: str = "fake-model",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_PREFIXES)}
    env = local_server_env(temporal_address, env)
    env.update(
        {
            "TTDR_TASK_QUEUE": task_queue,
            "TTDR_LLM_BASE_URL": llm_base_url,
            "TTDR_LLM_API_KEY": api_key,
            "TTDR_LLM_MODEL": model,
            "TTDR_CACHE_DIR": str(cache_dir),
            "PYTHONUNBUFFERED": "1",  # a SIGKILLed worker loses no log line
            # One worker process, no supervisor (test_worker_processes.py runs several).
            "TTDR_WORKER_PROCESSES": "1",
        }
    )
    env.update(extra or {})
    return env


class WorkerProcess:
    """`python worker.py` with its stdout and stderr in one log file."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self, timeout_seconds: float = 30.0) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "worker.py")],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_seconds
        while READY_LINE not in self.output():
            if self.process.poll() is not None:
                raise AssertionError(
                    f"worker exited with code {self.process.returncode}:\n{self.output()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"worker not ready in {timeout_seconds}s:\n{self.output()}")
            await asyncio.sleep(0.1)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no cleanup, no graceful shutdown; what a crash or an OOM kill does."""
        if self.alive:
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, grace_seconds: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.alive:
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(grace_seconds)
            except subprocess.TimeoutExpired:
                self.kill()


class Hold:
    """Holds the `nth` request for one schema name at the fake server until released.

    Nothing else is held and the script is consulted only for answers that reach a worker:
    with `abandon=True` the held request (whose worker is killed meanwhile) is answered with a
    placeholder, so a scripted model that counts its calls gives the retry the answer an
    uninterrupted run would have got.
    """

    def __init__(
        self,
        server: FakeLLMServer,
        name: str,
        responder: Responder,
        *,
        nth: int = 1,
        abandon: bool = True,
        max_seconds: float = 60.0,
    ) -> None:
        self.name, self.nth, self.abandon, self.max_seconds = name, nth, abandon, max_seconds
        self._responder = responder
        self._lock = threading.Lock()
        self._seen = 0
        self.arrived = threading.Event()
        self._released = threading.Event()
        self.request: RecordedRequest | None = None
        self.request_finished = False
        server.respond(name, self)

    def __call__(self, request: RecordedRequest) -> Any:
        with self._lock:
            self._seen += 1
            mine = self._seen == self.nth
        if not mine:
            return self._responder(request)
        self.request = request
        self.arrived.set()
        self._released.wait(self.max_seconds)
        try:
            if self.abandon:
                return {"placeholder": "this answer goes to a worker that was killed"}
            return self._responder(request)
        finally:
            self.request_finished = True

    async def wait_arrived(self, timeout_seconds: float = 30.0) -> RecordedRequest:
        deadline = time.monotonic() + timeout_seconds
        while not self.arrived.is_set():
            if time.monotonic() > deadline:
                raise AssertionError(f"request {self.nth} for {self.name} never arrived")
            await asyncio.sleep(0.05)
        assert self.request is not None
        return self.request

    def release(self) -> None:
        self._released.set()


async def wait_for(condition: Any, timeout_seconds: float, what: str) -> None:
    """Poll `condition()` until true; fail naming `what`."""
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_seconds}s waiting for {what}")
        await asyncio.sleep(0.05)


@contextlib.contextmanager
def released(*holds: Hold) -> Any:
    """Release every hold on the way out, so no fake-server thread outlives its test."""
    try:
        yield
    finally:
        for hold in holds:
            hold.release()


async def run_client(client: Client, task_queue: str, *args: str) -> tuple[int, str, str]:
    env = local_server_env(client.service_client.config.target_host)
    env["TTDR_TASK_QUEUE"] = task_queue
    return await run_client_py(*args, env=env)
