"""One node call: the hold point, the sampling (temperature and seed), the activity options
from the config, the Web UI summary, and the usage count.

Seeds. A call's seed is derived from the call's identity — which activity, in which iteration,
for which question (item), variant and revision round — never from the order in which calls
happen to be made: adding an `await` somewhere, or a variant finishing first, cannot reshuffle
seeds. The identity is encoded in mixed radix (below), so two calls of a run never share a seed,
continued runs included (the iteration is part of the identity). Runs started before this
scheme keep theirs (`seed + n`, n counting calls started): `workflow.patched(SEED_PATCH)`
decides once per research, and RunState.seed_scheme carries the decision across
continue-as-new, so a run in flight keeps the seeds it started with.

Task queue. With a global limit (TTDR_LLM_MAX_RPM, worker.py), node activities go to the LLM
task queue `<workflow queue>-llm`, whose dispatch rate the server limits for every worker
together: a provider's requests-per-minute limit holds however many workers run. Without one,
they go to the workflow's own queue, where the SDK starts them eagerly (handed back in the
workflow task's response: no trip through the server's matching, 3-6 ms per dependent call).

The workflow does not read the environment: at a run's first node call it asks the worker that
runs it, through the local activity `llm_dispatch` (activities/dispatch.py), whether a limit is
set. The answer is recorded in the history (a marker), so a replay, on any worker with any
setting, makes the same choice; a continued run asks again. Every worker of the workflow queue
must register the activity (worker.build_worker does). Should the call fail, the run takes the
limited queue: it never exceeds a limit that may be set.
Runs started before this (`workflow.patched(EAGER_PATCH)`) keep what they had: the LLM queue
(`LLM_QUEUE_PATCH`), or before that the workflow's own queue; workers serve node activities on
both queues, so every history replays and every run in flight completes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.workflow import ActivityCancellationType

from workflows.activity_types import DISPATCH_ACTIVITY, LLMDispatch, NodeActivity, llm_dispatch
from workflows.activity_types import node_name as node_activity_name
from workflows.config import ACTIVITY_NAMES, ACTIVITY_NODE, ResearchConfig
from workflows.control import Control
from workflows.models import LLMUsage, SamplingParams
from workflows.state import RunState

Out = TypeVar("Out", bound=BaseModel)
SEED_PATCH = "seed-by-call-identity"
LLM_QUEUE_PATCH = "llm-task-queue"
LLM_QUEUE_SUFFIX = "-llm"
EAGER_PATCH = "eager-llm-dispatch"
# Radix of each identity part: far above the config's bounds (30 iterations, 8 questions,
# 8 variants, 5 rounds), and their product (2^22) far below the seed range (2^31).
_ITERATIONS, _ITEMS, _VARIANTS, _ROUNDS = 64, 16, 16, 8
SEED_RANGE = 2**31


@dataclass(frozen=True)
class CallId:
    """Which call this is, apart from its activity and the run's iteration."""

    item: int = 1  # which question's answer (answers unit), else 1
    variant: int = 0  # 1..k for a sample or a variant's judge/revise; 0 otherwise
    round: int = 0  # revision round of a judge/revise; 0 otherwise


def llm_task_queue(workflow_task_queue: str) -> str:
    """The task queue of a workflow queue's node activities (rate-limited by the server)."""
    return f"{workflow_task_queue}{LLM_QUEUE_SUFFIX}"


def identity_code(activity_name: str, iteration: int, call: CallId) -> int:
    """A distinct number for every distinct (activity, iteration, item, variant, round)."""
    parts = (
        (ACTIVITY_NAMES.index(activity_name), len(ACTIVITY_NAMES)),
        (iteration, _ITERATIONS),
        (call.item, _ITEMS),
        (call.variant, _VARIANTS),
        (call.round, _ROUNDS),
    )
    code = 0
    for value, radix in parts:
        if not 0 <= value < radix:
            raise ValueError(f"call identity part {value} is outside 0..{radix - 1}")
        code = code * radix + value
    return code


def identity_seed(base: int, activity_name: str, iteration: int, call: CallId) -> int:
    return (base + identity_code(activity_name, iteration, call)) % SEED_RANGE


