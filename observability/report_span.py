"""The report node's citation figures as attributes of its span (`ttdr.grounding.*`).

The workflow makes the binding decision over the final (possibly evolved) report; this is the
same check over the text this activity wrote, so a trace shows how well a draft of the report
was backed without opening its history. Counts only: no claim text goes on a span.
"""

from __future__ import annotations

from opentelemetry import trace

from workflows.citing.claim_text import ground_markdown
from workflows.citing.grounding import Evidence
from workflows.models import NumberedSource


def record_grounding(body: str, sources: list[NumberedSource], threshold: float) -> None:
    span = trace.get_current_span()
    if not span.is_recording():
        return
    evidence = Evidence({s.number: s.source.evidence or s.source.quote for s in sources})
    _, figures = ground_markdown(
        body, evidence, pool=[s.number for s in sources], threshold=threshold
    )
    span.set_attributes(
        {
            "ttdr.grounding.claims": figures.claims,
            "ttdr.grounding.claims_supported": figures.claims_supported,
            "ttdr.grounding.citations_kept": figures.citations_kept,
            "ttdr.grounding.citations_reattributed": figures.citations_reattributed,
            "ttdr.grounding.citations_removed": figures.citations_removed,
            "ttdr.grounding.unsupported_claims": figures.unsupported_claims,
            "ttdr.grounding.mean_support": figures.mean_support,
        }
    )
