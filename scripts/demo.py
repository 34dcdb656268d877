"""The main job (run it through ./scripts/demo, which prepares .venv first).

Starts the embedded Temporal dev server with its Web UI (histories kept in .ttdr/temporal.db),
a worker (which starts the embedded llama.cpp model when no LLM endpoint is configured), runs
one research on the demo question over the demo corpus, prints where everything is, keeps the
server up for inspection until Ctrl-C when attached to a terminal, then stops what it started.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from activities.llm_settings import LLMConfigError, LLMSettings  # noqa: E402
from common.temporal_connection import (  # noqa: E402
    DEFAULT_ADDRESS,
    ConnectionSettingsError,
    load_settings,
    local_server_env,
)
from embedded.process import EmbeddedServiceError, ManagedProcess, port_open  # noqa: E402
from embedded.temporal_server import TemporalDevServer  # noqa: E402
from worker_processes import cores  # noqa: E402

DEMO_QUESTION = (
    "How does Python's `with` statement work, what must an object implement to be a context "
    "manager, and when should contextlib be used instead of writing the class by hand?"
)
STATE_DIR = ROOT / ".ttdr"
# A 135M model on a CPU: few iterations and short answers keep the demo to a few minutes.
LOCAL_MODEL_CONFIG = ROOT / "scripts" / "demo-config-local-model.json"
REMOTE_MODEL_CONFIG = ROOT / "scripts" / "demo-config.json"
DESK_PORT = 8400  # `client.py serve`'s default


def wait_for_worker(worker: ManagedProcess, timeout_seconds: float) -> None:
    def ready() -> bool:
        return "worker ready" in worker.log_path.read_text(errors="replace")

    try:
        worker.wait_until(ready, timeout_seconds)
    except EmbeddedServiceError:
        tail = worker.log_path.read_text(errors="replace").strip().splitlines()[-3:]
        raise EmbeddedServiceError(
            "the worker did not start: " + (" | ".join(tail) or f"see {worker.log_path}")
        ) from None


def start_desk(env: dict[str, str], logs: Path) -> tuple[ManagedProcess | None, str]:
    """The research desk (`client.py serve`, loopback only); if it cannot start, the demo goes
    on without it and says why."""
    argv = [sys.executable, str(ROOT / "client.py"), "serve", "--port", str(DESK_PORT)]
    (logs / "desk.log").unlink(missing_ok=True)
    desk = ManagedProcess("desk", argv, logs / "desk.log", env=env)
    try:
        desk.wait_until(lambda: "desk: http" in desk.log_path.read_text(errors="replace"), 60)
    except EmbeddedServiceError as err:
        print(f"demo: the research desk did not start: {err}", file=sys.stderr)
        return None, ""
    return desk, f"http://127.0.0.1:{DESK_PORT}/"


def hold_until_interrupted(ui_url: str, desk_url: str = "") -> None:
    desk = f"\nResearch desk:   {desk_url}" if desk_url else ""
    print(f"\nTemporal Web UI: {ui_url}{desk}  (press Ctrl-C to stop the server and the worker)")
    try:
        signal.pause()
    except KeyboardInterrupt:
        print()


def _stop_on_sigterm(signum: int, frame: object) -> None:
    """`kill` (SIGTERM) stops the demo like Ctrl-C: the finally below stops what it started."""
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    parser = argparse.ArgumentParser(description="run one TTD-DR research on the demo setup")
    parser.add_argument("question", nargs="?", default=DEMO_QUESTION)
    parser.add_argument("--config", type=Path, help="ResearchConfig JSON (default: demo profile)")
    args = parser.parse_args()

    env = dict(os.environ)
    try:
        embedded_model = LLMSettings.from_env(env) is None
    except LLMConfigError as err:
        print(f"demo: {err}", file=sys.stderr)
        return 2
    config = args.config or (LOCAL_MODEL_CONFIG if embedded_model else REMOTE_MODEL_CONFIG)
    logs = STATE_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "worker.log").unlink(missing_ok=True)

    server: TemporalDevServer | None = None
    worker: ManagedProcess | None = None
    desk: ManagedProcess | None = None
    ui_url = env.get("TTDR_WEB_UI_URL", "http://localhost:8233")
    try:
        # The connection the worker and client will use (TEMPORAL_* and temporal.toml, as the
        # `temporal` CLI reads them); only the local default gets the embedded server.
        settings = load_settings(env)
        if settings.address == DEFAULT_ADDRESS and settings.tls is False:
            if port_open("127.0.0.1", 7233):
                print("a Temporal server already listens on localhost:7233: using it")
            else:
                print("starting the embedded Temporal dev server (histories in .ttdr/temporal.db)")
                server = TemporalDevServer(
                    STATE_DIR / "temporal.db", log_path=logs / "temporal.log"
                )
                server.start()
                ui_url = server.ui_url
                env = local_server_env(server.address, env)
        else:
            print(f"using the configured Temporal server: {settings.describe()}")
        env.setdefault("TTDR_WEB_UI_URL", ui_url)

        # One worker process per core under worker.py's supervisor (TTDR_WORKER_PROCESSES).
        processes = env.get("TTDR_WORKER_PROCESSES", "").strip() or str(cores())
        print(
            f"starting {processes} worker process(es)"
            + (" and the embedded llama.cpp model" if embedded_model else "")
        )
        command = [sys.executable, str(ROOT / "worker.py"), "--processes", processes]
        worker = ManagedProcess("worker", command, logs / "worker.log", env=env)
        wait_for_worker(worker, timeout_seconds=180)
        desk, desk_url = start_desk(env, logs)
        print(f"Temporal Web UI: {ui_url}" + (f"   Research desk: {desk_url}" if desk else ""))

        started = time.monotonic()
        command = [sys.executable, str(ROOT / "client.py"), "research", args.question]
        code = subprocess.call([*command, "--config", str(config)], env=env, cwd=ROOT)
        print(f"research finished in {time.monotonic() - started:.0f}s with exit code {code}")
        if sys.stdin.isatty() and server is not None:
            hold_until_interrupted(ui_url, desk_url)
        return code
    except (EmbeddedServiceError, ConnectionSettingsError) as err:
        print(f"demo: {err}", file=sys.stderr)
        return 2
    finally:
        if desk is not None:
            desk.stop()
        if worker is not None:
            worker.stop()
        if server is not None:
            server.stop()
            print("stopped the dev server; its histories stay in .ttdr/temporal.db")


if __name__ == "__main__":
    sys.exit(main())
