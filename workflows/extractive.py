"""The extractive floor: when the model's text is not backed, the evidence speaks.

The sentences a report may print without a model vouching for them are whole statements of
retrieved passages (workflows/sentences.py), each cited to the passage it comes from, so each
is supported by construction. They are ranked against a topic (a section's heading and the
plan item it serves) and the user's question, and a sentence is used once per report.
Pure and linear in the (bounded) evidence: safe in workflow code.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from workflows.models import NumberedSource
from workflows.sentences import statements
from workflows.support import content_words

SENTENCES_PER_SECTION = 3
# A sentence must share this many content words with the topic and question together: one
# shared word ("statement", "work") matched off-topic sentences in the demo corpus.
MIN_SHARED_WORDS = 2


@dataclass(frozen=True)
class EvidenceSentence:
    text: str
    number: int  # the run-wide number of the source it comes from
    words: frozenset[str]


def _key(text: str) -> str:
    return re.sub(r"\W+", " ", text.casefold()).strip()


class EvidencePool:
    """Every statement of the run's sources, once (the same sentence in two passages is one),
    with each word's rarity across the pool."""

    def __init__(self, sources: Sequence[NumberedSource]) -> None:
        seen: set[str] = set()
        found: list[EvidenceSentence] = []
        for numbered in sources:
            source = numbered.source
            for sentence in statements(source.evidence or source.quote):
                key = _key(sentence)
                if key in seen:
                    continue
                seen.add(key)
                found.append(
                    EvidenceSentence(sentence, numbered.number, frozenset(content_words(sentence)))
                )
        self.sentences = found
        counts = Counter(word for s in found for word in s.words)
        total = len(found) or 1
        self._idf = {w: math.log(1 + total / c) for w, c in counts.items()}
        self.used: set[str] = set()

    def ranked(self, topic: str, question: str) -> list[EvidenceSentence]:
        """Unused sentences that share words with the topic, best first: topic words count
        twice the question's, rare words more than common ones, long sentences a little less."""
        topic_words, question_words = content_words(topic), content_words(question)
        needed = min(MIN_SHARED_WORDS, len(topic_words))
        pairs = _pairs(topic) | _pairs(question)
        scored: list[tuple[float, int, EvidenceSentence]] = []
        for at, sentence in enumerate(self.sentences):
            if _key(sentence.text) in self.used:
                continue
            on_topic = sentence.words & topic_words
            if not on_topic or len(sentence.words & (topic_words | question_words)) < needed:
                continue
            score = sum(2 * self._idf[w] for w in on_topic) + sum(
                self._idf[w] for w in sentence.words & question_words - on_topic
            )
            # A pair of the topic's words side by side ("context manager") says more than
            # the same words apart.
            score *= 1 + len(pairs & _pairs(sentence.text))
            score /= 1 + 0.1 * math.log(1 + len(sentence.words))
            scored.append((score, -at, sentence))
        scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
        return [sentence for _, _, sentence in scored]

    def take(self, topic: str, question: str, count: int) -> list[EvidenceSentence]:
        """The best `count` unused sentences for the topic (for the question, when none is on
        the topic), marked used."""
        picked = (self.ranked(topic, question) or self.ranked(question, question))[:count]
        self.used.update(_key(s.text) for s in picked)
        return picked

    def mark_used(self, text: str) -> None:
        self.used.add(_key(text))


def _pairs(text: str) -> set[tuple[str, str]]:
    """Adjacent content words of `text`, stemmed."""
    words = [w for w in re.findall(r"[a-z0-9_]+", text.lower()) if content_words(w)]
    stems = [next(iter(content_words(w))) for w in words]
    return set(itertools.pairwise(stems))


def cited_sentences(picked: Sequence[EvidenceSentence]) -> str:
    """Sentences as one paragraph, each with its source number: `Sentence.[n]` reads back as
    one claim citing n (workflows/claim_text.py)."""
    return " ".join(f"{_safe(s.text)}[{s.number}]" for s in picked)


def _safe(sentence: str) -> str:
    """Brackets inside a quoted sentence become parentheses, so a sentence cannot forge a
    citation; a leading `#`, `>` or list mark cannot turn it into a heading or a block."""
    return sentence.replace("[", "(").replace("]", ")").lstrip("#>-*+| ")
