"""Follow-up questions on a finished run (workflows/continuation.py, cli/follow_up.py): the
parent's report is the new run's draft, its cited passages the evidence already retrieved; only
the new aspect is searched. Real dev server and worker; the scripted fake LLM stands in for the
paid API, answering like a faithful model (a revision keeps the draft's cited claims)."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

from temporalio.client import Client

from common.temporal_connection import local_server_env
from inspection.history import replay
from testing.faithful_llm import faithful, topic_questions
from testing.fake_llm import FakeLLMServer, RecordedRequest
from testing.processes import ROOT, Hold, released, run_client
from testing.scripted_llm import Script
from workflows.citing.citations import document_key
from workflows.config import ResearchConfig
from workflows.continuation_models import ContinuationRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport
from workflows.state import RunInput
from workflows.visibility import PARENT

PARENT_QUESTION = "How does Python's with statement work with a context manager?"
FOLLOW_UP = "How do generators and yield relate to the iterator protocol?"
CONFIG = {"evolution": "off", "max_iterations": 1, "questions_per_iteration": 2}


async def _run(
    client: Client, task_queue: str, question: str, parent: str | None = None
) -> tuple[str, ResearchReport]:
    workflow_id = f"fu-{uuid.uuid4().hex[:8]}"
    request = RunInput(
        question=question,
        config=ResearchConfig.model_validate(CONFIG),
        continuation=ContinuationRequest(kind="follow_up", parent_id=parent) if parent else None,
    )
    report = await client.execute_workflow(
        WORKFLOW_NAME, request, id=workflow_id, task_queue=task_queue, result_type=ResearchReport
    )
    return workflow_id, report


def _searched(request: RecordedRequest) -> str:
    return request.prompt.split("Search question to answer: ", 1)[1].split("\n", 1)[0]


def _numbers_by_document(report: ResearchReport) -> dict[str, int]:
    return {document_key(s.source): s.number for s in report.sources}


async def test_a_follow_up_builds_on_its_parent_and_searches_only_the_new_aspect(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    faithful(fake_server)
    parent_id, parent = await _run(client, task_queue, PARENT_QUESTION)
    parent_calls = len(fake_server.requests)
    parent_searches = [_searched(r) for r in fake_server.calls("RetrievalAnswer")]
    assert parent.sources, "the parent cites sources"

    child_id, child = await _run(client, task_queue, FOLLOW_UP, parent=parent_id)
    requests = fake_server.requests[parent_calls:]
    names = [r.name for r in requests]

    # No plan and no first draft: the parent's report is the draft.
    assert "PlanAnswer" not in names and "DraftAnswer" not in names
    assert len(requests) < parent_calls, "fewer LLM calls than the parent's fresh run"
    # Retrieval only for the new aspect: every search is about the follow-up's words.
    searches = [_searched(r) for r in requests if r.name == "RetrievalAnswer"]
    assert len(searches) == 2
    for asked in searches:
        assert "generators" in asked and "statement" not in asked
    assert not set(searches) & set(parent_searches)
    # The parent's sources keep their numbers; new ones come after them.
    before, after = _numbers_by_document(parent), _numbers_by_document(child)
    for document, number in before.items():
        if document in after:
            assert after[document] == number
    kept = set(before) & set(after)
    assert kept, "the follow-up still cites the parent's sources"
    new = set(after) - set(before)
    assert new, "and the new ones"
    assert min(after[d] for d in new) > max(before.values())
    # Every citation is checked against its text: old claims kept their support.
    assert child.grounding is not None and child.grounding.body.claims_supported > 0
    assert child.grounding.body.mean_support >= child.grounding.threshold
    # The report names its parent, in a line and a search attribute.
    assert child.markdown.startswith(f"# {FOLLOW_UP}\n\n> **Follow-up of** run {parent_id}")
    description = await client.get_workflow_handle(child_id).describe()
    assert description.typed_search_attributes.get(PARENT) == parent_id

    # A follow-up of a follow-up: the grandparent's numbers still hold.
    _, grandchild = await _run(client, task_queue, "What does asyncio await do?", child_id)
    again = _numbers_by_document(grandchild)
    for document, number in after.items():
        if document in again:
            assert again[document] == number
    assert set(after) & set(again)
    assert grandchild.markdown.count("> **Follow-up of**") == 1
    # Deterministic: the follow-up's history replays on the current code.
    history = await client.get_workflow_handle(child_id).fetch_history()
    outcome = await replay(history)
    assert outcome.ok, outcome.problem


async def test_a_bad_parent_is_refused_in_one_line_and_starts_nothing(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    unknown = f"nope-{uuid.uuid4().hex[:6]}"
    code, _, err = await run_client(client, task_queue, "follow-up", unknown, "q?", "--id", "x1")
    assert code == 2 and err.strip().count("\n") == 0
    assert f"no run {unknown}" in err
    # A run still going.
    running = f"busy-{uuid.uuid4().hex[:6]}"
    await client.start_workflow(
        WORKFLOW_NAME,
        RunInput(question=PARENT_QUESTION, config=ResearchConfig(review_plan=True, **CONFIG)),
        id=running,
        task_queue=task_queue,
    )
    code, _, err = await run_client(client, task_queue, "follow-up", running, "q?", "--id", "x2")
    assert code == 2 and "still running" in err
    await client.get_workflow_handle(running).terminate()
    # A batch is not a research run.
    batch = f"batch-{uuid.uuid4().hex[:6]}"
    await client.start_workflow("BatchResearchWorkflow", id=batch, task_queue=f"{task_queue}-none")
    code, _, err = await run_client(client, task_queue, "follow-up", batch, "q?", "--id", "x3")
    assert code == 2 and "is a batch" in err
    await client.get_workflow_handle(batch).terminate()
    for started in ("x1", "x2", "x3"):
        assert not [w async for w in client.list_workflows(f'WorkflowId = "{started}"')]


async def test_an_agent_asks_a_follow_up_through_mcp(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    from tests.cli.test_mcp import error_text, server, structured

    faithful(fake_server)
    parent_id, _ = await _run(client, task_queue, PARENT_QUESTION)
    async with server(client, task_queue) as mcp:
        refused = await mcp.call_tool("follow_up", {"parent_id": "nope-x", "question": "q?"})
        assert "no run nope-x" in error_text(refused) and "nothing was started" in error_text(
            refused
        )
        bad_id = {"parent_id": parent_id, "question": "q?", "workflow_id": "a b"}
        text = error_text(await mcp.call_tool("follow_up", bad_id))
        assert "invalid workflow_id" in text and "--id" not in text, text
        started = structured(
            await mcp.call_tool("follow_up", {"parent_id": parent_id, "question": FOLLOW_UP})
        )
    assert started["status"] == "started" and started["parent"] == parent_id
    report = await client.get_workflow_handle(
        started["workflow_id"], result_type=ResearchReport
    ).result()
    assert f"> **Follow-up of** run {parent_id}" in report.markdown


async def test_the_follow_up_command_writes_the_report_with_the_parents_config(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script, tmp_path: Path
) -> None:
    faithful(fake_server)
    parent_id, _ = await _run(client, task_queue, PARENT_QUESTION)
    calls_before = len(fake_server.requests)
    out_file = tmp_path / "follow-up.md"
    workflow_id = f"fu-cli-{uuid.uuid4().hex[:6]}"
    code, out, err = await run_client(
        client, task_queue, "follow-up", parent_id, FOLLOW_UP, "--id", workflow_id,
        "--out", str(out_file),
    )  # fmt: skip
    assert code == 0, err
    assert f"workflow_id: {workflow_id}\n" in out and f"parent: {parent_id}\n" in out
    markdown = out_file.read_text()
    assert markdown.startswith(f"# {FOLLOW_UP}\n\n> **Follow-up of** run {parent_id}: ")
    # The parent's config (evolution off): no variant was judged.
    names = {r.name for r in fake_server.requests[calls_before:]}
    assert "VariantCritique" not in names and "RetrievalAnswer" in names


async def run_client_until(
    client: Client, task_queue: str, line_start: str, then: Hold, *args: str
) -> tuple[int, str, str]:
    """client.py ARGS, releasing `then` once it has printed a line starting with `line_start`
    (so the run it follows is still going when it decides to attach)."""
    env = local_server_env(client.service_client.config.target_host)
    env.update(TTDR_TASK_QUEUE=task_queue, PYTHONUNBUFFERED="1")
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "client.py"), *args, env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    out: list[str] = []
    try:
        async with asyncio.timeout(180):
            async for raw in process.stdout:
                out.append(raw.decode())
                if out[-1].startswith(line_start):
                    then.release()
            _, err = await process.communicate()
    finally:
        then.release()
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, "".join(out), err.decode()


async def test_the_same_follow_up_again_attaches_to_the_running_one(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script, tmp_path: Path
) -> None:
    """A repeated `follow-up PARENT QUESTION --id X` while X runs follows X (no second run) and
    writes its report; another question under the same id is refused in one line."""
    faithful(fake_server)
    parent_id, _ = await _run(client, task_queue, PARENT_QUESTION)
    # The follow-up's first gap analysis is held at the fake model: the run stays running.
    gaps = Hold(fake_server, "GapAnswer", topic_questions, abandon=False)
    workflow_id = f"fu-again-{uuid.uuid4().hex[:6]}"
    with released(gaps):
        code, _, err = await run_client(
            client, task_queue, "follow-up", parent_id, FOLLOW_UP, "--id", workflow_id,
            "--no-wait",
        )  # fmt: skip
        assert code == 0, err
        await gaps.wait_arrived()

        code, out, err = await run_client(
            client, task_queue, "follow-up", parent_id, "Another question?", "--id", workflow_id
        )
        assert code == 2, (out, err)
        assert f"workflow id {workflow_id} is already running a different question" in err
        assert err.count("\n") == 1, err

        out_file = tmp_path / "again.md"
        code, out, err = await run_client_until(
            client, task_queue, "attached:", gaps,
            "follow-up", parent_id, FOLLOW_UP, "--id", workflow_id, "--out", str(out_file),
        )  # fmt: skip
    assert code == 0, (out, err)
    assert f"attached: {workflow_id}" in out and f"parent: {parent_id}\n" in out
    assert out_file.read_text().startswith(f"# {FOLLOW_UP}\n\n> **Follow-up of** run {parent_id}")
    assert len([w async for w in client.list_workflows(f'WorkflowId = "{workflow_id}"')]) == 1


async def test_a_follow_up_through_mcp_keeps_the_mcp_servers_caps(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    """A follow-up an agent starts is an MCP run like start_research's: its budget within the
    server's caps (the parent's config may allow more), counted among the runs in flight."""
    from tests.cli.test_mcp import error_text, structured
    from tests.cli.test_mcp_guards import stdio_server

    faithful(fake_server)
    parent_id, _ = await _run(client, task_queue, PARENT_QUESTION)  # max_llm_calls 500
    gaps = Hold(fake_server, "GapAnswer", topic_questions, abandon=False)
    caps = {"TTDR_MCP_MAX_RUNS": "1", "TTDR_MCP_MAX_LLM_CALLS": "100"}
    address = client.service_client.config.target_host
    with released(gaps):
        async with stdio_server(address, task_queue, **caps) as mcp:
            arguments = {"parent_id": parent_id, "question": FOLLOW_UP}
            started = structured(await mcp.call_tool("follow_up", arguments))
            await gaps.wait_arrived()  # the follow-up is running
            refused = error_text(await mcp.call_tool("follow_up", arguments))
            assert "1 runs started through MCP are still running (the cap is 1" in refused
            assert started["workflow_id"] in refused and "nothing was started" in refused
    handle = client.get_workflow_handle(started["workflow_id"], result_type=ResearchReport)
    assert f"> **Follow-up of** run {parent_id}" in (await handle.result()).markdown
    first = (await handle.fetch_history()).events[0].workflow_execution_started_event_attributes
    [request] = await client.data_converter.decode(first.input.payloads, [RunInput])
    parents = ResearchConfig.model_validate(CONFIG)
    assert parents.max_llm_calls == 500 and request.config.max_llm_calls == 100, "capped budget"
    assert request.config == parents.model_copy(update={"max_llm_calls": 100}), "parent's config"
    assert (await (await handle.describe()).memo()).get("started_by") == "mcp"
