"""A citation where none is allowed is dropped and counted; the claim and the run go on (issue 26
item 5).

Every file of this corpus but one is a symlink out of it (skipped), and the one left has nothing
to do with the question, so no search finds anything and the draft revision and the report are
asked with no source to cite: the schema allows zero source
numbers. The fake model ignores the schema, as a provider in `json_object` or prompt mode does,
and cites [1] and [7] anyway. Before, that answer failed validation ("claims.0.sources: List
should have at most 0 items") on every re-ask, the node's activity failed and so did the run.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from temporalio.client import Client

from activities.llm import LLMClient
from activities.prompts._claims import with_allowed_sources
from activities.prompts.report_synthesizer import ReportAnswer
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer, RecordedRequest
from testing.scripted_llm import Script
from testing.settings import fake_llm_settings
from tests.support.runs import QUESTION
from worker import build_worker
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport, ResearchState

CLAIM = "Oxalic acid treatments reduce varroa mite loads in broodless colonies"


def integrate_citing_anyway(request: RecordedRequest) -> dict:
    return {"claims": [{"text": CLAIM, "sources": [1, 7]}]}


def report_citing_anyway(request: RecordedRequest) -> dict:
    claim = {"text": CLAIM, "sources": [1]}
    return {
        "title": "Varroa treatments",
        "summary": [claim],
        "sections": [
            {"heading": "Oxalic acid", "claims": [claim, {"text": "More.", "sources": [3]}]}
        ],
    }


@pytest_asyncio.fixture
async def sourceless_queue(
    client: Client, fake_server: FakeLLMServer, script: Script, tmp_path: Path
) -> AsyncIterator[str]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    outside = tmp_path / "outside.md"
    outside.write_text("# Varroa\n\nOxalic acid is used against varroa mites.\n")
    (corpus / "varroa.md").symlink_to(outside)  # out of the corpus: skipped
    (corpus / "unrelated.md").write_text("# Xylophone\n\nZyzzyva quokka flibbertigibbet.\n")
    search = LocalSearch.from_env(
        {"TTDR_CORPUS": str(corpus), "TTDR_CACHE_DIR": str(tmp_path / "cache")}
    )
    fake_server.respond("IntegratorAnswer", integrate_citing_anyway)
    fake_server.respond("ReportAnswer", report_citing_anyway)
    queue = f"ttdr-nocite-{uuid.uuid4().hex[:8]}"
    llm = LLMClient(fake_llm_settings(fake_server, response_format="json_object"))
    async with build_worker(client, queue, llm, search):
        yield queue
    await llm.aclose()


async def test_a_citation_with_no_source_allowed_is_dropped_and_the_run_completes(
    client: Client, sourceless_queue: str, fake_server: FakeLLMServer
) -> None:
    workflow_id = f"nocite-{uuid.uuid4().hex[:8]}"
    report = await client.execute_workflow(
        WORKFLOW_NAME,
        ResearchRequest(
            question=QUESTION, config=ResearchConfig(evolution="off", max_iterations=1)
        ),
        id=workflow_id,
        task_queue=sourceless_queue,
        result_type=ResearchReport,
    )

    assert fake_server.count("IntegratorAnswer") == 1, "accepted at once, never re-asked"
    assert fake_server.count("ReportAnswer") == 1
    assert report.sources == [] and report.sources_retrieved == 0
    # The three citations of the report's claims were not allowed: each dropped and counted.
    assert report.removed_citations == 3 and report.grounding is not None
    assert report.grounding.body.citations_removed == 3
    # The claims were kept by the node and reached the report's support check, which leaves
    # out claims no source backs (and says so): they are not lost to a rejected answer.
    assert report.grounding.body.claims == 2 and report.grounding.unsupported_omitted == 2
    assert "[1]" not in report.markdown and "[-" not in report.markdown
    state = await client.get_workflow_handle(workflow_id).query("state", result_type=ResearchState)
    assert CLAIM in state.draft and "[-" not in state.draft, "the revised draft keeps the claim"


def test_the_provider_still_gets_a_schema_that_allows_no_citation() -> None:
    schema = with_allowed_sources(ReportAnswer, []).model_json_schema()
    assert schema["$defs"]["CitedClaim"]["properties"]["sources"]["maxItems"] == 0
    shown = with_allowed_sources(ReportAnswer, [2, 5]).model_json_schema()
    assert shown["$defs"]["CitedClaim"]["properties"]["sources"]["items"]["enum"] == [2, 5]
    answer = with_allowed_sources(ReportAnswer, [2, 5]).model_validate(
        {"title": "t", "summary": [{"text": "s", "sources": [5, 9, 2, 11]}], "sections": []}
        | {"sections": [{"heading": "h", "claims": []}]}
    )
    assert answer.summary[0].sources == [5, -1, 2, -2], "never bound to another real number"
