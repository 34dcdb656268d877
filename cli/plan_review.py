"""`client.py review ID`: approve, replace or steer the plan of a run that waits for review
(`research --review-plan`), and the interactive review `research` offers in a terminal."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from pydantic import ValidationError
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError

from cli.connection import connect_from_env
from cli.errors import CommandError
from workflows.models import ControlStatus, ResearchPlan, ResearchState
from workflows.plan_review import PlanDecision

PLAN_FILE_MAX_BYTES = 256_000


class ReviewError(CommandError):
    """A review that cannot be sent: one line, nothing changed."""


def read_plan(path: Path) -> ResearchPlan:
    try:
        with path.open("rb") as handle:
            raw = handle.read(PLAN_FILE_MAX_BYTES + 1)
    except OSError as err:
        raise ReviewError(f"cannot read plan file {path}: {err.strerror}") from None
    if len(raw) > PLAN_FILE_MAX_BYTES:
        raise ReviewError(f"plan file {path} is over {PLAN_FILE_MAX_BYTES} bytes")
    try:
        return ResearchPlan.model_validate_json(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "plan"
        raise ReviewError(f"invalid plan in {path}: {where}: {first['msg']}") from None


async def send(handle: WorkflowHandle, decision: PlanDecision) -> ControlStatus:
    try:
        return await handle.execute_update("review_plan", decision, result_type=ControlStatus)
    except WorkflowUpdateFailedError as err:
        reason = getattr(err.cause, "message", None) or str(err.cause or err)
        raise ReviewError(f"review rejected: {reason}") from None
    except RPCError as err:
        raise ReviewError(f"review failed: {err.message}") from None


def plan_text(plan: ResearchPlan | None) -> str:
    if plan is None or not plan.sections:
        return "(no plan)"
    return "\n".join(f"  {i}. {s.title}: {s.focus}" for i, s in enumerate(plan.sections, 1))


async def cmd_review(args: argparse.Namespace) -> int:
    plan = read_plan(args.plan) if args.plan is not None else None  # before contacting anything
    client = await connect_from_env()
    handle = client.get_workflow_handle(args.id)
    if args.show:
        state = await handle.query("state", result_type=ResearchState)
        print(f"plan review: {state.progress.plan_review or 'none'}\n{plan_text(state.plan)}")
        return 0
    decision = PlanDecision(
        action="replace" if plan is not None else "approve", plan=plan, guidance=args.guidance or ""
    )
    print((await send(handle, decision)).message)
    return 0


async def review_interactively(handle: WorkflowHandle) -> None:
    """Show the proposed plan and ask: approve, edit in $EDITOR, or type guidance."""
    state = await handle.query("state", result_type=ResearchState)
    print(f"\nProposed plan:\n{plan_text(state.plan)}\n", flush=True)
    while True:
        answer = await asyncio.to_thread(
            _ask, "[a]pprove, [e]dit in $EDITOR, [g]uidance, [l]ater (client.py review)? "
        )
        choice = answer.strip().lower()[:1]
        try:
            if choice == "a":
                decision = PlanDecision()
            elif choice == "e":
                decision = PlanDecision(action="replace", plan=await _edit(state.plan))
            elif choice == "g":
                guidance = await asyncio.to_thread(_ask, "guidance: ")
                decision = PlanDecision(guidance=guidance.strip())
            elif choice == "l":
                print(f"later: client.py review {handle.id} [--plan FILE] [--guidance TEXT]")
                return
            else:
                continue
            print((await send(handle, decision)).message, flush=True)
            return
        except ReviewError as err:
            print(f"error: {err}", file=sys.stderr, flush=True)


def _ask(prompt: str) -> str:
    try:
        return input(prompt)
    except EOFError:
        return "l"


async def _edit(plan: ResearchPlan | None) -> ResearchPlan:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory(prefix="ttdr-plan-") as folder:
        path = Path(folder) / "plan.json"
        current = plan or ResearchPlan(sections=[])
        path.write_text(json.dumps(current.model_dump(), indent=2) + "\n", encoding="utf-8")
        done = await asyncio.to_thread(subprocess.run, [*shlex.split(editor), str(path)])
        if done.returncode != 0:
            raise ReviewError(f"the editor {editor!r} exited with {done.returncode}")
        return read_plan(path)


def register(commands: argparse._SubParsersAction) -> None:
    review = commands.add_parser(
        "review", help="approve, replace (--plan) or steer (--guidance) a run's proposed plan"
    )
    review.add_argument("id", help="workflow id")
    review.add_argument("--plan", type=Path, help="replace the plan: a JSON file {sections: ...}")
    review.add_argument("--guidance", help="a note for the research (used like feedback)")
    review.add_argument("--show", action="store_true", help="print the plan and review status")
    review.set_defaults(handler=cmd_review)
