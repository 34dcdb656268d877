"""A short research against the real embedded model: llama.cpp's server with SmolLM2-135M.

Runs when the local-llm extra is installed (./scripts/test installs it). A 135M model writes poor
reports; this checks the pipeline with a real model: schema-constrained JSON from llama.cpp,
every node executed, a report written, usage counted from the server's own token counts.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from temporalio.client import Client

from activities.llm import LLMClient
from activities.llm_settings import LLMSettings
from embedded.llama_server import MODEL_ALIAS, LlamaServer, local_llm_available
from search.local_provider import LocalSearch
from worker import build_worker
from workflows.config import NODE_NAMES, ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

pytestmark = [
    pytest.mark.local_llm,
    pytest.mark.slow,  # a real 135M model on the CPU: minutes
    pytest.mark.skipif(not local_llm_available(), reason="local-llm extra not installed"),
]


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    with LlamaServer(tmp_path_factory.mktemp("llama") / "llama.log") as server:
        yield server


async def test_short_research_with_the_real_local_model(
    client: Client, llama: LlamaServer, local_search: LocalSearch
) -> None:
    settings = LLMSettings(
        base_url=llama.base_url,
        model=MODEL_ALIAS,
        judge_model=MODEL_ALIAS,
        response_format="json_object",
        request_timeout_seconds=120,
    )
    llm = LLMClient(settings)
    queue = f"ttdr-llama-{uuid.uuid4().hex[:6]}"
    config = ResearchConfig(
        max_iterations=1,
        questions_per_iteration=1,
        search_results_per_question=2,
        max_output_tokens=200,
        temperature=0.2,
        json_repair_attempts=2,
        evolution="off",  # the demo runs the "cheap" profile on this model
    )
    request = ResearchRequest(question="What does the Python with statement do?", config=config)
    async with build_worker(client, queue, llm, local_search):
        report = await client.execute_workflow(
            WORKFLOW_NAME,
            request,
            id=f"llama-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            result_type=ResearchReport,
        )
    await llm.aclose()

    assert report.iterations == 1
    assert report.markdown.strip()
    assert "## Sources" in report.markdown
    assert set(report.usage_by_node) >= set(NODE_NAMES) - {"retrieval_engine"}
    assert report.usage_total.calls >= 6
    assert report.usage_total.output_tokens > 0
    # Whatever the small model cites, only sources retrieved in this run can be listed.
    assert all(s.source.provider == "local" for s in report.sources)
    # Each source names a file of the corpus, relative to its folder, then where in it.
    files = [s.source.location.split(", ")[0] for s in report.sources]
    assert all(any((r / f).is_file() for r in local_search.index.roots) for f in files)
