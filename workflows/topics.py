# ruff: noqa: RUF001 (typographic quotes, CJK punctuation and Cyrillic are what this code reads or writes)
"""What the run is about, in the product's own words: the question's aspects, the plan's
sections, and the search questions anchored on them.

A model's search question steers retrieval and becomes a heading of the Research notes; a
model's plan title is printed as a heading. Where a weak model's text fails the checks of
workflows/text_checks.py, these pure functions derive a replacement from the user's question
and the plan. A strong model's good text passes unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from workflows.citing.support import content_words
from workflows.models import PlanSection, ResearchPlan
from workflows.text_checks import (
    CJK,
    CUT_END,
    echoes_the_prompt,
    heading_key,
    is_cut_phrase,
    is_good_heading,
    is_junk,
    is_on_topic_query,
    is_prompt_section,
    looks_broken,
    one_line,
)

MAX_PLAN_SECTIONS = 8

_ASPECT_SPLIT = re.compile(
    r"\?\s+|;\s+|[？；]|,\s+(?:and\s+)?(?=(?:how|what|when|why|which|where|who|whether|is|are|"
    r"does|do|can|should)\b)",
    re.IGNORECASE,
)


def topic_words(question: str, plan: ResearchPlan | None) -> set[str]:
    """The content words of the question and of the plan's usable sections (CJK characters
    for a question in a CJK script)."""
    texts = [question, *(f"{s.title} {s.focus}" for s in usable_sections(plan))]
    words: set[str] = set()
    for text in texts:
        words |= _words_and_characters(text)
    return words


def _is_off_topic_sentence(section: PlanSection, asked: set[str]) -> bool:
    """A section titled with a sentence (it ends with a full stop) that shares no word with the
    question: a model's remark on its own output, not a part of the research. "The protocol"
    shares none either and is a heading a strong model may choose."""
    title = one_line(section.title).rstrip()
    return title.endswith((".", "。")) and not _words_and_characters(section_query(section)) & asked


def _words_and_characters(text: str) -> set[str]:
    """The content words of `text`, and its CJK characters (a CJK text has no spaces)."""
    return content_words(text) | set(CJK.findall(text))


def aspects(question: str) -> list[str]:
    """The parts a compound question asks about, each as a question of its own: "How does X
    work, what must Y do, and when should Z be used?" gives three."""
    parts = [one_line(p).strip(" ,.;") for p in _ASPECT_SPLIT.split(one_line(question))]
    parts = [p for p in parts if len(p.split()) >= 3 or (CJK.search(p) and len(p) >= 4)]
    out: list[str] = []
    for part in parts:
        part = part[:1].upper() + part[1:]
        if not part.endswith(("?", "？")):
            part += "？" if CJK.search(part) else "?"
        if part.casefold() not in {o.casefold() for o in out}:
            out.append(part)
    return out or [one_line(question)]


# Code in backticks, with the word that says what it is ("`with` statement").
_BACKTICKED = re.compile(
    r"`([^`\n]{1,60})`(?:\s+(statement|expression|clause|keyword|loop|"
    r"operator|function|method|class|module|decorator|attribute))?"
)

_IDENTIFIER = re.compile(
    r"\b(?:[A-Za-z_][\w]*\.[A-Za-z_][\w.]*|[A-Za-z]*_[\w]+|[a-z]+[A-Z]\w*|[A-Z][a-z]+[A-Z]\w*)"
    r"(?:\(\))?"
)

_LISTED = re.compile(
    r"\b([\w.()]+(?:,\s+[\w.()]+)+,?\s+(?:and|or)\s+[\w.()]+)|\b(?:between\s+)?([\w.()]+)\s+"
    r"(?:and|vs\.?|versus|or|rather than|instead of)\s+([\w.()]+)",
    re.IGNORECASE,
)

# Items of one kind listed before the kind's plural: "the global and nonlocal statements".
_KINDS_LISTED = re.compile(
    r"\b((?:[\w.]+,\s+)*[\w.]+,?\s+(?:and|or)\s+[\w.]+)\s+(statement|expression|clause|"
    r"keyword|loop|operator|function|method|class|module|decorator|attribute)(?:e?s)\b",
    re.IGNORECASE,
)

MAX_KEY_TERMS = 6


