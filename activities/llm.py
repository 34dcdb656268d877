"""OpenAI-compatible Chat Completions client for structured (pydantic) answers, over httpx.

Every failure becomes a Temporal ApplicationError whose retryability says what to do:
transient ones (429, 5xx, timeouts, resets, malformed answers) are retried by Temporal's
retry policy — this client never retries on its own, so an attempt is visible in the history —
and the ones a retry cannot fix (bad key, unknown model, oversize prompt) fail at once with a
message that says what to change.

One call is bounded in time and size: `request_timeout_seconds` covers the whole call (a
completion that drips forever is stopped, naming the endpoint), and at most `max_response_bytes`
of an answer are read. An answer over that bound is handled like one cut off at the token
limit: its first bytes are repaired and used when they make a valid answer (no second call),
otherwise it is re-asked within `json_repair_attempts` like any malformed answer. A deeply nested
JSON answer is a malformed answer too (re-asked), never a crash that Temporal would retry.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from datetime import timedelta
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.attempts import what_next
from activities.llm_answers import (
    OVERSIZE,
    describe_invalid,
    mask_content,
    oversize_answer,
    parse_structured,
    read_bounded,
)
from activities.llm_answers import close_truncated_json as close_truncated_json  # re-export
from activities.llm_settings import LLMSettings, ResponseFormatMode
from activities.prices import DEFAULT_PRICES, PriceTable, UnpricedModel
from activities.redaction import Redactor
from common.retry_after import MAX_RETRY_AFTER_SECONDS as MAX_RETRY_AFTER_SECONDS  # re-export
from common.retry_after import retry_after_seconds
from observability import tracing
from workflows.models import LLMUsage, SamplingParams

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
ERROR_BODY_MAX_BYTES = 64 * 1024  # an error answer is read this far, for its message
# Fallback order in auto mode, after a provider rejects a response_format form.
_NEXT_MODE: dict[ResponseFormatMode, ResponseFormatMode] = {
    "json_schema": "json_object",
    "json_object": "prompt",
}


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class _FormatRejected(Exception):
    """The provider refused this response_format form (400/422 naming it)."""


def schema_name(model: type[BaseModel]) -> str:
    return model.__name__


@functools.cache
def _json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A schema class's JSON schema, built once: pydantic takes about 0.7 ms per build, paid on
    every call otherwise (profiled with pyinstrument, bench/RESULTS.md)."""
    return model.model_json_schema()


