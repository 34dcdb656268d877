"""A worker never waits for indexing and always searches the newest index (issue 26 item 1,
issue 23 "a running worker does not see new documents"): it serves the index as last refreshed
while a refresh runs in the background, and a refresh made by `client.py index` (or any other
process) is what its next search sees, without a restart."""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from bench.hostile_documents import docx_paragraphs
from common.settings import SharedSettings
from search.errors import SearchError
from search.local_index import LocalIndex
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer, RecordedRequest
from testing.processes import WorkerProcess, run_client_py, wait_for, worker_env
from testing.scripted_llm import Script
from testing.settings import FAKE_KEY
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

BEES = (
    "# Bees\n\nHoney bees live in colonies of tens of thousands of workers and one queen; the "
    "workers forage for nectar and pollen within a few kilometres of the hive. A weak colony "
    "may need treatment against disease.\n"
)
VARROA = (
    "# Varroa\n\nVarroa mites are treated with oxalic acid in winter, when the colony has no "
    "brood: the acid reaches the mites on the bees, none are hidden in capped cells.\n"
)
QUESTION = "How do beekeepers control varroa mites?"
_REFRESHED = re.compile(r"local index: \d+ passages from \d+ files")


def _refreshing(env: dict[str, str]) -> LocalSearch:
    return LocalSearch.refreshing(SharedSettings.load(env), env)  # as the worker calls it


def _env(corpus: Path, cache: Path) -> dict[str, str]:
    return {"TTDR_CORPUS": str(corpus), "TTDR_CACHE_DIR": str(cache)}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "bees.md").write_text(BEES)
    return folder


async def test_the_cached_index_is_served_while_a_refresh_runs(
    corpus: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    LocalIndex.open([corpus], cache / "index").close()  # what an earlier start left
    (corpus / "slow.docx").write_bytes(docx_paragraphs(150_000))  # seconds to read

    started = time.perf_counter()
    search = _refreshing(_env(corpus, cache))
    try:
        assert time.perf_counter() - started < 2.0  # nothing read before serving
        results = await search.search("honey bees colonies", 3)
        assert search.refresh_running, "served before the refresh ended"
        assert [r.document for r in results] == ["bees.md"]

        await wait_for(lambda: not search.refresh_running, 180, "the background refresh")
        found = await search.search("w149999", 1)  # a word of the new file
        assert [r.document for r in found] == ["slow.docx"]
    finally:
        await search.aclose()


async def test_the_first_build_holds_only_the_searches_that_come_before_it_ends(
    corpus: Path, tmp_path: Path
) -> None:
    search = _refreshing(_env(corpus, tmp_path / "cache"))  # no index yet
    try:
        results = await search.search("honey bees colonies", 3)
        assert [r.document for r in results] == ["bees.md"]
    finally:
        await search.aclose()


async def test_a_failed_first_build_fails_searches_with_its_reason(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "junk.md").write_bytes(bytes(range(256)) * 8)
    search = _refreshing(_env(corpus, tmp_path / "cache"))
    try:
        with pytest.raises(SearchError, match="local search has no index: the files under"):
            await search.search("anything", 3)
    finally:
        await search.aclose()


async def test_a_bad_folder_is_still_refused_at_start(tmp_path: Path) -> None:
    from search.local_index import CorpusError

    with pytest.raises(CorpusError, match="folder to index does not exist"):
        _refreshing(_env(tmp_path / "missing", tmp_path / "cache"))


def _searches_for_varroa(server: FakeLLMServer) -> None:
    """Every search question is about varroa (the scripted model asks about Python)."""

    def gaps(request: RecordedRequest) -> dict:
        wanted = int(re.search(r"exactly (\d+) new search", request.prompt).group(1))  # type: ignore[union-attr]
        return {"questions": ["varroa oxalic acid treatment"] * wanted}

    server.respond("GapAnswer", gaps)


async def _research(client: Client, queue: str) -> None:
    config = ResearchConfig.model_validate(
        {"evolution": "off", "max_iterations": 1, "questions_per_iteration": 1}
    )
    await client.execute_workflow(
        WORKFLOW_NAME,
        ResearchRequest(question=QUESTION, config=config),
        id=f"test-refresh-{uuid.uuid4().hex[:10]}",
        task_queue=queue,
        result_type=ResearchReport,
    )


def _retrieved(server: FakeLLMServer, since: int) -> str:
    return "\n".join(r.prompt for r in server.requests[since:] if r.name == "RetrievalAnswer")


@pytest.mark.slow
async def test_a_running_worker_searches_the_index_client_index_refreshed(
    client: Client, fake_server: FakeLLMServer, script: Script, corpus: Path, tmp_path: Path
) -> None:
    _searches_for_varroa(fake_server)
    cache = tmp_path / "cache"
    (corpus / "slow.docx").write_bytes(docx_paragraphs(100_000))  # seconds to read
    queue = f"ttdr-refresh-{uuid.uuid4().hex[:8]}"
    env = worker_env(
        temporal_address=client.service_client.config.target_host,
        task_queue=queue,
        llm_base_url=fake_server.base_url,
        api_key=FAKE_KEY,
        cache_dir=cache,
        extra={"TTDR_CORPUS": str(corpus)},
    )
    worker = WorkerProcess(env, tmp_path / "worker.log")
    try:
        await worker.start(timeout_seconds=60)
        # Ready before its first index was built: indexing never delays readiness.
        assert not _REFRESHED.search(worker.output()), worker.output()
        await wait_for(lambda: _REFRESHED.search(worker.output()), 180, "the first build")

        before = len(fake_server.requests)
        await _research(client, queue)
        assert "bees.md" in _retrieved(fake_server, before)
        assert "varroa.md" not in _retrieved(fake_server, before)

        (corpus / "varroa.md").write_text(VARROA)
        cli_env = {k: v for k, v in os.environ.items() if not k.startswith(("TTDR_", "OPENAI_"))}
        cli_env.update(_env(corpus, cache))
        code, out, err = await run_client_py("index", env=cli_env)
        assert code == 0 and "read now: 1 added, 0 changed, 0 removed" in out, err
        code, out, err = await run_client_py("search", "varroa oxalic acid", "-k", "1", env=cli_env)
        assert code == 0 and "  varroa.md — Varroa" in out, err

        before = len(fake_server.requests)
        await _research(client, queue)  # the same worker, not restarted
        assert "varroa.md" in _retrieved(fake_server, before)
        assert worker.alive
    finally:
        worker.stop()
