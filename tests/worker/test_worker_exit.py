"""A worker that cannot start says why in one line and exits 2, every time (issue 23: with a bad
TTDR_CORPUS it printed the right line, then aborted in interpreter finalisation with exit 134 in
3 of 12 tries)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from temporalio.client import Client

from common.temporal_connection import local_server_env
from tests.support.paths import ROOT

TRIES = 6


@pytest.mark.slow
async def test_a_bad_corpus_stops_the_worker_with_exit_2_every_time(
    client: Client, tmp_path: Path
) -> None:
    env = local_server_env(client.service_client.config.target_host)
    env.update(
        TTDR_CORPUS=str(tmp_path / "no-such-folder"),
        TTDR_CACHE_DIR=str(tmp_path / "cache"),
        TTDR_WORKER_PROCESSES="1",
        TTDR_LLM_BASE_URL="http://127.0.0.1:9/v1",
        TTDR_LLM_API_KEY="unused",
        TTDR_LLM_MODEL="unused",
    )
    for _ in range(TRIES):
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "worker.py"), env=env, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, raw_err = await asyncio.wait_for(process.communicate(), timeout=120)
        err = raw_err.decode()
        assert process.returncode == 2, err
        assert "no-such-folder" in err and "Fatal Python error" not in err, err
