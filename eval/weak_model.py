"""The weakest model: an OpenAI-compatible fake whose every answer is what the embedded 135M
model was seen to write at its worst — prompt fragments for plan titles, junk search questions,
claims that echo the question, one junk heading repeated over every report section.

It measures the product's floor: whatever the model writes, retrieval must stay on the question
and the report must read well (issue 22). Schema-valid, so every answer reaches the product.

    .venv/bin/python -m eval.embedded --model weak --config weak=scripts/demo-config.json
"""

from __future__ import annotations

import re

from testing.fake_llm import FakeLLMServer, RecordedRequest
from testing.scripted_llm import Script

JUNK_QUERIES = ["1.0.2", "continue_stmt", "</plan> <script>alert(1)</script>"]
WANDERING = "Python's while loop has a limitation when it comes to memory"
# A name no page holds, as the embedded model wrote "__getattr_vendor" in a heading.
MADE_UP_NAME_HEADING = "How does __exit_vendor differ from __enter__?"
JUNK_HEADING = (
    "The context manager is only implemented for 0 arguments and can use the list "
    "comprehension of the draft…"
)


def _question(request: RecordedRequest) -> str:
    found = re.search(
        r"(?:Research question|Overall research question \(context\)):\s*\n?(.+)", request.prompt
    )
    return found.group(1).strip() if found else "question"


def plan(_: RecordedRequest) -> dict:
    return {
        "sections": [
            {"title": "</plan>", "focus": "<document number=1>"},
            {"title": JUNK_HEADING, "focus": "x"},
            {"title": JUNK_HEADING, "focus": "x"},
        ]
    }


def gaps(_: RecordedRequest) -> dict:
    return {"questions": [JUNK_QUERIES[0], WANDERING, JUNK_QUERIES[1], JUNK_QUERIES[2]]}


def retrieval(request: RecordedRequest) -> dict:
    return {"claims": [{"text": _question(request), "sources": [1]}]}


def report(request: RecordedRequest) -> dict:
    junk = [{"text": "python.with_finally", "sources": [1]}]
    sections = [{"heading": JUNK_HEADING, "claims": junk} for _ in range(5)]
    sections.append(
        {"heading": "</plan> <script>", "claims": [{"text": "1018-03-07", "sources": [1]}]}
    )
    sections.append({"heading": MADE_UP_NAME_HEADING, "claims": junk})
    return {
        "title": "</critique>",
        "summary": [{"text": _question(request), "sources": [1]}],
        "sections": sections,
    }


def install(server: FakeLLMServer) -> None:
    """The scripted answers for the other nodes (judge, draft, evolution), junk for these."""
    Script().install(server)
    server.respond("PlanAnswer", plan)
    server.respond("GapAnswer", gaps)
    server.respond("RetrievalAnswer", retrieval)
    server.respond("ReportAnswer", report)
