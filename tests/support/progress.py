"""Waiting for a research run to reach a state, read from its `progress` query."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from temporalio.client import WorkflowHandle
from temporalio.service import RPCError

from workflows.results import ResearchProgress


async def wait_for(
    handle: WorkflowHandle,
    check: Callable[[ResearchProgress], bool],
    what: str = "the progress awaited",
    timeout: float = 30,
) -> ResearchProgress:
    """Poll the latest run's progress until `check` holds; fail naming what was awaited and the
    last progress seen. A handle without a run id follows continue-as-new."""
    last: ResearchProgress | None = None

    async def poll() -> ResearchProgress:
        nonlocal last
        while True:
            try:
                last = await handle.query("progress", result_type=ResearchProgress)
            except RPCError:  # a continued run may not have had its first task yet
                last = None
            if last is not None and check(last):
                return last
            await asyncio.sleep(0.1)

    try:
        return await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"waited {timeout} s for {what}; last progress: {last}") from None
