"""Citation support: how well a retrieved passage backs one claim. Pure, offline, deterministic.

A lexical measure, chosen over an embedding model because it needs no model file, runs in
workflow code (linear in the text, no I/O) and can be explained to a reader: the share of the
claim's content words that the passage contains (longer, rarer-looking words weigh more), mixed
with the share of the claim's word pairs found in the passage, then penalised when the claim
states a number or a negation that the passage does not. Its precision and recall on the
hand-labelled pairs of eval/support_labels.jsonl are in docs/use/citations.md.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from temporalio import workflow

# Inputs are capped before scoring so that a hostile claim or page cannot make this slow.
MAX_SCORED_CHARS = 4_000
DEFAULT_THRESHOLD = 0.6
# A claim stating a number or a negation its passage does not state is halved. The negation was
# x0.6 until runs recorded this patch: a negated claim the passage covered word for word then
# scored exactly the 0.6 threshold and kept its citation. Runs whose history lacks the marker
# keep x0.6 on replay (the scorer decides citations in workflow code).
NEGATION_HALVES_PATCH = "negation-halves-support"
_OLD_NEGATION_PENALTY = 0.6

_WORD = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)*")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_NEGATIONS = frozenset({"not", "no", "never", "cannot", "nor", "without", "neither"})
_STOPWORDS = frozenset(
    """
    a an and are as at be been being but by can could did do does for from had has have
    how if in into is it its it's may might more most must of on or our over shall should
    so such than that the their them then there these they this those through to too under
    up use used uses using very was we were what when where which while who whom why will
    with would you your also each other any all both only same one two its itself about
    between after before during because however thus therefore here python
    """.split()  # noqa: SIM905
)
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "ers", "er", "ed", "es", "ly", "s")


def _stem(word: str) -> str:
    """A crude suffix strip, enough for 'returns'/'returned'/'returning' to meet."""
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _words(text: str) -> list[str]:
    return _WORD.findall(text[:MAX_SCORED_CHARS].lower().replace("n't", " not"))


def _content(words: list[str]) -> list[str]:
    return [_stem(w) for w in words if w not in _STOPWORDS and w not in _NEGATIONS and len(w) > 1]


# Pure functions of a text that each step of a run applies again to the same sentences and
# sources (leads, topics, grounding, the final report) are memoised for the worker process:
# replay gets the same answers. Only texts up to a source's evidence are kept, enough of them
# for a few dozen runs in flight; measured full on the demo corpus: 15 KB a prepared passage,
# 2.3 KB a passage's statements, 1.2 KB a sentence's words, about 3 KB a passage's statements
# with their words (what a cut claim is completed from), about 20 MB in all.
MEMO_TEXT_MAX_CHARS = 2_000
PREPARED_MEMO_ENTRIES = 512
STATEMENTS_MEMO_ENTRIES = 2_048
COMPLETION_MEMO_ENTRIES = 512
WORDS_MEMO_ENTRIES = 4_096

Result = TypeVar("Result")


def short_text_memo(entries: int) -> Callable[[Callable[[str], Result]], Callable[[str], Result]]:
    """Memoise a pure function of one text for texts up to MEMO_TEXT_MAX_CHARS, at most
    `entries` of them (least recently used out); a longer text is computed each time. The
    result is shared by every caller: it must be immutable."""

    def memoise(compute: Callable[[str], Result]) -> Callable[[str], Result]:
        kept = functools.lru_cache(maxsize=entries)(compute)

        @functools.wraps(compute)
        def memoised(text: str) -> Result:
            return kept(text) if len(text) <= MEMO_TEXT_MAX_CHARS else compute(text)

        return memoised

    return memoise


def content_words(text: str) -> set[str]:
    """The stemmed content words of `text` (what two texts must share to be about one thing);
    a dotted name counts as itself and as its parts (`asyncio.gather` meets `gather`)."""
    return set(_words_of(text))


@short_text_memo(WORDS_MEMO_ENTRIES)
def _words_of(text: str) -> frozenset[str]:
    words = _words(text)
    parts = [part for word in words if "." in word for part in word.split(".")]
    return frozenset(_content(words + parts))


def _weight(word: str) -> float:
    """Identifiers (dotted, underscored, digits) and long words carry the claim's meaning."""
    if "_" in word or "." in word or any(c.isdigit() for c in word):
        return 2.0
    return 1.5 if len(word) >= 7 else 1.0


