"""Run the eval against the embedded setup in one command: a dev server of its own, a worker
with the embedded model (or the configured LLM endpoint), then `eval.run` with the arguments
given, and everything stopped afterwards.

    .venv/bin/python -m eval.embedded --config demo=scripts/demo-config-local-model.json

Each run gets its own task queue and server, so it never competes with a demo or a test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from cli.connection import local_server_env
from embedded.process import ManagedProcess, free_port
from embedded.temporal_server import TemporalDevServer

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="ttdr-eval-") as tmp:
        logs = Path(tmp)
        server = TemporalDevServer(
            logs / "temporal.db", port=free_port(), ui_port=free_port(), log_path=logs / "t.log"
        ).start()
        env = local_server_env(server.address, os.environ)
        env["TTDR_TASK_QUEUE"] = f"ttdr-eval-{uuid.uuid4().hex[:8]}"
        worker = ManagedProcess(
            "worker", [sys.executable, str(ROOT / "worker.py")], logs / "worker.log", env=env
        )
        try:
            worker.wait_until(
                lambda: "worker ready" in worker.log_path.read_text(errors="replace"), 300
            )
            command = [sys.executable, "-m", "eval.run", *argv]
            return subprocess.call(command, env=env, cwd=ROOT)
        finally:
            worker.stop()
            server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