class LLMClient:
    def __init__(
        self,
        settings: LLMSettings,
        http: httpx.AsyncClient | None = None,
        redactor: Redactor | None = None,
        prices: PriceTable | None = None,
    ) -> None:
        """`redactor` masks configured secrets in answers before they are parsed, logged or
        traced; by default the worker's (its environment's secrets and this client's key).
        `prices` prices each call into its usage (default: activities/prices.py's table)."""
        self.settings = settings
        self.prices = prices or PriceTable(DEFAULT_PRICES)
        key = settings.api_key.get_secret_value() if settings.api_key is not None else None
        self.redactor = redactor or Redactor.from_env(extra=[key] if key else [])
        self._mode: ResponseFormatMode = (
            "json_schema" if settings.response_format == "auto" else settings.response_format
        )
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(
                settings.request_timeout_seconds, connect=settings.connect_timeout_seconds
            ),
            # Many concurrent questions share the pool; Temporal bounds concurrency anyway.
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def response_format_mode(self) -> ResponseFormatMode:
        return self._mode

    async def structured(
        self,
        messages: list[ChatMessage],
        schema: type[T],
        sampling: SamplingParams,
        *,
        judge: bool = False,
    ) -> tuple[T, LLMUsage]:
        """Ask for an answer matching `schema`; re-ask on a malformed one (bounded)."""
        model = self.settings.judge_model if judge else self.settings.model
        if sampling.require_price:
            try:
                self.prices.require(model)
            except UnpricedModel as err:
                # Before any request: nothing is spent on a run whose budget cannot be counted.
                raise ApplicationError(
                    str(err), type="LLMUnpricedModel", non_retryable=True
                ) from None
        conversation = list(messages)
        usage = LLMUsage()
        problems: list[str] = []
        attempts = 1 + sampling.json_repair_attempts
        while len(problems) < attempts:
            body = self._body(conversation, schema, sampling, model)
            try:
                data = await self._post(body)
            except _FormatRejected:
                self._downgrade_mode()
                continue
            usage = usage.plus(self._priced_usage(data, body))
            content, finish_reason = _content_of(data)
            try:
                return parse_structured(content, schema, truncated=finish_reason == "length"), usage
            except (ValidationError, ValueError) as err:
                problem = describe_invalid(err, content, finish_reason, data.get(OVERSIZE))
                problems.append(problem)
                log.warning(
                    "malformed %s answer from %s: %s; it began %r",
                    schema_name(schema),
                    model,
                    problem,
                    content[:200],
                )
                conversation = [
                    *messages,
                    ChatMessage(role="assistant", content=content[:4000]),
                    ChatMessage(
                        role="user",
                        content=(
                            f"That answer is not valid: {problem}. Reply again with only one "
                            f"JSON object that matches the {schema_name(schema)} schema, "
                            "shorter if it was cut off."
                        ),
                    ),
                ]
        raise ApplicationError(
            f"{model} gave no valid {schema_name(schema)} JSON in {attempts} tries "
            f"(last problem: {problems[-1]})",
            {"usage": usage.model_dump()},
            type="LLMInvalidOutput",
        )

    # ------------------------------------------------------------------ request building

    def _body(
        self, messages: list[ChatMessage], schema: type[T], sampling: SamplingParams, model: str
    ) -> dict[str, Any]:
        json_schema = _json_schema(schema)
        name = schema_name(schema)
        instruction = f"Reply with one JSON object only (schema {name})."
        if self._mode == "prompt":
            # The provider enforces nothing: the schema itself has to be in the prompt.
            instruction = (
                "Reply with one JSON object only, no prose, matching this JSON schema.\n"
                f"Schema name: {name}\n{json.dumps(json_schema)}"
            )
        # Masked here too, so a prompt never carries a secret, whoever calls the client.
        wire = [{"role": m.role, "content": self.redactor.text(m.content)} for m in messages]
        wire[0] = {**wire[0], "content": f"{wire[0]['content']}\n\n{instruction}"}
        body: dict[str, Any] = {
            "model": model,
            "messages": wire,
            "temperature": sampling.temperature,
            "max_tokens": sampling.max_output_tokens,
            "seed": sampling.seed,
        }
        if self._mode == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": json_schema, "strict": False},
            }
        elif self._mode == "json_object":
            body["response_format"] = {"type": "json_object", "schema": json_schema}
        return body

    def _downgrade_mode(self) -> None:
        following = _NEXT_MODE.get(self._mode)
        if self.settings.response_format != "auto" or following is None:
            raise ApplicationError(
                f"{self.settings.base_url} rejects response_format {self._mode!r}: set "
                "TTDR_LLM_RESPONSE_FORMAT to json_schema, json_object or prompt",
                type="LLMBadRequest",
                non_retryable=True,
            )
        log.info("provider rejected response_format %s; using %s", self._mode, following)
        self._mode = following

    # ------------------------------------------------------------------ transport

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        """One request, traced as one `chat <model>` span under the node's RunActivity span."""
        with tracing.llm_call_span(body, self.settings.base_url) as call:
            data = await self._send(body, call)
            # Before the span may record it (TTDR_TRACE_CONTENT=1), logs or parsing see it.
            mask_content(data, self.redactor)
            usage = self._priced_usage(data, body)
            call.record_response(data, usage.input_tokens, usage.output_tokens)
            if not usage.unpriced_calls:
                call.span.set_attribute("ttdr.llm.cost_usd", usage.cost_usd)
            return data

    def _priced_usage(self, data: dict[str, Any], body: dict[str, Any]) -> LLMUsage:
        """The call's tokens and, when its model has a price, its cost in USD."""
        usage = _usage_of(data, body)
        cost = self.prices.cost(str(body["model"]), usage.input_tokens, usage.output_tokens)
        if cost is None:
            return usage.model_copy(update={"unpriced_calls": usage.calls})
        return usage.model_copy(update={"cost_usd": cost})

    async def _send(self, body: dict[str, Any], call: tracing.LLMCallSpan) -> dict[str, Any]:
        url = f"{self.settings.base_url}/chat/completions"
        headers = {"Content-Type": "application/json"}
        if self.settings.api_key is not None:
            headers["Authorization"] = f"Bearer {self.settings.api_key.get_secret_value()}"
        where = self.settings.base_url
        limit = self._call_time_limit()
        try:
            # httpx's timeout bounds each read; this bounds the whole call.
            async with asyncio.timeout(limit):
                async with self._http.stream("POST", url, json=body, headers=headers) as response:
                    call.record_status(response.status_code)
                    ok = response.status_code == 200
                    bound = self.settings.max_response_bytes if ok else ERROR_BODY_MAX_BYTES
                    raw, complete = await read_bounded(response, bound)
        except TimeoutError:
            raise ApplicationError(
                f"the LLM at {where} did not finish its answer within {limit:g}s "
                "(TTDR_LLM_TIMEOUT_SECONDS, or the node's timeout, bounds each call); "
                + what_next(),
                type="LLMTimeout",
            ) from None
        except httpx.TimeoutException as err:
            raise ApplicationError(
                f"LLM request to {where} timed out ({type(err).__name__}; "
                "TTDR_LLM_TIMEOUT_SECONDS bounds each call)",
                type="LLMTimeout",
            ) from None
        except httpx.TransportError as err:
            raise ApplicationError(
                f"cannot reach the LLM at {where}: {type(err).__name__}: {err}",
                type="LLMUnavailable",
            ) from None
        if not ok:
            # The bounded body as a plain response, for the error's message.
            read = httpx.Response(response.status_code, headers=response.headers, content=raw)
            raise self._http_error(read, body)
        if not complete:
            log.warning(
                "the answer from %s is over %d bytes (TTDR_LLM_MAX_RESPONSE_BYTES): reading it "
                "as cut off at the token limit",
                where,
                self.settings.max_response_bytes,
            )
            return oversize_answer(raw)
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise ApplicationError(
                f"the LLM endpoint {where} answered 200 with a body that is not JSON",
                type="LLMBadResponse",
            ) from None
        if not isinstance(data, dict) or not data.get("choices"):
            raise ApplicationError(
                f"the LLM endpoint {where} answered without choices", type="LLMBadResponse"
            )
        return data

    def _call_time_limit(self) -> float:
        """TTDR_LLM_TIMEOUT_SECONDS, but within a node activity never more than 95% of the
        node's start-to-close timeout: a stuck call then fails naming the LLM, before Temporal's
        own timeout would fail the attempt without saying why."""
        limit = self.settings.request_timeout_seconds
        if activity.in_activity():
            attempt = activity.info().start_to_close_timeout
            if attempt:
                limit = min(limit, 0.95 * attempt.total_seconds())
        return limit

    def _http_error(self, response: httpx.Response, body: dict[str, Any]) -> Exception:
        status = response.status_code
        message = self.redactor.text(_provider_message(response))
        where = self.settings.base_url
        lowered = message.lower()
        if status in (401, 403):
            return ApplicationError(
                f"{where} refused the request ({status}: {message}): set TTDR_LLM_API_KEY "
                "(or OPENAI_API_KEY) to a valid key with access to model "
                f"{body['model']!r}",
                type="LLMAuthError",
                non_retryable=True,
            )
        # llama-cpp-python answers an unknown response_format type with a 500.
        if status in (400, 422, 500) and "response_format" in body and _mentions_format(lowered):
            return _FormatRejected(message)
        if status == 429 or status >= 500 or status in (408, 409):
            delay = retry_after_seconds(response.headers.get("Retry-After"))
            return ApplicationError(
                f"{where} answered {status} ({message}); {what_next(delay)}",
                type="LLMRateLimited" if status == 429 else "LLMServerError",
                next_retry_delay=timedelta(seconds=delay) if delay is not None else None,
            )
        if "context" in lowered and ("length" in lowered or "window" in lowered):
            return ApplicationError(
                f"the prompt is too long for model {body['model']!r} ({message}): lower "
                "max_output_tokens / search_results_per_question or use a longer-context model",
                type="LLMContextTooLong",
                non_retryable=True,
            )
        if status == 404 or ("model" in lowered and ("not found" in lowered or "exist" in lowered)):
            return ApplicationError(
                f"{where} does not serve model {body['model']!r} ({status}: {message}): check "
                "TTDR_LLM_MODEL / TTDR_LLM_JUDGE_MODEL and TTDR_LLM_BASE_URL",
                type="LLMNotFound",
                non_retryable=True,
            )
        return ApplicationError(
            f"{where} rejected the request ({status}: {message})",
            type="LLMBadRequest",
            non_retryable=True,
        )


def _mentions_format(message: str) -> bool:
    return any(word in message for word in ("response_format", "json_schema", "json_object"))


def _provider_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:500]
    if isinstance(error, str):
        return error[:500]
    return (response.text or response.reason_phrase)[:500]


def _content_of(data: dict[str, Any]) -> tuple[str, str | None]:
    choice = data["choices"][0]
    message = choice.get("message") or {}
    return str(message.get("content") or ""), choice.get("finish_reason")


def _usage_of(data: dict[str, Any], body: dict[str, Any]) -> LLMUsage:
    usage = data.get("usage") or {}
    prompt_tokens = usage.get("prompt_tokens")
    completion_tokens = usage.get("completion_tokens")
    if prompt_tokens is None or completion_tokens is None:
        # Some local servers omit usage; estimate (~4 characters a token) rather than count 0.
        prompt_chars = sum(len(m["content"]) for m in body["messages"])
        content, _ = _content_of(data)
        prompt_tokens = prompt_tokens if prompt_tokens is not None else prompt_chars // 4
        if completion_tokens is None:
            completion_tokens = len(content) // 4
    return LLMUsage(calls=1, input_tokens=int(prompt_tokens), output_tokens=int(completion_tokens))
