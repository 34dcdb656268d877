"""Evidence sentences as the report prints them: each cited to its passage, safe as Markdown
(no forged citation, heading or list; names with underscores shown as code). Pure: safe in
workflow code."""

from __future__ import annotations

import re
from collections.abc import Sequence

from workflows.citing.extractive import EvidenceSentence
from workflows.citing.sentences import split_sentences


def cited_sentences(picked: Sequence[EvidenceSentence]) -> str:
    """Sentences as one paragraph, each with its source number: `Sentence.[n]` reads back as
    one claim citing n (workflows/citing/claim_text.py). A definition kept whole cites its source
    after each of its sentences, as every sentence of a report does."""
    return " ".join(
        f"{_safe(sentence)}[{s.number}]" for s in picked for sentence in split_sentences(s.text)
    )


def _safe(sentence: str) -> str:
    """Brackets inside a quoted sentence become parentheses, so a sentence cannot forge a
    citation; a leading `#`, `>` or list mark cannot turn it into a heading or a block; a name
    with underscores is code (`__enter__()`), never Markdown emphasis (bold "enter")."""
    return names_as_code(_LEADING_MARKS.sub("", sentence.replace("[", "(").replace("]", ")")))


def names_as_code(text: str) -> str:
    """Each name with an underscore outside a code span as code (`__slots__`), so that no
    renderer reads its underscores as emphasis (bold "slots"); its words stay as written."""
    pieces = text.split("`")
    for at in range(0, len(pieces), 2):  # outside code spans
        # The text docs quote code ("__exit__()"): the quotes give way to the code span.
        pieces[at] = _UNDERSCORED.sub(r"`\2`", pieces[at])
    return "`".join(pieces)


# Heading, quote and table marks, or a list mark with its space, at the start: not the
# emphasis of a sentence's first word ("*name* is the attribute name" lost its first "*").
_LEADING_MARKS = re.compile(r"^(?:\s*(?:[#>|]+|[-*+](?=\s))\s*)+")


# A name with an underscore at its start, end or inside (`__exit__()`, `exc_type`), ending on
# a word character: the full stop after "default_factory." ends the sentence, not the name.
_UNDERSCORED = re.compile(
    r"(?<![\w`])([\"\u201c])?([A-Za-z_][\w.]*_(?:[\w.]*\w)?(?:\([^()\n]{0,60}\))?)(?(1)[\"\u201d]|)(?![\w`])"
)
