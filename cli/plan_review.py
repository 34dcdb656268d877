"""`client.py review ID`: approve, replace or steer the plan of a run that waits for review
(`research --review-plan`), and the interactive review `research` offers in a terminal."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError

from cli.typed import as_typed
from common.errors import CommandError
from common.temporal_connection import connect_from_env
from workflows.models import ResearchPlan
from workflows.plan_review import PlanDecision
from workflows.results import ControlStatus, ResearchState

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
        problems = err.errors()
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ReviewError(
            f"invalid plan in {path}: {where(first['loc'])}: {first['msg']}{more}"
        ) from None


def where(loc: tuple[int | str, ...]) -> str:
    """A validation error's place as the user sees the plan: `section 2: focus`, numbered from
    1 like the printed plan, not pydantic's zero-based `sections.1.focus`."""
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            if parts and parts[-1] == "sections":
                parts[-1] = f"section {part + 1}"
            else:
                parts.append(f"item {part + 1}")
        else:
            parts.append(str(part))
    return ": ".join(parts) or "plan"


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


MENU = "[a]pprove, [e]dit in $EDITOR, [g]uidance, [l]ater (client.py review)? "


async def review_interactively(
    handle: WorkflowHandle, ask: Callable[[str], str] | None = None
) -> None:
    """Show the proposed plan and ask: approve, edit in $EDITOR, add guidance, or later.

    Nothing is sent until the user approves or saves an edit: guidance is noted and goes with
    that decision. An edit that is invalid (or refused by the run) is kept: [e] reopens it, with
    the error shown, until it is right or the user chooses otherwise."""
    ask = ask or _ask
    state = await handle.query("state", result_type=ResearchState)
    print(f"\nProposed plan:\n{plan_text(state.plan)}\n", flush=True)
    guidance = ""
    error = ""  # why the last edit was not sent
    folder = Path(tempfile.mkdtemp(prefix="ttdr-plan-"))
    edit = folder / "plan.json"
    kept = False  # an unsent edit outlives the session: the user may send it later
    try:
        while True:
            choice = (await asyncio.to_thread(ask, as_typed(MENU))).strip().lower()[:1]
            try:
                if choice == "a":
                    decision = PlanDecision(guidance=guidance)
                elif choice == "e":
                    if error:
                        print(f"reopening your edit; it was not sent: {error}", flush=True)
                    elif not edit.exists():
                        current = state.plan or ResearchPlan(sections=[])
                        edit.write_text(_plan_json(current), encoding="utf-8")
                    await _edit(edit)
                    decision = PlanDecision(
                        action="replace", plan=read_plan(edit), guidance=guidance
                    )
                elif choice == "g":
                    guidance = (await asyncio.to_thread(ask, "guidance: ")).strip()
                    if guidance:
                        print("guidance noted: it is sent with [a]pprove or [e]dit", flush=True)
                    continue
                elif choice == "l":
                    kept = bool(error)
                    _later(handle.id, guidance, edit if kept else None)
                    return
                else:
                    continue
                print((await send(handle, decision)).message, flush=True)
                return
            except ReviewError as err:
                error = str(err) if choice == "e" else error
                print(f"error: {err}", file=sys.stderr, flush=True)
                if choice == "e":
                    print("your edit is kept: [e] reopens it", file=sys.stderr, flush=True)
    finally:
        if not kept:
            shutil.rmtree(folder, ignore_errors=True)


def _later(workflow_id: str, guidance: str, kept_edit: Path | None) -> None:
    command = f"client.py review {workflow_id} [--plan FILE] [--guidance TEXT]"
    print(as_typed(f"later: {command}"), flush=True)
    if guidance:
        print("your guidance was not sent: pass it with --guidance", flush=True)
    if kept_edit is not None:
        print(f"your unsent edit is kept in {kept_edit}: fix it, then --plan {kept_edit}")


def _ask(prompt: str) -> str:
    try:
        return input(prompt)
    except EOFError:
        return "l"


def _plan_json(plan: ResearchPlan) -> str:
    return json.dumps(plan.model_dump(), indent=2, ensure_ascii=False) + "\n"


async def _edit(path: Path) -> None:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    done = await asyncio.to_thread(subprocess.run, [*shlex.split(editor), str(path)])
    if done.returncode != 0:
        raise ReviewError(f"the editor {editor!r} exited with {done.returncode}")


def register(commands: argparse._SubParsersAction) -> None:
    review = commands.add_parser(
        "review", help="approve, replace (--plan) or steer (--guidance) a run's proposed plan"
    )
    review.add_argument("id", help="workflow id")
    review.add_argument("--plan", type=Path, help="replace the plan: a JSON file {sections: ...}")
    review.add_argument("--guidance", help="a note for the research (used like feedback)")
    review.add_argument("--show", action="store_true", help="print the plan and review status")
    review.set_defaults(handler=cmd_review)
