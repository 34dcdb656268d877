"""The OpenAI-compatible LLM client against the fake server on loopback: request shape, parsing
and re-asking, error classification for Temporal's retry policy, response_format fallback, and
the settings read from the environment."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, Field
from temporalio.exceptions import ApplicationError

from activities.llm import (
    MAX_RETRY_AFTER_SECONDS,
    ChatMessage,
    LLMClient,
    close_truncated_json,
    parse_structured,
    retry_after_seconds,
)
from activities.llm_settings import (
    OPENAI_BASE_URL,
    OPENAI_DEFAULT_MODEL,
    LLMConfigError,
    LLMSettings,
)
from testing.fake_llm import FakeLLMServer, RecordedRequest, error_body
from workflows.models import LLMUsage, SamplingParams

KEY = "sk-llm-client-test-secret"
NAME = "Verdict"


class Verdict(BaseModel):
    score: int = Field(ge=0, le=10)
    reason: str


GOOD = {"score": 7, "reason": "well sourced"}
SAMPLING = SamplingParams(temperature=0.3, max_output_tokens=321, seed=42, json_repair_attempts=1)
NO_REPAIR = SAMPLING.model_copy(update={"json_repair_attempts": 0})
MESSAGES = [
    ChatMessage(role="system", content="You grade research reports."),
    ChatMessage(role="user", content="Grade this report."),
]
FORMAT_REJECTED = "Invalid parameter: 'response_format' of type 'json_schema' is not supported."


@pytest.fixture(scope="module")
def _server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def fake(_server: FakeLLMServer) -> FakeLLMServer:
    _server.reset()
    _server.respond(NAME, lambda req: GOOD)
    return _server


def settings_for(base_url: str, **overrides: Any) -> LLMSettings:
    fields: dict[str, Any] = {
        "base_url": base_url,
        "api_key": KEY,
        "model": "main-model",
        "judge_model": "judge-model",
        "request_timeout_seconds": 5,
        "connect_timeout_seconds": 2,
    }
    return LLMSettings.model_validate({**fields, **overrides})


@asynccontextmanager
async def client_for(settings: LLMSettings) -> AsyncIterator[LLMClient]:
    client = LLMClient(settings)
    try:
        yield client
    finally:
        await client.aclose()


async def ask(
    settings: LLMSettings, sampling: SamplingParams = SAMPLING, *, judge: bool = False
) -> tuple[Verdict, LLMUsage]:
    async with client_for(settings) as client:
        return await client.structured(MESSAGES, Verdict, sampling, judge=judge)


async def ask_error(settings: LLMSettings, sampling: SamplingParams = SAMPLING) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        await ask(settings, sampling)
    return caught.value


def tokens(usage: LLMUsage) -> LLMUsage:
    """Calls and tokens only: what a call costs in money is activities/prices.py's business."""
    return LLMUsage(
        calls=usage.calls, input_tokens=usage.input_tokens, output_tokens=usage.output_tokens
    )


