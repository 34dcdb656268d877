"""The product's worker (worker.build_worker) with Worker settings overridden, for bench-only
experiments on a tuning before it is proposed for worker.py.

Same task queue, workflows, activities, interceptors and settings as build_worker, plus any
temporalio.worker.Worker keyword in `overrides` (e.g. max_eager_activity_reservations_per_
workflow_task=16)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.llm import LLMClient
from activities.nodes import ResearchActivities
from activities.search.base import SearchProvider
from observability import tracing
from workflows.research import DeepResearchWorkflow


def build_tuned_worker(
    client: Client, task_queue: str, llm: LLMClient, search: SearchProvider, **overrides: Any
) -> Worker:
    settings: dict[str, Any] = {
        "interceptors": tracing.worker_interceptors(client),
        "max_concurrent_activities": 200,
        "sticky_queue_schedule_to_start_timeout": timedelta(seconds=3),
        **overrides,
    }
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[DeepResearchWorkflow],
        activities=ResearchActivities(llm, search).all(),
        **settings,
    )
