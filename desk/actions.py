"""POSTs: start a run, review its plan, pause / resume / feedback / cancel, and from a report a
follow-up or a schedule. Each checks the CSRF token first; bad input is refused with one line
and changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from common.errors import UsageError
from desk.ask import read_form
from desk.pages import form_defaults, index_page
from desk.paths import run_path, schedule_path
from desk.schedules import read_watch_form, start_watch, watch_config
from desk.security import check_csrf
from workflows.models import PlanSection, ResearchPlan
from workflows.plan_review import MAX_PLAN_SECTIONS, PlanDecision

if TYPE_CHECKING:
    from desk.context import Desk

MAX_FIELD_BYTES = 64_000
FEEDBACK_MAX_CHARS = 2000


async def _form(request: Request) -> FormData:
    desk: Desk = request.app.state.desk
    form = await request.form(max_files=0, max_fields=200, max_part_size=MAX_FIELD_BYTES)
    assert desk.guard is not None
    check_csrf(request, form.get("csrf"), desk.guard)
    return form


def _text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


async def start(request: Request) -> Response:
    desk: Desk = request.app.state.desk
    form = await _form(request)
    fields = {name: _text(form, name) for name in form_defaults()}
    fields["review_plan"] = "on" if _text(form, "review_plan") == "on" else ""
    try:
        ask = read_form(fields)
        desk.limiter.check_budgets(ask.request.config)
        desk.limiter.take()
        workflow_id = await desk.runs.start(ask)
    except UsageError as err:
        return await index_page(request, fields, str(err), status=400)
    key = desk.flash(f"started {workflow_id}")
    return RedirectResponse(f"{run_path(workflow_id)}?flash={key}", status_code=303)


def edited_plan(form: FormData) -> ResearchPlan:
    """The sections as edited in the page: a section left with an empty title and focus is
    dropped; anything else the plan's own rules check."""
    sections = []
    for index in range(1, MAX_PLAN_SECTIONS + 2):
        title = _text(form, f"title-{index}").strip()
        focus = _text(form, f"focus-{index}").strip()
        if title or focus:
            sections.append({"title": title, "focus": focus})
    try:
        return ResearchPlan(sections=[PlanSection.model_validate(s) for s in sections])
    except ValidationError as err:
        problem = err.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "plan"
        raise UsageError(f"invalid plan: {where}: {problem['msg']}") from None


async def _back(request: Request, message: str) -> Response:
    desk: Desk = request.app.state.desk
    key = desk.flash(message)
    path = run_path(request.path_params["workflow_id"])
    return RedirectResponse(f"{path}?flash={key}", status_code=303)


async def review(request: Request) -> Response:
    desk: Desk = request.app.state.desk
    form = await _form(request)
    guidance = _text(form, "guidance").strip()
    try:
        if _text(form, "action") == "replace":
            decision = PlanDecision(action="replace", plan=edited_plan(form), guidance=guidance)
        else:
            decision = PlanDecision(guidance=guidance)
        message = await desk.runs.review(request.path_params["workflow_id"], decision)
    except UsageError as err:
        message = f"error: {err}"
    return await _back(request, message)


async def control(request: Request) -> Response:
    desk: Desk = request.app.state.desk
    form = await _form(request)
    workflow_id = request.path_params["workflow_id"]
    action = _text(form, "action")
    try:
        if action in ("pause", "resume"):
            message = await desk.runs.update(workflow_id, action)
        elif action == "feedback":
            text = _text(form, "feedback").strip()
            if not text:
                raise UsageError("feedback is empty")
            if len(text) > FEEDBACK_MAX_CHARS:
                raise UsageError(f"feedback is over {FEEDBACK_MAX_CHARS} characters")
            message = await desk.runs.update(workflow_id, "feedback", text)
        elif action == "cancel":
            message = await desk.runs.cancel(workflow_id)
        else:
            raise HTTPException(400, f"unknown action {action!r}")
    except UsageError as err:
        message = f"error: {err}"
    return await _back(request, message)


async def follow_up(request: Request) -> Response:
    """A follow-up question on a finished run: a new run with this report as its draft."""
    desk: Desk = request.app.state.desk
    form = await _form(request)
    parent = request.path_params["workflow_id"]
    try:
        run_input = await desk.runs.follow_up_input(parent, _text(form, "question"))
        desk.limiter.check_budgets(run_input.config)
        desk.limiter.take()
        workflow_id = await desk.runs.start_follow_up(parent, run_input)
    except UsageError as err:
        return await _back(request, f"error: {err}")
    key = desk.flash(f"started {workflow_id}, a follow-up of {parent}")
    return RedirectResponse(f"{run_path(workflow_id)}?flash={key}", status_code=303)


async def watch(request: Request) -> Response:
    """A watched topic from a finished run's report: a Temporal Schedule of research runs on
    its question, each reporting what changed since the last (`client.py schedule`'s checks)."""
    desk: Desk = request.app.state.desk
    form = await _form(request)
    workflow_id = request.path_params["workflow_id"]
    try:
        # The form first, as the CLI checks its input before contacting the server.
        watch_form = read_watch_form(
            _text(form, "every"),
            _text(form, "cron"),
            _text(form, "note"),
            desk.settings.schedule_allow_seconds,
        )
        report = await desk.runs.report(workflow_id)
        if report is None:
            raise UsageError(f"cannot watch: run {workflow_id} has no report")
        config = await watch_config(desk.runs.client, workflow_id)
        desk.limiter.check_budgets(config)
        desk.limiter.take()
        schedule_id = await start_watch(
            desk.runs.client, desk.settings.task_queue, report.question, config, watch_form
        )
    except UsageError as err:
        return await _back(request, f"error: {err}")
    key = desk.flash(f"started schedule {schedule_id}, watching the question of {workflow_id}")
    return RedirectResponse(f"{schedule_path(schedule_id)}?flash={key}", status_code=303)