class NodeCalls:
    """Runs node activities for the workflow with the run's config, state and live control."""

    def __init__(
        self,
        state: RunState,
        config: ResearchConfig,
        control: Control,
        on_change: Callable[[], None],
    ) -> None:
        self._state = state
        self._config = config
        self._control = control
        self._on_change = on_change
        self._queue_known = False
        self._queue: str | None = None
        self._asking: asyncio.Task[str | None] | None = None

    async def call(
        self,
        activity: NodeActivity[Out] | str,
        build_input: Callable[[SamplingParams], BaseModel],
        output_type: type[Out] | None = None,
        *,
        call: CallId = CallId(),
        judge: bool = False,
        hotter_by_variant: bool = False,
        detail: str = "",
    ) -> Out:
        """Run one activity with its node's timeout and the run's retry policy; count usage.

        `activity` is a node's typed reference (NodeActivities.<node>, workflows/
        activity_types.py), whose return type decodes the result; or the name of an activity
        made up at run time (a self-evolution step) with its `output_type`.
        The input is built after the hold point, so that what a user changed while the run was
        held (feedback) is in it."""
        state, config = self._state, self._config
        if isinstance(activity, str):
            activity_name = activity
            if output_type is None:
                raise TypeError(f"{activity}: an activity named by a string needs its output_type")
        else:
            activity_name = node_activity_name(activity)
        await self._control.hold_point(activity_name)
        inp = build_input(self._sampling(activity_name, call, judge, hotter_by_variant))
        state.node = activity_name
        self._on_change()
        where = f"iteration {state.iteration}" if state.phase == "denoising" else state.phase
        # The Web UI shows the activity type next to the summary: the summary adds the rest.
        summary = " · ".join(part for part in (where, detail) if part)
        retry = config.retry
        task_queue = self._queue if self._queue_known else await self._task_queue()
        result = await workflow.execute_activity(
            activity,
            inp,
            result_type=output_type,
            task_queue=task_queue,
            start_to_close_timeout=config.timeouts.for_node(ACTIVITY_NODE[activity_name]),
            heartbeat_timeout=timedelta(seconds=config.timeouts.heartbeat_seconds),
            retry_policy=RetryPolicy(
                maximum_attempts=retry.maximum_attempts,
                initial_interval=timedelta(seconds=retry.initial_interval_seconds),
                backoff_coefficient=retry.backoff_coefficient,
                maximum_interval=timedelta(seconds=retry.maximum_interval_seconds),
            ),
            summary=summary,
            # On cancel, wait until the activity has stopped its call (the cancellation reaches
            # it through its heartbeats), so a cancelled run leaves no call running.
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        state.add_usage(activity_name, getattr(result, "usage", LLMUsage()))
        return result

    async def _task_queue(self) -> str | None:
        """The queue of this run's node activities (module docstring); None: the workflow's own.
        Decided once per run; runs started before EAGER_PATCH decide without awaiting, so their
        commands keep the order they were recorded in."""
        if not workflow.patched(EAGER_PATCH):
            self._queue = (
                llm_task_queue(workflow.info().task_queue)
                if workflow.patched(LLM_QUEUE_PATCH)
                else None
            )
            self._queue_known = True
            return self._queue
        if self._asking is None:  # sibling calls of a fan-out share the one question
            self._asking = asyncio.create_task(self._ask_worker())
        self._queue = await self._asking
        self._queue_known = True
        return self._queue

    async def _ask_worker(self) -> str | None:
        try:
            dispatch = await workflow.execute_local_activity(
                llm_dispatch,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        except ActivityError:
            workflow.logger.warning(
                "%s failed: node activities go to the rate-limited queue", DISPATCH_ACTIVITY
            )
            dispatch = LLMDispatch(rate_limited=True)
        return llm_task_queue(workflow.info().task_queue) if dispatch.rate_limited else None

    def _sampling(
        self, activity_name: str, call: CallId, judge: bool, hotter_by_variant: bool
    ) -> SamplingParams:
        """Variant v of a sampled unit runs hotter by (v - 1) x variant_temperature_step, so
        variants differ; the seed follows the run's seed scheme (module docstring)."""
        state, config = self._state, self._config
        state.calls_started += 1
        if state.seed_scheme == "identity":
            seed = identity_seed(config.seed, activity_name, state.iteration, call)
        else:
            seed = config.seed + state.calls_started
        base = config.judge_temperature if judge else config.temperature
        hotter = max(call.variant - 1, 0) if hotter_by_variant else 0
        return SamplingParams(
            temperature=min(base + hotter * config.evolution.variant_temperature_step, 2.0),
            max_output_tokens=config.max_output_tokens,
            seed=seed,
            json_repair_attempts=config.json_repair_attempts,
            require_price=config.max_cost_usd is not None,
        )
