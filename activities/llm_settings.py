"""Which LLM endpoint the worker talks to, from the worker's settings (never from workflows).

Resolution order: TTDR_LLM_* variables, then the OpenAI SDK's own OPENAI_* variables. With neither a
base URL nor a key there is no endpoint: the worker then serves the embedded local model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from common.settings import SettingsError, SharedSettings

OPENAI_BASE_URL = "https://api.openai.com/v1"
OPENAI_DEFAULT_MODEL = "gpt-4.1-mini"
ResponseFormatMode = Literal["auto", "json_schema", "json_object", "prompt"]
# The most of one answer's HTTP body the worker reads. Far above any answer within max_tokens
# (32k tokens, even JSON-escaped); a provider that ignores max_tokens is cut here.
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024


class LLMConfigError(ValueError):
    """The LLM settings are unusable; the message (one line) says what to set."""


class LLMSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    base_url: str
    api_key: SecretStr | None = None
    model: str = Field(min_length=1)
    judge_model: str = Field(min_length=1)
    # auto: OpenAI-style json_schema first, then llama.cpp-style json_object+schema, then the
    # schema in the prompt, moving on only when the provider rejects the previous form.
    response_format: ResponseFormatMode = "auto"
    # The whole of one HTTP call (connect, send, every byte of the answer), not only each read:
    # a completion that drips forever is stopped here, with the endpoint named.
    request_timeout_seconds: float = Field(600.0, gt=0, le=3600)
    max_response_bytes: int = Field(DEFAULT_MAX_RESPONSE_BYTES, ge=64 * 1024, le=256 * 1024 * 1024)
    connect_timeout_seconds: float = Field(10.0, gt=0, le=300)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https:// (got {value!r})")
        return value.rstrip("/")

    @classmethod
    def from_settings(cls, settings: SharedSettings) -> LLMSettings | None:
        """The configured endpoint, or None when nothing is configured (embedded model)."""
        base_url = settings.llm_base_url or settings.openai_base_url
        api_key = settings.llm_api_key or settings.openai_api_key
        if not base_url and not api_key:
            return None
        model = settings.llm_model
        if not model:
            if base_url and base_url.rstrip("/") != OPENAI_BASE_URL:
                raise LLMConfigError(
                    f"TTDR_LLM_BASE_URL is {base_url} but TTDR_LLM_MODEL is not set: "
                    "name the model that endpoint serves"
                )
            model = OPENAI_DEFAULT_MODEL
        try:  # the model has checked the numbers; the URL's scheme is checked here
            return cls(
                base_url=base_url or OPENAI_BASE_URL,
                api_key=api_key,
                model=model,
                judge_model=settings.llm_judge_model or model,
                response_format=settings.llm_response_format,
                request_timeout_seconds=settings.llm_timeout_seconds,
                max_response_bytes=settings.llm_max_response_bytes,
            )
        except ValidationError as err:
            first = err.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "?"
            raise LLMConfigError(f"bad LLM setting {_ENV_NAME[field]}: {first['msg']}") from None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LLMSettings | None:
        """from_settings over env's LLM variables alone (tests, eval, the demo, the desk)."""
        try:
            settings = SharedSettings.load_only(env, LLM_FIELDS)
        except SettingsError as err:
            raise LLMConfigError(str(err)) from None
        return cls.from_settings(settings)


LLM_FIELDS = tuple(f for f in SharedSettings.model_fields if f.startswith(("llm_", "openai_")))
_ENV_NAME = {
    "base_url": "TTDR_LLM_BASE_URL",
    "model": "TTDR_LLM_MODEL",
    "judge_model": "TTDR_LLM_JUDGE_MODEL",
    "?": "LLM settings",
}
