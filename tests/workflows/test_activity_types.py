"""The typed activity references (workflows/activity_types.py): each definition the workflow
calls has the name, input and output of the worker's implementation, and workflow code names
no activity with a fixed name by a string."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity

from activities.continuation import ContinuationActivities
from activities.dispatch import dispatch_activity
from activities.nodes import ResearchActivities
from activities.notify import Notifier
from workflows.activity_types import (
    NodeActivities,
    NotifyActivities,
    ParentActivities,
    llm_dispatch,
    node_activity,
    node_name,
)
from workflows.config import NODE_NAMES, ResearchConfig
from workflows.evolution import Evolution
from workflows.models import PlannerInput, SamplingParams
from workflows.state import RunState

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


def definition(fn: Callable[..., Any]) -> tuple[str | None, list[type] | None, type | None]:
    defn = activity._Definition.must_from_callable(fn)  # the SDK's own reading of @defn
    return defn.name, defn.arg_types, defn.ret_type


@pytest.mark.parametrize("node", NODE_NAMES)
def test_each_node_is_defined_as_the_worker_implements_it(node: str) -> None:
    typed = getattr(NodeActivities, node)
    implemented = getattr(ResearchActivities, node)
    assert implemented is not typed, "ResearchActivities overrides the definition"
    name, arg_types, ret_type = definition(typed)
    assert name == node_name(typed) == node
    assert arg_types and len(arg_types) == 1 and ret_type is not None
    assert definition(implemented) == (name, arg_types, ret_type)


def test_the_other_fixed_activities_are_defined_as_implemented() -> None:
    pairs = [
        (ParentActivities.load_parent, ContinuationActivities.load_parent),
        (NotifyActivities.notify, Notifier.notify),
        (llm_dispatch, dispatch_activity(None)),
    ]
    for typed, implemented in pairs:
        assert definition(typed) == definition(implemented)


def test_a_node_left_unimplemented_is_refused_when_the_worker_builds_its_activities() -> None:
    class Partial(NodeActivities):
        @node_activity
        async def research_planner(self, inp: PlannerInput) -> Any:
            return None

    with pytest.raises(TypeError, match="abstract"):
        Partial()  # type: ignore[abstract]


def test_only_nodes_get_node_activity_names() -> None:
    async def not_a_node(inp: PlannerInput) -> None:
        return None

    with pytest.raises(ValueError, match="not a node"):
        node_activity(not_a_node)
    with pytest.raises(ValueError, match="not a node activity"):
        node_name(not_a_node)


async def test_a_unit_is_sampled_by_its_own_node_only() -> None:
    evolution = Evolution(RunState(), ResearchConfig(), calls=None)  # type: ignore[arg-type]

    def make_input(sampling: SamplingParams) -> PlannerInput:
        return PlannerInput(question="q", sampling=sampling)

    with pytest.raises(ValueError, match="sampled by research_planner"):
        await evolution.sample("plan", make_input, NodeActivities.gap_analyzer, 1)


ACTIVITY_STARTERS = {"call", "execute_activity", "start_activity", "execute_local_activity"}


def test_workflow_code_names_no_fixed_activity_by_a_string() -> None:
    """A literal name where a typed reference belongs: `execute_activity("gap_analyzer", …)`,
    `NodeCalls.call("quality_assessor", …)`. Generated names (evolution steps) are not literals."""
    found = []
    for path in sorted(WORKFLOWS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            called = node.func.attr if isinstance(node.func, ast.Attribute) else ""
            first = node.args[0]
            if called in ACTIVITY_STARTERS and isinstance(first, ast.Constant | ast.Name):
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.append(f"{path.name}:{node.lineno} {called}({first.value!r}, ...)")
                elif isinstance(first, ast.Name) and first.id.endswith("_ACTIVITY"):
                    found.append(f"{path.name}:{node.lineno} {called}({first.id}, ...)")
    assert not found, "pass the typed reference (workflows/activity_types.py): " + "; ".join(found)
