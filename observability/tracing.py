"""OpenTelemetry traces of research runs: one run is one trace.

The client's `StartWorkflow` span is the root. Temporal's TracingInterceptor carries the trace
context through the workflow to every activity (`RunActivity:<node>`); NodeSpanInterceptor adds
the node's attributes (`ttdr.*`) to that span, and the LLM client and the search provider add one
span per call under it (`chat <model>`, `search local`).

Nothing is exported, and no exporter is created, unless an OTLP endpoint is configured by the
standard variables. Prompts, completions and search queries stay out of spans unless
TTDR_TRACE_CONTENT is true (given at start: capture_content); credentials never enter them.

Product code gets its tracer at call time (`tracer()`), never at import, so spans go to whatever
provider is installed when they start, e.g. a test's in-memory one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from temporalio import activity, client, worker
from temporalio.contrib.opentelemetry import TracingInterceptor

from observability import node_metrics
from observability.error_types import error_type
from workflows.config import EVOLUTION_NODE, UNIT_NODE

TRACER_NAME = "ttdr"
CONTENT_MAX_CHARS = 4000
WORKER_SERVICE = "ttdr-worker"
CLIENT_SERVICE = "ttdr-client"
Protocol = Literal["grpc", "http/protobuf"]
_PROTOCOLS: tuple[Protocol, ...] = ("grpc", "http/protobuf")
_NODE_UNIT = {node: unit for unit, node in UNIT_NODE.items()}


class TracingConfigError(ValueError):
    """The OTEL_* variables are unusable; the message names the variable."""


# ---------------------------------------------------------------------- export configuration


@dataclass(frozen=True)
class ExportTarget:
    """Where spans go: the OTLP protocol, the full traces endpoint and the service name."""

    protocol: Protocol
    endpoint: str
    service_name: str

    def describe(self) -> str:
        return f"traces: OTLP {self.protocol} to {self.endpoint} as {self.service_name}"


def export_target(service_name: str, env: Mapping[str, str]) -> ExportTarget | None:
    """The export target from the standard OTEL_* variables; None when nothing is to be exported
    (no endpoint set, or OTEL_SDK_DISABLED=true)."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    traces_endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    base_endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if not (traces_endpoint or base_endpoint):
        return None
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    ) or "grpc"
    protocol = protocol.strip().lower()
    if protocol not in _PROTOCOLS:
        raise TracingConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: use grpc or http/protobuf"
        )
    endpoint = traces_endpoint or base_endpoint
    if not traces_endpoint and protocol == "http/protobuf":
        # The generic variable is a base URL; OTLP/HTTP puts traces under /v1/traces.
        endpoint = f"{base_endpoint.rstrip('/')}/v1/traces"
    name = env.get("OTEL_SERVICE_NAME", "").strip() or service_name
    return ExportTarget(protocol=cast(Protocol, protocol), endpoint=endpoint, service_name=name)


def exporter_class(protocol: Protocol) -> type[SpanExporter]:
    """The OTLP exporter class of a protocol (imported only when needed: gRPC is heavy)."""
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as OTLPHttpSpanExporter,
    )

    return OTLPHttpSpanExporter


def build_tracer_provider(target: ExportTarget) -> TracerProvider:
    """A provider exporting in batches to `target` (not installed globally)."""
    provider = TracerProvider(resource=Resource.create({"service.name": target.service_name}))
    exporter = exporter_class(target.protocol)(endpoint=target.endpoint)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def configure_tracing(
    service_name: str,
    env: Mapping[str, str],
    announce: Callable[[str], object] | None = None,
) -> TracerProvider | None:
    """Install the global provider when an endpoint is configured, telling `announce` where
    traces go; None (and no exporter) otherwise. OpenTelemetry accepts one global provider per
    process: call this once, at start. Raises TracingConfigError on a bad OTEL_* value."""
    target = export_target(service_name, env)
    if target is None:
        return None
    provider = build_tracer_provider(target)
    trace.set_tracer_provider(provider)
    if announce is not None:
        announce(target.describe())
    return provider


