"""The activity boundary: what a node activity returns is bounded and carries no secret.

Everything an activity returns goes into the workflow history, into every later prompt that
uses it and into `client.py state`. So before a result leaves the worker:
1. every configured secret in it is masked (activities/redaction.py), and so is any in the
   message of a failure (a provider echoing a key in its error);
2. every text in it is cut to the bound of its kind, with a note saying how much was dropped
   (TEXT_BOUNDS). The workflow then never sees, stores or scans unbounded text, whatever a model
   wrote: a 5 MB answer costs one call and a cut, not a PayloadsTooLarge and a paid retry.

Bounds are by field name, the workflow's own bounds (workflows/models.py) where it has one, so
the workflow's caps never cut again; a new output field is bounded too (DEFAULT_MAX_CHARS).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio.exceptions import CancelledError

from activities.redaction import Redactor
from workflows.models import (
    ANSWER_MAX_CHARS,
    DRAFT_MAX_CHARS,
    EVIDENCE_MAX_CHARS,
    QUOTE_MAX_CHARS,
    REPORT_MAX_CHARS,
    SEARCH_QUESTION_MAX_CHARS,
)

Out = TypeVar("Out", bound=BaseModel)
CRITIQUE_MAX_CHARS = 1_000
DEFAULT_MAX_CHARS = DRAFT_MAX_CHARS
# Field name -> the most characters a returned text of that name may have.
TEXT_BOUNDS: dict[str, int] = {
    "answer": ANSWER_MAX_CHARS,  # retrieval_engine
    "draft": DRAFT_MAX_CHARS,  # draft_generator, information_integrator
    "body": REPORT_MAX_CHARS,  # report_synthesizer
    "critique": CRITIQUE_MAX_CHARS,  # judges
    "questions": SEARCH_QUESTION_MAX_CHARS,  # gap_analyzer, each question
    "title": 300,
    "focus": 800,
    "location": 2_048,
    "quote": QUOTE_MAX_CHARS,
    "evidence": EVIDENCE_MAX_CHARS,
    "id": 512,
}
# A self-evolution candidate's `text` is an answer or a report, by the unit in its input.
UNIT_TEXT_BOUNDS: dict[str, int] = {"answers": ANSWER_MAX_CHARS, "report": REPORT_MAX_CHARS}
# Texts shown on one line: cut with an ellipsis, not a paragraph-long note.
ONE_LINE = frozenset({"questions", "title", "focus", "location", "quote", "evidence", "id"})


def cut_text(text: str, limit: int, *, one_line: bool = False) -> str:
    """`text` when it fits, else its start and a note, `limit` characters in all (so cutting
    again changes nothing)."""
    if len(text) <= limit:
        return text
    if one_line:
        return text[: limit - 1] + "…"
    dropped = len(text) - limit
    while True:  # the note's own length changes how much is dropped, by a digit at most
        note = f"\n\n[… cut: {dropped} more characters were dropped]"
        keep = max(limit - len(note), 0)
        if len(text) - keep == dropped:
            return text[:keep] + note
        dropped = len(text) - keep


def bound_texts(value: Any, unit: str | None = None, field: str = "") -> Any:
    """Every string in a JSON-like value cut to the bound of the field that holds it."""
    if isinstance(value, str):
        limit = TEXT_BOUNDS.get(field, DEFAULT_MAX_CHARS)
        if field == "text" and unit is not None:
            limit = UNIT_TEXT_BOUNDS.get(unit, DEFAULT_MAX_CHARS)
        return cut_text(value, limit, one_line=field in ONE_LINE)
    if isinstance(value, dict):
        return {key: bound_texts(item, unit, key) for key, item in value.items()}
    if isinstance(value, list):
        return [bound_texts(item, unit, field) for item in value]
    return value


def bounded(output: Out, redactor: Redactor, unit: str | None = None) -> Out:
    """The result as it may leave the worker: secrets masked first (a cut must not leave half
    a secret), then every text bounded."""
    dumped = output.model_dump()
    cleaned = bound_texts(redactor.value(dumped), unit)
    return output if cleaned == dumped else type(output).model_validate(cleaned)


def _unit_of(inp: Any) -> str | None:
    context = getattr(inp, "context", None)
    unit = getattr(context, "unit", None)
    return unit if isinstance(unit, str) else None


Method = Callable[[Any, Any], Awaitable[Any]]


def at_boundary(method: Method) -> Method:
    """Wrap a node activity method (of an object with a `redactor`) so that its result is
    bounded and masked, and its failure message masked, before Temporal records them."""

    @functools.wraps(method)
    async def run(self: Any, inp: Any) -> Any:
        redactor: Redactor = self.redactor
        try:
            output = await method(self, inp)
        except CancelledError:
            raise
        except Exception as err:
            masked = redactor.error(err)
            if masked.message == str(err) and masked.details == getattr(err, "details", ()):
                raise  # nothing to hide: keep the original, with its traceback
            raise masked from None
        return bounded(output, redactor, _unit_of(inp)) if isinstance(output, BaseModel) else output

    return run
