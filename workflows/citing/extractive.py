"""The extractive floor: when the model's text is not backed, the evidence speaks.

The sentences a report may print without a model vouching for them are whole statements of
retrieved passages (workflows/citing/sentences.py), each cited to the passage it comes from, so each
is supported by construction. They are ranked against a topic (a section's heading and the
plan item it serves) and the user's question, and a sentence is used once per report.
Pure and linear in the (bounded) evidence: safe in workflow code.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from workflows.citing.sentences import split_sentences, statements
from workflows.citing.support import content_words
from workflows.models import NumberedSource

SENTENCES_PER_SECTION = 3
# A sentence must share this many content words with the topic and question together: one
# shared word ("statement", "work") matched off-topic sentences in the demo corpus.
MIN_SHARED_WORDS = 2
# Definitions of the API entries the picked sentences name, added after them (per section).
DEFINITIONS_ADDED = 2
_LABEL = re.compile(r"^`([^`\n]{1,120})`: ")
_NAME = re.compile(r"[A-Za-z_]\w*")
# An owner and the entry under it: `asyncio.gather`, `threading.RLock`.
_OWNED = re.compile(r"\b([A-Za-z_]\w*)\.([A-Za-z_]\w*)")
# A topic that asks for an API's members: what it must implement, which methods it has.
_ASKS_MEMBERS = re.compile(r"\b(?:implement\w*|methods?)\b", re.I)
# A signature's parameters or bases, in a section name.
_SIGNATURE = re.compile(r"\([^()]*\)")


@dataclass(frozen=True)
class EvidenceSentence:
    text: str
    number: int  # the run-wide number of the source it comes from
    words: frozenset[str]
    pairs: frozenset[tuple[str, str]]  # its adjacent content words (see _pairs)
    name: str  # the API entry it defines, if it is a definition (see defined_name)
    tokens: frozenset[str]  # all its words, common ones too (for quoted_words)
    owner: str = ""  # the class or module its label names the entry under (`Textbox.gather`)

    def words_with(self, keep: set[str]) -> frozenset[str]:
        """Its content words and the kept common words it uses."""
        return self.words | (keep & self.tokens) if keep else self.words


def _key(text: str) -> str:
    return re.sub(r"\W+", " ", text.casefold()).strip()


class EvidencePool:
    """Every statement of the run's sources, once (the same sentence in two passages is one),
    with each word's rarity across the pool."""

    def __init__(self, sources: Sequence[NumberedSource]) -> None:
        seen: set[str] = set()
        found: list[EvidenceSentence] = []
        # What a source says it is about: its title and the sections its passages come from.
        self._titles: dict[int, set[str]] = {}
        # The sections alone: the entries defined under a section a topic names are its members.
        self._sections: dict[int, set[str]] = {}
        for n in sources:
            said = f"{n.source.title} {n.source.anchor}"
            named = words_of(said) | tokens_of(said)
            self._titles.setdefault(n.number, set()).update(named)
            # Its headings' words, not its entries' signatures: `class nullcontext(Abstract
            # ContextManager)` is not a section on context managers.
            heading = _SIGNATURE.sub(" ", n.source.anchor)
            section = words_of(heading) | tokens_of(heading)
            self._sections.setdefault(n.number, set()).update(section)
        for numbered in sources:
            source = numbered.source
            for sentence in statements(source.evidence or source.quote):
                key = _key(sentence)
                if key in seen:
                    continue
                seen.add(key)
                found.append(
                    EvidenceSentence(
                        sentence,
                        numbered.number,
                        frozenset(words_of(sentence)),
                        frozenset(_pairs(sentence)),
                        defined_name(sentence),
                        tokens_of(sentence),
                        defined_owner(sentence),
                    )
                )
        self.sentences = found
        self._subjects = subject_documents(
            {n.number: n.source.title for n in sources}, ((s.number, s.tokens) for s in found)
        )
        # An API entry's definition (`object.__enter__(self)`: Enter …), by the entry's name.
        self._definitions: dict[str, EvidenceSentence] = {}
        for sentence in found:
            if sentence.name and sentence.name not in self._definitions:
                self._definitions[sentence.name] = sentence
        counts = Counter(word for s in found for word in s.words | s.tokens)
        total = len(found) or 1
        self._idf = {w: math.log(1 + total / c) for w, c in counts.items()}
        self._rarest = math.log(1 + total)  # a document's name its sentences never say
        self.used: set[str] = set()

    def ranked(self, topic: str, question: str, lead: bool = False) -> list[EvidenceSentence]:
        """Unused sentences that share words with the topic, best first: topic words count
        twice the question's, rare words more than common ones, long sentences a little less.
        The definitions of entries the topic names come first, then, in a section whose topic
        asks what something implements or which methods it has, the entries defined under a
        section the topic names: "what must an object implement to be a context manager" is
        answered by `object.__enter__` and `object.__exit__`, listed under "With Statement
        Context Managers", though neither says "implement". Other topics keep their best
        prose: a section's definitions would crowd it out. The `lead` opens with what the
        question is about: the definition of an entry it does not name comes after prose."""
        keep = quoted_words(topic) | quoted_words(question)
        topic_words = words_of(topic) | (keep & tokens_of(topic))
        question_words = words_of(question) | (keep & tokens_of(question))
        needed = min(MIN_SHARED_WORDS, len(topic_words))
        pairs = _pairs(topic) | _pairs(question)
        # As written: "control" in "how can a class control its truth value" names no entry,
        # and Tix's `class Control` led the truth-testing report.
        named = set(_NAME.findall(topic))
        # An entry the topic names under an owner (`asyncio.gather`) is not another owner's
        # entry of the same name (`Textbox.gather`, curses).
        owners: dict[str, set[str]] = {}
        for owner, name in _OWNED.findall(topic):
            owners.setdefault(name.casefold(), set()).add(owner.casefold())
        asks_members = not lead and bool(_ASKS_MEMBERS.search(topic))
        # A section on a document by its name ("When should contextlib be used…") is about
        # what that document says: a sentence elsewhere that shares "instead" and "class" is
        # not. (Not the lead: a question's other parts are about other things.)
        subjects = {} if lead else subjects_named(self._subjects, topic)
        scored: list[tuple[bool, float, int, EvidenceSentence]] = []
        for at, sentence in enumerate(self.sentences):
            if _key(sentence.text) in self.used:
                continue
            words = sentence.words_with(keep)
            if subjects:
                about = {name for name, docs in subjects.items() if sentence.number in docs}
                if not about and not subjects.keys() & sentence.tokens:
                    continue
                # A contextlib sentence is about contextlib, whether it says so or not.
                words = words.union(*(words_of(name) for name in about))
            on_topic = words & topic_words
            # The definition of an entry the topic names ("shutil.copy"), or of a member of
            # the API the topic asks about, is about it, however few other words it shares.
            wanted_owners = owners.get(sentence.name.casefold())
            if wanted_owners and sentence.owner and sentence.owner.casefold() not in wanted_owners:
                continue  # another owner's entry of the same name: about something else
            defines = sentence.name in named
            member = bool(
                asks_members and sentence.name and self._names_section(sentence, topic_words)
            )
            shared = len(words & (topic_words | question_words))
            if not member and (not on_topic or (shared < needed and not defines)):
                continue
            score = sum(2 * self._idf.get(w, self._rarest) for w in on_topic) + sum(
                self._idf.get(w, self._rarest) for w in words & question_words - on_topic
            )
            # A pair of the topic's words side by side ("context manager") says more than
            # the same words apart.
            score *= 1 + len(pairs & sentence.pairs)
            score /= 1 + 0.1 * math.log(1 + len(sentence.words))
            prose = not (sentence.name and not defines)
            scored.append((defines, member, prose, score, -at, sentence))
        scored.sort(key=lambda item: item[:5], reverse=True)  # a named entry's definition first
        return [item[5] for item in scored]

    def named_documents(self, topic: str) -> dict[str, set[int]]:
        """The subject documents `topic` names as such ("when should contextlib be used"), not
        as the owner of an entry it asks about ("typing.Protocol" asks about Protocol), with
        their source numbers."""
        return {
            name: docs
            for name, docs in subjects_named(self._subjects, topic).items()
            if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", topic, re.IGNORECASE)
        }

    @staticmethod
    def words_about(sentence: EvidenceSentence, named: Mapping[str, set[int]]) -> frozenset[str]:
        """The sentence's words, and the name of a `named` document it comes from (see
        named_documents): a contextlib sentence speaks of contextlib, whether it says so or not."""
        return sentence.words.union(
            *(words_of(name) for name, docs in named.items() if sentence.number in docs)
        )

    def _names_section(self, sentence: EvidenceSentence, topic_words: set[str]) -> bool:
        """True if the section `sentence` comes from shares two of the topic's words (all of
        them for a topic of one word)."""
        shared = self._sections.get(sentence.number, set()) & topic_words
        return len(shared) >= min(MIN_SHARED_WORDS, len(topic_words))

    def shared_subject(self) -> set[str]:
        """The words at least half the sources' titles and sections hold (three sources or
        more): what every source is about ("Python" in a Python documentation corpus), so no
        sign that a text is about one part of a question."""
        if len(self._titles) < 3:
            return set()
        counts = Counter(word for words in self._titles.values() for word in words)
        return {word for word, count in counts.items() if 2 * count >= len(self._titles)}

    def sources_about(self, question: str) -> set[int]:
        """The numbers of the sources whose statements share at least half as many of the
        question's words as the source sharing most, or three quarters when the source's
        title and sections name nothing the question asks (a passage retrieved deep in a
        search may share a word or two with a part of the question and be about something
        else)."""
        keep = quoted_words(question)
        wanted = words_of(question) | (keep & tokens_of(question))
        shared: dict[int, set[str]] = {}
        for sentence in self.sentences:
            shared.setdefault(sentence.number, set()).update(sentence.words_with(keep) & wanted)
        best = max((len(words) for words in shared.values()), default=0)
        # A source whose title names nothing asked must share nearly as much as the best.
        return {
            number
            for number, words in shared.items()
            if (2 if self._titles.get(number, set()) & wanted else 4 / 3) * len(words) >= best
        }

    def take(
        self, topic: str, question: str, count: int, lead: bool = False
    ) -> list[EvidenceSentence]:
        """The best `count` unused sentences for the topic (for the question, when none is on
        the topic), marked used; `lead` as in ranked()."""
        about = self.sources_about(question)
        ranked = self.ranked(topic, question, lead) or self.ranked(question, question, lead)
        return self.claim([s for s in ranked if s.number in about][:count])

    def claim(self, picked: list[EvidenceSentence]) -> list[EvidenceSentence]:
        """`picked` marked used, each followed by the definitions it calls for (below)."""
        self.used.update(_key(s.text) for s in picked)
        return self._with_definitions(picked)

    def _with_definitions(self, picked: list[EvidenceSentence]) -> list[EvidenceSentence]:
        """`picked`, each sentence followed by the definitions of the API entries it names
        that the evidence holds ("…classes that implement object.__enter__()" then what
        `__enter__` does), at most DEFINITIONS_ADDED in all, each used once."""
        out: list[EvidenceSentence] = []
        added = 0
        for sentence in picked:
            out.append(sentence)
            for name in dict.fromkeys(_NAME.findall(sentence.text)):
                definition = self._definitions.get(name)
                if added == DEFINITIONS_ADDED or definition is None:
                    continue
                if _key(definition.text) in self.used:
                    continue
                self.used.add(_key(definition.text))
                out.append(definition)
                added += 1
        return out

    def mark_used(self, text: str) -> None:
        """`text` said, and so every sentence of the pool it says most of: the finally report's
        lead held the model's "The optional 'else' clause is executed if the control flow
        leaves the `try` suite, no exception was raised.", and the floor printed the source's
        whole sentence again below it. Each sentence of a claim counts on its own: the json
        report's claim of two sentences ended "Otherwise, all such characters are escaped in
        JSON strings.", and the floor quoted that sentence again."""
        self.used.add(_key(text))
        for part in split_sentences(text):
            self.used.add(_key(part))
            said = tokens_of(part)
            if len(said) < NEAR_COPY_MIN_WORDS:
                continue
            for sentence in self.sentences:
                # Every word of the text is the sentence's: "… an "async with" statement …" is
                # no copy of the same sentence about "async for".
                if said <= sentence.tokens and len(said) >= NEAR_COPY_SHARE * len(sentence.tokens):
                    self.used.add(_key(sentence.text))


