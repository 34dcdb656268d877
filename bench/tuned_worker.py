"""The product's worker (worker.build_worker) with Worker settings overridden, for bench-only
experiments on a tuning before it is proposed for worker.py.

Same task queues (the workflow queue and its LLM queue), workflows, activities, interceptors and
settings as build_worker, plus any temporalio.worker.Worker keyword in `overrides` (e.g.
max_eager_activity_reservations_per_workflow_task=16)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.dispatch import dispatch_activity
from activities.llm import LLMClient
from activities.nodes import ResearchActivities
from search.base import SearchProvider
from worker import WorkerGroup
from workflows.calls import llm_task_queue


def build_tuned_worker(
    client: Client, task_queue: str, llm: LLMClient, search: SearchProvider, **overrides: Any
) -> WorkerGroup:
    settings: dict[str, Any] = {
        "max_concurrent_activities": 200,
        "sticky_queue_schedule_to_start_timeout": timedelta(seconds=3),
        **overrides,
    }
    activities = ResearchActivities(llm, search).all()
    workflows = Worker(
        client,
        task_queue=task_queue,
        activities=[*activities, dispatch_activity(None)],  # no global limit, as build_worker
        **settings,
    )
    settings.pop("sticky_queue_schedule_to_start_timeout", None)  # no workflows on this one
    llm_calls = Worker(
        client, task_queue=llm_task_queue(task_queue), activities=activities, **settings
    )
    return WorkerGroup([workflows, llm_calls])