@dataclass(frozen=True)
class PreparedPassage:
    """A passage's words, tokenised once and scored against many claims."""

    words: frozenset[str]
    content: frozenset[str]
    pairs: frozenset[tuple[str, str]]
    negated: bool


@short_text_memo(PREPARED_MEMO_ENTRIES)
def prepare(passage: str) -> PreparedPassage:
    """The passage's words as support_score reads them (immutable: memoised, as content_words
    is, for the sources each step grounds against again)."""
    words = _words(passage)
    content = _content(words)
    # A dotted name also stands for its last part: `json.dumps` covers a claim's `dumps`.
    parts = [_stem(w.rsplit(".", 1)[1]) for w in words if "." in w and not w[0].isdigit()]
    return PreparedPassage(
        words=frozenset(words),
        content=frozenset(content + parts),
        pairs=frozenset(itertools.pairwise(content)),
        negated=any(w in _NEGATIONS for w in words),
    )


@dataclass(frozen=True)
class PreparedClaim:
    words: tuple[str, ...]
    content: tuple[str, ...]


def prepare_claim(claim: str) -> PreparedClaim:
    words = _words(claim)
    return PreparedClaim(words=tuple(words), content=tuple(_content(words)))


def coverage_keys(word: str) -> tuple[str, ...]:
    """The passage words any of which covers a claim's content word (see _covered)."""
    if "." in word and not word[0].isdigit():
        return (word, _stem(word.rsplit(".", 1)[1]))
    return (word,)


def weight(word: str) -> float:
    return _weight(word)


def _covered(word: str, ready: PreparedPassage) -> bool:
    if word in ready.content:
        return True
    # `functools.reduce` in a claim, `reduce` in the passage about functools.
    return "." in word and not word[0].isdigit() and _stem(word.rsplit(".", 1)[1]) in ready.content


def support_score(claim: str | PreparedClaim, passage: str | PreparedPassage) -> float:
    """A score in [0, 1]: 1 when the passage contains everything the claim says."""
    ready = passage if isinstance(passage, PreparedPassage) else prepare(passage)
    said = claim if isinstance(claim, PreparedClaim) else prepare_claim(claim)
    content = said.content
    if not content:
        return 0.0
    total = sum(_weight(w) for w in content)
    covered = sum(_weight(w) for w in content if _covered(w, ready)) / total
    pairs = list(itertools.pairwise(content))
    paired = sum(p in ready.pairs for p in pairs) / len(pairs) if pairs else covered
    score = 0.75 * covered + 0.25 * paired

    # A number the passage never states ("defaults to 10") is a different fact.
    if any(_NUMBER.match(w) and w not in ready.words for w in said.words):
        score *= 0.5
    # So is a negation the passage does not make.
    if any(w in _NEGATIONS for w in said.words) and not ready.negated:
        score *= _negation_penalty()
    return round(min(score, 1.0), 4)


def _negation_penalty() -> float:
    """0.5; 0.6 in a workflow run whose history predates NEGATION_HALVES_PATCH. Asked only when
    a negation decides, so a run records the marker only if the penalty ever applied. A query or
    validator cannot consult a patch and adds no command, so it gets the current penalty."""
    if (
        workflow.in_workflow()
        and not workflow.unsafe.is_read_only()
        and not workflow.patched(NEGATION_HALVES_PATCH)
    ):
        return _OLD_NEGATION_PENALTY
    return 0.5
