"""Claims as data: the answer shapes of the nodes that write cited text, built per call.

A claim carries the numbers of the sources it rests on as a field. The allowed numbers are
exactly the sources shown in that prompt: each call gets a schema whose `sources` items are an
enum of those numbers, so a provider that enforces schemas (llama.cpp's grammar, OpenAI's
`json_schema`) cannot generate an unknown number, and a claim must cite at least one when there
is anything to cite. The product still checks every citation (workflows/grounding.py): the enum
only makes invention impossible where the provider enforces it.

Nodes render claims as Markdown, `text[1][2]`, which workflows/claim_text.py reads back.
Lengths and counts are not in the schema: llama.cpp turns `maxLength`/`maxItems` into nested
grammar rules (1,200 characters → a grammar that crashed its server), and an over-long answer
already paid for is no reason to reject it. Rendering cuts what is over the bounds below.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

CLAIM_MAX_CHARS = 1_200
MAX_CLAIMS = 40
MAX_SECTIONS = 10


class CitedClaim(BaseModel):
    text: str = Field(
        min_length=1,
        description="one sentence or a few, stating one point; no [n] markers in the text",
    )
    sources: list[int] = Field(description="numbers of the documents that support this claim")


class ClaimsAnswer(BaseModel):
    """An answer or a draft: a list of claims."""

    claims: list[CitedClaim] = Field(min_length=1)


class ReportSection(BaseModel):
    heading: str = Field(min_length=1)
    claims: list[CitedClaim] = Field(min_length=1)


class ReportClaims(BaseModel):
    """A report: title, a short summary, then one section per plan item."""

    title: str = Field(min_length=1)
    summary: list[CitedClaim] = Field(min_length=1)
    sections: list[ReportSection] = Field(min_length=1)


def claim_model(allowed: Sequence[int]) -> type[CitedClaim]:
    return _claim_model(tuple(sorted(set(allowed))))


@lru_cache(maxsize=256)
def _claim_model(allowed: tuple[int, ...]) -> type[CitedClaim]:
    if not allowed:
        # Nothing to cite: the field must stay empty.
        sources: Any = (list[int], Field(default=[], max_length=0))
    else:
        number = Literal[allowed]  # type: ignore[valid-type]
        sources = (
            list[number],  # type: ignore[valid-type]
            Field(
                min_length=1,
                description="numbers of the supporting documents",
            ),
        )
    return create_model("CitedClaim", __base__=CitedClaim, sources=sources)


def with_allowed_sources(schema: type[BaseModel], allowed: Sequence[int]) -> type[BaseModel]:
    """`schema` (a ClaimsAnswer or ReportClaims subclass) with its claims limited to
    `allowed`; same name, so logs and providers' dashboards still tell nodes apart."""
    return _with_allowed(schema, tuple(sorted(set(allowed))))


@lru_cache(maxsize=512)
def _with_allowed(schema: type[BaseModel], allowed: tuple[int, ...]) -> type[BaseModel]:
    claim = _claim_model(allowed)
    claims = (list[claim], Field(min_length=1))  # type: ignore[valid-type]
    if issubclass(schema, ReportClaims):
        section = create_model("ReportSection", __base__=ReportSection, claims=claims)
        sections = (list[section], Field(min_length=1))  # type: ignore[valid-type]
        summary = (list[claim], Field(min_length=1))  # type: ignore[valid-type]
        return create_model(schema.__name__, __base__=schema, summary=summary, sections=sections)
    return create_model(schema.__name__, __base__=schema, claims=claims)


def _cut(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def claims_markdown(claims: Sequence[CitedClaim]) -> str:
    """Claims as one Markdown paragraph, each followed by its markers: `text[1][2]`.
    At most MAX_CLAIMS claims of at most CLAIM_MAX_CHARS each."""
    parts: list[str] = []
    for claim in claims[:MAX_CLAIMS]:
        marks = "".join(f"[{n}]" for n in list(dict.fromkeys(claim.sources))[:6])
        text = _cut(claim.text, CLAIM_MAX_CHARS)
        parts.append(f"\n\n{text}\n\n{marks}\n\n" if "\n" in text else f"{text}{marks}")
    return " ".join(parts).strip()


def report_markdown(report: ReportClaims) -> str:
    lines = [f"# {_one_line(report.title)}", claims_markdown(report.summary[:8])]
    for section in report.sections[:MAX_SECTIONS]:
        lines += [f"## {_one_line(section.heading)}", claims_markdown(section.claims)]
    return "\n\n".join(line for line in lines if line.strip())


def _one_line(text: str) -> str:
    return _cut(" ".join(text.split()), 200)