def key_terms(question: str, kinds: bool = True) -> list[str]:
    """The named things a question asks about, each searchable on its own: code in backticks,
    identifiers (`heapq.nlargest`, `task_done`, `TaskGroup`), the items of a list or a
    comparison ("gather, TaskGroup and timeout", "is vs ==") when they are not plain words, and
    (`kinds`) items listed before their kind ("global and nonlocal statements" gives "global
    statement" and "nonlocal statement")."""
    found: list[str] = [" ".join(p for p in m if p) for m in _BACKTICKED.findall(question)]
    for match in _KINDS_LISTED.finditer(question) if kinds else ():
        items = re.split(r",\s+|,?\s+(?:and|or)\s+", match.group(1))
        found += [f"{item} {match.group(2).lower()}" for item in items if item]
    found += _IDENTIFIER.findall(question)
    for match in _LISTED.finditer(question):
        if match.group(1):
            items = re.split(r",\s+|,?\s+(?:and|or)\s+", match.group(1))
        else:
            items = [match.group(2), match.group(3)]
        named = [i for i in items if i and not content_words(i) <= _PLAIN_WORDS]
        # A list of names, not of words ("its output and fail"): one item at least is code.
        if len(named) == len(items) and any(_IDENTIFIER.fullmatch(i) for i in items):
            found.extend(named)
    out: list[str] = []
    for term in found:
        term = term.strip(" .,;:?")
        if len(term) > 1 and term.casefold() not in {o.casefold() for o in out}:
            out.append(term)
    return out[:MAX_KEY_TERMS]


# Words that make a list item a phrase of the sentence rather than a name (a list of these is
# not a list of things to search for).
_PLAIN_WORDS = frozenset(
    [
        "work", "works", "working", "differ", "difference", "compare", "use", "used", "uses",
        "when", "how", "why", "what", "which", "where", "does", "do", "can", "should", "must",
    ]
)  # fmt: skip


def usable_sections(plan: ResearchPlan | None) -> list[PlanSection]:
    """The plan's sections whose titles can be printed as headings, without repeats."""
    seen: set[str] = set()
    out: list[PlanSection] = []
    for section in plan.sections if plan else []:
        key = heading_key(section.title)
        if is_good_heading(section.title) and key not in seen:
            seen.add(key)
            out.append(section)
    return out


def repaired_plan(plan: ResearchPlan, question: str, on_topic: bool = False) -> ResearchPlan:
    """The plan with every junk, empty or repeated section title replaced by an aspect of the
    question (its focus too, when that is junk); sections left with nothing new are dropped.
    With `on_topic` (runs started since PLAN_ON_TOPIC_PATCH), so is a section titled with a
    sentence that shares no word with the question: the embedded model's plan held "The answer's
    structure is incomplete.: 2. The answer has no placeholders marked as required in the JSON
    object…", which became a search question and a Research notes heading. A plan of good
    sections comes back unchanged."""
    asked = _words_and_characters(question)
    good = {
        id(s) for s in usable_sections(plan) if not (on_topic and _is_off_topic_sentence(s, asked))
    }
    spare = [a for a in aspects(question)]
    titles = {heading_key(s.title) for s in plan.sections if id(s) in good}
    spare = [a for a in spare if heading_key(a) not in titles]
    out: list[PlanSection] = []
    for section in plan.sections:
        if id(section) in good:
            focus = section.focus if not is_junk(section.focus) else section.title
            out.append(
                section if focus == section.focus else PlanSection(title=section.title, focus=focus)
            )
        elif spare:
            aspect = spare.pop(0)
            out.append(PlanSection(title=heading_of(aspect), focus=aspect))
    # Every aspect of the question gets a section when no section shares its words.
    covered = [content_words(section_query(s)) for s in out]
    for aspect in spare:
        words = content_words(aspect)
        # Covered when a section shares a word with it: a strong model's plan words its
        # sections its own way ("Protocol: which methods an object must implement").
        if len(out) < MAX_PLAN_SECTIONS and not any(words & c for c in covered):
            out.append(PlanSection(title=heading_of(aspect), focus=aspect))
            covered.append(words)
    return ResearchPlan(sections=out)


HEADING_WORDS = 12

# Runs started after it repair plan sections that share no word with the question
# (RunState.plan_on_topic); runs started before it keep such sections (their histories replay).
PLAN_ON_TOPIC_PATCH = "plan-on-topic"

# Runs started since replace a search question that echoes the prompts and take no plan section
# that is only such an echo as a spare (RunState.spares_on_question); runs before it replay as
# they were written.
SPARES_ON_QUESTION_PATCH = "spares-on-question"


def heading_of(aspect: str) -> str:
    """An aspect of the question as a heading (it stays a question: the reader asked it); a
    long one is cut to its first clause, or its first words, never with an ellipsis."""
    flat = one_line(aspect)
    if is_good_heading(flat):
        return flat
    clause = re.split(r";\s+|:\s+|,?\s+and\s+(?=(?:how|what|when|why|which|where)\b)", flat)[0]
    words = clause.rstrip("?？").split()
    kept = words[:HEADING_WORDS]
    # A cut question ends on a word that says what is asked, not on "the" or "does".
    while len(kept) > 1 and len(kept) < len(words) and kept[-1].casefold() in _DANGLING:
        kept.pop()
    short = " ".join(kept).rstrip(",;:")
    return short + ("？" if CJK.search(short) else "?") if flat.endswith(("?", "？")) else short