def expected_tokens(chars: int) -> int:
    return max(1, (chars + 3) // 4)  # what the fake server reports as usage


def sequence(*answers: Any) -> Callable[[RecordedRequest], Any]:
    """A responder giving `answers` in turn, then repeating the last."""
    replies = list(answers)

    def reply(req: RecordedRequest) -> Any:
        return replies.pop(0) if len(replies) > 1 else replies[0]

    return reply


def reask_problem(req: RecordedRequest) -> str:
    """The problem the client told the model about in its re-ask."""
    text = req.messages[-1]["content"]
    assert req.messages[-1]["role"] == "user" and "That answer is not valid: " in text
    return text.split("That answer is not valid: ", 1)[1].split(". Reply again", 1)[0]


# ----------------------------------------------------------------------------- happy path


async def test_valid_answer_is_parsed_with_usage_and_request_shape(fake: FakeLLMServer) -> None:
    verdict, usage = await ask(settings_for(fake.base_url))

    assert verdict == Verdict(score=7, reason="well sourced")
    [req] = fake.calls(NAME)
    assert fake.count() == 1
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.body["model"] == "main-model"
    assert req.body["temperature"] == 0.3
    assert req.body["max_tokens"] == 321
    assert req.body["seed"] == 42
    fmt = req.body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == NAME
    assert fmt["json_schema"]["schema"] == Verdict.model_json_schema()
    assert req.messages[0]["role"] == "system"
    assert req.messages[0]["content"].startswith("You grade research reports.")
    assert req.messages[1] == {"role": "user", "content": "Grade this report."}
    prompt_chars = sum(len(m["content"]) for m in req.messages)
    assert req.response_content is not None
    assert tokens(usage) == LLMUsage(
        calls=1,
        input_tokens=expected_tokens(prompt_chars),
        output_tokens=expected_tokens(len(req.response_content)),
    )


async def test_judge_calls_use_the_judge_model(fake: FakeLLMServer) -> None:
    await ask(settings_for(fake.base_url), judge=True)
    await ask(settings_for(fake.base_url), judge=False)

    assert [r.body["model"] for r in fake.calls(NAME)] == ["judge-model", "main-model"]


async def test_usage_is_estimated_when_the_provider_omits_it() -> None:
    content = json.dumps(GOOD)

    def handler(request: httpx.Request) -> httpx.Response:
        choice = {"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        return httpx.Response(200, json={"choices": [choice]})

    settings = settings_for("http://llm.invalid/v1")
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = LLMClient(settings, http=http)
    try:
        verdict, usage = await client.structured(MESSAGES, Verdict, SAMPLING)
    finally:
        await client.aclose()

    assert verdict.score == 7
    assert usage.calls == 1
    assert usage.output_tokens == len(content) // 4 > 0
    assert usage.input_tokens > len("Grade this report.") // 4


# ----------------------------------------------------------------------------- malformed answers


async def test_malformed_answer_is_reasked_with_the_problem(fake: FakeLLMServer) -> None:
    fake.respond(NAME, sequence({"score": 42, "reason": "too high"}, GOOD))

    verdict, usage = await ask(settings_for(fake.base_url))

    assert verdict == Verdict(**GOOD)
    assert fake.count(NAME) == 2
    assert usage.calls == 2
    first, second = fake.calls(NAME)
    assert usage.input_tokens > expected_tokens(sum(len(m["content"]) for m in first.messages))
    reask = second.messages
    assert reask[:2] == first.messages
    assert reask[2] == {"role": "assistant", "content": first.response_content}
    assert len(reask) == 4
    problem = reask_problem(second)
    assert "score" in problem  # names the field that failed, and why
    assert "less than or equal to 10" in problem


async def test_non_json_answer_is_reasked_as_not_json(fake: FakeLLMServer) -> None:
    fake.respond(NAME, sequence("I think it deserves a seven.", GOOD))

    verdict, usage = await ask(settings_for(fake.base_url))

    assert verdict.score == 7
    assert usage.calls == 2
    second = fake.calls(NAME)[1]
    assert "JSON" in reask_problem(second)  # says the answer was not JSON at all
    assert second.messages[-2] == {"role": "assistant", "content": "I think it deserves a seven."}


async def test_invalid_output_without_repair_attempts_is_retryable(fake: FakeLLMServer) -> None:
    fake.respond(NAME, lambda req: "no json here")

    err = await ask_error(settings_for(fake.base_url), NO_REPAIR)

    assert err.type == "LLMInvalidOutput"
    assert err.non_retryable is False
    assert "Verdict" in err.message
    assert "JSON" in err.message.split("last problem: ", 1)[1]
    assert fake.count() == 1
    assert err.details[0]["usage"]["calls"] == 1


async def test_empty_completion_is_invalid(fake: FakeLLMServer) -> None:
    fake.respond(NAME, lambda req: "")

    err = await ask_error(settings_for(fake.base_url))

    assert err.type == "LLMInvalidOutput"
    assert err.non_retryable is False
    assert "empty" in err.message
    assert fake.count() == 2  # one answer and one re-ask (json_repair_attempts=1)
    assert err.details[0]["usage"]["calls"] == 2


# ----------------------------------------------------------------------------- tolerant parsing


@pytest.mark.parametrize(
    "content",
    [
        '```json\n{"score": 3, "reason": "fenced"}\n```',
        '```\n{"score": 3, "reason": "fenced"}\n```',
        'Here is my verdict:\n{"score": 3, "reason": "fenced"}\nHope that helps!',
    ],
)
async def test_fenced_or_prose_wrapped_answer_is_accepted(
    fake: FakeLLMServer, content: str
) -> None:
    fake.respond(NAME, lambda req: content)

    verdict, usage = await ask(settings_for(fake.base_url), NO_REPAIR)

    assert verdict == Verdict(score=3, reason="fenced")
    assert usage.calls == 1
    assert fake.count() == 1


async def test_answer_cut_off_at_max_tokens_is_repaired_without_reask() -> None:
    """The fake always says finish_reason "stop", so a mock transport plays the provider."""
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        choice = {
            "message": {"role": "assistant", "content": '{"score": 4, "reason": "cut sho'},
            "finish_reason": "length",
        }
        usage = {"prompt_tokens": 120, "completion_tokens": 321}
        return httpx.Response(200, json={"choices": [choice], "usage": usage})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = LLMClient(settings_for("http://llm.invalid/v1"), http=http)
    try:
        verdict, usage = await client.structured(MESSAGES, Verdict, NO_REPAIR)
    finally:
        await client.aclose()

    assert verdict == Verdict(score=4, reason="cut sho")
    assert tokens(usage) == LLMUsage(calls=1, input_tokens=120, output_tokens=321)
    assert len(bodies) == 1


async def test_cut_off_answer_that_cannot_be_repaired_says_so() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        choice = {
            "message": {"role": "assistant", "content": '{"score": 4, "rea'},
            "finish_reason": "length",
        }
        return httpx.Response(200, json={"choices": [choice]})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = LLMClient(settings_for("http://llm.invalid/v1"), http=http)
    try:
        with pytest.raises(ApplicationError) as caught:
            await client.structured(MESSAGES, Verdict, NO_REPAIR)
    finally:
        await client.aclose()

    assert caught.value.type == "LLMInvalidOutput"
    assert "cut off at the token limit" in caught.value.message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"score": 2, "reason": "half', Verdict(score=2, reason="half")),
        (
            '{"score": 2, "reason": "ends with escape \\',
            Verdict(score=2, reason="ends with escape "),
        ),
        ('```json\n{"score": 2, "reason": "in a fence', Verdict(score=2, reason="in a fence")),
        ('Verdict: {"score": 2, "reason": "after prose', Verdict(score=2, reason="after prose")),
    ],
)
def test_parse_structured_repairs_truncated_answers(content: str, expected: Verdict) -> None:
    assert parse_structured(content, Verdict, truncated=True) == expected


