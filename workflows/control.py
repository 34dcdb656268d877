"""Live control of a run by its user: pause, resume, step, breakpoints and feedback.

The workflow's update handlers delegate here; `hold_point` is awaited before every node call.
All of it reads and writes `RunState.control`, so a hold, a breakpoint or a pending `step`
survives continue-as-new with the rest of the state.
"""

from __future__ import annotations

from collections.abc import Callable

from temporalio import workflow

from workflows.config import ACTIVITY_NODE, BREAKABLE, EVOLUTION_NODE
from workflows.results import ControlStatus
from workflows.state import ControlState, RunState

FEEDBACK_MAX_CHARS = 2000


class Control:
    def __init__(self, state: RunState, on_change: Callable[[], None]) -> None:
        self._state = state
        self._on_change = on_change  # refreshes what the Web UI shows

    @property
    def _c(self) -> ControlState:
        return self._state.control

    async def hold_point(self, activity_name: str) -> None:
        """Hold before an activity while paused or at a breakpoint, until resume or step."""
        control = self._c
        if control.pause_at_next:
            control.pause_at_next = False
            control.paused = True
        evolution_step = activity_name.startswith(f"{EVOLUTION_NODE}.")
        where = EVOLUTION_NODE if evolution_step else ACTIVITY_NODE[activity_name]
        if not (control.paused or where in control.breakpoints):
            return
        released_before = control.releases
        control.held_before = activity_name
        self._on_change()
        await workflow.wait_condition(
            lambda: control.releases > released_before and not control.paused
        )
        control.held_before = None

    def status(self, message: str) -> ControlStatus:
        control = self._c
        return ControlStatus(
            paused=control.paused,
            held_before=control.held_before,
            breakpoints=list(control.breakpoints),
            pending_feedback=list(control.pending_feedback),
            message=message,
        )

    # ------------------------------------------------------------------ update handlers

    def pause(self) -> ControlStatus:
        self._c.paused = True
        return self.status("pausing before the next node")

    def resume(self) -> ControlStatus:
        self._c.paused = False
        self._c.pause_at_next = False
        self._c.releases += 1
        return self.status("resumed")

    def step(self) -> ControlStatus:
        """Run the node it is held before, then hold again before the next one."""
        self._c.paused = False
        self._c.pause_at_next = True
        self._c.releases += 1
        return self.status("stepping one node")

    def break_before(self, node: str) -> ControlStatus:
        if node not in self._c.breakpoints:
            self._c.breakpoints = sorted([*self._c.breakpoints, node])
        return self.status(f"breakpoint set before {node}")

    def clear_break(self, node: str) -> ControlStatus:
        self._c.breakpoints = [b for b in self._c.breakpoints if b != node]
        return self.status(f"breakpoint before {node} cleared")

    def feedback(self, note: str) -> ControlStatus:
        self._c.pending_feedback.append(note.strip())
        return self.status("feedback noted: the next gap analysis and revision will use it")

    def apply_feedback(self) -> None:
        """The pending feedback shaped this iteration's questions and revision: applied now."""
        self._c.feedback_applied.extend(self._c.pending_feedback)
        self._c.pending_feedback = []

    # ------------------------------------------------------------------ validators

    @staticmethod
    def check_node(node: str) -> None:
        if node not in BREAKABLE:
            raise ValueError(f"unknown node {node!r}: use one of {', '.join(BREAKABLE)}")

    def check_breakpoint_set(self, node: str) -> None:
        if node not in self._c.breakpoints:
            raise ValueError(f"no breakpoint before {node!r}")

    def check_feedback(self, note: str) -> None:
        if not note.strip():
            raise ValueError("feedback is empty")
        if len(note) > FEEDBACK_MAX_CHARS:
            raise ValueError(f"feedback is over {FEEDBACK_MAX_CHARS} characters")
        phase = self._state.phase
        if phase in ("reporting", "completed"):
            raise ValueError(f"the research is {phase}: feedback can no longer be used")
