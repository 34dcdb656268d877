"""What a query names, and the passages about it ranked first among BM25's candidates.

"How does Python's `with` statement work?" is BM25's worst case: "with" is in nearly every
passage, so the query weighs as "python statement work", and a short page that says
"statement" eight times (timeit's) outranks the section on the with statement. A query can
name its subject three ways, and each says which passages are about it, as a quoted phrase
does in a web search:

- a quoted name and its kind (`with` statement, "async for" loop): passages whose section the
  phrase names (quotes and all: `The "with" statement`);
- a quoted API name (`__exit__`, `contextlib.ExitStack`): passages that define it, an entry
  line `object.__exit__(self, …)` or `## class ExitStack(…)`. "The `__exit__` method" found
  the with statement's prose, which calls `__exit__`, above the entry that says what it does;
- a document's own name ("when should contextlib be used…"): that document's passages, when
  the name is the document's more than anyone's (it occurs in at most twice as many passages
  as the document has). "contextlib" is in every contextlib passage once, in its title, and
  "class", "writing" and "hand" ranked the assignment statement's page first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from search.bm25 import STOPWORDS, tokens
from search.documents.extract import Passage

# A quoted name (one to three words or a dotted name) and the word that follows it.
_QUOTED_NAME = re.compile(r"[`\"\u201c]([\w.]+(?: [\w.]+){0,2})[`\"\u201d]\s+([A-Za-z]\w+)")
# A quoted API name: an identifier with an underscore, a dot or an inner capital, `()` optional.
_QUOTED_API = re.compile(r"[`\"\u201c]([A-Za-z_][\w.]*)(?:\(\))?[`\"\u201d]")
_API_LIKE = re.compile(r"_|\.|[a-z][A-Z]")
# How many BM25 candidates the names re-rank.
PHRASE_POOL = 50
# A document's name must be this long to count as named by a query word ("io" is not).
_NAME_MIN_CHARS = 4


class _Hit(Protocol):
    @property
    def passage(self) -> Passage: ...


Hit = TypeVar("Hit", bound=_Hit)


@dataclass(frozen=True)
class QueryNames:
    """What one query names: phrase patterns, definition patterns and document names."""

    phrases: list[re.Pattern[str]] = field(default_factory=list)
    definitions: list[re.Pattern[str]] = field(default_factory=list)
    documents: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.phrases or self.definitions or self.documents)

    def ranked(self, hits: Sequence[Hit]) -> list[Hit]:
        """`hits` (BM25's candidates, best first) re-ranked: passages whose section a phrase
        names first (they are about the thing), then those that define a quoted name, then the
        best passage of each named document, then BM25's order. A text that only holds the
        phrase gets nothing more: `targets in "with" statements` (the section on `global`)
        says it in passing. One passage per named document: the question may name two things
        ("threading.RLock … asyncio.Lock"), and the other's passages must not be crowded out."""
        first_of: set[str] = set()
        keys = []
        for at, hit in enumerate(hits):
            passage = hit.passage
            named = any(p.search(passage.locator) for p in self.phrases)
            defines = defines_any(self.definitions, passage.text)
            document = document_name(passage.rel_path)
            best_of_named = document in self.documents and document not in first_of
            if best_of_named:
                first_of.add(document)
            keys.append(
                ((0 if named else 1), (0 if defines else 1), (0 if best_of_named else 1), at)
            )
        return [hits[key[3]] for key in sorted(keys)]


# A definition entry sits near the start of its passage (the chunker keeps a term with it).
_DEFINITION_HEAD = 2000


def quoted_phrases(query: str) -> list[re.Pattern[str]]:
    """Patterns for each quoted name and its kind in `query`, quotes optional in the text."""
    found = []
    for name, kind in _QUOTED_NAME.findall(query):
        words = r"\s+".join(re.escape(w) for w in name.split())
        quoted = rf"(?<![\w.])[`\"\u201c\u2018']?{words}[`\"\u201d\u2019']?"
        found.append(re.compile(rf"{quoted}\s+{re.escape(kind)}\w{{0,2}}\b", re.I))
    return found


def quoted_definitions(query: str) -> list[re.Pattern[str]]:
    """For each quoted API name in `query`, a pattern for an entry line that defines it: at a
    line's start, after heading marks and `class`, an owner's dotted path allowed, then `(`."""
    found = []
    for name in dict.fromkeys(_QUOTED_API.findall(query)):
        if not _API_LIKE.search(name):
            continue  # `with`, "is": a keyword is no entry
        last = re.escape(name.rsplit(".", 1)[-1])
        entry = rf"^[ \t#]*(?:class\s+|async\s+def\s+|def\s+)?(?:[\w.]+\.)?{last}\s*\("
        found.append(re.compile(entry, re.M))
    return found


def defines_any(definitions: list[re.Pattern[str]], text: str) -> bool:
    """True if `text` holds near its start an entry one of `definitions` (quoted_definitions)
    matches."""
    head = text[:_DEFINITION_HEAD]
    return any(p.search(head) for p in definitions)


def document_name(rel_path: str) -> str:
    """A document's name: its file name without the suffix, lower-cased."""
    name = rel_path.rsplit("/", 1)[-1].lower()
    return name.rsplit(".", 1)[0] if "." in name else name


def named_documents(query: str, passages_per_name: dict[str, int], df: dict[str, int]) -> set[str]:
    """The document names `query` says as words that are the document's more than anyone's:
    the word occurs in at most twice as many passages as the document has (`df`: the word's
    passage count; `passages_per_name`: each document name's)."""
    named = set()
    for word in set(tokens(query)):
        if len(word) < _NAME_MIN_CHARS or word in STOPWORDS:
            continue
        own = passages_per_name.get(word, 0)
        if own and df.get(word, 0) <= 2 * own:
            named.add(word)
    return named
