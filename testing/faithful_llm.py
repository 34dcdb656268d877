"""The scripted fake LLM answering like a faithful model, for follow-up runs: search questions
on the question asked, and revisions and reports that keep the draft's and the findings' cited
claims (a faithful model does not drop what it cited). Used by the follow-up and schedule tests
and by bench/follow_up_bench.py, on top of a `Script` installed on the same server."""

from __future__ import annotations

import re

from testing.fake_llm import FakeLLMServer, RecordedRequest
from workflows.citing.claim_text import claims_of


def topic_questions(request: RecordedRequest) -> dict:
    """Search questions on the question asked (a real model aims them at the draft's gaps: a
    draft that already answers the parent's question leaves the new aspect)."""
    question = request.prompt.split("Research question:\n", 1)[1].split("\n", 1)[0]
    words = re.findall(r"[a-z]+", question.lower())
    topic = " ".join(w for w in words if len(w) > 4)
    wanted = int(re.search(r"exactly (\d+) new search", request.prompt).group(1))
    return {"questions": [f"{topic} part {i}" for i in range(1, wanted + 1)]}


def _cited(text: str) -> list[dict]:
    found = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*+]|\d+[.)]|>|#+)\s*", "", line)
        found += [{"text": c.text, "sources": c.sources} for c in claims_of(line) if c.sources]
    return found


def _draft_and_findings(request: RecordedRequest) -> list[dict]:
    draft = request.prompt.split("<draft>", 1)[1].split("</draft>", 1)[0]
    findings = re.findall(r"^A\d+: (.*)$", request.prompt, re.MULTILINE)
    return _cited(draft) + [c for answer in findings for c in _cited(answer)]


def faithful(fake_server: FakeLLMServer) -> None:
    fake_server.respond("GapAnswer", topic_questions)
    fake_server.respond("IntegratorAnswer", lambda r: {"claims": _draft_and_findings(r)[:30]})
    fake_server.respond(
        "ReportAnswer",
        lambda r: {
            "title": "Report",
            "summary": [],
            "sections": [{"heading": "Findings", "claims": _draft_and_findings(r)[:30]}],
        },
    )