def test_parse_structured_does_not_repair_complete_answers() -> None:
    with pytest.raises(ValueError):
        parse_structured('{"score": 2, "reason": "half', Verdict)


@pytest.mark.parametrize(
    ("text", "closed"),
    [
        ('{"a": "b', '{"a": "b"}'),
        ('{"a": [1, 2,', '{"a": [1, 2]}'),
        ('{"a": {"b": [{"c": 1}', '{"a": {"b": [{"c": 1}]}}'),
        ('{"a": "x}]",', '{"a": "x}]"}'),
        ('{"a": ["x", {"b": "{[', '{"a": ["x", {"b": "{["}]}'),
        ('{"a": "q\\"uote', '{"a": "q\\"uote"}'),
        ('{"a": 1}', '{"a": 1}'),
    ],
)
def test_close_truncated_json(text: str, closed: str) -> None:
    assert close_truncated_json(text) == closed
    json.loads(closed)


# ----------------------------------------------------------------------------- HTTP errors


async def test_wrong_key_is_a_non_retryable_auth_error_without_the_key(
    fake: FakeLLMServer,
) -> None:
    wrong = "sk-wrong-and-secret-0123"

    err = await ask_error(settings_for(fake.base_url, api_key=wrong))

    assert err.type == "LLMAuthError"
    assert err.non_retryable is True
    assert "TTDR_LLM_API_KEY" in err.message
    assert "401" in err.message
    assert wrong not in err.message
    assert KEY not in err.message
    assert wrong not in repr(err.details)
    assert fake.count() == 1


