"""The report's section headings, repaired: a junk, empty or repeated heading is replaced by an
unused plan title or an aspect of the question, or dropped when none is left."""

from __future__ import annotations

import re

from workflows.citing.support import content_words
from workflows.models import ResearchPlan
from workflows.text_checks import heading_key, one_line, reads_as_heading
from workflows.topics import aspects, heading_of, usable_sections


def fixed_headings(markdown: str, plan: ResearchPlan | None, question: str) -> tuple[str, int]:
    """Every `##`+ heading of the report that is junk, empty or a repeat replaced by an unused
    plan title or aspect of the question, or dropped when none is left (its text then belongs
    to the section before). The question itself is the report's title: a section headed with it
    again is a repeat ("How does exception chaining with raise ... from work in Python?" under
    the title of that question). Returns the text and how many headings were changed."""
    whole = {heading_key(question), _words_key(question)}
    spares = [one_line(s.title) for s in usable_sections(plan)] + [
        heading_of(a) for a in aspects(question)
    ]
    # A spare reads as a heading by the report's standard, not only the loop's (a plan title
    # cut after "between" was put back in place of the heading it replaced).
    spares = [
        s for s in spares if reads_as_heading(s) and not {heading_key(s), _words_key(s)} & whole
    ]
    lines = markdown.split("\n")
    seen: set[str] = set(whole)
    existing = {
        heading_key(m.group(2))
        for line in lines
        if (m := _HEADING.match(line)) and reads_as_heading(m.group(2))
    }
    spares = [s for s in spares if heading_key(s) not in existing]
    changed = 0
    out: list[str] = []
    for line in lines:
        match = _HEADING.match(line)
        if not match or len(match.group(1)) == 1:
            out.append(line)
            continue
        text = one_line(match.group(2)).strip("*_ ")
        key = heading_key(text)
        # "How does X work?", "How does X works?" and "X works!" are one heading to a reader.
        words = _words_key(text)
        if reads_as_heading(text) and key not in seen and words not in seen:
            seen.update((key, words))
            out.append(line)
            continue
        changed += 1
        while spares and (heading_key(spares[0]) in seen or _words_key(spares[0]) in seen):
            spares.pop(0)
        if spares:
            new = spares.pop(0)
            seen.update((heading_key(new), _words_key(new)))
            out.append(f"{match.group(1)} {new}")
    return "\n".join(out), changed


def _words_key(heading: str) -> str:
    """A heading's stemmed content words, in order: "How does X work?" and "X works!" meet."""
    return " ".join(sorted(content_words(heading)))


_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
