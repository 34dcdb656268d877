"""Tests of the fake OpenAI-compatible server itself (testing/fake_llm.py)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from enum import StrEnum
from typing import Literal

import httpx
import pytest
from pydantic import BaseModel, Field

from testing.fake_llm import FakeLLMServer, RecordedRequest, sample_from_schema

KEY = "test-key"


class Kind(StrEnum):
    web = "web"
    local = "local"


class Source(BaseModel):
    url: str = Field(min_length=8, max_length=20)
    kind: Kind
    score: float = Field(gt=0, lt=1)
    rank: int = Field(ge=3, le=9)


class Section(BaseModel):
    title: str
    children: list[Section] = Field(default_factory=list)  # recursive: must terminate


class Plan(BaseModel):
    topic: str = Field(min_length=1)
    sections: list[Section] = Field(min_length=2, max_length=4)
    sources: list[Source]
    best: Source | None = None
    mode: Literal["draft", "final"]
    version: Literal[2]
    done: bool
    budget: int = Field(gt=0)
    pair: tuple[str, int]
    notes: dict[str, str] = Field(default_factory=dict)


@pytest.fixture
def llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def client(llm: FakeLLMServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=llm.base_url, headers=headers, timeout=5) as c:
        yield c


def chat(client: httpx.Client, **extra: object) -> httpx.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}
    return client.post("/chat/completions", json=body)


def content(resp: httpx.Response) -> str:
    assert resp.status_code == 200, resp.text
    return resp.json()["choices"][0]["message"]["content"]


def openai_format(model: type[BaseModel]) -> dict[str, object]:
    schema = model.model_json_schema()
    return {"type": "json_schema", "json_schema": {"name": model.__name__, "schema": schema}}


def test_default_instance_validates_in_json_schema_mode(
    llm: FakeLLMServer, client: httpx.Client
) -> None:
    resp = chat(client, response_format=openai_format(Plan), temperature=0, seed=1)
    data = resp.json()
    assert data["object"] == "chat.completion" and data["model"] == "m"
    assert data["choices"][0]["finish_reason"] == "stop"
    usage = data["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 1
    plan = Plan.model_validate_json(content(resp))
    assert plan.topic == "Plan.topic sample text"
    assert 2 <= len(plan.sections) <= 4 and 3 <= plan.sources[0].rank <= 9
    # deterministic: the same request gets the same content
    assert content(chat(client, response_format=openai_format(Plan))) == content(resp)
    assert [r.name for r in llm.requests] == ["Plan", "Plan"]


def test_default_instance_validates_in_llama_cpp_mode(client: httpx.Client) -> None:
    fmt = {"type": "json_object", "schema": Source.model_json_schema()}
    Source.model_validate_json(content(chat(client, response_format=fmt)))


def test_prompt_mode_finds_name_and_schema(llm: FakeLLMServer, client: httpx.Client) -> None:
    prompt = (
        "Answer with JSON only.\nSchema name: Plan\n"
        f"JSON schema:\n{json.dumps(Plan.model_json_schema())}\n"
    )
    resp = chat(
        client, messages=[{"role": "system", "content": prompt}, {"role": "user", "content": "go"}]
    )
    Plan.model_validate_json(content(resp))
    assert llm.count("Plan") == 1
    # no schema and no responder: a plain completion, recorded with name None
    assert content(chat(client)) == "fake completion"
    assert llm.calls(None)[0].schema is None


def test_sample_from_schema_respects_bounds() -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "exclusiveMinimum": 5, "maximum": 10},
            "x": {"type": "number", "maximum": -2},
            "s": {"type": "string", "minLength": 30, "maxLength": 31},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3},
            "none": {"type": "array", "items": {"type": "string"}, "maxItems": 0},
            "c": {"const": 7},
        },
    }
    out = sample_from_schema(schema, "T")
    assert out["n"] == 6 and out["x"] == -2 and 30 <= len(out["s"]) <= 31
    assert out["tags"] == [
        "T.tags[0] sample text",
        "T.tags[1] sample text",
        "T.tags[2] sample text",
    ]
    assert out["none"] == [] and out["c"] == 7


def test_custom_responder_and_verbatim_string(llm: FakeLLMServer, client: httpx.Client) -> None:
    def answer(req: RecordedRequest) -> dict[str, object]:
        assert req.schema is not None and "hi" in req.prompt
        return {"url": "https://x.org", "kind": "web", "score": 0.5, "rank": 4}

    llm.respond("Source", answer)
    llm.respond("Plan", lambda req: "{not json")
    src = Source.model_validate_json(content(chat(client, response_format=openai_format(Source))))
    assert src.url == "https://x.org"
    assert content(chat(client, response_format=openai_format(Plan))) == "{not json"


def test_fault_429_with_retry_after_then_success(llm: FakeLLMServer, client: httpx.Client) -> None:
    llm.inject_fault("Source", 429, headers={"Retry-After": "1"})
    first = chat(client, response_format=openai_format(Source))
    assert first.status_code == 429 and first.headers["retry-after"] == "1"
    assert first.json()["error"]["code"] == "rate_limit_exceeded"
    # another node is unaffected, and the fault is consumed after one use
    assert chat(client, response_format=openai_format(Plan)).status_code == 200
    assert chat(client, response_format=openai_format(Source)).status_code == 200
    assert [(r.status, r.fault) for r in llm.calls("Source")] == [(429, "status"), (200, None)]

    llm.inject_fault(None, 500, times=2)
    assert [chat(client).status_code for _ in range(3)] == [500, 500, 200]


def test_auth_and_malformed_json(llm: FakeLLMServer, client: httpx.Client) -> None:
    resp = client.post(
        "/chat/completions", json={"messages": []}, headers={"Authorization": "Bearer nope"}
    )
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "invalid_api_key"
    resp = client.post(
        "/chat/completions", content=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400 and resp.json()["error"]["param"] is None
    models = client.get("/models").json()
    assert models["data"] == [{"id": "fake-model", "object": "model", "owned_by": "fake"}]
    assert [r.status for r in llm.requests] == [401, 400, 200]


def test_disconnect_and_hang(llm: FakeLLMServer, client: httpx.Client) -> None:
    llm.inject_disconnect("Plan")
    with pytest.raises(httpx.TransportError):
        chat(client, response_format=openai_format(Plan))
    llm.inject_hang("Plan", 1.0)
    with pytest.raises(httpx.ReadTimeout):
        client.post(
            "/chat/completions",
            json={"messages": [], "response_format": openai_format(Plan)},
            timeout=0.2,
        )
    assert chat(client, response_format=openai_format(Plan)).status_code == 200
    assert [r.fault for r in llm.calls("Plan")] == ["disconnect", "hang", None]


def test_concurrent_requests_overlap_with_delay(llm: FakeLLMServer, client: httpx.Client) -> None:
    llm.set_delay(None, 0.3)
    llm.set_delay("Source", 0.0)  # a per-name delay wins over the global one
    statuses: list[int] = []

    def call() -> None:
        with httpx.Client(headers=client.headers, timeout=5) as c:
            url = f"{llm.base_url}/chat/completions"
            statuses.append(c.post(url, json={"messages": []}).status_code)

    t0 = time.monotonic()
    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - t0 < 1.0 and statuses == [200] * 4
    t1 = time.monotonic()
    chat(client, response_format=openai_format(Source))
    assert time.monotonic() - t1 < 0.25

    records = [r for r in llm.requests if r.name is None]
    assert len(records) == 4 and all(r.finished_at is not None for r in records)
    # every request was in flight at the same moment
    assert max(r.started_at for r in records) < min(r.finished_at or 0 for r in records)
    llm.reset()
    assert llm.count() == 0


def test_a_request_from_before_reset_never_reaches_new_responders() -> None:
    with FakeLLMServer() as server:
        server.set_delay(None, 5)
        seen: list[str] = []
        outcome: dict[str, int] = {}

        def late() -> None:
            with httpx.Client(timeout=10) as http:
                response = http.post(
                    f"{server.base_url}/chat/completions",
                    json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
                )
                outcome["status"] = response.status_code

        thread = threading.Thread(target=late)
        thread.start()
        while not server.requests:
            time.sleep(0.01)
        started = time.monotonic()
        server.reset()
        server.respond(None, lambda request: seen.append("called") or "fresh answer")
        thread.join()

        assert outcome["status"] == 503
        assert seen == [], "the old request consumed a new responder's answer"
        assert time.monotonic() - started < 2, "reset wakes the sleeping request"