async def test_forbidden_is_a_non_retryable_auth_error(fake: FakeLLMServer) -> None:
    fake.inject_fault(NAME, 403)

    err = await ask_error(settings_for(fake.base_url))

    assert (err.type, err.non_retryable) == ("LLMAuthError", True)
    assert "TTDR_LLM_API_KEY" in err.message
    assert "403" in err.message
    assert KEY not in err.message
    assert fake.count() == 1


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (404, None),
        (400, "The model `main-model` does not exist or you do not have access to it."),
        (400, "model 'main-model' not found, try pulling it first"),
    ],
)
async def test_unknown_model_is_non_retryable_not_found(
    fake: FakeLLMServer, status: int, message: str | None
) -> None:
    fake.inject_fault(NAME, status, body=error_body(status, message))

    err = await ask_error(settings_for(fake.base_url))

    assert (err.type, err.non_retryable) == ("LLMNotFound", True)
    assert "TTDR_LLM_MODEL" in err.message
    assert "main-model" in err.message
    assert fake.count() == 1


async def test_context_length_exceeded_is_non_retryable(fake: FakeLLMServer) -> None:
    message = (
        "This model's maximum context length is 8192 tokens. However, your messages "
        "resulted in 9001 tokens. Please reduce the length of the messages."
    )
    fake.inject_fault(NAME, 400, body=error_body(400, message, code="context_length_exceeded"))

    err = await ask_error(settings_for(fake.base_url))

    assert (err.type, err.non_retryable) == ("LLMContextTooLong", True)
    assert "main-model" in err.message
    assert fake.count() == 1


async def test_other_bad_request_is_non_retryable(fake: FakeLLMServer) -> None:
    fake.inject_fault(NAME, 400, body=error_body(400, "Invalid value for 'temperature'."))

    err = await ask_error(settings_for(fake.base_url))

    assert (err.type, err.non_retryable) == ("LLMBadRequest", True)
    assert "Invalid value for 'temperature'." in err.message
    assert fake.count() == 1


async def test_rate_limit_is_retryable_after_the_delay_asked(fake: FakeLLMServer) -> None:
    fake.inject_fault(NAME, 429, headers={"Retry-After": "7"})

    err = await ask_error(settings_for(fake.base_url))

    assert (err.type, err.non_retryable) == ("LLMRateLimited", False)
    assert err.next_retry_delay == timedelta(seconds=7)
    assert fake.count() == 1


async def test_rate_limit_with_http_date_retry_after(fake: FakeLLMServer) -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    fake.inject_fault(NAME, 429, headers={"Retry-After": format_datetime(when, usegmt=True)})

    err = await ask_error(settings_for(fake.base_url))

    assert (err.type, err.non_retryable) == ("LLMRateLimited", False)
    assert err.next_retry_delay is not None
    assert timedelta(seconds=25) < err.next_retry_delay <= timedelta(seconds=30)
    assert fake.count() == 1


async def test_rate_limit_without_retry_after_leaves_the_delay_to_the_policy(
    fake: FakeLLMServer,
) -> None:
    fake.inject_fault(NAME, 429)

    err = await ask_error(settings_for(fake.base_url))

    assert (err.type, err.non_retryable, err.next_retry_delay) == ("LLMRateLimited", False, None)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retryable(fake: FakeLLMServer, status: int) -> None:
    fake.inject_fault(NAME, status)

    err = await ask_error(settings_for(fake.base_url))

    assert (err.type, err.non_retryable) == ("LLMServerError", False)
    assert str(status) in err.message
    assert fake.count() == 1


async def test_connection_reset_is_retryable_unavailable(fake: FakeLLMServer) -> None:
    fake.inject_disconnect(NAME)

    err = await ask_error(settings_for(fake.base_url))

    assert (err.type, err.non_retryable) == ("LLMUnavailable", False)
    assert fake.base_url in err.message
    assert fake.count() == 1


async def test_hang_past_the_timeout_is_retryable_timeout(fake: FakeLLMServer) -> None:
    fake.inject_hang(NAME, 3.0)
    settings = settings_for(fake.base_url, request_timeout_seconds=0.5)
    started = datetime.now(UTC)

    err = await ask_error(settings)

    assert (err.type, err.non_retryable) == ("LLMTimeout", False)
    assert datetime.now(UTC) - started < timedelta(seconds=2)
    assert fake.count() == 1


async def test_connection_refused_is_retryable_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"

    err = await ask_error(settings_for(base_url))

    assert (err.type, err.non_retryable) == ("LLMUnavailable", False)
    assert base_url in err.message


