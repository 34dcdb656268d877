"""The desk's Starlette app: routes, templates (autoescaped Jinja2), static files, the guard."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from temporalio.client import Client

from desk import actions, pages
from desk.ask import price_hint
from desk.context import Desk
from desk.limits import StartLimiter
from desk.paths import run_path, schedule_path
from desk.runs import Runs
from desk.security import Guard
from desk.settings import DeskSettings

HERE = Path(__file__).resolve().parent


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["run_path"] = run_path
    env.filters["schedule_path"] = schedule_path
    return env


async def _error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    desk: Desk = request.app.state.desk
    return desk.page(request, "error.html", exc.status_code, message=exc.detail)


def create_app(client: Client, settings: DeskSettings) -> Guard:
    """The ASGI app to serve: the routes behind the guard (token, CSRF key, headers)."""
    desk = Desk(
        runs=Runs(client, settings),
        settings=settings,
        templates=templates(),
        limiter=StartLimiter(settings.caps),
        prices=price_hint(),
    )
    routes = [
        Route("/", pages.index),
        Route("/runs", actions.start, methods=["POST"]),
        Route("/runs/{workflow_id}", pages.run),
        Route("/runs/{workflow_id}/progress", pages.progress),
        Route("/runs/{workflow_id}/export.{fmt}", pages.export_file),
        Route("/runs/{workflow_id}/sources/{number:int}/document", pages.document),
        Route("/runs/{workflow_id}/review", actions.review, methods=["POST"]),
        Route("/runs/{workflow_id}/control", actions.control, methods=["POST"]),
        Route("/runs/{workflow_id}/follow-up", actions.follow_up, methods=["POST"]),
        Route("/runs/{workflow_id}/schedule", actions.watch, methods=["POST"]),
        Route("/schedules/{schedule_id}", pages.schedule),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _error})
    app.state.desk = desk
    guard = Guard(app, settings)
    desk.guard = guard
    return guard
