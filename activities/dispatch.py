"""The local activity `llm_dispatch`: tells a run whether this worker has a global limit on LLM
calls (TTDR_LLM_MAX_RPM), so the workflow chooses its node activities' task queue from data
recorded in its history, never from the environment (workflows/calls.py, "Task queue")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio import activity

from workflows.activity_types import DISPATCH_ACTIVITY, LLMDispatch


def dispatch_activity(llm_max_rpm: float | None) -> Callable[[], Awaitable[LLMDispatch]]:
    """The activity for a worker started with this limit (None: no limit)."""

    @activity.defn(name=DISPATCH_ACTIVITY)
    async def llm_dispatch() -> LLMDispatch:
        return LLMDispatch(rate_limited=llm_max_rpm is not None)

    return llm_dispatch
