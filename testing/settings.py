"""Settings that point the product at the fake LLM of testing/fake_llm.py."""

from __future__ import annotations

from activities.llm_settings import LLMSettings
from testing.fake_llm import FakeLLMServer

FAKE_KEY = "sk-test-fake-key"


def fake_llm_settings(server: FakeLLMServer, **overrides: object) -> LLMSettings:
    fields: dict[str, object] = {
        "base_url": server.base_url,
        "api_key": FAKE_KEY,
        "model": "fake-model",
        "judge_model": "fake-judge",
        "request_timeout_seconds": 30,
    }
    return LLMSettings.model_validate({**fields, **overrides})
