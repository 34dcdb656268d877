"""The question set: questions over the demo corpus with their gold passages and key facts.

`eval/questions.jsonl` is also a valid input of `client.py batch` (extra fields are ignored
there): one JSON object per line with `id`, `prompt`, `kind`, `gold` and `facts`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from eval.corpus import Corpus, Document

QUESTIONS_FILE = Path(__file__).with_name("questions.jsonl")
Kind = Literal["single", "multi", "comparison", "when"]


class GoldPassage(BaseModel):
    """A passage named by document and section heading, not by an index id (see corpus.py).

    `section` None is the document's lead text, before its first sub-heading.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    doc: str = Field(description="path within the corpus, e.g. modules/asyncio.queues.md")
    section: str | None = Field(description="heading without signature; None = lead text")

    def label(self) -> str:
        return f"{self.doc}#{self.section or '(lead)'}"

    def spans(self, corpus: Corpus) -> list[tuple[int, int]]:
        """Where this passage is in its document's flattened text (empty if it is gone)."""
        doc = corpus.document(self.doc)
        if doc is None:
            return []
        if self.section is None:
            return [lead_span(doc)]
        return [(s.start, s.end) for s in doc.sections if s.name == self.section]


def lead_span(doc: Document) -> tuple[int, int]:
    """From the document's first heading to its second one."""
    starts = [s.start for s in doc.sections]
    first = starts[0] if starts else 0
    later = [s for s in starts if s > first]
    return first, (later[0] if later else len(doc.text))


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    kind: Kind
    prompt: str = Field(min_length=1)
    gold: list[GoldPassage] = Field(min_length=1)
    facts: list[str] = Field(
        min_length=2, max_length=5, description="short phrases; `a|b` means either"
    )


def load_questions(path: Path = QUESTIONS_FILE) -> list[Question]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                questions.append(Question.model_validate(json.loads(line)))
            except ValueError as err:
                raise ValueError(f"{path}:{number}: {err}") from None
    return questions


def gold_text(question: Question, corpus: Corpus) -> str:
    """The text of every gold passage of a question, joined (for checking the facts)."""
    parts = []
    for gold in question.gold:
        doc = corpus.document(gold.doc)
        if doc is not None:
            parts.extend(doc.text[a:b] for a, b in gold.spans(corpus))
    return "\n".join(parts)


