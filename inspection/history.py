"""Workflow histories as files: export, load, and replay against the current workflow code.

A history file is exactly `WorkflowHistory.to_json()` — the format the Temporal CLI
(`temporal workflow show --output json`) and the Web UI's download also produce — so files from
either side work here. The workflow id is read from the started event (recent servers record it
there), else from the file name (`<id>.json` or `<id>.history.json`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf.json_format import ParseError
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from common.temporal_plugin import ResearchPlugin
from workflows.research import WORKFLOW_NAME

HISTORY_SUFFIX = ".history.json"
NONDETERMINISM_HINT = (
    "the workflow code changed in a way that breaks running workflows: use workflow.patched() "
    "or a new workflow version"
)


class HistoryError(ValueError):
    """Not a usable history (unreadable, not JSON, not a DeepResearchWorkflow history) or no
    such workflow: one line, which client.py prints with exit code 2 (cli/main.py)."""


# ---------------------------------------------------------------- files and the server


def workflow_id_from_path(path: Path) -> str:
    name = path.name
    for suffix in (HISTORY_SUFFIX, ".json"):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return path.stem


def parse_history(text: str | dict[str, Any], workflow_id: str) -> WorkflowHistory:
    """A DeepResearchWorkflow history from its JSON, or HistoryError saying what is wrong."""
    try:
        history = WorkflowHistory.from_json(workflow_id, text)
    except (ValueError, TypeError, AttributeError, KeyError, ParseError) as err:
        # from_json checks little itself: odd JSON fails wherever the protobuf parser trips
        raise HistoryError(f"not a Temporal workflow history: {_first_line(err)}") from None
    if not history.events:
        raise HistoryError("not a Temporal workflow history: it has no events")
    first = history.events[0]
    if not first.HasField("workflow_execution_started_event_attributes"):
        raise HistoryError("not a Temporal workflow history: it does not begin with a start")
    started = first.workflow_execution_started_event_attributes
    if started.workflow_type.name != WORKFLOW_NAME:
        raise HistoryError(
            f"a history of workflow type {started.workflow_type.name!r}, not {WORKFLOW_NAME}"
        )
    if started.workflow_id and started.workflow_id != workflow_id:
        return WorkflowHistory(started.workflow_id, history.events)
    return history


def load_history(path: Path) -> WorkflowHistory:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise HistoryError(f"cannot read {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise HistoryError(f"{path} is not a Temporal workflow history (not text)") from None
    try:
        return parse_history(text, workflow_id_from_path(path))
    except HistoryError as err:
        raise HistoryError(f"{path}: {err}") from None


def save_history(history: WorkflowHistory, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(history.to_json() + "\n", encoding="utf-8")
    return path


async def fetch_history(client: Client, workflow_id: str) -> WorkflowHistory:
    try:
        return await client.get_workflow_handle(workflow_id).fetch_history()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise HistoryError(
                f"no workflow {workflow_id} in namespace {client.namespace}"
            ) from None
        raise


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


# ---------------------------------------------------------------- replay


@dataclass(frozen=True)
class ReplayOutcome:
    workflow_id: str
    events: int
    nondeterministic: bool = False
    problem: str | None = None  # None: the current code reproduced the history exactly
    where: str | None = None  # the history event(s) the problem points at, when known

    @property
    def ok(self) -> bool:
        return self.problem is None


async def replay(history: WorkflowHistory) -> ReplayOutcome:
    """Run the current DeepResearchWorkflow code over the history: every command it issues must
    match the recorded events, with no activity, LLM or server involved."""
    replayer = Replayer(
        # The converter, interceptors and workflows the worker that wrote the history had
        # (the plugin adds the workflows to this empty list).
        workflows=[],
        plugins=[ResearchPlugin()],
        runtime=_quiet_runtime(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    failure = result.replay_failure
    if failure is None:
        return ReplayOutcome(history.workflow_id, len(history.events))
    message = core_message(str(failure))
    return ReplayOutcome(
        history.workflow_id,
        len(history.events),
        nondeterministic=isinstance(failure, NondeterminismError),
        problem=message,
        where=locate(message, history.events),
    )


@functools.cache
def _quiet_runtime() -> Runtime:
    """A runtime without core's console log: it would print the same failure again as a Rust
    debug dump; the outcome carries it in readable form."""
    return Runtime(telemetry=TelemetryConfig(logging=None))


_CORE_MESSAGE = re.compile(r'message: "(.*?)", source:', re.DOTALL)
_EVENT_ID = re.compile(r"HistoryEvent\(id: (\d+)")
_QUOTED = re.compile(r"'([^']+)'")


def core_message(raw: str) -> str:
    """The SDK core's own sentence out of the Rust debug dump the replayer raises with."""
    found = _CORE_MESSAGE.search(raw)
    text = found.group(1) if found else raw
    text = text.replace('\\"', '"')
    return re.sub(r"^\[TMPRL\d+\] ", "", text).strip()


def locate(message: str, events: list[HistoryEvent] | tuple[HistoryEvent, ...]) -> str | None:
    """The recorded event(s) a non-determinism message is about: by event id when core names
    one, else the scheduled activities whose type the message quotes."""
    by_id = {e.event_id: e for e in events}
    ids = [int(i) for i in _EVENT_ID.findall(message)]
    described = [describe_event(by_id[i]) for i in ids if i in by_id]
    if described:
        return "; ".join(described)
    quoted = set(_QUOTED.findall(message))
    matches = [
        e
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name in quoted
    ]
    if not matches:
        return None
    shown = "; ".join(describe_event(e) for e in matches[:3])
    return shown + (f" (and {len(matches) - 3} more)" if len(matches) > 3 else "")


def describe_event(event: HistoryEvent) -> str:
    kind = HistoryEvent.DESCRIPTOR.fields_by_name["event_type"].enum_type.values_by_number[
        event.event_type
    ]
    name = _camel(kind.name.removeprefix("EVENT_TYPE_"))
    text = f"event {event.event_id} {name}"
    if event.HasField("activity_task_scheduled_event_attributes"):
        text += (
            f" of activity '{event.activity_task_scheduled_event_attributes.activity_type.name}'"
        )
    return text


def _camel(upper_snake: str) -> str:
    return "".join(part.capitalize() for part in upper_snake.split("_"))
