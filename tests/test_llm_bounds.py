"""Bounds on what one LLM call may cost the worker: answer size, nesting, total time.

Against the fake LLM on loopback (tests/support/fake_llm.py); the oversize and unsalvageable
cases use httpx's mock transport to play a provider that ignores max_tokens.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from temporalio.exceptions import ApplicationError

from activities.llm import ChatMessage, LLMClient
from activities.llm_settings import LLMSettings
from tests.support.fake_llm import FakeLLMServer, RecordedRequest
from workflows.models import SamplingParams

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