async def test_ok_status_without_choices_is_a_bad_response() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"object": "chat.completion", "choices": []})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = LLMClient(settings_for("http://llm.invalid/v1"), http=http)
    try:
        with pytest.raises(ApplicationError) as caught:
            await client.structured(MESSAGES, Verdict, SAMPLING)
    finally:
        await client.aclose()

    assert (caught.value.type, caught.value.non_retryable) == ("LLMBadResponse", False)


# ----------------------------------------------------------------------------- response_format


async def test_auto_falls_back_to_json_object_when_json_schema_is_rejected(
    fake: FakeLLMServer,
) -> None:
    fake.inject_fault(NAME, 400, body=error_body(400, FORMAT_REJECTED))

    async with client_for(settings_for(fake.base_url)) as client:
        verdict, _ = await client.structured(MESSAGES, Verdict, SAMPLING)
        assert client.response_format_mode == "json_object"
        await client.structured(MESSAGES, Verdict, SAMPLING)

    assert verdict == Verdict(**GOOD)
    formats = [r.body.get("response_format") for r in fake.calls(NAME)]
    assert len(formats) == 3
    assert formats[0] is not None and formats[0]["type"] == "json_schema"
    json_object = {"type": "json_object", "schema": Verdict.model_json_schema()}
    assert formats[1:] == [json_object, json_object]  # the mode sticks
    assert fake.calls(NAME)[1].messages == fake.calls(NAME)[0].messages  # same call, re-sent


async def test_auto_falls_back_to_the_prompt_when_both_forms_are_rejected(
    fake: FakeLLMServer,
) -> None:
    fake.inject_fault(NAME, 400, body=error_body(400, FORMAT_REJECTED))
    fake.inject_fault(NAME, 422, body=error_body(422, "response_format json_object: unsupported"))

    async with client_for(settings_for(fake.base_url)) as client:
        verdict, usage = await client.structured(MESSAGES, Verdict, SAMPLING)
        assert client.response_format_mode == "prompt"
        again, _ = await client.structured(MESSAGES, Verdict, SAMPLING)

    assert verdict == again == Verdict(**GOOD)
    assert usage.calls == 1  # rejected forms cost no tokens
    calls = fake.calls(NAME)
    assert [r.body.get("response_format", {}).get("type") for r in calls] == [
        "json_schema",
        "json_object",
        None,
        None,
    ]
    system = calls[2].messages[0]["content"]
    assert system.startswith("You grade research reports.")
    assert f"Schema name: {NAME}" in system
    assert json.dumps(Verdict.model_json_schema()) in system
    assert calls[2].schema == Verdict.model_json_schema()


async def test_llama_cpp_500_naming_response_format_also_falls_back(
    fake: FakeLLMServer,
) -> None:
    message = "Unsupported response_format type: json_schema. Must be one of json_object"
    fake.inject_fault(NAME, 500, body=error_body(500, message))

    async with client_for(settings_for(fake.base_url)) as client:
        verdict, _ = await client.structured(MESSAGES, Verdict, SAMPLING)
        assert client.response_format_mode == "json_object"

    assert verdict == Verdict(**GOOD)
    assert fake.count(NAME) == 2


@pytest.mark.parametrize("mode", ["json_schema", "json_object"])
async def test_fixed_mode_rejection_is_a_non_retryable_bad_request(
    fake: FakeLLMServer, mode: str
) -> None:
    fake.inject_fault(NAME, 400, body=error_body(400, f"response_format {mode} is not supported"))
    settings = settings_for(fake.base_url, response_format=mode)

    async with client_for(settings) as client:
        with pytest.raises(ApplicationError) as caught:
            await client.structured(MESSAGES, Verdict, SAMPLING)
        assert client.response_format_mode == mode

    assert (caught.value.type, caught.value.non_retryable) == ("LLMBadRequest", True)
    assert "TTDR_LLM_RESPONSE_FORMAT" in caught.value.message
    assert fake.count() == 1


async def test_fixed_prompt_mode_sends_no_response_format(fake: FakeLLMServer) -> None:
    verdict, _ = await ask(settings_for(fake.base_url, response_format="prompt"))

    assert verdict == Verdict(**GOOD)
    [req] = fake.calls(NAME)
    assert "response_format" not in req.body
    assert f"Schema name: {NAME}" in req.messages[0]["content"]


