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

from tests.support.fake_llm import FakeLLMServer, RecordedRequest

BOGUS_CITATION = 99
_VERSION = r'<version number="(\d+)"(?: score="([\d.]+)")?>\n(.*?)(?:\nCritique: .*?)?\n</version>'
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
        server.respond("VariantCritique", self.critique)
        for unit in ("Plan", "Questions", "Answer", "Report"):
            server.respond(f"Revised{unit}", self.revise)
            server.respond(f"Merged{unit}", self.merge)
        server.respond("PlanAnswer", self.plan)
        server.respond("DraftAnswer", self.draft)
        server.respond("GapAnswer", self.gaps)
        server.respond("RetrievalAnswer", self.retrieval)
        server.respond("IntegratorAnswer", self.integrate)
        server.respond("JudgeAnswer", self.judge)
        server.respond("ReportAnswer", self.report)

    # ---------------------------------------------------------------- self-evolution steps

    def critique(self, request: RecordedRequest) -> dict:
        """Fitness from the candidate's sampling temperature: hotter variants score higher, so
        tests know which variant should win."""
        candidate = _between(request.prompt, "<candidate>", "</candidate>")
        found = re.findall(r"t=(\d\.\d\d)", candidate)
        score = max(0, min(10, round(float(found[0]) * 10) - 2)) if found else 5
        return {"critique": f"needs more depth (t={found[0] if found else '?'})", "score": score}

    def revise(self, request: RecordedRequest) -> dict:
        candidate = _between(request.prompt, "<candidate>", "</candidate>")
        return _as_answer(request.name or "", candidate, "revised")

    def merge(self, request: RecordedRequest) -> dict:
        versions = re.findall(_VERSION, request.prompt, re.DOTALL)
        best = max(versions, key=lambda v: float(v[1] or 0))
        return _as_answer(request.name or "", best[2], f"merged from {len(versions)}")

    # ---------------------------------------------------------------- the nodes

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
        # The sampling temperature shows in the text, so variants differ and a judge can tell.
        temperature = request.body["temperature"]
        questions = [
            f"{TOPICS[(call * wanted + i) % len(TOPICS)]} (round {call + 1}, part {i + 1}, "
            f"t={temperature:.2f})"
            for i in range(wanted)
        ]
        return {"questions": questions}

    def retrieval(self, request: RecordedRequest) -> dict:
        numbers = re.findall(r'<document number="(\d+)"', request.prompt)
        cited = "".join(f"[{n}]" for n in numbers[:2])
        temperature = request.body["temperature"]
        return {"answer": f"According to the documents, it works so {cited} (t={temperature:.2f})."}

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


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def _as_answer(schema: str, rendered: str, mark: str) -> dict:
    """A revised or merged candidate in the unit's answer shape, marked so tests can see it."""
    if schema.endswith("Plan"):
        sections = [
            {"title": line.split(". ", 1)[1].split(": ", 1)[0], "focus": f"{mark}"}
            for line in rendered.splitlines()
            if ". " in line
        ]
        return {"sections": sections}
    if schema.endswith("Questions"):
        return {"questions": [f"{line[2:]} [{mark}]" for line in rendered.splitlines()]}
    if schema.endswith("Answer"):
        return {"answer": f"{rendered} ({mark})"}
    return {"markdown": f"{rendered}\n\n({mark})"}
