"""Every HTTP answer of a provider, classified: retryable (with Retry-After honoured) or not, with
a message that says what to fix. The classification as a table over status codes and provider
messages, including which rule wins when two could apply. Pure: an httpx.Response is built here
and handed to the client's classifier; nothing is sent (tests/activities/test_llm_client.py
drives the same errors through a fake server on loopback).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.llm import (
    MAX_RETRY_AFTER_SECONDS,
    LLMClient,
    _FormatRejected,
    _provider_message,
    retry_after_seconds,
)
from activities.llm_settings import LLMSettings
from activities.redaction import Redactor

SECRET = "sk-live-0123456789abcdef"
WHERE = "http://127.0.0.1:9/v1"
JSON_MODE = {"model": "m-1", "response_format": {"type": "json_schema"}}
PLAIN = {"model": "m-1"}


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMClient]:
    settings = LLMSettings(base_url=WHERE, model="m-1", judge_model="m-1")
    client = LLMClient(settings, redactor=Redactor([SECRET]))
    yield client
    asyncio.run(client.aclose())


def answer(status: int, message: str = "", headers: dict[str, str] | None = None) -> httpx.Response:
    body = json.dumps({"error": {"message": message}}) if message else ""
    return httpx.Response(status, headers=headers or {}, content=body.encode())


def classify(llm: LLMClient, response: httpx.Response, body: dict | None = None) -> Exception:
    return llm._http_error(response, body or PLAIN)


@pytest.mark.parametrize(
    ("status", "message", "body", "kind", "retryable"),
    [
        (401, "bad key", PLAIN, "LLMAuthError", False),
        (403, "no access", PLAIN, "LLMAuthError", False),
        # Auth wins over a message that names the response format.
        (401, "json_schema not allowed", JSON_MODE, "LLMAuthError", False),
        (429, "slow down", PLAIN, "LLMRateLimited", True),
        (408, "request timeout", PLAIN, "LLMServerError", True),
        (409, "conflict", PLAIN, "LLMServerError", True),
        (500, "boom", PLAIN, "LLMServerError", True),
        (502, "bad gateway", PLAIN, "LLMServerError", True),
        (503, "overloaded", PLAIN, "LLMServerError", True),
        (599, "odd", PLAIN, "LLMServerError", True),
        # A transient status wins over a message that reads like a permanent one.
        (429, "maximum context length exceeded", PLAIN, "LLMRateLimited", True),
        (503, "model not found", PLAIN, "LLMServerError", True),
        (400, "maximum context length is 4096 tokens", PLAIN, "LLMContextTooLong", False),
        (400, "prompt exceeds the context window", PLAIN, "LLMContextTooLong", False),
        (404, "this model's context length is 8k", PLAIN, "LLMContextTooLong", False),
        (400, "context missing", PLAIN, "LLMBadRequest", False),
        (404, "no such route", PLAIN, "LLMNotFound", False),
        (400, "The model `m-1` does not exist", PLAIN, "LLMNotFound", False),
        (400, "model m-1 not found", PLAIN, "LLMNotFound", False),
        (422, "not found", PLAIN, "LLMBadRequest", False),
        (400, "temperature must be <= 2", PLAIN, "LLMBadRequest", False),
        (422, "unprocessable", PLAIN, "LLMBadRequest", False),
        (418, "teapot", PLAIN, "LLMBadRequest", False),
        # A response_format complaint only counts when the request sent one.
        (400, "unknown field json_schema", PLAIN, "LLMBadRequest", False),
        (500, "response_format unsupported", PLAIN, "LLMServerError", True),
        # ...and when the message names it: other complaints about a JSON-mode request stay.
        (400, "temperature must be <= 2", JSON_MODE, "LLMBadRequest", False),
        (500, "boom", JSON_MODE, "LLMServerError", True),
    ],
)
def test_status_and_message_classify_the_error(
    llm: LLMClient, status: int, message: str, body: dict, kind: str, retryable: bool
) -> None:
    err = classify(llm, answer(status, message), body)
    assert isinstance(err, ApplicationError)
    assert (err.type, err.non_retryable) == (kind, not retryable)
    assert message in err.message


@pytest.mark.parametrize("status", [400, 422, 500])
@pytest.mark.parametrize("word", ["response_format", "json_schema", "JSON_OBJECT"])
def test_a_rejected_response_format_is_a_downgrade_not_an_error(
    llm: LLMClient, status: int, word: str
) -> None:
    err = classify(llm, answer(status, f"unsupported {word} type"), JSON_MODE)
    assert isinstance(err, _FormatRejected)


@pytest.mark.parametrize("status", [401, 404, 429, 503])
def test_other_statuses_naming_the_format_are_not_a_downgrade(llm: LLMClient, status: int) -> None:
    assert not isinstance(classify(llm, answer(status, "json_schema"), JSON_MODE), _FormatRejected)


def message_of(err: Exception) -> str:
    assert isinstance(err, ApplicationError)
    return err.message


def test_messages_say_what_to_fix(llm: LLMClient) -> None:
    assert message_of(classify(llm, answer(401, "invalid key"))) == (
        f"{WHERE} refused the request (401: invalid key): set TTDR_LLM_API_KEY "
        "(or OPENAI_API_KEY) to a valid key with access to model 'm-1'"
    )
    assert message_of(classify(llm, answer(404, "gone"))) == (
        f"{WHERE} does not serve model 'm-1' (404: gone): check "
        "TTDR_LLM_MODEL / TTDR_LLM_JUDGE_MODEL and TTDR_LLM_BASE_URL"
    )
    assert message_of(classify(llm, answer(400, "context length exceeded"))) == (
        "the prompt is too long for model 'm-1' (context length exceeded): lower "
        "max_output_tokens / search_results_per_question or use a longer-context model"
    )
    bad = classify(llm, answer(400, "temperature too high"))
    assert isinstance(bad, ApplicationError)
    assert bad.message == f"{WHERE} rejected the request (400: temperature too high)"


@pytest.mark.parametrize(("status", "kind"), [(429, "LLMRateLimited"), (503, "LLMServerError")])
def test_retry_after_sets_the_next_attempt_and_is_said(
    llm: LLMClient, status: int, kind: str
) -> None:
    err = classify(llm, answer(status, "wait", {"Retry-After": "7"}))
    assert isinstance(err, ApplicationError) and err.type == kind
    assert err.next_retry_delay == timedelta(seconds=7)
    assert err.message == (
        f"{WHERE} answered {status} (wait); will retry after 7s as Retry-After asks"
    )
    plain = classify(llm, answer(status, "wait"))
    assert isinstance(plain, ApplicationError) and plain.next_retry_delay is None
    assert plain.message == f"{WHERE} answered {status} (wait); will retry"


def test_a_secret_the_provider_echoes_is_masked(llm: LLMClient) -> None:
    for status in (401, 400, 404, 429, 500):
        err = classify(llm, answer(status, f"key {SECRET} is wrong"))
        assert SECRET not in str(err) and "[secret]" in str(err)


def test_the_provider_message_is_read_from_every_error_shape() -> None:
    def message(content: bytes, status: int = 400) -> str:
        return _provider_message(httpx.Response(status, content=content))

    assert message(b'{"error": {"message": "m1", "type": "x"}}') == "m1"
    assert message(b'{"error": "flat string"}') == "flat string"
    empty = b'{"error": {"message": ""}, "detail": "x"}'
    assert message(empty) == empty.decode()
    assert message(b'{"detail": "fastapi style"}') == '{"detail": "fastapi style"}'
    assert message(b"[1, 2]") == "[1, 2]"  # JSON, but not an object
    assert message(b"plain text failure") == "plain text failure"
    assert message(b"", 503) == "Service Unavailable"
    # Bounded, whatever the provider sends.
    assert message(json.dumps({"error": {"message": "x" * 2000}}).encode()) == "x" * 500
    assert message(json.dumps({"error": "y" * 2000}).encode()) == "y" * 500
    assert message(b"z" * 2000) == "z" * 500


NOW = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("600", MAX_RETRY_AFTER_SECONDS),
        ("599.5", 599.5),
        ("600.5", MAX_RETRY_AFTER_SECONDS),
        ("-0.5", 0.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:27:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:37:00 GMT", MAX_RETRY_AFTER_SECONDS),
        ("Wed, 21 Oct 2015 07:36:59 GMT", 599.0),
        ("Wed, 21 Oct 2015 09:27:30 +0200", 30.0),
        ("Wed, 21 Oct 2015 07:27:30 -0000", 30.0),  # no zone: HTTP-dates are GMT
        ("   ", None),
        ("Wed, 32 Oct 2015 07:27:00 GMT", None),
    ],
)
def test_retry_after_edges(value: str, seconds: float | None) -> None:
    assert retry_after_seconds(value, now=NOW) == seconds


def test_retry_after_without_now_counts_from_the_clock() -> None:
    soon = datetime.now(UTC) + timedelta(seconds=120)
    seconds = retry_after_seconds(soon.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    assert seconds is not None and 100 < seconds <= 120
