"""Reading corpus files in a child process held to a per-file time and memory budget.

The index reads every file through one long-lived child (`python -m
search.documents.sandbox MEMORY_MIB`), one file at a time, over newline-delimited
JSON on its stdin/stdout:

- time: the parent polls the child's CPU time (Linux /proc) and kills it once reading the file
  has taken `budget.seconds` of it (a parser stuck in C cannot be interrupted any other way),
  or ten times that in wall time (a reader that waits); elsewhere the budget is wall time. The
  file is skipped; the next file starts a new child. CPU time, so that a machine under load
  does not push ordinary files over budget;
- memory: while it waits, the parent polls the child's resident memory (Linux /proc) and kills
  it when it grows past its size before the file plus `budget.memory_mib`; the child also sets
  its address-space limit (RLIMIT_AS) to its size plus twice the budget, so a spike between two
  polls fails an allocation (MemoryError, or a C library's own error near the limit): the file
  is skipped and the child restarts (its heap is suspect). A child killed outright (the
  kernel's OOM killer, a crash in a C parser) costs its file too, with the signal named.

Every such file is skipped with its reason, stored and counted like any other skipped file, and
is not read again until it changes. Spawning the child costs about 0.3 s, once per refresh that
has files to read; a refresh with nothing to read starts none.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import resource
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from search.documents.budget import MEMORY_ENV, SECONDS_ENV, FileBudget
from search.documents.extract import Passage, file_passages
from search.documents.files import CorpusFile, SkipFile
from search.documents.secrets import Secret

logger = logging.getLogger(__name__)

_REPO = Path(__file__).resolve().parents[2]
_START_SECONDS = 120.0  # a child that cannot even import in this long is broken
_EXIT_AFTER_MEMORY_ERROR = "exit"
_POLL_SECONDS = 0.05
# CPU time is the budget (a loaded machine does not make a file over budget); a reader that
# waits rather than computes is stopped after this many budgets of wall time.
_WALL_FACTOR = 10
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# The child's address-space limit is its size plus this many budgets: the parent's RSS watch
# is the budget; the limit stops an allocation spike between two polls.
_ADDRESS_SPACE_BUDGETS = 2
_CLOSED, _OVER_TIME, _OVER_MEMORY = object(), object(), object()
_FIELDS = tuple(Passage.model_fields)  # a passage travels as a list of its fields, in order


class SandboxedReader:
    """`extract(file, ...)` as documents/extract.py's file_passages, run in the budgeted child.
    A context manager: the child is stopped on exit."""

    def __init__(self, budget: FileBudget) -> None:
        self.budget = budget
        self.peak_rss_mib = 0  # the largest the child has been (for the benchmark)
        self.cpu_seconds = 0.0  # the child's CPU time so far (for the benchmark)
        self._child: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._in_process = False
        self._base_rss_mib = 0  # the child's RSS before the file it reads

    def __enter__(self) -> SandboxedReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start the child now rather than at the first file (a benchmark times files only)."""
        self._started()

    def close(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        with contextlib.suppress(OSError):
            assert child.stdin is not None
            child.stdin.close()  # the child's read loop ends
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def extract(
        self, file: CorpusFile, display: str, max_bytes: int, secrets: tuple[Secret, ...]
    ) -> list[Passage]:
        """The file's passages; SkipFile with the reason if it cannot be read, or is over the
        budget."""
        if self._in_process:
            return file_passages(file, display, max_bytes, secrets)
        try:
            child = self._started()
        except (OSError, RuntimeError, ValueError) as exc:
            # Better unbudgeted than no index at all; said once, loudly.
            logger.warning("document reader process unavailable (%s): reading in-process, "
                           "without the per-file budget", exc)  # fmt: skip
            self._in_process = True
            return file_passages(file, display, max_bytes, secrets)
        request = {
            "file": dataclasses.asdict(file),
            "display": display,
            "max_bytes": max_bytes,
            "secrets": [[s.name, s.value] for s in secrets],
        }
        try:
            assert child.stdin is not None
            child.stdin.write(json.dumps(request).encode() + b"\n")
            child.stdin.flush()
        except OSError:
            return self._lost(child)
        answer = self._answer(child, self.budget.seconds, budgeted=True)
        if answer is _OVER_TIME or answer is _OVER_MEMORY:
            child.kill()
            child.wait()
            self._child = None
            raise SkipFile(
                f"over the reading budget: not read in {self.budget.seconds:g} s of CPU time "
                f"({SECONDS_ENV})"
                if answer is _OVER_TIME
                else self._over_memory()
            )
        if answer is _CLOSED:
            return self._lost(child)
        reply = json.loads(answer)
        self._note(reply)
        if "skip" in reply:
            if reply.get("then") == _EXIT_AFTER_MEMORY_ERROR:
                self._stop(child)
            raise SkipFile(self._over_memory() if reply.get("memory") else str(reply["skip"]))
        # Built by our own code in the child: no second validation.
        return [
            Passage.model_construct(**dict(zip(_FIELDS, p, strict=True))) for p in reply["passages"]
        ]

    def _over_memory(self) -> str:
        return (
            f"over the reading budget: needs more than {self.budget.memory_mib} MiB ({MEMORY_ENV})"
        )

    def _note(self, reply: dict[str, Any]) -> None:
        self.peak_rss_mib = max(self.peak_rss_mib, int(reply.get("peak_rss_mib", 0)))
        self._base_rss_mib = int(reply.get("rss_mib", self._base_rss_mib))
        self.cpu_seconds = float(reply.get("cpu_s", self.cpu_seconds))

    # --- the child's lifecycle -------------------------------------------------------------

    def _started(self) -> subprocess.Popen[bytes]:
        if self._child is not None and self._child.poll() is None:
            return self._child
        self._child = None
        self._buffer = b""
        child = subprocess.Popen(
            [sys.executable, "-m", __name__, str(self.budget.memory_mib)],
            cwd=_REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C in the terminal is the parent's to handle
        )
        ready = self._answer(child, _START_SECONDS)
        if not isinstance(ready, bytes) or json.loads(ready).get("ready") is not True:
            child.kill()
            child.wait()
            raise RuntimeError("the document reader process did not start")
        self._note(json.loads(ready))
        self._child = child
        return child

    def _stop(self, child: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)
        if child.poll() is None:
            child.kill()
            child.wait()
        self._child = None

    def _lost(self, child: subprocess.Popen[bytes]) -> list[Passage]:
        """The child died while reading the file: that file is the cause."""
        code = child.wait()
        self._child = None
        if code < 0 and -code == signal.SIGKILL:
            cause = "killed (SIGKILL: out of memory?)"
        elif code < 0:
            cause = f"killed by {signal.Signals(-code).name}"
        else:
            cause = f"exit code {code}"
        raise SkipFile(
            f"the reader process died on it ({cause}); memory budget "
            f"{self.budget.memory_mib} MiB ({MEMORY_ENV})"
        )

    def _answer(
        self, child: subprocess.Popen[bytes], seconds: float, budgeted: bool = False
    ) -> bytes | object:
        """The child's next line, or _CLOSED if it closed its output, _OVER_TIME when `seconds`
        pass. With `budgeted` (a file is being read), `seconds` is CPU time (Linux /proc; wall
        time elsewhere, and _WALL_FACTOR times it as a backstop for a reader that waits), and
        _OVER_MEMORY when its RSS grows past its size before the file plus the memory budget
        (polled: the address-space limit catches a sudden spike)."""
        assert child.stdout is not None
        fd = child.stdout.fileno()
        cpu_start = _cpu_seconds(child.pid) if budgeted else None
        wall = seconds * _WALL_FACTOR if cpu_start is not None else seconds
        deadline = time.monotonic() + wall
        limit = self._base_rss_mib + self.budget.memory_mib
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    return _OVER_TIME
                if not selector.select(min(left, _POLL_SECONDS)):
                    if not budgeted:
                        continue
                    rss = _rss_mib(child.pid)
                    if rss is not None and rss > limit:
                        return _OVER_MEMORY
                    cpu = _cpu_seconds(child.pid)
                    if cpu is not None and cpu_start is not None and cpu - cpu_start > seconds:
                        return _OVER_TIME
                    continue
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return _CLOSED
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc; None elsewhere or once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, ValueError, IndexError):
        return None


