"""Leads: the API names the evidence mentions but does not define.

A researcher who reads "the context manager's __exit__() is loaded for later use" looks up
`__exit__` next. When the model's search questions are junk (a weak model) and the product
writes its own, the names the retrieved sentences mention, whose definition the run does not
hold, are searched after the question's parts and the plan's sections ("The `__exit__` method").
Pure and linear in the (bounded) evidence: safe in workflow code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from workflows.citing.extractive import defined_name
from workflows.citing.sentences import statements
from workflows.citing.support import content_words
from workflows.models import Source

LEADS_MAX = 3
ON_TOPIC_WORDS = 2  # content words a sentence shares with the question to be followed
# Runs started after it ask about leads when they replace a search question (RunState
# .follow_leads); runs started before it replace questions as they did (their histories replay).
LEADS_PATCH = "follow-leads"
# A name written as code in prose: a special method (`__exit__`), or a call with nothing
# between its parentheses (`os.path.join()`, `__enter__()`).
_MENTIONED = re.compile(r"(?<![\w.])((?:[A-Za-z_]\w*\.)*(?:__[a-z][a-z0-9_]*__|[A-Za-z_]\w*\(\)))")


def leads(sources: Sequence[Source], question: str) -> list[str]:
    """Searches for the names the sources' sentences mention and define nowhere,
    in the order they are first mentioned (names the question itself uses are asked already)."""
    defined: set[str] = set()
    mentioned: dict[str, str] = {}  # short name -> as written
    wanted = content_words(question)
    needed = min(ON_TOPIC_WORDS, len(wanted))
    for source in sources:
        for sentence in statements(source.evidence or source.quote):
            if name := defined_name(sentence):
                defined.add(name.casefold())
            # Only a sentence about the question leads somewhere worth searching: a passage
            # retrieved deep in a search mentions names of its own topic.
            if len(content_words(sentence) & wanted) < needed:
                continue
            for written in _MENTIONED.findall(sentence):
                short = written.removesuffix("()").rsplit(".", 1)[-1]
                if len(short) > 3:
                    mentioned.setdefault(short.casefold(), written)
    asked = question.casefold()
    # The name and its kind: "What does `__exit__` do?" also searched "what", "does" and
    # "do", and a bare name reads as code, not as a question, in the Research notes.
    found = [
        f"The `{written}` {'method' if short.startswith('__') else 'function'}"
        for short, written in mentioned.items()
        if short not in defined and short not in asked
    ]
    return found[:LEADS_MAX]
