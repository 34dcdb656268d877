"""Run the eval against the embedded setup in one command: a dev server of its own, a worker
with the embedded model (or the configured LLM endpoint), then `eval.run` with the arguments
given, and everything stopped afterwards.

    .venv/bin/python -m eval.embedded --config demo=scripts/demo-config-local-model.json
    .venv/bin/python -m eval.embedded --model weak --config demo=scripts/demo-config.json

`--model weak` answers every node with eval/weak_model.py's junk instead of a model: the
product's floor, measured on all questions in a few minutes. `--save-histories DIR` keeps the
completed runs' histories there before the server (and its database) goes away, for
`python -m eval.replayed score` to score them again at any later commit.

Each run gets its own task queue and server, so it never competes with a demo or a test.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from common.temporal_connection import local_server_env
from embedded.process import ManagedProcess, free_port
from embedded.temporal_server import TemporalDevServer
from eval import run as eval_run
from eval import weak_model
from testing.fake_llm import FakeLLMServer

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    # `kill` stops it like Ctrl-C: the finally blocks stop the worker and the server it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        choices=("configured", "weak"),
        default="configured",
        help="configured: TTDR_LLM_* or the embedded model; weak: eval/weak_model.py",
    )
    parser.add_argument(
        "--save-histories",
        type=Path,
        metavar="DIR",
        help="keep the completed runs' histories here (eval.replayed save) before stopping",
    )
    args, rest = parser.parse_known_args(argv)
    with tempfile.TemporaryDirectory(prefix="ttdr-eval-") as tmp, contextlib.ExitStack() as stack:
        logs = Path(tmp)
        server = TemporalDevServer(
            logs / "temporal.db", port=free_port(), ui_port=free_port(), log_path=logs / "t.log"
        ).start()
        stack.callback(server.stop)
        env = local_server_env(server.address, os.environ)
        env["TTDR_TASK_QUEUE"] = f"ttdr-eval-{uuid.uuid4().hex[:8]}"
        if args.model == "weak":
            fake = stack.enter_context(FakeLLMServer())
            weak_model.install(fake)
            env.update(
                TTDR_LLM_BASE_URL=fake.base_url, TTDR_LLM_API_KEY="weak", TTDR_LLM_MODEL="weak"
            )
        worker = ManagedProcess(
            "worker", [sys.executable, str(ROOT / "worker.py")], logs / "worker.log", env=env
        )
        try:
            worker.wait_until(
                lambda: "worker ready" in worker.log_path.read_text(errors="replace"), 300
            )
            command = [sys.executable, "-m", "eval.run", *rest]
            code = subprocess.call(command, env=env, cwd=ROOT)
            if args.save_histories is not None:
                _save_histories(_out_dir(rest), args.save_histories, env)
            return code
        finally:
            worker.stop()


def _out_dir(rest: list[str]) -> Path:
    """eval.run's --out-dir among the arguments passed on (its default otherwise)."""
    out_dir: Path = eval_run.parser().parse_known_args(rest)[0].out_dir
    return out_dir


def _save_histories(out_dir: Path, to: Path, env: dict[str, str]) -> None:
    """Each config's completed runs kept while the server still holds them."""
    for runs in sorted((ROOT / out_dir).glob("*.runs.jsonl")):
        command = [sys.executable, "-m", "eval.replayed", "save", "--runs", str(runs)]
        subprocess.call([*command, "--to", str(to)], env=env, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
