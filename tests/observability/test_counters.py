"""Every counter the worker records, on a clean run and on a faulty one, read from the worker's
own meter (the OpenTelemetry SDK's in-memory reader on a real worker, real dev server, fake LLM):
a clean run counts zero retries and zero errors, and its per-node calls and tokens equal the
run's own usage; one failed judge request counts one retry and one error on that node and
nothing else (issue 28, "counters on the happy path"). The Prometheus test
(tests/observability/test_metrics.py) checks the same names end to end, slowly; this one runs in
seconds.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from temporalio.client import Client

from activities.llm import LLMClient
from observability.metrics import Instruments, Metrics
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer
from testing.scripted_llm import Script
from testing.settings import fake_llm_settings
from tests.support.runs import run_research
from worker import build_worker
from workflows.results import ResearchReport

FAST_RETRY = {"initial_interval_seconds": 0.2}


@dataclass
class Point:
    attributes: dict[str, str]
    value: float  # a counter's value, a histogram's count
    total: float  # a histogram's sum (a counter's value again)


class MeterReading:
    """The data points of one worker's meter, by instrument name."""

    def __init__(self, reader: InMemoryMetricReader) -> None:
        self._reader = reader

    def points(self, name: str) -> Iterator[Point]:
        data = self._reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name != name:
                        continue
                    for point in metric.data.data_points:
                        count = getattr(point, "count", None)
                        value = getattr(point, "value", None)
                        yield Point(
                            {k: str(v) for k, v in point.attributes.items()},
                            float(count if count is not None else value),
                            float(getattr(point, "sum", value) or 0),
                        )

    def by(self, name: str, *labels: str) -> dict[tuple[str, ...], float]:
        """Sum of the values of `name` by the given labels; zero sums left out."""
        sums: Counter[tuple[str, ...]] = Counter()
        for point in self.points(name):
            sums[tuple(point.attributes.get(label, "") for label in labels)] += point.value
        return {key: value for key, value in sums.items() if value}

    def total(self, name: str) -> float:
        return sum(point.value for point in self.points(name))

    def summed(self, name: str) -> float:
        return sum(point.total for point in self.points(name))


async def research_with_meter(
    client: Client,
    fake_server: FakeLLMServer,
    local_search: LocalSearch,
    **config: object,
) -> tuple[ResearchReport, MeterReading]:
    """One run on a worker of its own (own task queue, own meter), the meter read at the end."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    metrics = Metrics(
        settings=None,  # type: ignore[arg-type]  # not exported: read in memory
        provider=provider,
        instruments=Instruments(provider.get_meter("test")),
    )
    queue = f"ttdr-counters-{uuid.uuid4().hex[:8]}"
    llm = LLMClient(fake_llm_settings(fake_server))
    reading = MeterReading(reader)
    try:
        async with build_worker(client, queue, llm, local_search, metrics):
            report = await run_research(client, queue, **config)
            # The run's own figures are recorded from its progress query, asked in the
            # background when the report starts: wait for them before the worker stops.
            for _ in range(100):
                if reading.total("ttdr.runs.reported"):
                    break
                await asyncio.sleep(0.05)
    finally:
        await llm.aclose()
    return report, reading


def assert_usage_counted(report: ResearchReport, meter: MeterReading) -> None:
    """Per node, the calls and tokens counted equal the run's own usage_by_node."""
    usage = report.usage_by_node
    calls = meter.by("ttdr.llm.calls", "ttdr.node")
    assert calls == {(node,): float(u.calls) for node, u in usage.items() if u.calls}
    for kind in ("input", "output"):
        tokens = {
            node: value
            for (node, token_kind), value in meter.by(
                "ttdr.llm.tokens", "ttdr.node", "gen_ai.token.type"
            ).items()
            if token_kind == kind
        }
        expected = {n: float(getattr(u, f"{kind}_tokens")) for n, u in usage.items()}
        assert tokens == {n: v for n, v in expected.items() if v}, kind
    # Per request (GenAI conventions): the token histograms add up to the same totals.
    for kind in ("input", "output"):
        per_request = sum(
            p.total
            for p in meter.points("gen_ai.client.token.usage")
            if p.attributes.get("gen_ai.token.type") == kind
        )
        assert per_request == getattr(report.usage_total, f"{kind}_tokens"), kind


def assert_run_counted(report: ResearchReport, meter: MeterReading) -> None:
    assert meter.by("ttdr.runs.reported", "ttdr.stop_reason") == {(report.stop_reason,): 1.0}
    assert meter.total("ttdr.run.iterations") == 1
    assert meter.summed("ttdr.run.iterations") == report.iterations
    judged = meter.by("ttdr.judge.score", "ttdr.node")
    assert judged == {("quality_assessor",): float(len(report.quality_history))}


async def test_a_clean_run_counts_no_retry_and_no_error(
    client: Client, fake_server: FakeLLMServer, script: Script, local_search: LocalSearch
) -> None:
    report, meter = await research_with_meter(
        client, fake_server, local_search, max_iterations=2, retry=FAST_RETRY
    )
    assert report.usage_total.calls > 0

    assert meter.total("ttdr.activity.retries") == 0, meter.by("ttdr.activity.retries", "ttdr.node")
    assert meter.total("ttdr.activity.errors") == 0
    # Every request timed, none with an error type.
    assert meter.total("gen_ai.client.operation.duration") == report.usage_total.calls
    assert not [
        p for p in meter.points("gen_ai.client.operation.duration") if "error.type" in p.attributes
    ]
    assert_usage_counted(report, meter)
    assert_run_counted(report, meter)


async def test_one_failed_judge_request_counts_one_retry_and_one_error_on_the_judge(
    client: Client, fake_server: FakeLLMServer, script: Script, local_search: LocalSearch
) -> None:
    fake_server.inject_fault("JudgeAnswer", 500, times=1)
    report, meter = await research_with_meter(
        client, fake_server, local_search, max_iterations=2, retry=FAST_RETRY
    )

    assert meter.by("ttdr.activity.retries", "ttdr.node") == {("quality_assessor",): 1.0}
    assert meter.by("ttdr.activity.errors", "ttdr.node", "error.type") == {
        ("quality_assessor", "LLMServerError"): 1.0
    }
    # The failed request is timed with its error type; the calls the run paid for are not
    # counted twice.
    assert meter.total("gen_ai.client.operation.duration") == report.usage_total.calls + 1
    assert meter.by("gen_ai.client.operation.duration", "error.type") == {
        ("",): float(report.usage_total.calls),
        ("LLMServerError",): 1.0,
    }
    assert_usage_counted(report, meter)
    assert_run_counted(report, meter)


async def test_two_failed_requests_on_two_nodes_are_counted_on_each(
    client: Client, fake_server: FakeLLMServer, script: Script, local_search: LocalSearch
) -> None:
    fake_server.inject_fault("GapAnswer", 500, times=1)
    fake_server.inject_fault("ReportAnswer", 500, times=1)
    report, meter = await research_with_meter(
        client, fake_server, local_search, max_iterations=1, retry=FAST_RETRY
    )
    assert meter.by("ttdr.activity.retries", "ttdr.node") == {
        ("gap_analyzer",): 1.0,
        ("report_synthesizer",): 1.0,
    }
    assert meter.total("ttdr.activity.errors") == 2
    assert_usage_counted(report, meter)
    assert_run_counted(report, meter)
