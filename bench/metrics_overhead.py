"""What the worker's metrics cost: one LLM call's recording, one activity's counters, and one
Prometheus scrape of the product's endpoint with every node's series present.

    .venv/bin/python -m bench.metrics_overhead [--calls 200000]
"""

from __future__ import annotations

import argparse
import time

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import CollectorRegistry, generate_latest

from observability import node_metrics
from observability.metrics import Instruments
from workflows.config import EVOLVABLE_UNITS, evolution_activity

NODES = [
    "research_planner", "draft_generator", "gap_analyzer", "retrieval_engine",
    "information_integrator", "quality_assessor", "report_synthesizer",
    *(evolution_activity(u, s) for u in EVOLVABLE_UNITS for s in ("judge", "revise", "merge")),
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    registry = CollectorRegistry()
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    instruments = Instruments(provider.get_meter("bench"))

    started = time.perf_counter()
    for i in range(args.calls):
        token = node_metrics._scope.set(node_metrics._Scope(NODES[i % len(NODES)], instruments))
        node_metrics.record_llm_call("model-a", 0.8, None, (1200, 300))
        node_metrics._scope.reset(token)
    per_call = (time.perf_counter() - started) / args.calls

    started = time.perf_counter()
    for i in range(args.calls):
        labels = {"ttdr.node": NODES[i % len(NODES)]}
        instruments.node_llm_calls.add(1, labels)
        for kind in ("input", "output"):
            instruments.node_tokens.add(100, {**labels, "gen_ai.token.type": kind})
    per_activity = (time.perf_counter() - started) / args.calls

    scrapes = 50
    started = time.perf_counter()
    for _ in range(scrapes):
        page = generate_latest(registry)
    per_scrape = (time.perf_counter() - started) / scrapes
    print(f"nodes: {len(NODES)}; iterations: {args.calls}")
    print(f"record one LLM call (duration + 2 token records): {per_call * 1e6:.1f} us")
    print(f"one activity's counters (calls + 2 token counters): {per_activity * 1e6:.1f} us")
    print(f"one scrape of the product endpoint: {per_scrape * 1e3:.1f} ms, {len(page)} bytes")


if __name__ == "__main__":
    main()
