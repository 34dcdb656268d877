"""Deterministic, schema-valid answers for each TTD-DR node, served by the fake LLM server.

The answers are shaped like a real model's: the judge's scores follow a script, each gap
analysis asks new questions (built from the iteration counter), retrieval answers are claims
taken from the documents they were given (so the citation checker finds them supported) plus one
claim no document supports, revisions keep the findings' claims, and the report's claims come
from the findings, with one made-up source number written into a claim's text.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field

from testing.fake_llm import FakeLLMServer, RecordedRequest
from workflows.citing.claim_text import claims_of

BOGUS_CITATION = 99
UNSUPPORTED_CLAIM = "Bananas are the most popular fruit among astronauts"
_DOCUMENT = re.compile(r'<document number="(\d+)"[^>]*>\n(.*?)\n</document>', re.DOTALL)
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
    report_answer: dict | None = None  # a ReportAnswer JSON object to send instead
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
        return _as_answer(request.name or "", _allowed_only(candidate, request), "revised")

    def merge(self, request: RecordedRequest) -> dict:
        versions = re.findall(_VERSION, request.prompt, re.DOTALL)
        best = max(versions, key=lambda v: float(v[1] or 0))
        merged = _allowed_only(best[2], request)
        return _as_answer(request.name or "", merged, f"merged from {len(versions)}")

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
        documents = _DOCUMENT.findall(request.prompt)
        claims = [
            {"text": _first_words(text), "sources": [int(number)]} for number, text in documents[:2]
        ]
        temperature = request.body["temperature"]
        first = [int(documents[0][0])] if documents else []
        # Sampling temperature in the text, so variants differ and a judge can tell; no
        # document says it, so the checker marks this claim unsupported.
        claims.append({"text": f"{UNSUPPORTED_CLAIM} (t={temperature:.2f}).", "sources": first})
        return {"claims": claims}

    def integrate(self, request: RecordedRequest) -> dict:
        claims = _cited_finding_claims(request.prompt)
        listed = _listed_sources(request.prompt)
        if not claims:
            claims = [{"text": "Revised with findings.", "sources": listed[:1]}]
        return {"claims": claims[:12]}

    def judge(self, _: RecordedRequest) -> dict:
        with self._lock:
            call = next(self._judge_calls) + 1
        score = self.judge_scores[min(call, len(self.judge_scores)) - 1]
        done = self.judge_done_at is not None and call >= self.judge_done_at
        return {"critique": f"judge call {call}", "score": score, "done": done}

    def report(self, request: RecordedRequest) -> dict:
        if self.report_answer is not None:
            return self.report_answer
        claims = _cited_finding_claims(request.prompt)[:6]
        first = _listed_sources(request.prompt)[:1]
        invented = {"text": f"An invented claim [{BOGUS_CITATION}].", "sources": first}
        return {
            "title": "Report",
            "summary": [{"text": "Summary.", "sources": first}],
            "sections": [
                {"heading": "Findings", "claims": [*claims, invented]},
                {
                    "heading": "References",
                    "claims": [{"text": "1. A source the model made up", "sources": first}],
                },
            ],
        }


def _cited_finding_claims(prompt: str) -> list[dict]:
    """The cited claims of the findings shown in a prompt, as a faithful model keeps them."""
    findings = re.findall(r"^A\d+: (.*)$", prompt, re.MULTILINE)
    return [
        {"text": claim.text, "sources": claim.sources}
        for answer in findings
        for claim in claims_of(answer)
        if claim.sources
    ]


def _listed_sources(prompt: str) -> list[int]:
    return [int(n) for n in re.findall(r"^\[(\d+)\] ", prompt, re.MULTILINE)]


def _allowed_only(rendered: str, request: RecordedRequest) -> str:
    """What a schema-enforcing provider does: only the sources listed in the prompt can be
    cited, so a marker of another number in the candidate is not repeated."""
    listed = set(re.findall(r"^\[(\d+)\] ", request.prompt, re.MULTILINE))
    listed |= set(re.findall(r'<document number="(\d+)"', request.prompt))
    return re.sub(r"\[(\d+)\]", lambda m: m.group(0) if m.group(1) in listed else "", rendered)


def _first_words(text: str, count: int = 24) -> str:
    """A document's opening words, as a faithful model would restate them."""
    words = re.sub(r"[#*`\[\]<>]", " ", text).split()
    return " ".join(words[:count]).rstrip(".,;:") + "."


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
        found = claims_of(rendered)
        first = next((c.sources[:1] for c in found if c.sources), [])
        claims = [{"text": c.text, "sources": c.sources or first} for c in found]
        return {"claims": [*claims, {"text": f"({mark})", "sources": first}]}
    return _report_of(rendered, mark)


def _report_of(rendered: str, mark: str) -> dict:
    """A rendered report read back into the ReportAnswer shape."""
    title, sections, current = "Report", [], None
    for block in rendered.split("\n\n"):
        if block.startswith("# "):
            title = block[2:]
        elif block.startswith("## "):
            current = {"heading": block[3:], "claims": []}
            sections.append(current)
        elif current is not None:
            current["claims"] += [{"text": c.text, "sources": c.sources} for c in claims_of(block)]
    first = next((c["sources"][:1] for s in sections for c in s["claims"] if c["sources"]), [])
    for section in sections:
        for claim in section["claims"]:
            claim["sources"] = claim["sources"] or first
    summary = [{"text": f"Summary ({mark}).", "sources": first}]
    sections = [s for s in sections if s["claims"]] or [{"heading": "Findings", "claims": summary}]
    return {"title": title, "summary": summary, "sections": sections}
