"""N worker processes under one supervisor: each child is `worker.py` with a process count of 1
(its own event loop, Temporal connection and HTTP connection pool), all on the same task queues.

- Start: child 0 first, until it is ready, so a wrong setting fails once, in one line (the child's
  own), and what every worker prepares at start (search attributes, the local index) is prepared
  once; then the others together.
- A child that dies is started again (after 0.5 s, or with a growing delay while it keeps dying
  within seconds); one that fails its start-up with exit code 2 (a configuration error) ends the
  supervisor with code 2 instead.
- SIGTERM or SIGINT: every child gets SIGTERM and stops as a single worker does; the supervisor
  waits for all (up to DRAIN_SECONDS, then SIGKILL) and exits 0.
- If the supervisor itself is killed, the kernel kills its children (PR_SET_PDEATHSIG), as a host
  going down would: no orphaned worker keeps polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

READY_LINE = "worker ready"
CHILD_ENV = "TTDR_WORKER_PROCESS"  # the child's index, 0..N-1 (logs, OTel resource)
STARTUP_ERROR_CODE = 2
DRAIN_SECONDS = 60.0
QUICK_DEATH_SECONDS = 10.0  # a child that dies sooner than this is restarted with backoff
MAX_BACKOFF_SECONDS = 30.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the supervisor dies (Linux; elsewhere a no-op)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Child:
    index: int
    process: asyncio.subprocess.Process | None = None
    ready: bool = False
    started_at: float = 0.0
    quick_deaths: int = 0
    restarts: int = 0
    ready_event: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None


class Supervisor:
    """Runs `command` N times, each with `env_for(index)`; restarts, drains (module docstring)."""

    def __init__(
        self,
        count: int,
        command: Sequence[str],
        env_for: Callable[[int], Mapping[str, str]],
        out: TextIO = sys.stdout,
    ) -> None:
        self.children = [Child(i) for i in range(count)]
        self._command = list(command)
        self._env_for = env_for
        self._out = out
        self._exits: asyncio.Queue[tuple[Child, int]] = asyncio.Queue()
        self._stopping = asyncio.Event()
        self._watchers: set[asyncio.Task[None]] = set()

    def say(self, line: str) -> None:
        print(f"supervisor: {line}", file=self._out, flush=True)

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> int:
        """Until stopped; the exit code of the whole worker."""
        first = self.children[0]
        await self._start(first)
        code = await self._until_ready(first)
        if code is not None:
            return code
        for child in self.children[1:]:
            await self._start(child)
        for child in self.children[1:]:
            if (code := await self._until_ready(child)) is not None:
                await self._drain()
                return code
        if not self._stopping.is_set():
            pids = ", ".join(str(c.pid) for c in self.children)
            self.say(f"{len(self.children)} worker processes ready (pids {pids})")
        return await self._supervise()

    async def _until_ready(self, child: Child) -> int | None:
        """None once `child` is ready (or the supervisor stops); its exit code if it failed its
        start-up with a configuration error."""
        while not child.ready and not self._stopping.is_set():
            ready = asyncio.ensure_future(child.ready_event.wait())
            exited = asyncio.ensure_future(self._exits.get())
            stopping = asyncio.ensure_future(self._stopping.wait())
            done, pending = await asyncio.wait(
                {ready, exited, stopping}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            if exited in done:
                dead, code = exited.result()
                if code == STARTUP_ERROR_CODE and not dead.ready:
                    await self._drain()
                    return code
                await self._restart(dead, code)
        return None

    async def _supervise(self) -> int:
        while not self._stopping.is_set():
            exited = asyncio.ensure_future(self._exits.get())
            stopping = asyncio.ensure_future(self._stopping.wait())
            done, pending = await asyncio.wait(
                {exited, stopping}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            if exited in done:
                dead, code = exited.result()
                await self._restart(dead, code)
        await self._drain()
        return 0

    async def _start(self, child: Child) -> None:
        child.ready = False
        child.ready_event.clear()
        child.started_at = time.monotonic()
        child.process = await asyncio.create_subprocess_exec(
            *self._command,
            env=dict(self._env_for(child.index)),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,  # read for readiness, forwarded with the child's tag
            stderr=None,  # logs and one-line errors go straight to the supervisor's stderr
            preexec_fn=_die_with_parent,
        )
        watcher = asyncio.create_task(self._watch(child, child.process))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

    async def _watch(self, child: Child, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        tag = f"[worker {child.index}] "
        while line := await process.stdout.readline():
            text = line.decode(errors="replace").rstrip("\n")
            print(tag + text, file=self._out, flush=True)
            if READY_LINE in text and process is child.process:
                child.ready = True
                child.ready_event.set()
        code = await process.wait()
        if process is child.process:
            await self._exits.put((child, code))

    async def _restart(self, child: Child, code: int) -> None:
        if self._stopping.is_set():
            return
        how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
        lived = time.monotonic() - child.started_at
        child.quick_deaths = child.quick_deaths + 1 if lived < QUICK_DEATH_SECONDS else 0
        delay = min(0.5 * 2**child.quick_deaths, MAX_BACKOFF_SECONDS)
        self.say(f"worker {child.index} (pid {child.pid}) {how}: starting it again in {delay:g} s")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)
        if self._stopping.is_set():
            return
        child.restarts += 1
        await self._start(child)

    async def _drain(self) -> None:
        """SIGTERM to every live child, then wait for all (SIGKILL after DRAIN_SECONDS)."""
        live = [c.process for c in self.children if c.process and c.process.returncode is None]
        if live:
            self.say(f"stopping {len(live)} worker process(es)")
        for process in live:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in live)), DRAIN_SECONDS)
        except TimeoutError:
            for process in live:
                if process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
            await asyncio.gather(*(p.wait() for p in live))
        for watcher in list(self._watchers):
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(watcher, 5)