def shutdown_tracing(provider: TracerProvider | None) -> None:
    """Flush the spans still in the batch and stop the exporter (at exit, or on SIGTERM)."""
    if provider is not None:
        provider.shutdown()


def tracer() -> trace.Tracer:
    """The product's tracer, from whichever provider is installed now."""
    return trace.get_tracer(TRACER_NAME)


_capture_content = False  # set once at start from the process's settings (capture_content)


def capture_content(enabled: bool) -> None:
    """TTDR_TRACE_CONTENT (SharedSettings.trace_content), given by the process at start: prompts,
    completions and queries go into spans from then on."""
    global _capture_content
    _capture_content = enabled


def content_capture_enabled() -> bool:
    return _capture_content


def _clip(text: str) -> str:
    return text if len(text) <= CONTENT_MAX_CHARS else text[: CONTENT_MAX_CHARS - 1] + "…"


def mark_error(span: Span, err: BaseException) -> None:
    span.set_attribute("error.type", error_type(err))
    span.set_status(Status(StatusCode.ERROR, str(err)[:500] or error_type(err)))


# ---------------------------------------------------------------------- Temporal interceptors


class _QueriesUntraced(client.OutboundInterceptor):
    """Sends queries around the tracing interceptor: `client.py research` polls `progress`
    every second, and each poll would otherwise be a trace of its own."""

    def __init__(self, traced: client.OutboundInterceptor, plain: client.OutboundInterceptor):
        super().__init__(traced)
        self._plain = plain

    async def query_workflow(self, input: client.QueryWorkflowInput) -> Any:
        return await self._plain.query_workflow(input)


class RunTracingInterceptor(TracingInterceptor):
    """Temporal's TracingInterceptor, minus client-side query spans."""

    def intercept_client(self, next: client.OutboundInterceptor) -> client.OutboundInterceptor:
        return _QueriesUntraced(super().intercept_client(next), next)


def node_attributes(activity_type: str, attempt: int, inp: object) -> dict[str, str | int]:
    """`ttdr.*` attributes of one activity attempt, from its type and its input's fields."""
    attributes: dict[str, str | int] = {"ttdr.node": activity_type, "ttdr.attempt": attempt}
    if activity_type.startswith(f"{EVOLUTION_NODE}."):
        # self_evolution_enhancer.<unit>.<step>
        _, unit, step = activity_type.split(".", 2)
        attributes |= {"ttdr.unit": unit, "ttdr.step": step}
    for field in ("iteration", "item", "variant"):
        value = getattr(inp, field, None)
        if isinstance(value, int) and not isinstance(value, bool):
            attributes[f"ttdr.{field}"] = value
    unit = getattr(getattr(inp, "context", None), "unit", None) or getattr(inp, "unit", None)
    if isinstance(unit, str):
        attributes["ttdr.unit"] = unit
    elif "ttdr.variant" in attributes and activity_type in _NODE_UNIT:
        attributes["ttdr.unit"] = _NODE_UNIT[activity_type]  # a variant sample of its unit
    return attributes


class _NodeSpanActivityInbound(worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: worker.ExecuteActivityInput) -> Any:
        span = trace.get_current_span()  # RunActivity:<node>, opened by TracingInterceptor
        info = activity.info()
        first = input.args[0] if input.args else None
        span.set_attributes(node_attributes(info.activity_type, info.attempt, first))
        try:
            return await super().execute_activity(input)
        except Exception as err:
            span.set_attribute("error.type", error_type(err))
            raise


class NodeSpanInterceptor(worker.Interceptor):
    """Adds the node's attributes to each RunActivity span. Must come after the tracing
    interceptor (interceptors nest in list order), so that span is the current one."""

    def intercept_activity(
        self, next: worker.ActivityInboundInterceptor
    ) -> worker.ActivityInboundInterceptor:
        return _NodeSpanActivityInbound(next)


