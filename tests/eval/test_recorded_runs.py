"""The embedded model's real runs (eval/recorded/), replayed with today's code: what the product
writes from whatever that model wrote still reads well. Each report shows no repeated heading,
no junk heading or notes question, no quote cut mid-sentence; every citation names a source it
lists, and the kept citations are backed. A change to the loop that these runs would not replay
fails here too, as the committed histories' replay test does."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.replayed import rescored

RECORDED = Path(__file__).resolve().parents[2] / "eval" / "recorded"


@pytest.mark.parametrize("runs", sorted(RECORDED.glob("embedded-*")), ids=lambda p: p.name)
async def test_the_embedded_models_recorded_reports_read_well_today(runs: Path) -> None:
    scores, articles = await rescored(runs)
    assert scores and len(scores) == len(list(runs.glob("*.json.gz")))
    for found, article in zip(scores, articles, strict=True):
        shown = (found.duplicate_headings, found.junk_shown, found.cut_quotes)
        assert shown == (0, 0, 0), (found.id, shown, article["article"])
        assert found.citation_validity == 1.0, found.id
    cited = [s for s in scores if s.citation_support is not None]
    support = sum(s.citation_support or 0.0 for s in cited) / len(cited)
    assert support >= 0.95  # the bound for kept citations, by the product's scorer
