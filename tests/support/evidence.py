"""A numbered source holding one piece of evidence, for the report-text tests."""

from __future__ import annotations

from workflows.models import NumberedSource, Source


def source(number: int, evidence: str, anchor: str = "", document: str = "") -> NumberedSource:
    return NumberedSource(
        number=number,
        source=Source(
            id=f"s{number}",
            title=f"Doc {number}",
            location=document or f"doc{number}.md",
            provider="local",
            retrieved_at="2026-01-01T00:00:00Z",
            evidence=evidence,
            document=document or f"doc{number}.md",
            anchor=anchor,
        ),
    )
