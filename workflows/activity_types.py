"""The activities the research workflow calls by a fixed name, as typed definitions: the name,
the input and the output of each, and nothing else (workflow code, no I/O).

The workflow passes these references to `workflow.execute_activity` instead of name strings, so
an editor's "go to definition" on a call leads here, and "go to implementation" on to the
worker's code: the classes below are the bases of the classes that implement them
(activities/nodes.py ResearchActivities, activities/continuation.py ContinuationActivities,
activities/notify.py Notifier), whose methods override these under the same activity names;
the local activity `llm_dispatch` is made per worker (activities/dispatch.py), under its name.
The implementations cannot be imported here: they bring HTTP clients, search and tracing, which
workflow code may not import (tests/product/test_imports.py); only the worker needs them.

A reference carries only the activity's name (and its return type, which decodes the result):
the command a call adds to the history is the one a name string added, so every recorded
history replays unchanged. Names made up at run time (the self-evolution steps,
`self_evolution_enhancer.<unit>.<step>`, workflows/config.py) stay strings.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import activity

from workflows.config import NODE_NAMES
from workflows.continuation_models import (
    LOAD_PARENT_ACTIVITY,
    NOTIFY_ACTIVITY,
    NotifyInput,
    ParentRef,
    ParentRun,
)
from workflows.models import (
    Assessment,
    AssessorInput,
    DraftInput,
    DraftOutput,
    GapInput,
    GapOutput,
    IntegratorInput,
    IntegratorOutput,
    PlannerInput,
    PlannerOutput,
    ReportInput,
    ReportOutput,
    RetrievalInput,
    RetrievalOutput,
)

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
Out = TypeVar("Out")
# A node activity as the workflow names it: an unbound method of NodeActivities.
NodeActivity = Callable[[Any, Any], Awaitable[Out]]
DISPATCH_ACTIVITY = "llm_dispatch"


def node_activity(method: F) -> F:
    """`@activity.defn` under the node's own name, which is the method's name: the one table
    of nodes (workflows/config.py NODE_NAMES) names the activity, its definition here and its
    implementation alike."""
    if method.__name__ not in NODE_NAMES:
        raise ValueError(f"{method.__name__} is not a node of workflows/config.py")
    return activity.defn(name=method.__name__)(method)


def node_name(reference: Callable[..., Any]) -> str:
    """The activity name of a node activity reference (NodeActivities.<node>)."""
    name = getattr(reference, "__name__", "")
    if name not in NODE_NAMES:
        raise ValueError(f"{reference!r} is not a node activity")
    return name


class NodeActivities(ABC):
    """The TTD-DR nodes (paper, Algorithm 1), one activity each; implemented by
    activities/nodes.py ResearchActivities."""

    @node_activity
    @abstractmethod
    async def research_planner(self, inp: PlannerInput) -> PlannerOutput:
        """The research plan: the report's sections (the plan unit's variants)."""

    @node_activity
    @abstractmethod
    async def draft_generator(self, inp: DraftInput) -> DraftOutput:
        """The noisy first draft R_0, from the plan and the model's own knowledge."""

    @node_activity
    @abstractmethod
    async def gap_analyzer(self, inp: GapInput) -> GapOutput:
        """The next search questions, aimed at the draft's gaps (the questions unit)."""

    @node_activity
    @abstractmethod
    async def retrieval_engine(self, inp: RetrievalInput) -> RetrievalOutput:
        """One search question answered from retrieved sources (the answers unit)."""

    @node_activity
    @abstractmethod
    async def information_integrator(self, inp: IntegratorInput) -> IntegratorOutput:
        """The draft revised with the new findings (denoising R_{t-1} -> R_t)."""

    @node_activity
    @abstractmethod
    async def quality_assessor(self, inp: AssessorInput) -> Assessment:
        """The judge: a score for the revised draft and whether the research is done."""

    @node_activity
    @abstractmethod
    async def report_synthesizer(self, inp: ReportInput) -> ReportOutput:
        """The final report's body, citing run-wide source numbers (the report unit)."""


class ParentActivities(ABC):
    """Reads the run a follow-up or a watched topic's run continues; implemented by
    activities/continuation.py ContinuationActivities."""

    @activity.defn(name=LOAD_PARENT_ACTIVITY)
    @abstractmethod
    async def load_parent(self, ref: ParentRef) -> ParentRun:
        """The parent's report body and cited passages (re-read for a watched topic)."""


class NotifyActivities(ABC):
    """POSTs a watched topic's changes; implemented by activities/notify.py Notifier."""

    @activity.defn(name=NOTIFY_ACTIVITY)
    @abstractmethod
    async def notify(self, inp: NotifyInput) -> None:
        """POST the changes to the schedule's URL."""


class LLMDispatch(BaseModel):
    """What the worker running a workflow says about node-activity dispatch (activities/
    dispatch.py); recorded in the history, so replays decide the same (workflows/calls.py)."""

    rate_limited: bool  # TTDR_LLM_MAX_RPM is set on that worker


@activity.defn(name=DISPATCH_ACTIVITY)
async def llm_dispatch() -> LLMDispatch:
    """The local activity that tells a run whether its worker limits LLM calls (activities/
    dispatch.py makes each worker's own, under this name)."""
    raise NotImplementedError("runs on the worker: activities/dispatch.py")
