"""When a model's text backs nothing, the retrieved evidence speaks for itself.

A weak model can answer a question with claims no source supports, and write report sections
that cite nothing, although the run retrieved relevant passages. The reader paid for that
evidence, so the product adds it, verbatim and marked as such:
- an answer with no supported claim gets the retrieved sentence that best matches its question,
  as a cited block quote (a verbatim quote is backed by definition);
- a report section that cites nothing gets the finding claim most related to it, cited.
Pure and linear in the (bounded) texts; safe in workflow code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from workflows.citing.claim_text import cited_in, claims_of
from workflows.citing.extractive import quoted_words, subject_documents, subjects_named, tokens_of
from workflows.citing.grounding import UNSUPPORTED_MARK, Claim
from workflows.citing.sentences import split_sentences, statements
from workflows.citing.support import content_words, support_score
from workflows.models import QAPair, Source

QUOTE_MAX_CHARS = 300
# Runs started before this patch quote the best-matching sentence of any source
# (RunState.quote_on_subject); their histories replay as they were written.
QUOTE_ON_SUBJECT_PATCH = "quote-on-subject"
_SECTION = re.compile(r"^(#{1,2} .*)$", re.MULTILINE)


def _best_of(question: str, said: Sequence[str], must_name: frozenset[str]) -> str:
    """Of a source's whole statements (workflows/citing/sentences.py: no heading, code or cut
    sentence), the one that fits a quote and holds most of the question's words, the first on
    a tie; empty when none fits. With `must_name`, only a statement saying one of those words."""
    best, best_score = "", -1.0
    for sentence in said:
        if len(sentence) > QUOTE_MAX_CHARS:
            continue
        if must_name and not must_name & tokens_of(sentence):
            continue
        score = support_score(question, sentence)
        if score > best_score:
            best, best_score = sentence, score
    return best


def quote_for(
    question: str, retrieved: Sequence[Source], on_subject: bool = False
) -> tuple[Source, str] | None:
    """The retrieved statement that best matches the question, over all sources (the first
    source wins a tie); only a sentence sharing words with the question is a quote for it.
    `on_subject` (RunState.quote_on_subject): a question that names a document
    ("When should contextlib be used…") is answered from that document, or from a sentence
    that names it; "class" and "instead" quoted annotated assignments for it."""
    best: tuple[float, Source, str] | None = None
    keep = quoted_words(question)  # `with`: the statement, not a common word
    wanted = content_words(question) | (keep & tokens_of(question))
    needed = min(2, len(wanted))  # one shared word ("statement") quoted timeit for `with`
    said = [statements(source.evidence or source.quote) for source in retrieved]
    subjects = _subjects(question, retrieved, said) if on_subject else {}
    names = frozenset(subjects)
    for at, source in enumerate(retrieved):
        about = {name for name, keys in subjects.items() if at in keys}
        must_name = frozenset() if about or not names else names
        sentence = _best_of(question, said[at], must_name)
        words = content_words(sentence) | (keep & tokens_of(sentence)) | about
        if not sentence or len(words & wanted) < needed:
            continue
        score = support_score(question, sentence)
        if score > 0 and (best is None or score > best[0]):
            best = (score, source, sentence)
    return (best[1], best[2]) if best else None


def _subjects(
    question: str, retrieved: Sequence[Source], said: Sequence[Sequence[str]]
) -> dict[str, set[int]]:
    """The documents the question names among the retrieved, by their index (`said`: each
    source's statements)."""
    subjects = subject_documents(
        {at: source.title for at, source in enumerate(retrieved)},
        ((at, tokens_of(sentence)) for at, sentences in enumerate(said) for sentence in sentences),
    )
    return subjects_named(subjects, question)


def quoted_claim(sentence: str, number: int) -> str:
    """The quote as Markdown the claim reader gets back as one claim citing `number`: one
    sentence (an API entry's definition is kept whole as a statement, and its first sentence
    names what it defines)."""
    first = split_sentences(sentence)[0] if sentence.strip() else sentence
    safe = first.replace("[", "(").replace("]", ")")
    return f'> "{safe}"[{number}]'


def fill_uncited_sections(body: str, findings: Sequence[QAPair]) -> tuple[str, int]:
    """Give each `#`/`##` section of `body` that cites nothing the supported finding claim most
    related to it. Returns the body and how many sections were filled."""
    supported = [claim for qa in findings for claim in _backed_claims(qa.answer)]
    if not supported:
        return body, 0
    parts = _SECTION.split(body)  # [before, heading, text, heading, text, ...]
    filled = 0
    used: set[int] = set()
    out = [parts[0]]
    for at in range(1, len(parts), 2):
        heading, text = parts[at], parts[at + 1]
        if heading.startswith("## ") and not cited_in(text):
            pick = _most_related(f"{heading[3:]} {text}", supported, used)
            marks = "".join(f"[{n}]" for n in supported[pick].sources)
            text = (
                f"{text.rstrip()}\n\n*From the research notes:* {supported[pick].text}{marks}\n\n"
            )
            used.add(pick)
            filled += 1
        out += [heading, text]
    return "".join(out), filled


def _backed_claims(answer: str) -> list[Claim]:
    """The claims of a checked answer that kept a citation, block by block (a quoted passage
    is a claim of its own; a marked, unsupported claim is not one to repeat)."""
    backed: list[Claim] = []
    for block in answer.split("\n\n"):
        text = block.strip().removeprefix(">").strip()
        for claim in claims_of(text):
            if claim.sources and UNSUPPORTED_MARK not in claim.text:
                backed.append(claim)
    return backed


def _most_related(section: str, claims: Sequence[Claim], used: set[int]) -> int:
    """The claim whose words the section shares most, among those no other section got yet
    (a repeated claim only when every one is used)."""
    scored = [
        (index not in used, support_score(claim.text, section), -index)
        for index, claim in enumerate(claims)
    ]
    return -max(scored)[2]
