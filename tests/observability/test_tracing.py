"""OpenTelemetry traces of research runs: real dev server, real worker, fake LLM on loopback,
spans read from the SDK's in-memory exporter.

OpenTelemetry accepts one global TracerProvider per process, so one session-scoped provider
(SimpleSpanProcessor + InMemorySpanExporter) serves every test here; each test clears it first.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.llm import LLMClient
from common.temporal_connection import connect_from_env, local_server_env
from observability import tracing
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer
from testing.scripted_llm import UNSUPPORTED_CLAIM, Script
from testing.settings import FAKE_KEY, fake_llm_settings
from tests.support.runs import QUESTION, run_research
from worker import build_worker
from workflows.config import EVOLVABLE_UNITS
from workflows.research import WORKFLOW_NAME

OFF = {"variants": 1, "revision_steps": 0}
ITERATION_NODES = ("gap_analyzer", "retrieval_engine", "information_integrator", "quality_assessor")


# ---------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="session")
def span_store() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    assert trace.get_tracer_provider() is provider, "another global provider was set first"
    return exporter


@pytest.fixture
def spans(span_store: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    span_store.clear()
    yield span_store
    span_store.clear()


@pytest.fixture
async def traced_client(temporal_env: WorkflowEnvironment) -> Client:
    """The product's client (connect_temporal): the one that opens the run's root span."""
    return await connect_from_env(
        local_server_env(temporal_env.client.service_client.config.target_host)
    )


@asynccontextmanager
async def worker_on(
    worker_client: Client, fake_server: FakeLLMServer, search: LocalSearch
) -> AsyncIterator[str]:
    queue = f"ttdr-trace-{uuid.uuid4().hex[:8]}"
    llm = LLMClient(fake_llm_settings(fake_server))
    async with build_worker(worker_client, queue, llm, search):
        yield queue
    await llm.aclose()


def named(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def parent_of(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan:
    assert span.parent is not None, f"{span.name} has no parent"
    by_id = {s.context.span_id: s for s in spans}
    return by_id[span.parent.span_id]


def attrs(span: ReadableSpan) -> Mapping[str, Any]:
    return span.attributes or {}


def all_texts(spans: list[ReadableSpan]) -> str:
    """Every attribute and event value of every span, as one text to search."""
    parts: list[str] = []
    for span in spans:
        parts += [span.name, *(str(v) for v in attrs(span).values())]
        for event in span.events:
            parts += [event.name, *(str(v) for v in (event.attributes or {}).values())]
    return "\n".join(parts)


def render_tree(spans: list[ReadableSpan]) -> str:
    """The span tree (for failure messages): name and the ttdr.* / gen_ai.* attributes."""
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        children.setdefault(span.parent.span_id if span.parent else None, []).append(span)
    keys = ("ttdr.", "gen_ai.request.model", "gen_ai.usage.", "error.type")
    lines: list[str] = []

    def walk(parent: int | None, depth: int) -> None:
        for span in children.get(parent, []):
            shown = {k: v for k, v in attrs(span).items() if k.startswith(keys)}
            lines.append(f"{'  ' * depth}{span.name} {shown if shown else ''}".rstrip())
            walk(span.context.span_id, depth + 1)

    walk(None, 0)
    return "\n".join(lines)


# ---------------------------------------------------------------------- one run, one trace


async def test_one_run_is_one_trace_with_a_span_per_node_llm_call_and_search(
    traced_client: Client,
    spans: InMemorySpanExporter,
    fake_server: FakeLLMServer,
    script: Script,
    local_search: LocalSearch,
) -> None:
    # The worker shares the traced client, as worker.py does: no doubled spans.
    async with worker_on(traced_client, fake_server, local_search) as queue:
        report = await run_research(traced_client, queue, max_iterations=3)
    finished = list(spans.get_finished_spans())
    tree = render_tree(finished)

    # (1) One trace, rooted at the client's StartWorkflow span.
    roots = [s for s in finished if s.parent is None]
    assert [r.name for r in roots] == [f"StartWorkflow:{WORKFLOW_NAME}"], tree
    assert {s.context.trace_id for s in finished} == {roots[0].context.trace_id}

    # (2) One RunActivity span per node execution, with the node's attributes.
    # The worker's dispatch choice (a local activity, once per run) is not a node.
    dispatch = named(finished, "RunActivity:llm_dispatch")
    assert len(dispatch) <= 1, tree
    runs = [s for s in finished if s.name.startswith("RunActivity:") and s not in dispatch]
    assert Counter(s.name.removeprefix("RunActivity:") for s in runs) == {
        "research_planner": 1,
        "draft_generator": 1,
        "gap_analyzer": 3,
        "retrieval_engine": 6,
        "information_integrator": 3,
        "quality_assessor": 3,
        "report_synthesizer": 1,
    }, tree
    for span in runs:
        node = span.name.removeprefix("RunActivity:")
        assert attrs(span)["ttdr.node"] == node
        assert attrs(span)["ttdr.attempt"] == 1
        assert span.status.status_code != StatusCode.ERROR
        assert parent_of(span, finished).name == f"StartActivity:{node}"
    for node in ITERATION_NODES:
        iterations = Counter(attrs(s)["ttdr.iteration"] for s in runs if s.name.endswith(node))
        per_iteration = 2 if node == "retrieval_engine" else 1
        assert iterations == dict.fromkeys((1, 2, 3), per_iteration), node
    assert all("ttdr.iteration" not in attrs(s) for s in named(runs, "RunActivity:draft_generator"))

    # The report node's span carries its citation figures (counts only).
    (report_span,) = named(runs, "RunActivity:report_synthesizer")
    claims = attrs(report_span)["ttdr.grounding.claims"]
    supported = attrs(report_span)["ttdr.grounding.claims_supported"]
    assert 0 < supported < claims  # the scripted report has backed and unbacked claims
    assert attrs(report_span)["ttdr.grounding.citations_removed"] >= 1

    # (3) One chat span per LLM call, under its node, with the GenAI attributes and the usage
    # the fake computed.
    chats = [s for s in finished if s.name.startswith("chat ")]
    requests = fake_server.requests
    assert len(chats) == len(requests) == report.usage_total.calls == 18
    input_tokens: Counter[str] = Counter()
    output_tokens: Counter[str] = Counter()
    for chat in chats:
        a = attrs(chat)
        node = parent_of(chat, finished).name.removeprefix("RunActivity:")
        assert chat.name == f"chat {a['gen_ai.request.model']}"
        assert a["gen_ai.operation.name"] == "chat"
        assert a["gen_ai.system"] == "openai"
        assert a["gen_ai.response.model"] == a["gen_ai.request.model"]
        assert a["gen_ai.request.model"] == (
            "fake-judge" if node == "quality_assessor" else "fake-model"
        )
        assert a["gen_ai.request.max_tokens"] == 1500
        assert a["gen_ai.request.temperature"] == (0.0 if node == "quality_assessor" else 0.7)
        assert tuple(a["gen_ai.response.finish_reasons"]) == ("stop",)
        assert a["server.address"] == "127.0.0.1"
        assert a["http.response.status_code"] == 200
        assert a["ttdr.llm.latency_ms"] >= 0
        input_tokens[node] += a["gen_ai.usage.input_tokens"]
        output_tokens[node] += a["gen_ai.usage.output_tokens"]
    for node, usage in report.usage_by_node.items():
        assert (input_tokens[node], output_tokens[node]) == (
            usage.input_tokens,
            usage.output_tokens,
        ), node
    seen = Counter(
        (r.body["model"], _tokens(sum(len(m["content"]) for m in r.messages))) for r in requests
    )
    traced = Counter(
        (attrs(c)["gen_ai.request.model"], attrs(c)["gen_ai.usage.input_tokens"]) for c in chats
    )
    assert traced == seen
    assert sorted(attrs(c)["gen_ai.usage.output_tokens"] for c in chats) == sorted(
        _tokens(len(r.response_content or "")) for r in requests
    )

    # (4) Search spans under retrieval_engine, with their result counts: each retrieval searches
    # its question and the anchors it is fused with (the user's question, its plan section).
    searches = named(finished, "search local")
    assert 6 <= len(searches) <= 6 * 3
    for search in searches:
        assert parent_of(search, finished).name == "RunActivity:retrieval_engine"
        assert attrs(search)["ttdr.search.provider"] == "local"
        # search_results_per_question, and up to 10 more in a later iteration: the run passes
        # over the passages it holds already (activities/nodes.py KNOWN_SKIP_MAX).
        asked = attrs(search)["ttdr.search.top_k"]
        assert 5 <= asked <= 5 + 10 and attrs(search)["ttdr.search.result_count"] == asked
        assert "ttdr.search.query" not in attrs(search)

    # (6) No key and, by default, no prompt, completion or query text.
    texts = all_texts(finished)
    assert FAKE_KEY not in texts and "Bearer" not in texts
    assert QUESTION not in texts
    assert not any(c.events for c in chats)
    assert UNSUPPORTED_CLAIM not in texts  # a completion of the fake


def _tokens(chars: int) -> int:
    return max(1, (chars + 3) // 4)  # how the fake counts tokens


async def test_a_retried_node_shows_both_attempts_the_first_failed(
    client: Client,
    traced_client: Client,
    spans: InMemorySpanExporter,
    fake_server: FakeLLMServer,
    script: Script,
    local_search: LocalSearch,
) -> None:
    fake_server.inject_fault("GapAnswer", 500)
    # A worker whose client carries no tracing: build_worker adds the interceptor itself.
    async with worker_on(client, fake_server, local_search) as queue:
        await run_research(
            traced_client,
            queue,
            max_iterations=1,
            questions_per_iteration=1,
            retry={"initial_interval_seconds": 0.1},
        )
    finished = list(spans.get_finished_spans())
    tree = render_tree(finished)

    assert len({s.context.trace_id for s in finished}) == 1, tree
    gaps = sorted(named(finished, "RunActivity:gap_analyzer"), key=lambda s: s.start_time or 0)
    assert [attrs(s)["ttdr.attempt"] for s in gaps] == [1, 2], tree
    assert [attrs(s)["ttdr.iteration"] for s in gaps] == [1, 1]
    assert gaps[0].status.status_code == StatusCode.ERROR
    assert attrs(gaps[0])["error.type"] == "LLMServerError"
    assert gaps[1].status.status_code != StatusCode.ERROR
    assert len(named(finished, "RunActivity:research_planner")) == 1  # no doubled spans

    failed_chat, ok_chat = (
        next(c for c in finished if c.parent and c.parent.span_id == gap.context.span_id)
        for gap in gaps
    )
    assert failed_chat.status.status_code == StatusCode.ERROR
    assert attrs(failed_chat)["error.type"] == "LLMServerError"
    assert attrs(failed_chat)["http.response.status_code"] == 500
    assert "gen_ai.usage.input_tokens" not in attrs(failed_chat)
    assert ok_chat.status.status_code != StatusCode.ERROR
    assert attrs(ok_chat)["gen_ai.usage.output_tokens"] > 0


async def test_content_capture_is_opt_in(
    traced_client: Client,
    spans: InMemorySpanExporter,
    fake_server: FakeLLMServer,
    script: Script,
    local_search: LocalSearch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What main() does with TTDR_TRACE_CONTENT=true (the worker's settings, read at start).
    monkeypatch.setattr(tracing, "_capture_content", True)
    async with worker_on(traced_client, fake_server, local_search) as queue:
        await run_research(traced_client, queue, max_iterations=1, questions_per_iteration=1)
    finished = list(spans.get_finished_spans())

    planner_chat = next(
        c
        for c in finished
        if c.name.startswith("chat ")
        and parent_of(c, finished).name == "RunActivity:research_planner"
    )
    prompts = [
        e.attributes["gen_ai.prompt"]
        for e in planner_chat.events
        if e.name.endswith(".message") and e.attributes
    ]
    assert any(QUESTION in str(p) for p in prompts)
    completions = [e for e in planner_chat.events if e.name == "gen_ai.choice"]
    assert len(completions) == 1 and "Mechanism" in str(completions[0].attributes)
    searches = named(finished, "search local")
    assert searches and all(attrs(search)["ttdr.search.query"] for search in searches)
    texts = all_texts(finished)
    assert FAKE_KEY not in texts and "Bearer" not in texts


async def test_evolution_steps_carry_unit_step_and_variant(
    traced_client: Client,
    spans: InMemorySpanExporter,
    fake_server: FakeLLMServer,
    script: Script,
    local_search: LocalSearch,
) -> None:
    evolution = {unit: OFF for unit in EVOLVABLE_UNITS} | {
        "questions": {"variants": 2, "revision_steps": 1}
    }
    async with worker_on(traced_client, fake_server, local_search) as queue:
        await run_research(
            traced_client, queue, max_iterations=1, questions_per_iteration=1, evolution=evolution
        )
    finished = list(spans.get_finished_spans())
    tree = render_tree(finished)
    step = "RunActivity:self_evolution_enhancer.questions"

    assert len({s.context.trace_id for s in finished}) == 1, tree
    assert len(named(finished, "RunActivity:gap_analyzer")) == 2, tree  # the two variants
    for kind, model in (("judge", "fake-judge"), ("revise", "fake-model")):
        steps = named(finished, f"{step}.{kind}")
        assert sorted(attrs(s)["ttdr.variant"] for s in steps) == [1, 2], tree
        for span in steps:
            assert attrs(span)["ttdr.node"] == f"self_evolution_enhancer.questions.{kind}"
            assert (attrs(span)["ttdr.unit"], attrs(span)["ttdr.step"]) == ("questions", kind)
            (chat,) = [c for c in finished if c.parent and c.parent.span_id == span.context.span_id]
            assert attrs(chat)["gen_ai.request.model"] == model
    (merge,) = named(finished, f"{step}.merge")
    assert (attrs(merge)["ttdr.unit"], attrs(merge)["ttdr.step"]) == ("questions", "merge")
    assert "ttdr.variant" not in attrs(merge)


# ---------------------------------------------------------------------- configuration


def test_no_endpoint_means_no_provider_and_no_exporter(
    span_store: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = trace.get_tracer_provider()

    def no_exporter(protocol: str) -> None:
        raise AssertionError(f"an exporter ({protocol}) was created")

    monkeypatch.setattr(tracing, "exporter_class", no_exporter)
    for env in (
        {},
        {"OTEL_SERVICE_NAME": "x", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_SDK_DISABLED": "true"},
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4317", "OTEL_SDK_DISABLED": "TRUE"},
    ):
        assert tracing.export_target("ttdr-worker", env) is None
        assert tracing.configure_tracing("ttdr-worker", env) is None
    assert trace.get_tracer_provider() is installed


def test_export_target_follows_the_standard_variables() -> None:
    grpc = tracing.export_target("ttdr-worker", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"})
    assert grpc == tracing.ExportTarget("grpc", "http://c:4317", "ttdr-worker")
    http = tracing.export_target(
        "ttdr-client",
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_SERVICE_NAME": "my-client",
        },
    )
    assert http == tracing.ExportTarget("http/protobuf", "http://c:4318/v1/traces", "my-client")
    # The traces-specific variables win, and their endpoint is used as it is.
    specific = tracing.export_target(
        "ttdr-worker",
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://ignored:4317",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/custom",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
        },
    )
    assert specific == tracing.ExportTarget("http/protobuf", "http://c:4318/custom", "ttdr-worker")
    with pytest.raises(tracing.TracingConfigError, match="http/json"):
        tracing.export_target(
            "w",
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
        )


def test_exporter_class_by_protocol() -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http

    assert tracing.exporter_class("grpc") is Grpc
    assert tracing.exporter_class("http/protobuf") is Http
    # A provider for a target builds without contacting it (nothing is sent until a span ends).
    provider = tracing.build_tracer_provider(
        tracing.ExportTarget("http/protobuf", "http://127.0.0.1:9/v1/traces", "t")
    )
    assert provider.resource.attributes["service.name"] == "t"
    tracing.shutdown_tracing(provider)


def test_node_attributes_from_activity_input() -> None:
    judge = SimpleNamespace(variant=2, context=SimpleNamespace(unit="answers"))
    assert tracing.node_attributes("self_evolution_enhancer.answers.judge", 3, judge) == {
        "ttdr.node": "self_evolution_enhancer.answers.judge",
        "ttdr.attempt": 3,
        "ttdr.unit": "answers",
        "ttdr.step": "judge",
        "ttdr.variant": 2,
    }
    sample = SimpleNamespace(iteration=4, variant=3)
    assert tracing.node_attributes("gap_analyzer", 1, sample) == {
        "ttdr.node": "gap_analyzer",
        "ttdr.attempt": 1,
        "ttdr.iteration": 4,
        "ttdr.variant": 3,
        "ttdr.unit": "questions",
    }
    assert tracing.node_attributes("draft_generator", 1, None) == {
        "ttdr.node": "draft_generator",
        "ttdr.attempt": 1,
    }
