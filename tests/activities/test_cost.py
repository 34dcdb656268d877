"""Cost in money: the worker prices every LLM call from its price table (defaults and
TTDR_LLM_PRICES), the report carries the cost per node and per run, `client.py profile` shows
it, and a max_cost_usd budget stops the loop like the token budget — while a budget that cannot
be counted (the model has no price) fails the run before any request is made."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from temporalio.client import Client, WorkflowFailureError

from activities.llm import LLMClient
from activities.prices import DEFAULT_PRICES, ModelPrice, PriceConfigError, PriceTable
from cli.views import progress_line
from common.settings import WorkerSettings
from inspection.profile import profile_history, render_profile
from observability.metrics import Instruments, Metrics
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer
from testing.scripted_llm import Script
from testing.settings import fake_llm_settings
from tests.support.runs import run_research
from worker import StartupError, build_worker, llm_client_from_settings
from workflows.config import ResearchConfig
from workflows.models import LLMUsage
from workflows.results import ResearchProgress
from workflows.stopping import budget_stop, stop_note

MODEL_PRICE = {"input_per_million": 2.0, "output_per_million": 8.0}
JUDGE_PRICE = {"input_per_million": 1.0, "output_per_million": 100.0}


def priced(input_tokens: int, output_tokens: int, price: dict[str, float]) -> float:
    return (
        input_tokens * price["input_per_million"] + output_tokens * price["output_per_million"]
    ) / 1e6


async def priced_worker(
    client: Client, fake_server: FakeLLMServer, search: LocalSearch, prices: PriceTable
) -> AsyncIterator[str]:

    queue = f"ttdr-cost-{uuid.uuid4().hex[:8]}"
    llm = LLMClient(fake_llm_settings(fake_server), prices=prices)
    async with build_worker(client, queue, llm, search):
        yield queue
    await llm.aclose()


@pytest_asyncio.fixture
async def priced_queue(
    client: Client,
    fake_server: FakeLLMServer,
    script: Script,
    local_search: LocalSearch,
    tmp_path: Path,
) -> AsyncIterator[str]:
    """A worker whose TTDR_LLM_PRICES file prices the fake model and the fake judge."""
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"fake-model": MODEL_PRICE, "fake-judge": JUDGE_PRICE}))
    table = PriceTable.from_env({"TTDR_LLM_PRICES": str(path)})
    async for queue in priced_worker(client, fake_server, local_search, table):
        yield queue


@pytest_asyncio.fixture
async def unpriced_queue(
    client: Client, fake_server: FakeLLMServer, script: Script, local_search: LocalSearch
) -> AsyncIterator[str]:
    """A worker with the default table: the fake models have no price."""
    async for queue in priced_worker(client, fake_server, local_search, PriceTable(DEFAULT_PRICES)):
        yield queue


# ---------------------------------------------------------------- the price table


def test_prices_file_overrides_and_extends_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "gpt-4.1-mini": {"input_per_million": 1, "output_per_million": 2},
                "my-model": {"input_per_million": 0.5, "output_per_million": 1.5},
            }
        )
    )
    table = PriceTable.from_env({"TTDR_LLM_PRICES": str(path)})

    assert table.cost("gpt-4.1-mini", 1_000_000, 1_000_000) == pytest.approx(3.0)
    assert table.cost("my-model", 2_000_000, 0) == pytest.approx(1.0)
    assert table.cost("gpt-4o", 1_000_000, 0) == pytest.approx(2.5)  # a default kept
    # OpenRouter-style names are priced by their last part; unknown models are not priced.
    assert table.cost("moonshotai/kimi-k2", 1_000_000, 0) == pytest.approx(0.6)
    assert table.cost("no-such-model", 10, 10) is None


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "is not valid JSON"),
        ('{"m": {"input_per_million": -1, "output_per_million": 1}}', "m.input_per_million"),
        ('{"m": {"input_per_million": 1}}', "m.output_per_million"),
        ('{"m": {"input_per_million": 1, "output_per_million": 1, "x": 2}}', "m.x"),
        ('[{"m": 1}]', "expected"),
    ],
)
def test_a_bad_prices_file_is_a_clear_error(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(PriceConfigError) as caught:
        PriceTable.from_env({"TTDR_LLM_PRICES": str(path)})
    message = str(caught.value)
    assert message.startswith(f"TTDR_LLM_PRICES={path}")
    assert expected in message


async def test_the_worker_refuses_to_start_with_a_bad_prices_file(tmp_path: Path) -> None:
    env = {
        "TTDR_LLM_BASE_URL": "http://127.0.0.1:1/v1",
        "TTDR_LLM_MODEL": "m",
        "TTDR_LLM_PRICES": str(tmp_path / "missing.json"),
    }
    with pytest.raises(StartupError, match=r"TTDR_LLM_PRICES=.*missing\.json cannot be read"):
        async with llm_client_from_settings(WorkerSettings.load(env), tmp_path):
            pass


# ---------------------------------------------------------------- the budget (pure)


def test_the_cost_budget_stops_before_an_iteration_it_cannot_pay_for() -> None:
    config = ResearchConfig(evolution="off", max_cost_usd=0.01)
    per_iteration_and_report = (5 - 1 + 1) * config.max_calls_per_node_call()  # 4 + report 1
    # Three calls so far at $0.001 each: 10 more calls would cost $0.010 → over $0.01.
    used = LLMUsage(calls=3, input_tokens=300, output_tokens=30, cost_usd=0.003)
    assert per_iteration_and_report == 10
    assert budget_stop(config, used) == "cost_budget"
    # With room for them, the iteration goes ahead; without a budget, money never stops it.
    assert budget_stop(config.model_copy(update={"max_cost_usd": 0.02}), used) is None
    assert budget_stop(config.model_copy(update={"max_cost_usd": None}), used) is None
    assert "budget of 0.01 USD was reached" in stop_note(config, "cost_budget", 2)


# ---------------------------------------------------------------- runs on a real worker


async def test_the_report_carries_the_cost_of_every_node_and_the_run(
    client: Client, priced_queue: str
) -> None:
    report = await run_research(client, priced_queue, max_iterations=1)

    for node, usage in report.usage_by_node.items():
        price = JUDGE_PRICE if node == "quality_assessor" else MODEL_PRICE
        assert usage.calls > 0 and usage.unpriced_calls == 0, node
        assert usage.cost_usd == pytest.approx(
            priced(usage.input_tokens, usage.output_tokens, price)
        ), node
    total = report.usage_total
    assert total.cost_usd > 0
    assert total.cost_usd == pytest.approx(sum(u.cost_usd for u in report.usage_by_node.values()))


async def test_profile_shows_the_cost_per_node_and_run(client: Client, priced_queue: str) -> None:
    report = await run_research(client, priced_queue, max_iterations=1)
    workflow_id = await _latest_workflow_id(client, priced_queue)
    history = await client.get_workflow_handle(workflow_id).fetch_history()

    profile = profile_history(history)

    assert profile.cost_usd == pytest.approx(report.usage_total.cost_usd)
    by_node = {n.node: n.cost_usd for n in profile.nodes}
    assert by_node["quality_assessor"] == pytest.approx(
        report.usage_by_node["quality_assessor"].cost_usd
    )
    text = render_profile(profile)
    assert f"cost ${report.usage_total.cost_usd:.4f}" in text
    assert "cost $" in text.splitlines()[3]  # the node table's header


async def test_a_cost_budget_ends_the_loop_early_and_says_so(
    client: Client, priced_queue: str
) -> None:
    # Plan + draft cost about $0.004 with these prices; one iteration and the report more
    # than the rest of a $0.006 budget, so the loop stops before its first iteration.
    report = await run_research(client, priced_queue, max_iterations=3, max_cost_usd=0.006)

    assert report.stop_reason == "cost_budget"
    assert report.iterations == 0
    assert "budget of 0.006 USD was reached" in report.markdown
    assert report.usage_total.cost_usd <= 0.006


async def test_a_budget_for_a_model_without_a_price_fails_before_any_request(
    client: Client, fake_server: FakeLLMServer, unpriced_queue: str
) -> None:
    with pytest.raises(WorkflowFailureError) as caught:
        await run_research(client, unpriced_queue, max_cost_usd=1.0)

    cause = caught.value.cause
    while getattr(cause, "cause", None) is not None:
        cause = cause.cause
    assert "model 'fake-model' has no price" in str(cause)
    assert "TTDR_LLM_PRICES" in str(cause)
    assert fake_server.count() == 0  # nothing was spent


async def test_without_a_budget_an_unpriced_model_still_runs_and_counts_unpriced_calls(
    client: Client, unpriced_queue: str
) -> None:
    report = await run_research(client, unpriced_queue, max_iterations=1)

    assert report.usage_total.cost_usd == 0
    assert report.usage_total.unpriced_calls == report.usage_total.calls > 0


async def _latest_workflow_id(client: Client, queue: str) -> str:
    async for execution in client.list_workflows(f"TaskQueue = '{queue}'"):
        return execution.id
    raise AssertionError("no workflow on the queue")


def test_the_progress_line_shows_the_cost_so_far() -> None:
    usage = LLMUsage(calls=3, input_tokens=900, output_tokens=90, cost_usd=0.01234)
    progress = ResearchProgress(
        phase="denoising",
        node="gap_analyzer",
        iteration=1,
        max_iterations=3,
        quality_history=[],
        questions_asked=0,
        sources_found=0,
        usage=usage,
    )
    assert "3 LLM calls, 990 tokens · $0.0123" in progress_line(progress)
    unpriced = progress.model_copy(update={"usage": LLMUsage(calls=3, unpriced_calls=3)})
    assert "$" not in progress_line(unpriced)


async def test_the_worker_counts_each_nodes_cost_in_its_metrics(
    client: Client, fake_server: FakeLLMServer, script: Script, local_search: LocalSearch
) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    metrics = Metrics(
        settings=None,  # type: ignore[arg-type]  # not exported: read in memory
        provider=provider,
        instruments=Instruments(provider.get_meter("test")),
    )
    table = PriceTable(
        {"fake-model": ModelPrice(**MODEL_PRICE), "fake-judge": ModelPrice(**JUDGE_PRICE)}
    )
    queue = f"ttdr-cost-metrics-{uuid.uuid4().hex[:8]}"
    llm = LLMClient(fake_llm_settings(fake_server), prices=table)
    async with build_worker(client, queue, llm, local_search, metrics):
        report = await run_research(client, queue, max_iterations=1)
    await llm.aclose()

    data = reader.get_metrics_data()
    cost_by_node = {
        point.attributes["ttdr.node"]: point.value
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "ttdr.llm.cost_usd"
        for point in metric.data.data_points
    }
    assert cost_by_node.keys() == report.usage_by_node.keys()
    for node, usage in report.usage_by_node.items():
        assert cost_by_node[node] == pytest.approx(usage.cost_usd), node
    provider.shutdown()
