"""Claims as data: the answer shapes of the nodes that write cited text, built per call.

A claim carries the numbers of the sources it rests on as a field. The allowed numbers are
exactly the sources shown in that prompt: each call gets a schema whose `sources` items are an
enum of those numbers, so a provider that enforces schemas (llama.cpp's grammar, OpenAI's
`json_schema`) cannot generate an unknown number, and a claim must cite at least one when there
is anything to cite. The product still checks every citation
(workflows/citing/grounding.py): the enum only makes invention impossible where the provider
enforces it.

Nodes render claims as Markdown, `text[1][2]`, which workflows/citing/claim_text.py reads back.
Lengths and counts are not in the schema: llama.cpp turns `maxLength`/`maxItems` into nested
grammar rules (1,200 characters → a grammar that crashed its server), and an over-long answer
already paid for is no reason to reject it. Rendering cuts what is over the bounds below.

An answer cut off at the token limit is closed and parsed (activities/llm_answers.py); its last
claim or section is then often incomplete. Inside the answer, the schema asks for every field
(`required`, `minLength`, `minItems`: the provider's grammar holds the model to them) but
validation takes what arrived — a claim without sources, a section without claims — and
rendering leaves out what is empty. Only an answer with no claim (or no section) at all is
malformed and asked again.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model, field_validator

CLAIM_MAX_CHARS = 1_200
MAX_CLAIMS = 40
MAX_SECTIONS = 10


def _asked(*required: str) -> ConfigDict:
    """Fields the schema requires of the provider while validation keeps their defaults."""
    return ConfigDict(json_schema_extra={"required": list(required)})


_NON_EMPTY = {"minLength": 1}
_AT_LEAST_ONE = {"minItems": 1}


class CitedClaim(BaseModel):
    model_config = _asked("text", "sources")

    text: str = Field(
        "",
        json_schema_extra=_NON_EMPTY,
        description="one sentence or a few, stating one point; no [n] markers in the text",
    )
    sources: list[int] = Field([], description="numbers of the documents that support this claim")


class ClaimsAnswer(BaseModel):
    """An answer or a draft: a list of claims."""

    claims: list[CitedClaim] = Field(min_length=1)


class ReportSection(BaseModel):
    model_config = _asked("heading", "claims")

    heading: str = Field("", json_schema_extra=_NON_EMPTY)
    claims: list[CitedClaim] = Field([], json_schema_extra=_AT_LEAST_ONE)


class ReportClaims(BaseModel):
    """A report: title, a short summary, then one section per plan item."""

    model_config = _asked("title", "summary", "sections")

    title: str = Field("", json_schema_extra=_NON_EMPTY)
    summary: list[CitedClaim] = Field([], json_schema_extra=_AT_LEAST_ONE)
    sections: list[ReportSection] = Field(min_length=1)


@lru_cache(maxsize=256)
def _claim_model(allowed: tuple[int, ...]) -> type[CitedClaim]:
    """The claim shape for one prompt. The schema the provider gets allows exactly `allowed`
    (an enum; none at all when the prompt shows no source); validation takes any number, and
    one not allowed becomes an unknown marker (`not_allowed`): a model whose provider does not
    enforce the schema (json_object, prompt mode) and cites [1] anyway has that citation
    dropped and counted downstream, like any unknown number, while its claim is kept — the
    answer is not rejected, re-asked and finally fatal to the run."""
    if not allowed:
        shown: dict[str, Any] = {"maxItems": 0}  # nothing to cite: the field must stay empty
    else:
        items = TypeAdapter(Literal[allowed]).json_schema()  # type: ignore[valid-type]
        shown = {"items": items, **_AT_LEAST_ONE}
    description = "numbers of the supporting documents" if allowed else None
    sources: Any = (
        list[int],
        Field([], json_schema_extra=shown, description=description),
    )
    permitted = frozenset(allowed)

    def keep_allowed(numbers: list[int]) -> list[int]:
        return not_allowed(numbers, permitted)

    validators = {"_allowed": field_validator("sources")(keep_allowed)}
    return create_model(
        "CitedClaim", __base__=CitedClaim, __validators__=validators, sources=sources
    )


def not_allowed(numbers: list[int], permitted: frozenset[int]) -> list[int]:
    """The allowed numbers as they are; each other one as a distinct negative number, a
    marker the workflow's citation check removes and counts as it does any unknown one
    (workflows/citing/citations.py). Never the number itself: it may be a real source of the run
    that this prompt did not show, and must not become a citation of it."""
    out: list[int] = []
    unknown = 0
    for number in numbers:
        if number in permitted:
            out.append(number)
        else:
            unknown -= 1
            out.append(unknown)
    return out


def with_allowed_sources(schema: type[BaseModel], allowed: Sequence[int]) -> type[BaseModel]:
    """`schema` (a ClaimsAnswer or ReportClaims subclass) with its claims limited to
    `allowed`; same name, so logs and providers' dashboards still tell nodes apart."""
    return _with_allowed(schema, tuple(sorted(set(allowed))))


@lru_cache(maxsize=512)
def _with_allowed(schema: type[BaseModel], allowed: tuple[int, ...]) -> type[BaseModel]:
    claim = _claim_model(allowed)
    claims = (list[claim], Field(min_length=1))  # type: ignore[valid-type]
    if issubclass(schema, ReportClaims):
        inner = (list[claim], Field([], json_schema_extra=_AT_LEAST_ONE))  # type: ignore[valid-type]
        section = create_model("ReportSection", __base__=ReportSection, claims=inner)
        sections = (list[section], Field(min_length=1))  # type: ignore[valid-type]
        summary = (list[claim], Field([], json_schema_extra=_AT_LEAST_ONE))  # type: ignore[valid-type]
        return create_model(schema.__name__, __base__=schema, summary=summary, sections=sections)
    return create_model(schema.__name__, __base__=schema, claims=claims)


def _cut(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def claims_markdown(claims: Sequence[CitedClaim]) -> str:
    """Claims as one Markdown paragraph, each followed by its markers: `text[1][2]`.
    At most MAX_CLAIMS claims of at most CLAIM_MAX_CHARS each."""
    parts: list[str] = []
    for claim in [c for c in claims if c.text.strip()][:MAX_CLAIMS]:
        marks = "".join(f"[{n}]" for n in list(dict.fromkeys(claim.sources))[:6])
        text = _cut(claim.text, CLAIM_MAX_CHARS)
        if text.startswith("#"):  # a claim copied from a passage is not a heading of the report
            text = "\\" + text
        parts.append(f"\n\n{text}\n\n{marks}\n\n" if "\n" in text else f"{text}{marks}")
    return " ".join(parts).strip()


def report_markdown(report: ReportClaims) -> str:
    """Title, summary, then each section that has a heading and something in it."""
    lines = [f"# {_one_line(report.title) or 'Report'}", claims_markdown(report.summary[:8])]
    for section in report.sections[:MAX_SECTIONS]:
        body = claims_markdown(section.claims)
        if body and section.heading.strip():
            lines += [f"## {_one_line(section.heading)}", body]
    return "\n\n".join(line for line in lines if line.strip())


def _one_line(text: str) -> str:
    return _cut(" ".join(text.split()), 200)
