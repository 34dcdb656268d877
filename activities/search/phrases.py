"""A name the query quotes, with the word after it, is a phrase the passage should hold.

"How does Python's `with` statement work?" is BM25's worst case: "with" is in nearly every
passage, so the query weighs as "python statement work", and a short page that says
"statement" eight times (timeit's) outranks the section on the with statement. A name quoted
in code or quotation marks and followed by its kind (`with` statement, "async for" loop) says
which thing is meant, as a quoted phrase does in a web search: among BM25's candidates,
passages whose section the phrase names rank first (quotes and all: `The "with" statement`).
"""

from __future__ import annotations

import re

from activities.search.documents.extract import Passage

# A quoted name (one to three words or a dotted name) and the word that follows it.
_QUOTED_NAME = re.compile(r"[`\"\u201c]([\w.]+(?: [\w.]+){0,2})[`\"\u201d]\s+([A-Za-z]\w+)")
# How many BM25 candidates the phrases re-rank.
PHRASE_POOL = 50


def quoted_phrases(query: str) -> list[re.Pattern[str]]:
    """Patterns for each quoted name and its kind in `query`, quotes optional in the text."""
    found = []
    for name, kind in _QUOTED_NAME.findall(query):
        words = r"\s+".join(re.escape(w) for w in name.split())
        quoted = rf"(?<![\w.])[`\"\u201c\u2018']?{words}[`\"\u201d\u2019']?"
        found.append(re.compile(rf"{quoted}\s+{re.escape(kind)}\w{{0,2}}\b", re.I))
    return found


def phrase_order(
    passage: Passage, score: float, phrases: list[re.Pattern[str]]
) -> tuple[int, float]:
    """A sort key: passages whose section a phrase names first (they are about the thing),
    then BM25's order. A text that holds the phrase gets nothing more: `targets in "with"
    statements` (the section on `global`) or "adds its __exit__ method" (unittest) say it in
    passing."""
    named = any(p.search(passage.locator) for p in phrases)
    return (0 if named else 1), -score