# A text says most of a sentence when all its words are the sentence's and they are this share
# of them: a copy with a clause left out.
NEAR_COPY_SHARE = 0.7
NEAR_COPY_MIN_WORDS = 5


# A document named by one word before its kind: "contextlib (Python standard library module)".
_DOCUMENT_NAME = re.compile(r"\s*([A-Za-z]{3,40})\s*(?:\(|$)")
# A name that other documents' sentences use more often than this is an ordinary word of the
# corpus ("class", "with"), not a name that picks out one document.
SUBJECT_MENTIONS_ELSEWHERE = 2


def subject_documents(
    titles: Mapping[int, str], sentences: Iterable[tuple[int, frozenset[str]]]
) -> dict[str, set[int]]:
    """Document names that pick out their document (`contextlib`), with the keys of the
    documents so named: a title's one-word name (`titles`: key → title) that the other
    documents' sentences (key, tokens_of(sentence)) rarely use."""
    docs: dict[str, set[int]] = {}
    for key, title in titles.items():
        match = _DOCUMENT_NAME.match(title)
        if match and content_words(match.group(1)):
            docs.setdefault(match.group(1).casefold(), set()).add(key)
    elsewhere = Counter(
        name for key, tokens in sentences for name in docs.keys() & tokens if key not in docs[name]
    )
    return {
        name: keys for name, keys in docs.items() if elsewhere[name] <= SUBJECT_MENTIONS_ELSEWHERE
    }


