"""The report's section headings, repaired: a junk, empty or repeated heading is replaced by an
unused plan title or an aspect of the question, or dropped when none is left."""

from __future__ import annotations

import re
from collections.abc import Sequence

from workflows.citing.shown_text import names_as_code
from workflows.citing.support import content_words
from workflows.models import NumberedSource, ResearchPlan
from workflows.text_checks import (
    code_names,
    heading_key,
    one_line,
    reads_as_heading,
)
from workflows.topics import aspects, heading_of, usable_sections


def fixed_headings(
    markdown: str,
    plan: ResearchPlan | None,
    question: str,
    known_names: set[str] | None = None,
) -> tuple[str, int]:
    """Every `##`+ heading of the report that is junk, empty, a repeat, a file name off the
    topic (no word of the question, the plan or its own section) or names code that neither
    the question nor a retrieved source holds (`known_names`, text_checks.code_names) replaced
    by an unused plan title or aspect of the question, or dropped when none is left (its text
    then belongs to the section before). The question itself is the report's title: a section
    headed with it again is a repeat ("How does exception chaining with raise ... from work in
    Python?" under the title of that question). Returns the text and how many headings were
    changed."""
    whole = {heading_key(question), _words_key(question)}
    spares = [one_line(s.title) for s in usable_sections(plan)] + [
        heading_of(a) for a in aspects(question)
    ]
    # A spare reads as a heading by the report's standard, not only the loop's (a plan title
    # cut after "between" was put back in place of the heading it replaced).
    known = known_names or set()
    spares = [
        s
        for s in spares
        if reads_as_heading(s, known) and not {heading_key(s), _words_key(s)} & whole
    ]
    lines = markdown.split("\n")
    seen: set[str] = set(whole)
    # Headings only: a heading that is the question less a word is often one of its parts.
    said: list[set[str]] = []
    existing = {
        heading_key(m.group(2))
        for line in lines
        if (m := _HEADING.match(line)) and reads_as_heading(m.group(2), known)
    }
    spares = [s for s in spares if heading_key(s) not in existing]
    planned = " ".join(f"{s.title} {s.focus}" for s in (plan.sections if plan else []))
    topic = content_words(question) | content_words(planned)
    changed = 0
    out: list[str] = []
    for at, line in enumerate(lines):
        match = _HEADING.match(line)
        if not match or len(match.group(1)) == 1:
            out.append(line)
            continue
        text = one_line(match.group(2)).strip("*_ ")
        key = heading_key(text)
        # "How does X work?", "How does X works?" and "X works!" are one heading to a reader.
        words = _words_key(text)
        section = _section_text(lines, at + 1)
        on_topic = not _SLUG.fullmatch(text) or _on_topic(text, topic, section)
        if on_topic and (name := _BARE_NAME.fullmatch(one_line(match.group(2)).strip("`* "))):
            # A bare name ("python_implementation()" over a lambda section) is about what
            # the question, the plan or its own section names.
            on_topic = name.group(1).casefold() in f"{question} {planned} {section}".casefold()
        if (
            reads_as_heading(match.group(2), known)
            and on_topic
            and key not in seen
            and words not in seen
            and not _near_repeat(text, said)
        ):
            seen.update((key, words))
            said.append(said_words(text))
            out.append(line)
            continue
        changed += 1
        while spares and (
            heading_key(spares[0]) in seen
            or _words_key(spares[0]) in seen
            or _near_repeat(spares[0], said)
        ):
            spares.pop(0)
        if spares:
            new = spares.pop(0)
            seen.update((heading_key(new), _words_key(new)))
            said.append(said_words(new))
            out.append(f"{match.group(1)} {new}")
    return "\n".join(out), changed


def headings_shown_as_code(markdown: str) -> str:
    """Each heading's names with underscores shown as code: "## __getattr__" rendered as a bold
    "getattr". The heading's words stay as written; code blocks are left alone."""
    out: list[str] = []
    fenced = False
    for line in markdown.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (match := _HEADING.match(line)):
            line = f"{match.group(1)} {names_as_code(match.group(2))}"
        out.append(line)
    return "\n".join(out)


def known_code_names(question: str, sources: Sequence[NumberedSource]) -> set[str]:
    """The code names a heading or a notes question may use: those of the question and of the
    retrieved sources (their titles, sections and text)."""
    texts = [question] + [
        f"{n.source.title} {n.source.anchor} {n.source.evidence or n.source.quote}" for n in sources
    ]
    return code_names(" ".join(texts))


def _on_topic(heading: str, topic: set[str], body: str) -> bool:
    """Whether a heading speaks of the question, the plan or its own section: the embedded
    model headed a truth-value section "python-babel", a word none of them holds."""
    said = content_words(heading)
    return not said or bool(said & (topic | content_words(body)))


def _section_text(lines: list[str], start: int) -> str:
    """The text from `start` to the next heading."""
    end = next((i for i in range(start, len(lines)) if _HEADING.match(lines[i])), len(lines))
    return "\n".join(lines[start:end])


# A file or package name as a heading ("python-babel"): lower case words joined by hyphens or
# underscores. Only such a heading is checked for its topic: a strong model's "The protocol"
# over a section that never says "protocol" is a good heading.
_SLUG = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)+")
# A heading that is one code name: with an underscore, a dot or a call's brackets.
_BARE_NAME = re.compile(r"((?=[\w.]*[_.])[A-Za-z_][\w.]*|[A-Za-z_][\w.]*(?=\(\)))(?:\(\))?")


def _words_key(heading: str) -> str:
    """A heading's stemmed content words, in order: "How does X work?" and "X works!" meet,
    and so do "use X instead of Y" and "use X rather than Y"."""
    return " ".join(sorted(said_words(heading)))


def said_words(heading: str) -> set[str]:
    """What a heading says: its content words, less those that only say "in place of"."""
    return content_words(heading) - _COMPARING


def _near_repeat(heading: str, said: list[set[str]]) -> bool:
    return says_again(said_words(heading), said)


def says_again(words: set[str], said: list[set[str]]) -> bool:
    """Whether a heading's words (said_words) say what an earlier heading's said, give or take
    one word: the embedded model headed two sections "What are the different ways to handle
    exceptions in a Python program?" and "… in Python?". Three shared words at least, so that
    "Context managers" and "Async context managers" stay two headings. One rule for the
    report and eval's readability."""
    for earlier in said:
        small, large = sorted((words, earlier), key=len)
        if len(small) >= _NEAR_SHARED and small <= large and len(large - small) <= 1:
            return True
    return False


_NEAR_SHARED = 3
# Words that only say "in place of": two headings that differ by them ask the same.
_COMPARING = frozenset(content_words("instead rather versus vs"))


_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
