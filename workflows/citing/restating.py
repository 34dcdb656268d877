# ruff: noqa: RUF001 (typographic quotes and CJK question marks are what the text holds)
"""The question said back: no answer, whatever the cited page's words back it."""

from __future__ import annotations

from collections.abc import Sequence

from workflows.citing.sentences import _ENDS, _WORD  # the same words and sentence ends
from workflows.citing.support import content_words


def restates(text: str, asked: Sequence[str]) -> bool:
    """A text with no sentence end whose words all come from one of the questions `asked`, and
    at least half of them (three or more), or a short sentence that adds no content word to
    one (_says_back): the question said back, not an answer.
    The embedded model answered "Is operator and == in Python?" with "is operator and == in
    Python[2]", which the cited page's words back. A list item naming one thing the question
    asks about ("The `is` operator") is not a restatement."""
    flat = " ".join(text.split()).rstrip("\"'”’)*_`")
    if flat.endswith(_ENDS) and not flat.endswith(("?", "？")):
        return _says_back(flat, asked)
    said = {w.casefold() for w in _WORD.findall(flat)}
    for question in asked:
        words = {w.casefold() for w in _WORD.findall(question)}
        if said <= words and len(said) >= max(3, (len(words) + 1) // 2):
            return True
    return False


def _says_back(sentence: str, asked: Sequence[str]) -> bool:
    """A short sentence that says nothing a question of `asked` does not: the embedded model
    opened its async-with report with "The async with statement works." for "How does the
    async with statement work and where may it be used?"."""
    if len(sentence.split()) > SAID_BACK_WORDS:
        return False
    said = content_words(sentence)
    return bool(said) and any(said <= content_words(question) for question in asked)


# A sentence this short adds nothing when its content words are all the question's.
SAID_BACK_WORDS = 8