# ----------------------------------------------------------------------------- settings


def test_from_env_without_anything_is_the_embedded_model() -> None:
    assert LLMSettings.from_env({}) is None
    assert LLMSettings.from_env({"TTDR_LLM_API_KEY": "", "OPENAI_BASE_URL": ""}) is None


def test_from_env_openai_key_alone_means_openai() -> None:
    settings = LLMSettings.from_env({"OPENAI_API_KEY": "sk-openai"})

    assert settings is not None
    assert settings.base_url == OPENAI_BASE_URL
    assert settings.model == settings.judge_model == OPENAI_DEFAULT_MODEL
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "sk-openai"
    assert settings.response_format == "auto"
    assert settings.request_timeout_seconds == 600


def test_from_env_ttdr_variables_win_over_openai_ones() -> None:
    settings = LLMSettings.from_env(
        {
            "OPENAI_API_KEY": "sk-openai",
            "OPENAI_BASE_URL": "https://openai.example/v1",
            "TTDR_LLM_API_KEY": "sk-ttdr",
            "TTDR_LLM_BASE_URL": "http://localhost:8080/v1/",
            "TTDR_LLM_MODEL": "qwen",
            "TTDR_LLM_JUDGE_MODEL": "qwen-big",
            "TTDR_LLM_RESPONSE_FORMAT": "json_object",
            "TTDR_LLM_TIMEOUT_SECONDS": "90",
        }
    )

    assert settings is not None
    assert settings.base_url == "http://localhost:8080/v1"
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "sk-ttdr"
    assert (settings.model, settings.judge_model) == ("qwen", "qwen-big")
    assert settings.response_format == "json_object"
    assert settings.request_timeout_seconds == 90


def test_from_env_base_url_without_model_names_the_model_variable() -> None:
    with pytest.raises(LLMConfigError, match="TTDR_LLM_MODEL"):
        LLMSettings.from_env({"TTDR_LLM_BASE_URL": "http://localhost:8080/v1"})


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"TTDR_LLM_BASE_URL": "ftp://x", "TTDR_LLM_MODEL": "m"}, "TTDR_LLM_BASE_URL"),
        ({"OPENAI_API_KEY": "k", "TTDR_LLM_RESPONSE_FORMAT": "xml"}, "TTDR_LLM_RESPONSE_FORMAT"),
        ({"OPENAI_API_KEY": "k", "TTDR_LLM_TIMEOUT_SECONDS": "soon"}, "TTDR_LLM_TIMEOUT_SECONDS"),
        ({"OPENAI_API_KEY": "k", "TTDR_LLM_TIMEOUT_SECONDS": "0"}, "TTDR_LLM_TIMEOUT_SECONDS"),
    ],
)
def test_from_env_bad_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(LLMConfigError, match=variable):
        LLMSettings.from_env(env)


def test_api_key_is_secret_in_repr_and_str() -> None:
    settings = LLMSettings.from_env({"TTDR_LLM_API_KEY": KEY})

    assert settings is not None
    assert KEY not in repr(settings)
    assert KEY not in str(settings)
    assert KEY not in repr(settings.api_key)
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == KEY


# ----------------------------------------------------------------------------- Retry-After

NOW = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),
        ("Wed, 21 Oct 2015 07:28:00 -0000", 60.0),
        ("Wed, 21 Oct 2015 07:26:00 GMT", 0.0),  # already past
        ("-3", 0.0),
        ("100000", MAX_RETRY_AFTER_SECONDS),
        ("Wed, 21 Oct 2015 09:27:00 GMT", MAX_RETRY_AFTER_SECONDS),
        ("inf", MAX_RETRY_AFTER_SECONDS),
        ("garbage", None),
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_seconds(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, now=NOW) == seconds


def test_fences_inside_a_json_string_are_content() -> None:
    # Seen with the embedded 135M model: Markdown fences inside the answer string, cut off.
    content = '{ "reason" : "see ```\ncode\n``` and then ```py\nmore'
    verdict = parse_structured('{"score": 3, ' + content[1:], Verdict, truncated=True)
    assert verdict.score == 3
    assert verdict.reason.startswith("see ```\ncode\n``` and then")
