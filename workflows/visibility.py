"""Custom search attributes: what a user filters runs by in the Web UI or `temporal workflow list`
(e.g. `TtdrPhase = "denoising" AND TtdrQuality < 0.5`). The worker registers them at start-up
when the server lacks them; docker-compose registers the same names."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

PHASE = SearchAttributeKey.for_keyword("TtdrPhase")
ITERATION = SearchAttributeKey.for_int("TtdrIteration")
QUALITY = SearchAttributeKey.for_float("TtdrQuality")
ALL_KEYS = (PHASE, ITERATION, QUALITY)