def subjects_named(subjects: Mapping[str, set[int]], text: str) -> dict[str, set[int]]:
    """The subject documents (subject_documents) that `text` names."""
    named = tokens_of(text)
    return {name: keys for name, keys in subjects.items() if name in named}


def words_of(text: str) -> set[str]:
    """The content words of `text`, a CamelCase name's parts among them ("BoundedSemaphore"
    meets "a bounded semaphore"), each in one form for all its endings ("raise" meets "raised":
    the question "How does exception chaining with raise … from work?" missed every sentence
    saying what a raised exception holds)."""
    camel = _CAMEL.findall(text)
    words = content_words(text)
    if camel:
        words |= content_words(" ".join(_CAMEL_SPLIT.sub(" ", name) for name in camel))
    return {_one_form(word) for word in words}


def _one_form(stem: str) -> str:
    """support's stem without a final "e": "raise" as "raised" and "raises" give it."""
    return stem[:-1] if len(stem) > 4 and stem.endswith("e") else stem


def quoted_words(text: str) -> set[str]:
    """Single words `text` quotes as names (`with`, "is"): content words wherever they appear
    then, though a common word elsewhere (a statement and an operator in Python's docs)."""
    return {w.lower() for w in _QUOTED_WORD.findall(text)}


def tokens_of(text: str) -> frozenset[str]:
    """Every word of `text`, lower-cased, common ones too."""
    return frozenset(re.findall(r"[a-z]+", text.lower()))


