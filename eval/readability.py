# ruff: noqa: RUF001 (CJK punctuation and typographic quotes are what the report holds)
"""What a reader of a report sees go wrong, counted without an LLM: repeated headings, junk
(markup, prompt fragments, names of code nothing holds) in headings, notes questions and
source titles, and quotes or cited paragraphs that end on a cut sentence."""

from __future__ import annotations

import re

from workflows.citing.claim_text import without_unclosed_fence
from workflows.citing.grounding import CODE_SPAN
from workflows.citing.sentences import MARKUP_TAG
from workflows.headings import said_words, says_again
from workflows.notes import HIDDEN_QUESTION
from workflows.text_checks import is_junk, is_unreadable_question, reads_as_heading

_SOURCES_HEADING = re.compile(
    r"^\s{0,3}#{1,6}\s*(?:sources|来源|出典|출처|fuentes|quellen|fontes|источники)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
LIST_ENTRY = re.compile(r"^\s*(\d+)\.\s", re.MULTILINE)


def split_report(markdown: str) -> tuple[str, str]:
    """(body, Sources section): the product writes the Sources list last."""
    matches = list(_SOURCES_HEADING.finditer(markdown))
    if not matches:
        return markdown, ""
    cut = matches[-1].start()
    return markdown[:cut], markdown[cut:]


_HEADING_LINE = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*$", re.MULTILINE)
_NOTE_QUESTION = re.compile(r"^\*\*Q\d+(?:, Q\d+)* \([^)]*\): (.*)\*\*$", re.MULTILINE)
_QUOTE = re.compile(r'^> "(.*)"(?:\[[^\]]+\])+\s*$', re.MULTILINE)
_SOURCE_ENTRY = re.compile(r"^\d+\. (.*?)(?: — |$)", re.MULTILINE)


def readability(markdown: str, known: set[str] | None = None) -> tuple[int, int, int]:
    """(repeated headings, junk headings / questions / source titles shown, quotes and cited
    paragraphs that end on a cut sentence) in a report's Markdown. With `known` (code_names of
    the question and the retrieved passages), a section heading or notes question naming other
    code is junk too."""
    body, sources_section = split_report(markdown)
    known = known or set()
    headings = [(len(m.group(1)), m.group(2)) for m in _HEADING_LINE.finditer(body)]
    duplicates = _repeated_headings(headings)
    junk = sum(
        is_junk(text) if level == 1 else not reads_as_heading(text, known)
        for level, text in headings
    )
    # "—" is the product hiding a junk question (workflows/reporting.py), not junk shown.
    junk += sum(
        is_unreadable_question(q, known)
        for q in _NOTE_QUESTION.findall(body)
        if q.strip() != HIDDEN_QUESTION
    )
    junk += sum(not title.strip(" -") for title in _SOURCE_ENTRY.findall(sources_section))
    junk += _unclosed_fence(body) + _markup_in_prose(body)
    cut = sum(
        not q.rstrip("\"'”’)").endswith(_SENTENCE_ENDS) or q.endswith("…")
        for q in _QUOTE.findall(body)
    )
    return duplicates, junk, cut + _cut_paragraphs(body)


def _unclosed_fence(body: str) -> int:
    """1 when a code fence never closes: a renderer shows all that follows as code (the
    semaphore run's notes, and the Sources list after them)."""
    return int(without_unclosed_fence(body) != body)


def _markup_in_prose(body: str) -> int:
    """Paragraphs of prose holding a markup tag, written or escaped, outside code
    ("… PEP 3156.&lt;/code> &lt;description>[3]"); headings and notes questions are counted
    on their own."""
    prose = CODE_SPAN.sub(" ", _CODE_BLOCK.sub(" ", body))
    prose = _NOTE_QUESTION.sub(" ", _HEADING_LINE.sub(" ", prose))
    return sum(bool(MARKUP_TAG.search(p)) for p in re.split(r"\n\s*\n", prose))


_SENTENCE_ENDS = (".", "!", "?", "。", "！", "？")


def _repeated_headings(headings: list[tuple[int, str]]) -> int:
    """Headings a reader reads as an earlier one: the same text, or (sections among themselves)
    what an earlier section heading said give or take one word (headings.says_again). A
    section headed with a part of the question is no repeat of the title."""
    texts: set[str] = set()
    said: list[set[str]] = []
    repeats = 0
    for level, text in headings:
        words = said_words(text)
        near = level > 1 and says_again(words, said)
        if text.casefold() in texts or near:
            repeats += 1
        texts.add(text.casefold())
        if level > 1:
            said.append(words)
    return repeats


_TRAILING_MARKS = re.compile(r"(?:\[\d{1,4}(?:\s*,\s*\d{1,4})*(?:, [^\[\]\n]{1,60})?\])+$")
_CODE_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)


def _cut_paragraphs(body: str) -> int:
    """Cited paragraphs of prose (not headings, quotes, lists, tables or code) that end on a
    cut sentence: a few words with no end after whole sentences (the Research note "…
    Managers). This allows common[1]"), or a last word that joins it to more ("… for the").
    A statement that only lacks its full stop is not counted."""
    cut = 0
    for paragraph in re.split(r"\n\s*\n", _CODE_BLOCK.sub("", body)):
        text = " ".join(paragraph.split())
        if not text or text.startswith(("#", ">", "|", "-", "*", "+")) or LIST_ENTRY.match(text):
            continue
        marks = _TRAILING_MARKS.search(text)
        said = text[: marks.start()].rstrip("\"'”’)*_`") if marks else ""
        if not said or said.endswith((*_SENTENCE_ENDS, ":", ";")):
            continue
        last = re.split(r"(?<=[.!?])\s+(?=[A-Z])", said)
        words = last[-1].casefold().split()
        cut += (len(last) > 1 and len(words) < 5) or words[-1] in _JOINING
    return cut


# Words a sentence does not end on: "… for the".
_JOINING = frozenset(
    "a an the of to for with and or in on at by from that which as is are be than".split()  # noqa: SIM905
)
