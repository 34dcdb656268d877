"""GET pages: the desk (ask + runs + batches), one run, its live progress, exports, documents,
and a schedule started from a report."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

import export
from cli.export import file_stem
from desk.ask import PROFILES, max_cost
from desk.documents import MAX_DOCUMENT_BYTES, document_of, local_numbers, media_type
from desk.paths import run_path
from desk.report_view import render_report
from desk.runs import DeskError
from desk.schedules import describe_schedule
from workflows.config import ResearchConfig
from workflows.results import ResearchReport

if TYPE_CHECKING:
    from desk.context import Desk

DEFAULTS = ResearchConfig()
EXPORTS = ("html", "pdf", "docx", "md")


def _desk(request: Request) -> Desk:
    return request.app.state.desk


def form_defaults() -> dict[str, str]:
    return {
        "question": "",
        "profile": "paper",
        "max_iterations": str(DEFAULTS.max_iterations),
        "max_llm_calls": str(DEFAULTS.max_llm_calls),
        "max_total_tokens": str(DEFAULTS.max_total_tokens),
        "max_cost_usd": "",
        "review_plan": "on",
        "search": "corpus",
    }


async def index_page(
    request: Request, form: dict[str, str] | None = None, error: str = "", status: int = 200
) -> Response:
    desk = _desk(request)
    search = request.query_params.get("q", "")[:500]
    runs, batches, list_error = [], [], ""
    try:
        runs, batches = await asyncio.gather(desk.runs.recent(search), desk.runs.batches())
    except DeskError as err:
        list_error = str(err)
    values = form or form_defaults()
    try:
        config = ResearchConfig.model_validate(
            {k: int(values[k]) for k in ("max_llm_calls", "max_total_tokens") if values[k]}
            | ({"max_cost_usd": float(values["max_cost_usd"])} if values["max_cost_usd"] else {})
        )
        cost = max_cost(config, desk.prices)
    except ValueError:
        cost = "(fix the budgets to see the most this run can cost)"
    return desk.page(
        request,
        "index.html",
        status,
        form=values,
        error=error,
        cost=cost,
        per_token=desk.prices.per_token,
        price_note=desk.prices.note,
        profiles=PROFILES,
        runs=runs,
        batches=batches,
        search=search,
        list_error=list_error,
    )


async def index(request: Request) -> Response:
    return await index_page(request)


async def run(request: Request) -> Response:
    desk = _desk(request)
    workflow_id = request.path_params["workflow_id"]
    # The status and the state at once: one round trip to Temporal less per page.
    status, state = await asyncio.gather(
        desk.runs.status(workflow_id), desk.runs.state(workflow_id), return_exceptions=True
    )
    if isinstance(status, BaseException):
        if isinstance(status, DeskError):
            raise HTTPException(status.status_code, str(status)) from None
        raise status
    if isinstance(state, BaseException):
        raise state
    report = await desk.runs.report(workflow_id) if status == "completed" else None
    body = None
    if report is not None:
        numbers = local_numbers(report.sources, desk.settings.corpus_roots)
        _, body = render_report(report, run_path(workflow_id), numbers)
    return desk.page(
        request,
        "run.html",
        workflow_id=workflow_id,
        status=status,
        state=state,
        report=report,
        report_html=body,
        web_ui=desk.runs.web_ui_link(workflow_id),
        exports=EXPORTS,
        poll_ms=int(desk.settings.poll_seconds * 1000),
    )


async def progress(request: Request) -> Response:
    desk = _desk(request)
    try:
        data = await desk.runs.progress(request.path_params["workflow_id"])
    except DeskError as err:
        return JSONResponse({"error": str(err)}, status_code=err.status_code)
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


async def _report_or_404(request: Request) -> ResearchReport:
    desk = _desk(request)
    workflow_id = request.path_params["workflow_id"]
    try:
        report = await desk.runs.report(workflow_id)
    except DeskError as err:
        raise HTTPException(err.status_code, str(err)) from None
    if report is None:
        raise HTTPException(404, f"{workflow_id} has no report (yet)")
    return report


async def export_file(request: Request) -> Response:
    fmt = request.path_params["fmt"]
    if fmt not in EXPORTS:
        raise HTTPException(404, f"unknown format {fmt!r}: choose from {', '.join(EXPORTS)}")
    report = await _report_or_404(request)
    # ReportLab and python-docx are CPU work: off the event loop.
    data = await asyncio.to_thread(export.render, report, fmt)
    name = f"{file_stem(request.path_params['workflow_id'])}{export.FORMATS[fmt]}"
    types = {
        "html": "text/html; charset=utf-8",
        "pdf": "application/pdf",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "md": "text/markdown; charset=utf-8",
    }
    return Response(
        data,
        media_type=types[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def document(request: Request) -> Response:
    desk = _desk(request)
    report = await _report_or_404(request)
    found = document_of(report.sources, request.path_params["number"], desk.settings.corpus_roots)
    if found is None or found.stat().st_size > MAX_DOCUMENT_BYTES:
        raise HTTPException(404, "no local document for this source inside the corpus")
    return FileResponse(
        found,
        media_type=media_type(found),
        content_disposition_type="inline",
        filename=found.name,
    )


async def schedule(request: Request) -> Response:
    """A watched topic: its question, spec, note, recent runs, and its Web UI page."""
    desk = _desk(request)
    schedule_id = request.path_params["schedule_id"]
    try:
        view = await describe_schedule(desk.runs.client, schedule_id, desk.settings.web_ui_url)
    except DeskError as err:
        raise HTTPException(err.status_code, str(err)) from None
    return desk.page(request, "schedule.html", schedule=view)