# One word in backticks or double quotes (straight or typographic).
_QUOTED_WORD = re.compile(r"[`\"\u201c]([A-Za-z]{2,20})[`\"\u201d]")


_CAMEL = re.compile(r"\b[A-Za-z]*[a-z][A-Z]\w*")
_CAMEL_SPLIT = re.compile(r"(?<=[a-z])(?=[A-Z])")


def defined_owner(sentence: str) -> str:
    """The owner an API entry's definition names it under (`Textbox.gather(self)`: … →
    `Textbox`, `object.__enter__(self)`: … → `object`); empty when it names none."""
    dotted = _entry_path(sentence)
    return dotted.rsplit(".", 2)[-2] if "." in dotted else ""


def _entry_path(sentence: str) -> str:
    """The dotted name an API entry's definition is labelled with (`object.__enter__(self)`: …
    → `object.__enter__`); empty for any other sentence."""
    label = _LABEL.match(sentence)
    return label.group(1).split("(", 1)[0].split()[-1] if label else ""


def defined_name(sentence: str) -> str:
    """The name an API entry's definition is about (`object.__enter__(self)`: … → `__enter__`,
    `class contextlib.ExitStack`: … → `ExitStack`); empty for any other sentence."""
    name = _entry_path(sentence).rsplit(".", 1)[-1]
    return name if len(name) >= 3 else ""


def _pairs(text: str) -> set[tuple[str, str]]:
    """Adjacent content words of `text`, stemmed."""
    words = [w for w in re.findall(r"[a-z0-9_]+", text.lower()) if content_words(w)]
    stems = [_one_form(next(iter(content_words(w)))) for w in words]
    return set(itertools.pairwise(stems))
