"""Bounds on what one LLM call may cost the worker: answer size, nesting, total time.

Against the fake LLM on loopback (testing/fake_llm.py); the oversize and unsalvageable
cases use httpx's mock transport to play a provider that ignores max_tokens.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from activities.boundary import cut_text
from activities.llm import ChatMessage, LLMClient
from activities.llm_settings import LLMSettings
from activities.nodes import ResearchActivities
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer, RecordedRequest, sample_from_schema
from testing.scripted_llm import Script
from tests.support.runs import run_research
from workflows.models import (
    DRAFT_MAX_CHARS,
    REPORT_MAX_CHARS,
    DraftInput,
    PlanSection,
    ReportInput,
    ResearchPlan,
    RetrievalInput,
    SamplingParams,
)

KEY = "sk-bounds-test-secret-key"
NAME = "Essay"
MB = 1024 * 1024


class Essay(BaseModel):
    text: str


SAMPLING = SamplingParams(temperature=0.0, max_output_tokens=256, seed=1, json_repair_attempts=1)
MESSAGES = [
    ChatMessage(role="system", content="You write essays."),
    ChatMessage(role="user", content="Write one."),
]


@pytest.fixture(scope="module")
def _server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def fake(_server: FakeLLMServer) -> FakeLLMServer:
    _server.reset()
    return _server


def settings_for(base_url: str, **overrides: Any) -> LLMSettings:
    fields: dict[str, Any] = {
        "base_url": base_url,
        "api_key": KEY,
        "model": "main-model",
        "judge_model": "judge-model",
        "request_timeout_seconds": 5,
    }
    return LLMSettings.model_validate({**fields, **overrides})


async def ask(settings: LLMSettings, http: httpx.AsyncClient | None = None) -> tuple[Essay, Any]:
    client = LLMClient(settings, http=http)
    try:
        # A guard for the test itself: before the total-time bound a drip hung forever.
        return await asyncio.wait_for(client.structured(MESSAGES, Essay, SAMPLING), 30)
    finally:
        await client.aclose()


def sequence(*answers: Any) -> Any:
    replies = list(answers)

    def reply(_: RecordedRequest) -> Any:
        return replies.pop(0) if len(replies) > 1 else replies[0]

    return reply


# ------------------------------------------------------------------------------ answer size


async def test_a_5_mb_answer_is_read_up_to_the_bound_and_kept_as_cut_off(
    fake: FakeLLMServer,
) -> None:
    """A provider that ignores max_tokens: the client reads at most max_response_bytes and
    treats the answer as cut off at the token limit (repaired, no second call)."""
    fake.respond(NAME, lambda _: {"text": "word " * (MB + 50_000)})  # ~5.2 MB

    essay, usage = await ask(settings_for(fake.base_url, max_response_bytes=MB))

    assert essay.text.startswith("word word")
    assert len(essay.text.encode()) <= MB
    assert fake.count(NAME) == 1
    assert usage.calls == 1


async def test_an_oversize_answer_that_cannot_be_salvaged_is_reasked_not_retried() -> None:
    """The envelope itself is cut where nothing can be read back: a malformed answer, re-asked
    within json_repair_attempts, with the size named."""
    requests: list[dict[str, Any]] = []
    good = {"choices": [{"message": {"content": '{"text": "short"}'}, "finish_reason": "stop"}]}

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(json.loads(request.content))
        if len(requests) == 1:
            return httpx.Response(200, content=b'{"padding": "' + b"x" * (2 * MB) + b'"}')
        return httpx.Response(200, json=good)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    essay, usage = await ask(settings_for("http://llm.invalid/v1", max_response_bytes=MB), http)

    assert essay.text == "short"
    assert usage.calls == 2
    reask = requests[1]["messages"][-1]["content"]
    assert "over 1048576 bytes" in reask


async def test_max_response_bytes_is_read_from_the_environment() -> None:
    env = {"TTDR_LLM_BASE_URL": "http://x/v1", "TTDR_LLM_MODEL": "m"}
    settings = LLMSettings.from_env({**env, "TTDR_LLM_MAX_RESPONSE_BYTES": "65536"})
    assert settings is not None and settings.max_response_bytes == 65536
    assert LLMSettings(base_url="http://x", model="m", judge_model="m").max_response_bytes == 4 * MB


# ------------------------------------------------------------------------------ nesting


async def test_a_deeply_nested_answer_is_a_malformed_answer_reasked(fake: FakeLLMServer) -> None:
    nested = '{"text": ' + "[" * 200_000 + "]" * 200_000 + "}"
    fake.respond(NAME, sequence(nested, {"text": "flat"}))

    essay, usage = await ask(settings_for(fake.base_url))

    assert essay.text == "flat"
    assert fake.count(NAME) == 2
    assert usage.calls == 2
    assert "nested" in fake.calls(NAME)[1].messages[-1]["content"]


async def test_a_deeply_nested_answer_every_time_fails_as_invalid_output(
    fake: FakeLLMServer,
) -> None:
    fake.respond(NAME, lambda _: "[" * 100_000)

    with pytest.raises(ApplicationError) as caught:
        await ask(settings_for(fake.base_url))

    assert caught.value.type == "LLMInvalidOutput"
    assert fake.count(NAME) == 2


# ------------------------------------------------------------------------------ total time


async def test_a_completion_that_drips_forever_hits_the_total_bound(fake: FakeLLMServer) -> None:
    fake.inject_drip(NAME, every_seconds=0.05)
    settings = settings_for(fake.base_url, request_timeout_seconds=1.0)

    with pytest.raises(ApplicationError) as caught:
        await ask(settings)

    err = caught.value
    assert (err.type, err.non_retryable) == ("LLMTimeout", False)
    assert fake.base_url in err.message
    assert "TTDR_LLM_TIMEOUT_SECONDS" in err.message
    assert KEY not in err.message
    assert fake.count(NAME) == 1


# ------------------------------------------------------------------------------ activity boundary

HUGE = "word " * 1_100_000  # 5.5 MB of one string


def inflated(request: RecordedRequest) -> Any:
    """A schema-valid answer whose every free text is 500 kB (the whole answer stays under
    max_response_bytes, so it is read in full): a model that never stops."""

    def inflate(value: Any) -> Any:
        if isinstance(value, str) and value.endswith("sample text"):
            return "word " * 100_000
        if isinstance(value, dict):
            return {key: inflate(item) for key, item in value.items()}
        if isinstance(value, list):
            return [inflate(item) for item in value]
        return value

    return inflate(sample_from_schema(request.schema or {}, request.name))


PLAN = ResearchPlan(sections=[PlanSection(title="Mechanism", focus="how it works")])
NODE_INPUTS: dict[str, Any] = {
    "draft_generator": lambda: DraftInput(question="Q?", plan=PLAN, sampling=SAMPLING),
    "retrieval_engine": lambda: RetrievalInput(
        question="Q?", search_question="with statement", top_k=2, iteration=1, sampling=SAMPLING
    ),
    "report_synthesizer": lambda: ReportInput(
        question="Q?", plan=PLAN, draft="d", findings=[], sources=[], sampling=SAMPLING
    ),
}


@pytest.mark.parametrize("node", sorted(NODE_INPUTS))
async def test_every_text_an_activity_returns_is_bounded(
    fake: FakeLLMServer, local_search: LocalSearch, node: str
) -> None:
    fake.respond(None, inflated)
    llm = LLMClient(settings_for(fake.base_url))
    try:
        output = await getattr(ResearchActivities(llm, local_search), node)(NODE_INPUTS[node]())
    finally:
        await llm.aclose()

    texts = _strings(output.model_dump())
    assert texts
    assert all(len(text) <= REPORT_MAX_CHARS for text in texts)
    assert len(output.model_dump_json()) < 4 * REPORT_MAX_CHARS  # far below Temporal's 2 MB
    assert fake.count() == 1  # cut, not re-asked or retried


async def test_a_huge_draft_is_cut_with_a_note_that_keeps_the_bound(
    fake: FakeLLMServer, local_search: LocalSearch
) -> None:
    fake.respond("DraftAnswer", lambda _: {"draft": "# Draft\n\n" + "word " * 100_000})
    llm = LLMClient(settings_for(fake.base_url))
    try:
        out = await ResearchActivities(llm, local_search).draft_generator(
            NODE_INPUTS["draft_generator"]()
        )
    finally:
        await llm.aclose()

    assert len(out.draft) == DRAFT_MAX_CHARS
    assert out.draft.startswith("# Draft\n\nword word")
    assert re.search(r"\[… cut: \d+ more characters were dropped\]$", out.draft)
    assert cut_text(out.draft, DRAFT_MAX_CHARS) == out.draft  # cutting again changes nothing


async def test_a_run_whose_model_writes_5_mb_completes_without_paying_twice(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    """Before: PayloadsTooLarge on the draft, and every Temporal retry paid for another call."""
    fake_server.respond("DraftAnswer", lambda _: {"draft": HUGE})

    # The provider reports ~1M output tokens for it: a budget that a 4 MB answer cannot end.
    report = await run_research(
        client, task_queue, max_iterations=1, questions_per_iteration=1, max_total_tokens=10**8
    )

    assert fake_server.count("DraftAnswer") == 1
    assert report.iterations == 1
    integrate = fake_server.calls("IntegratorAnswer")[0].prompt
    assert "[… cut: " in integrate and len(integrate) < 3 * DRAFT_MAX_CHARS


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


async def test_a_dripping_call_inside_a_node_fails_naming_the_llm_before_the_node_times_out(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    """TTDR_LLM_TIMEOUT_SECONDS is 30 s here, the node's timeout 2 s: the call is bounded by the
    node's, so the failure says the LLM was the cause instead of a bare activity timeout."""
    fake_server.inject_drip("PlanAnswer", every_seconds=0.05)

    with pytest.raises(WorkflowFailureError) as caught:
        await run_research(
            client,
            task_queue,
            timeouts={"research_planner": 2},
            retry={"maximum_attempts": 1},
        )

    cause = caught.value.cause.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "LLMTimeout"
    assert fake_server.base_url in cause.message
    assert fake_server.count("PlanAnswer") == 1
