"""The desk's shared context (kept on app.state.desk): what every handler needs.

Its own module so that the handlers (desk/actions.py, desk/pages.py) and the app that wires
them (desk/app.py) all import it without importing one another.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from desk.ask import PriceHint
from desk.limits import StartLimiter
from desk.runs import Runs
from desk.security import Guard
from desk.settings import DeskSettings

MAX_FLASHES = 200


@dataclass
class Desk:
    """What every handler needs, kept on app.state.desk."""

    runs: Runs
    settings: DeskSettings
    templates: Environment
    limiter: StartLimiter
    prices: PriceHint
    guard: Guard | None = None
    flashes: dict[str, str] = field(default_factory=dict)

    def flash(self, message: str) -> str:
        """Keep a message for the next page; its key goes in the redirect's address."""
        if len(self.flashes) >= MAX_FLASHES:
            self.flashes.pop(next(iter(self.flashes)))
        key = secrets.token_hex(8)
        self.flashes[key] = message
        return key

    def page(self, request: Request, name: str, code: int = 200, **context: object) -> Response:
        context.setdefault("flash", self.flashes.pop(request.query_params.get("flash", ""), ""))
        html = self.templates.get_template(name).render(
            csrf=request.scope.get("state", {}).get("csrf", ""),
            settings=self.settings,
            **context,
        )
        return HTMLResponse(html, status_code=code)