# ---------------------------------------------------------------------- LLM and search spans


class LLMCallSpan:
    """The span of one Chat Completions request; the LLM client records the answer on it."""

    def __init__(self, span: Span, capture: bool) -> None:
        self.span = span
        self._capture = capture
        self.tokens: tuple[int, int] | None = None  # (input, output), for the call's metrics

    def record_status(self, status_code: int) -> None:
        self.span.set_attribute("http.response.status_code", status_code)

    def record_response(
        self, data: Mapping[str, Any], input_tokens: int, output_tokens: int
    ) -> None:
        choices: Sequence[Mapping[str, Any]] = data.get("choices") or []
        reasons = [str(c.get("finish_reason")) for c in choices if c.get("finish_reason")]
        self.tokens = (input_tokens, output_tokens)
        attributes: dict[str, Any] = {
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
            "gen_ai.response.finish_reasons": reasons,
        }
        if data.get("model"):
            attributes["gen_ai.response.model"] = str(data["model"])
        if data.get("id"):
            attributes["gen_ai.response.id"] = str(data["id"])
        self.span.set_attributes(attributes)
        if self._capture:
            for index, choice in enumerate(choices):
                message = choice.get("message") or {}
                self.span.add_event(
                    "gen_ai.choice",
                    {
                        "index": index,
                        "finish_reason": str(choice.get("finish_reason")),
                        "gen_ai.completion": _clip(str(message.get("content") or "")),
                    },
                )


@contextlib.contextmanager
def llm_call_span(body: Mapping[str, Any], base_url: str) -> Iterator[LLMCallSpan]:
    """One `chat <model>` span (GenAI conventions) around one request. `body` is the request
    body, which holds no credentials; the prompt goes in only with TTDR_TRACE_CONTENT=1."""
    model = str(body.get("model", ""))
    url = urlsplit(base_url)
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",  # the OpenAI Chat Completions protocol, whoever serves it
        "gen_ai.request.model": model,
        "server.address": url.hostname or "",
    }
    if url.port is not None:
        attributes["server.port"] = url.port
    for key, attribute in (
        ("temperature", "gen_ai.request.temperature"),
        ("max_tokens", "gen_ai.request.max_tokens"),
        ("seed", "gen_ai.request.seed"),
    ):
        if body.get(key) is not None:
            attributes[attribute] = body[key]
    capture = content_capture_enabled()
    with tracer().start_as_current_span(
        f"chat {model}",
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,  # failures get error.type and a status, not a stack trace
        set_status_on_exception=False,
    ) as span:
        if capture:
            for message in body.get("messages") or []:
                span.add_event(
                    f"gen_ai.{message.get('role', 'user')}.message",
                    {"gen_ai.prompt": _clip(str(message.get("content") or ""))},
                )
        started = time.perf_counter()
        call, failure = LLMCallSpan(span, capture), None
        try:
            yield call
        except BaseException as err:
            mark_error(span, err)
            failure = error_type(err)
            raise
        finally:
            latency_ms = (time.perf_counter() - started) * 1000
            span.set_attribute("ttdr.llm.latency_ms", round(latency_ms, 1))
            # The same call in the worker's metrics (a no-op without metrics).
            node_metrics.record_llm_call(model, latency_ms / 1000, failure, call.tokens)


@contextlib.contextmanager
def search_span(provider: str, query: str, k: int) -> Iterator[Span]:
    """One `search <provider>` span; the caller sets ttdr.search.result_count. The query goes
    in only with TTDR_TRACE_CONTENT=1 (it is written by the model from the user's question)."""
    attributes: dict[str, Any] = {"ttdr.search.provider": provider, "ttdr.search.top_k": k}
    if content_capture_enabled():
        attributes["ttdr.search.query"] = _clip(query)
    with tracer().start_as_current_span(
        f"search {provider}",
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as err:
            mark_error(span, err)
            raise
