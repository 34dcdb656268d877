"""What pages may start: a rate limit over the whole desk and caps on a run's budgets."""

from __future__ import annotations

import time
from collections import deque

from common.errors import UsageError
from desk.settings import Caps
from workflows.config import ResearchConfig

WINDOW_SECONDS = 60.0


class LimitReached(UsageError):
    """Starting this run would pass one of the desk's limits: nothing was started."""


class StartLimiter:
    """At most `caps.runs_per_minute` runs started from pages in any 60 s."""

    def __init__(self, caps: Caps) -> None:
        self.caps = caps
        self._starts: deque[float] = deque()

    def check_budgets(self, config: ResearchConfig) -> None:
        caps = self.caps
        if config.max_llm_calls > caps.max_llm_calls:
            raise LimitReached(
                f"max_llm_calls {config.max_llm_calls} is over this desk's cap of "
                f"{caps.max_llm_calls} (TTDR_SERVE_MAX_LLM_CALLS)"
            )
        if config.max_total_tokens > caps.max_total_tokens:
            raise LimitReached(
                f"max_total_tokens {config.max_total_tokens} is over this desk's cap of "
                f"{caps.max_total_tokens} (TTDR_SERVE_MAX_TOKENS)"
            )
        if caps.max_cost_usd is not None and (
            config.max_cost_usd is None or config.max_cost_usd > caps.max_cost_usd
        ):
            raise LimitReached(
                f"this desk starts runs with a money budget of at most ${caps.max_cost_usd:g} "
                "(TTDR_SERVE_MAX_COST_USD): set max cost"
            )

    def take(self, now: float | None = None) -> None:
        """Count one start, or raise LimitReached when the minute's starts are used up."""
        now = time.monotonic() if now is None else now
        while self._starts and now - self._starts[0] >= WINDOW_SECONDS:
            self._starts.popleft()
        if len(self._starts) >= self.caps.runs_per_minute:
            wait = WINDOW_SECONDS - (now - self._starts[0])
            raise LimitReached(
                f"this desk starts at most {self.caps.runs_per_minute} runs a minute "
                f"(TTDR_SERVE_RUNS_PER_MINUTE): try again in {wait:.0f} s"
            )
        self._starts.append(now)
