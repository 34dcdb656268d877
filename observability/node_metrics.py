"""Per-node and per-run metrics, recorded worker-side by an activity interceptor.

Workflow code records nothing (it must stay deterministic and replay-safe): the interceptor sees
every activity attempt with its node (the activity type), its input and its result, which carries
the node's `usage` — so `ttdr.llm.calls` per node adds up to the run's `usage_by_node`. Inside an
activity it also sets the node for `record_llm_call`, which the LLM client's call span calls once
per request (duration, tokens, error type).

Run-level figures (iterations, last quality, stop reason) come from the run's own `progress`
query, asked once per run when its first report_synthesizer activity starts on this worker: by
then the loop has stopped and the stop reason is set. Report variants of one run that start on
two workers would count that run twice; with one worker, or without report variants, never.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity, client, worker

from observability.error_types import error_type
from observability.metrics import Instruments
from workflows.models import LLMUsage
from workflows.results import ResearchProgress

log = logging.getLogger(__name__)
REPORT_NODE = "report_synthesizer"
JUDGE_NODES = ("quality_assessor",)
QUERY_TIMEOUT_SECONDS = 10.0
_REMEMBERED_RUNS = 10_000


@dataclass(frozen=True)
class _Scope:
    node: str
    instruments: Instruments


_scope: ContextVar[_Scope | None] = ContextVar("ttdr_metrics_scope", default=None)


def record_llm_call(
    model: str,
    seconds: float,
    error_type: str | None,
    tokens: tuple[int, int] | None,
) -> None:
    """One LLM request's duration and tokens, under the node of the activity making it (no-op
    outside an activity of a worker with metrics)."""
    scope = _scope.get()
    if scope is None:
        return
    attributes: dict[str, str] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": model,
        "ttdr.node": scope.node,
    }
    if error_type:
        attributes["error.type"] = error_type
    scope.instruments.llm_duration.record(seconds, attributes)
    if tokens is not None:  # the request got an answer with usage (or an estimate of it)
        for kind, count in zip(("input", "output"), tokens, strict=True):
            scope.instruments.llm_token_usage.record(
                count, {**attributes, "gen_ai.token.type": kind}
            )


def _usage_of(result: object) -> LLMUsage | None:
    usage = getattr(result, "usage", None)
    return usage if isinstance(usage, LLMUsage) else None


def _score_of(result: object) -> float | None:
    score = getattr(result, "score", None)
    if score is None:
        score = getattr(getattr(result, "verdict", None), "score", None)
    return float(score) if isinstance(score, int | float) else None


class _MetricsActivityInbound(worker.ActivityInboundInterceptor):
    def __init__(self, next: worker.ActivityInboundInterceptor, owner: MetricsInterceptor):
        super().__init__(next)
        self._owner = owner

    async def execute_activity(self, input: worker.ExecuteActivityInput) -> Any:
        info = activity.info()
        node = info.activity_type
        instruments = self._owner.instruments
        labels = {"ttdr.node": node}
        if info.attempt > 1:
            instruments.activity_retries.add(1, labels)
        run_query = None
        if node == REPORT_NODE:
            run_query = self._owner.run_progress(info.workflow_id, info.workflow_run_id)
        token = _scope.set(_Scope(node, instruments))
        try:
            result = await super().execute_activity(input)
        except BaseException as err:
            if isinstance(err, Exception):
                instruments.activity_errors.add(1, {**labels, "error.type": error_type(err)})
            if run_query is not None:
                run_query.cancel()
                self._owner.forget_run(info.workflow_run_id)  # its retry asks again
            raise
        finally:
            _scope.reset(token)
        if (usage := _usage_of(result)) is not None:
            instruments.node_llm_calls.add(usage.calls, labels)
            for kind, count in (("input", usage.input_tokens), ("output", usage.output_tokens)):
                instruments.node_tokens.add(count, {**labels, "gen_ai.token.type": kind})
            if usage.cost_usd:  # calls whose model has a price (activities/prices.py)
                instruments.node_cost.add(usage.cost_usd, labels)
        if (node in JUDGE_NODES or node.endswith(".judge")) and (
            score := _score_of(result)
        ) is not None:
            instruments.judge_score.record(score, labels)
        if run_query is not None:
            self._owner.record_run_when_known(run_query)
        return result


class MetricsInterceptor(worker.Interceptor):
    """Records the product's per-node and per-run metrics for every activity of the worker."""

    def __init__(self, temporal_client: client.Client, instruments: Instruments) -> None:
        self.instruments = instruments
        self._client = temporal_client
        self._reported: OrderedDict[str, None] = OrderedDict()
        self._tasks: set[asyncio.Task[Any]] = set()

    def intercept_activity(
        self, next: worker.ActivityInboundInterceptor
    ) -> worker.ActivityInboundInterceptor:
        return _MetricsActivityInbound(next, self)

    def run_progress(self, workflow_id: str, run_id: str) -> asyncio.Task[Any] | None:
        """The run's progress, asked once per run (the report's first activity on this worker)."""
        if run_id in self._reported:
            return None
        self._reported[run_id] = None
        while len(self._reported) > _REMEMBERED_RUNS:
            self._reported.popitem(last=False)
        handle = self._client.get_workflow_handle(workflow_id, run_id=run_id)
        return asyncio.ensure_future(
            handle.query(
                "progress",
                result_type=ResearchProgress,
                rpc_timeout=timedelta(seconds=QUERY_TIMEOUT_SECONDS),
            )
        )

    def forget_run(self, run_id: str) -> None:
        self._reported.pop(run_id, None)

    def record_run_when_known(self, query: asyncio.Task[Any]) -> None:
        task = asyncio.ensure_future(self._record_run(query))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record_run(self, query: asyncio.Task[Any]) -> None:
        try:
            progress: ResearchProgress = await asyncio.wait_for(query, QUERY_TIMEOUT_SECONDS)
        except Exception as err:  # metrics never fail a run: log and move on
            log.debug("no run metrics: the progress query failed (%s)", err)
            return
        stop = progress.stop_reason or "max_iterations"
        self.instruments.run_iterations.record(progress.iteration)
        if progress.quality_history:
            self.instruments.run_quality.record(progress.quality_history[-1])
        self.instruments.runs_finished.add(1, {"ttdr.stop_reason": stop})

    async def aclose(self) -> None:
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await task