# Words a cut heading must not end on.
_DANGLING = CUT_END | frozenset(["how", "does", "do", "is", "are", "can", "what", "when", "in"])


def anchored_queries(
    asked: Sequence[str],
    question: str,
    plan: ResearchPlan | None,
    earlier: Iterable[str],
    refined: bool = True,
    leads: Callable[[], Sequence[str]] | None = None,
    on_question: bool = False,
) -> list[str]:
    """The model's search questions with each junk, off-topic or repeated one (the same
    content words as a question searched before) replaced by an aspect of the question, a plan
    section or a key term not searched yet (the same count comes back); when none is left, a
    repeat, which the loop drops as not new. With `refined` (runs started since the
    fresh-evidence patch), a phrase cut out of a sentence is replaced too, and the items listed
    before their kind are spare queries ("global statement"); `leads` (names the evidence
    mentions, workflows/leads.py) are asked after the plan's sections. The spares, leads
    among them, are only worked out when a question is to be replaced. With `on_question`
    (RunState.spares_on_question), a question that echoes the prompts (echoes_the_prompt:
    "error: Exception occurred! ({exc_type})") is replaced, and a plan section that is nothing
    but such an echo (the embedded model's "The answer") is no spare; both were shown in the
    Research notes."""
    topic = topic_words(question, plan)
    used = {one_line(q).casefold() for q in earlier}
    seen_words = [content_words(q) for q in earlier]
    spares: list[str] = []
    out: list[str] = []
    for raw in asked:
        query = _NUMBERING.sub("", one_line(raw))
        words = content_words(query)
        cut = refined and (is_cut_phrase(query) or looks_broken(query))
        echo = on_question and echoes_the_prompt(query, question)
        if cut or echo or not is_on_topic_query(query, topic) or words in seen_words:
            spares = spares or [
                *aspects(question),
                *(
                    query
                    for query in map(section_query, usable_sections(plan))
                    if not (on_question and is_prompt_section(query, question))
                ),
                *(leads() if leads else ()),  # names the evidence mentions and does not define
                *key_terms(question, kinds=refined),
            ]
            fresh = next(
                (
                    s
                    for s in spares
                    if s.casefold() not in used and content_words(s) not in seen_words
                ),
                None,
            )
            if fresh is not None:
                query, words = fresh, content_words(fresh)
            else:
                # Nothing left to ask instead: a repeat, which the loop drops as not new (an
                # off-topic question is never searched verbatim).
                query = spares[len(out) % len(spares)]
                words = content_words(query)
        out.append(query)
        used.add(query.casefold())
        seen_words.append(words)
    return out


_NUMBERING = re.compile(r"^\s*(?:\d{1,3}[.)]|[-*•])\s+")


def section_query(section: PlanSection) -> str:
    title, focus = one_line(section.title), one_line(section.focus)
    if not focus or focus.casefold() == title.casefold() or is_junk(focus):
        return title
    return f"{title}: {focus}"[:300]


def shown_query(query: str) -> str:
    """A search question as the Research notes show it: a section query whose focus repeats
    its title ("When should I use secrets?: When should I use secrets to generate tokens?")
    reads as the longer of the two; a title that is a question, or has a one-word focus, reads
    as the title. (What was searched stays as it was: the loop drops a question asked before
    by its text, so the searched text decides which run is replayed.)"""
    title, colon, focus = query.partition(": ")
    if colon and (_holds(focus, title) or _holds(title, focus)):
        return focus if len(focus) >= len(title) else title
    # A title that asks a question says what was searched; a one-word focus is a name, not a
    # question ("Python with Statement: python-withstatement.html" reads as its title).
    if (
        colon
        and title.strip()
        and (title.rstrip().endswith(("?", "？")) or len(focus.split()) == 1)
    ):
        return title
    # A paragraph is no question to read: the embedded model's section "Use a
    # ProcessPoolExecutor when you need to handle multiple processes concurrently." had a
    # 35-word focus after it. The title says what the section searched.
    long_query = len(query.split()) > SHOWN_QUERY_WORDS
    if colon and long_query and 1 < len(title.split()) <= SHOWN_QUERY_WORDS:
        return title
    return query


SHOWN_QUERY_WORDS = 24


def _holds(text: str, part: str) -> bool:
    """Whether `part`'s words appear in `text`, in a row."""
    return f" {heading_key(part)} " in f" {heading_key(text)} "


def section_served(query: str, plan: ResearchPlan | None, position: int) -> PlanSection | None:
    """The plan section a search question serves: the one it shares most words with (the
    sections in turn when it shares none)."""
    sections = usable_sections(plan)
    if not sections:
        return None
    words = content_words(query)
    scored = [(len(words & content_words(section_query(s))), -i) for i, s in enumerate(sections)]
    best, at = max(scored)
    return sections[-at] if best else sections[position % len(sections)]
