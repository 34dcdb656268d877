"""Defence in depth: the value of a configured secret never leaves the worker, even when a
document carries it and the model repeats it (issue 18, item 1).

The corpus reader's own refusal (search/documents/secrets.py) is left out on purpose
here — the index is built without the secrets — so what is tested is the worker's redactor:
prompts, activity results (hence the history), `client.py state --json` and the report.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.boundary import at_boundary, bounded
from activities.llm import ChatMessage, LLMClient
from activities.prompts.draft_generator import DraftAnswer
from activities.redaction import MASK, Redactor
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer, RecordedRequest, sample_from_schema
from testing.processes import run_client
from testing.scripted_llm import Script
from testing.settings import FAKE_KEY, fake_llm_settings
from worker import build_worker
from workflows.config import ResearchConfig
from workflows.models import DraftOutput, LLMUsage, ResearchRequest, SamplingParams
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

SEARCH_KEY = f"tvly-canary-{uuid.uuid4().hex}"


# ------------------------------------------------------------------------------ the redactor


def test_secrets_come_from_the_llm_key_and_variables_named_as_secrets() -> None:
    env = {"TAVILY_API_KEY": SEARCH_KEY, "GOOGLE_CSE_ID": "not-a-secret-id", "X_TOKEN": "short"}
    redactor = Redactor.from_env(env, extra=[FAKE_KEY])

    text = f"a {SEARCH_KEY} b {FAKE_KEY} c not-a-secret-id short"
    assert redactor.text(text) == f"a {MASK} b {MASK} c not-a-secret-id short"


async def test_a_result_and_a_failure_are_masked_at_the_activity_boundary() -> None:
    class Node:
        redactor = Redactor([FAKE_KEY])

        @at_boundary
        async def ok(self, _: Any) -> DraftOutput:
            return DraftOutput(draft=f"the key is {FAKE_KEY}", usage=LLMUsage())

        @at_boundary
        async def failing(self, _: Any) -> DraftOutput:
            raise ApplicationError(f"provider said: bad key {FAKE_KEY}", type="LLMAuthError",
                                   non_retryable=True)  # fmt: skip

    out = await Node().ok(None)
    assert out.draft == f"the key is {MASK}"
    with pytest.raises(ApplicationError) as caught:
        await Node().failing(None)
    assert FAKE_KEY not in caught.value.message
    assert (caught.value.type, caught.value.non_retryable) == ("LLMAuthError", True)


def test_masking_never_lengthens_a_text() -> None:
    out = bounded(DraftOutput(draft=FAKE_KEY * 3), Redactor([FAKE_KEY]))
    assert out.draft == MASK * 3 and len(out.draft) <= len(FAKE_KEY) * 3


async def test_a_model_repeating_the_key_is_masked_in_the_re_ask_and_the_log(
    fake_server: FakeLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    fake_server.reset()
    replies = [f"my key is {FAKE_KEY}, no JSON", {"draft": f"ok {FAKE_KEY}"}]
    fake_server.respond("DraftAnswer", lambda _: replies.pop(0))
    llm = LLMClient(fake_llm_settings(fake_server))
    try:
        answer, _ = await llm.structured(
            [ChatMessage(role="system", content="s"), ChatMessage(role="user", content=FAKE_KEY)],
            DraftAnswer,
            SamplingParams(temperature=0, max_output_tokens=64, seed=1, json_repair_attempts=1),
        )
    finally:
        await llm.aclose()

    assert answer.draft == f"ok {MASK}"
    assert "malformed DraftAnswer" in caplog.text and FAKE_KEY not in caplog.text
    assert all(FAKE_KEY not in r.prompt for r in fake_server.requests)  # re-ask included


# ------------------------------------------------------------------------------ end to end


def echoing(canaries: list[str]) -> Any:
    """A model that repeats its documents and the canaries it somehow knows, in whatever answer
    shape the node asks for."""

    def reply(request: RecordedRequest) -> Any:
        shown = re.findall(r"<document[^>]*>\n(.*?)\n</document>", request.prompt, re.S)
        documents = " ".join(shown)
        said = f"{documents} {' '.join(canaries)}".strip()

        def fill(value: Any) -> Any:
            if isinstance(value, str) and value.endswith("sample text"):
                return said
            if isinstance(value, dict):
                return {key: fill(item) for key, item in value.items()}
            if isinstance(value, list):
                return [fill(item) for item in value]
            return value

        return fill(sample_from_schema(request.schema or {}, request.name))

    return reply


def history_text(exported: str) -> str:
    """An exported history with its base64 payloads decoded next to it."""
    parts = [exported]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            with suppress(binascii.Error, ValueError):
                parts.append(base64.b64decode(node, validate=True).decode("utf-8", "replace"))

    walk(json.loads(exported))
    return "\n".join(parts)


async def test_a_canary_key_in_a_document_never_reaches_history_state_or_report(
    client: Client,
    fake_server: FakeLLMServer,
    script: Script,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TAVILY_API_KEY", SEARCH_KEY)  # a search key the worker is configured with
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "env.md").write_text(
        "# Context managers\n\nThe with statement calls __enter__ and __exit__ on the context "
        f"manager.\n\nTTDR_LLM_API_KEY={FAKE_KEY}\nTAVILY_API_KEY={SEARCH_KEY}\n"
    )
    # Built without the secrets, so the index's own refusal does not hide what is tested here.
    search = LocalSearch.from_env({"TTDR_CORPUS": str(corpus), "TTDR_CACHE_DIR": str(tmp_path)})
    canaries = [FAKE_KEY, SEARCH_KEY]
    for name in ("RetrievalAnswer", "IntegratorAnswer", "ReportAnswer", "DraftAnswer"):
        fake_server.respond(name, echoing(canaries))

    queue = f"ttdr-secrets-{uuid.uuid4().hex[:8]}"
    workflow_id = f"test-secrets-{uuid.uuid4().hex[:8]}"
    llm = LLMClient(fake_llm_settings(fake_server))
    try:
        async with build_worker(client, queue, llm, search):
            request = ResearchRequest(
                question="How does the with statement use a context manager?",
                config=ResearchConfig.model_validate(
                    {"max_iterations": 1, "questions_per_iteration": 1, "evolution": "off"}
                ),
            )
            report = await client.execute_workflow(
                WORKFLOW_NAME, request, id=workflow_id, task_queue=queue, result_type=ResearchReport
            )
            code, state_json, _ = await run_client(client, queue, "state", workflow_id, "--json")
            history = await client.get_workflow_handle(workflow_id).fetch_history()
    finally:
        await llm.aclose()

    # The leak had its chance: the document was retrieved and its text shown to the model.
    retrievals = fake_server.calls("RetrievalAnswer")
    assert retrievals and "__enter__" in retrievals[0].prompt
    assert all(FAKE_KEY in (r.response_content or "") for r in retrievals)  # the model said it
    assert code == 0 and json.loads(state_json)["findings"]
    decoded = history_text(history.to_json())
    assert "__enter__" in decoded, "payloads are decoded, so a key inside one would be seen"
    for canary in canaries:
        assert all(canary not in r.prompt for r in fake_server.requests)
        assert canary not in decoded
        assert canary not in state_json
        assert canary not in report.markdown
    assert MASK in decoded
