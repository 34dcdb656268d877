"""Start a local helper process, wait until it serves, stop it cleanly: shared by the embedded
Temporal dev server and the embedded llama.cpp server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


class EmbeddedServiceError(RuntimeError):
    """An embedded service could not start; the message says why and where its log is."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class ManagedProcess:
    """A child process with its output in a log file, stopped with SIGTERM (then SIGKILL)."""

    def __init__(
        self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None
    ):
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            # Own process group: Ctrl-C in the terminal reaches us, and we stop it in order.
            start_new_session=True,
        )

    def wait_until(self, ready: Callable[[], bool], timeout_seconds: float) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedServiceError(
                    f"{self.name} exited with code {self.process.returncode} while starting; "
                    f"see {self.log_path}"
                )
            if ready():
                return
            time.sleep(0.2)
        self.stop()
        raise EmbeddedServiceError(
            f"{self.name} was not ready after {timeout_seconds:.0f}s; see {self.log_path}"
        )

    def stop(self, grace_seconds: float = 10.0) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(grace_seconds)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
