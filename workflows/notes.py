"""The Research notes: every question the run asked and what of its answer the sources back.
Pure code over the run's findings (workflow-safe)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from workflows.citing.claim_text import claims_of, without_unclosed_fence
from workflows.citing.grounding import UNSUPPORTED_MARK, Claim, Evidence
from workflows.citing.restating import restates
from workflows.citing.sentences import is_unfinished
from workflows.citing.shown_text import names_as_code
from workflows.labels import Labels
from workflows.models import QAPair
from workflows.text_checks import echoes_the_prompt, heading_key, is_unreadable_question, one_line
from workflows.topics import shown_query

# What the Research notes show for a question no reader should see (junk, broken, a prompt echo).
HIDDEN_QUESTION = "—"


def research_notes(
    findings: list[QAPair],
    labels: Labels,
    asked: str = "",
    evidence: Evidence | None = None,
    known_names: set[str] | None = None,
) -> str:
    """Every question asked and what of its answer is backed: claims no source supports are
    left out here too (the notes are evidence, not the model's guesses). A question that is
    junk, broken, an echo of the prompts (`asked`: the user's question) or names code no
    retrieved source holds (`known_names`) shows as "—"."""
    # A question shown as an earlier one was ("Title: focus" whose focus is the question) is
    # one note: a reader would otherwise read the same question twice.
    groups: dict[str, tuple[str, list[int], list[int], list[str]]] = {}
    none = f"*{labels.no_answer}*"
    for i, qa in enumerate(findings, 1):
        # Shown in bold: the model's own "**PEP 572**" would end the bold midway.
        question = shown_query(one_line(qa.question)).replace("**", "")
        if is_unreadable_question(question, known_names) or echoes_the_prompt(question, asked):
            question = HIDDEN_QUESTION
        key = f"—{i}" if question == HIDDEN_QUESTION else heading_key(question)
        _, numbers, iterations, answers = groups.setdefault(key, (question, [], [], []))
        numbers.append(i)
        if qa.iteration not in iterations:
            iterations.append(qa.iteration)
        answer = _supported_only(qa.answer, evidence, [qa.question, asked])
        if question == HIDDEN_QUESTION:
            # The product's quote for a question no reader can read matches nothing asked:
            # the lambda report's hidden question got "… write audio frames using …".
            answer = "\n\n".join(b for b in answer.split("\n\n") if not _QUOTED.match(b))
        answer = answer or none
        if answer not in answers:
            answers.append(answer)
    notes = [
        f"**{', '.join(f'Q{n}' for n in numbers)} ({labels.iteration} "
        f"{', '.join(map(str, iterations))}): {names_as_code(question)}**\n\n"
        + "\n\n".join([a for a in answers if a != none] or [none])
        for question, numbers, iterations, answers in groups.values()
    ]
    return f"## {labels.research_notes}\n\n" + "\n\n".join(notes)


def _supported_only(
    answer: str, evidence: Evidence | None = None, asked: Sequence[str] = ()
) -> str:
    """The blocks of a checked answer as they are when every claim is backed and finished;
    otherwise the backed, finished claims alone ("python.util.uuid[2]" is no note, nor a
    question of `asked` said back), a cut copy of a sentence of its source (`evidence`) read
    as that whole sentence."""
    blocks = []
    printed: set[str] = set()  # the embedded model wrote one sentence twice in an answer
    # The loop checked the answer as written: the text after a fence that never closes was
    # code to it, so its claims carry no mark and must be backed here.
    closed = without_unclosed_fence(answer)
    unchecked = closed != answer
    for block in closed.split("\n\n"):
        claims = claims_of(" ".join(block.split()))
        copied = False
        for claim in claims:
            if evidence is not None and (whole := evidence.completed(claim.text, claim.sources)):
                claim.text, copied = whole, True
        cut = any(c.sources and _unfinished(c, evidence, asked) for c in claims)
        keys = [_said_key(c.text) for c in claims]
        spoken = [k for k in keys if k]
        repeated = len(set(spoken)) < len(spoken) or not printed.isdisjoint(spoken)
        unbacked = unchecked and any(not c.sources for c in claims)
        if UNSUPPORTED_MARK not in block and not (cut or copied or repeated or unbacked):
            blocks.append(block.strip())
            printed.update(spoken)
            continue
        kept = []
        for claim, key in zip(claims, keys, strict=True):
            if claim.sources and key not in printed and not _unfinished(claim, evidence, asked):
                kept.append(claim)
                printed.add(key)
        text = " ".join(f"{c.text}{''.join(f'[{n}]' for n in c.sources)}" for c in kept)
        if text and UNSUPPORTED_MARK not in text:
            blocks.append(text)
    # The model's "*__slots__*" would read as bold "slots": names are shown as code.
    return "\n\n".join(names_as_code(b) for b in blocks if b)


def _said_key(text: str) -> str:
    """A claim as a reader hears it: its words, without a list mark or the case."""
    return " ".join(_LIST_MARK.sub("", text).casefold().split()).strip(" .")


# The product's own quote of a retrieved sentence (evidence_fill.quoted_claim).
_QUOTED = re.compile(r'^> "')
_LIST_MARK = re.compile(r"^\s*(?:\d{1,3}[.)]|[-*+])\s+")


def _unfinished(claim: Claim, evidence: Evidence | None, asked: Sequence[str]) -> bool:
    if evidence is None:
        return is_unfinished(claim.text) or restates(claim.text, asked)
    return evidence.unfinished(claim.text, claim.sources, asked)