def _rss_mib(pid: int | str = "self") -> int | None:
    """Resident memory of a process (Linux /proc; None elsewhere or once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        return None
    return None


# --- the child -------------------------------------------------------------------------------


def _address_space_mib(field: str = "VmSize") -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        return None
    return None


def _limit_memory(budget_mib: int) -> int | None:
    """What the child uses now plus the budgets, as its address-space limit (Linux); the
    limit in MiB, None if it could not be set."""
    used = _address_space_mib()
    if used is None:
        return None
    limit = (used + _ADDRESS_SPACE_BUDGETS * budget_mib) * 2**20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    return limit // 2**20


def _hit_limit(limit_mib: int | None) -> bool:
    """Whether the child came close to its address-space limit: a C library that fails an
    allocation says so in its own words (lxml: "XMLSyntaxError: unknown error")."""
    peak = _address_space_mib("VmPeak")
    return limit_mib is not None and peak is not None and peak >= 0.9 * limit_mib


def _unlimit_memory() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def _read_one(request: dict[str, Any], budget_mib: int) -> dict[str, Any]:
    from search.documents import registry

    file = CorpusFile(**request["file"])
    if file.suffix in registry.SUFFIXES:
        registry.load_parser(file.suffix)  # imported outside the budget
    secrets = tuple(Secret(name, value) for name, value in request["secrets"])
    limit = _limit_memory(budget_mib)
    try:
        passages = file_passages(file, request["display"], request["max_bytes"], secrets)
        return {"passages": [[getattr(p, name) for name in _FIELDS] for p in passages]}
    except MemoryError:
        return {"skip": "memory", "memory": True, "then": _EXIT_AFTER_MEMORY_ERROR}
    except SkipFile as skip:
        if _hit_limit(limit):
            return {"skip": "memory", "memory": True, "then": _EXIT_AFTER_MEMORY_ERROR}
        return {"skip": str(skip)}
    except Exception as exc:  # a bug on one odd file costs that file, as in index_store.py
        if _hit_limit(limit):
            return {"skip": "memory", "memory": True, "then": _EXIT_AFTER_MEMORY_ERROR}
        logger.exception("could not index %s", request["display"])
        return {"skip": f"could not be indexed ({type(exc).__name__}: {exc})"[:300]}
    finally:
        _unlimit_memory()


def _watch_parent() -> None:
    """End the child when its parent is gone (it would otherwise finish a stuck parse)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def _serve(budget_mib: int, requests: IO[bytes], replies: IO[bytes]) -> None:
    def reply(message: dict[str, Any]) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        peak, cpu = usage.ru_maxrss // 1024, usage.ru_utime + usage.ru_stime
        now = _rss_mib() or 0
        replies.write(
            json.dumps({**message, "peak_rss_mib": peak, "rss_mib": now, "cpu_s": cpu}).encode()
            + b"\n"
        )
        replies.flush()

    reply({"ready": True})
    for line in requests:
        answer = _read_one(json.loads(line), budget_mib)
        reply(answer)
        if answer.get("then") == _EXIT_AFTER_MEMORY_ERROR:
            return


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _watch_parent()
    # The protocol owns the real stdout; anything a parser prints goes to stderr.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _serve(int(sys.argv[1]), sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
