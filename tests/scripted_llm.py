"""Deterministic, schema-valid answers for each TTD-DR node, served by the fake LLM server.

The answers are shaped like a real model's: the judge's scores follow a script, each gap
analysis asks new questions (built from the iteration counter), retrieval answers cite the
documents they were given, and the report cites real and one made-up source number.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field

from tests.fake_llm import FakeLLMServer, RecordedRequest

BOGUS_CITATION = 99
TOPICS = [
    "with statement context manager __enter__ __exit__",
    "generator yield iterator protocol",
    "exception handling try except finally",
    "decorators functions wrapper",
    "list comprehension expressions",
    "asyncio coroutine await event loop",
    "dataclasses fields default factory",
    "json dumps serialize object",
]


@dataclass
class Script:
    """What the fake model says; tests change the fields before starting a run."""

    judge_scores: list[int] = field(default_factory=lambda: [3])  # last one repeats
    judge_done_at: int | None = None  # 1-based judge call that says done
    report_markdown: str | None = None
    _judge_calls: itertools.count = field(default_factory=itertools.count)
    _gap_calls: itertools.count = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, server: FakeLLMServer) -> None:
        server.respond("PlanAnswer", self.plan)
        server.respond("DraftAnswer", self.draft)
        server.respond("GapAnswer", self.gaps)
        server.respond("RetrievalAnswer", self.retrieval)
        server.respond("IntegratorAnswer", self.integrate)
        server.respond("JudgeAnswer", self.judge)
        server.respond("ReportAnswer", self.report)

    def plan(self, _: RecordedRequest) -> dict:
        return {
            "sections": [
                {"title": "Mechanism", "focus": "how the feature works"},
                {"title": "Protocol", "focus": "which methods an object must implement"},
                {"title": "Pitfalls", "focus": "common mistakes"},
            ]
        }

    def draft(self, _: RecordedRequest) -> dict:
        return {"draft": "# Draft\n\nThe with statement manages resources (uncertain)."}

    def gaps(self, request: RecordedRequest) -> dict:
        wanted = int(re.search(r"exactly (\d+) new search", request.prompt).group(1))
        with self._lock:
            call = next(self._gap_calls)
        questions = [
            f"{TOPICS[(call * wanted + i) % len(TOPICS)]} (round {call + 1}, part {i + 1})"
            for i in range(wanted)
        ]
        return {"questions": questions}

    def retrieval(self, request: RecordedRequest) -> dict:
        numbers = re.findall(r'<document number="(\d+)"', request.prompt)
        cited = "".join(f"[{n}]" for n in numbers[:2])
        return {"answer": f"According to the documents, this is how it works {cited}."}

    def integrate(self, request: RecordedRequest) -> dict:
        cited = sorted(set(re.findall(r"^\[(\d+)\] ", request.prompt, re.MULTILINE)), key=int)
        return {"draft": "# Draft\n\nRevised with findings " + "".join(f"[{n}]" for n in cited)}

    def judge(self, _: RecordedRequest) -> dict:
        with self._lock:
            call = next(self._judge_calls) + 1
        score = self.judge_scores[min(call, len(self.judge_scores)) - 1]
        done = self.judge_done_at is not None and call >= self.judge_done_at
        return {"critique": f"judge call {call}", "score": score, "done": done}

    def report(self, request: RecordedRequest) -> dict:
        if self.report_markdown is not None:
            return {"markdown": self.report_markdown}
        listed = re.findall(r"^\[(\d+)\] ", request.prompt, re.MULTILINE)
        claims = " ".join(f"Claim {i} [{n}]." for i, n in enumerate(listed[:3], 1))
        return {
            "markdown": (
                "# Report\n\nSummary.\n\n## Findings\n\n"
                f"{claims} An invented claim [{BOGUS_CITATION}].\n\n"
                "## References\n\n1. A source the model made up"
            )
        }
