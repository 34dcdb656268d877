# ruff: noqa: RUF001 (typographic quotes, CJK punctuation and Cyrillic are what this code reads or writes)
"""Whether a text a model wrote can be shown or searched: the checks that keep a weak model's
junk out of searches and headings.

A weak model writes prompt fragments (`</plan>`), code, bare numbers, phrases cut out of a
sentence, echoes of the prompts' own words or sentences where a heading belongs. These pure
functions tell such text from a usable query or heading; workflows/topics.py and
workflows/headings.py put a replacement in its place. A strong model's good text passes.
"""

from __future__ import annotations

import re

from workflows.citing.support import content_words

MAX_HEADING_WORDS = 14

MAX_HEADING_CHARS = 120

# Markup, code and prompt scaffolding: never a heading or a search question.
_JUNK = re.compile(
    r"</?\s*[A-Za-z][\w-]{0,20}[^<>]{0,80}>|::=|```|\{\{|\}\}|[{};]\s*$|^\s*[-=*_#>|]{3,}"
    r"|\b(?:document number|plan>|draft>|findings>|critique>|sources>)",
    re.IGNORECASE,
)

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")

_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


def one_line(text: str) -> str:
    return " ".join(text.split())


def is_junk(text: str) -> bool:
    """Markup, code, prompt fragments, or too little text to mean anything."""
    flat = one_line(text)
    if not flat or not _LETTER.search(flat) or _JUNK.search(flat):
        return True
    letters = len(_LETTER.findall(flat))
    return letters < 0.5 * len(flat.replace(" ", ""))


def heading_key(text: str) -> str:
    """What makes two headings the same for a reader: their words, whatever the quotes,
    punctuation or case (`Python's 'with'` and `Python's `with``)."""
    return " ".join(re.findall(r"\w+", text.casefold()))


def is_good_heading(text: str) -> bool:
    """A heading a reader can use: short, one phrase, no markup, not cut off."""
    flat = one_line(text).strip("#*_ ")
    if is_junk(flat) or len(flat) > MAX_HEADING_CHARS or flat.endswith(("…", "...")):
        return False
    if CJK.search(flat):
        return len(flat) <= 40
    words = flat.split()
    if words and words[-1].casefold().strip("?:,") in CUT_END:
        return False  # cut off: "the section about the"
    return 1 <= len(words) <= MAX_HEADING_WORDS and ". " not in flat.rstrip(".")


# The words of the node prompts (a weak model echoes them: "The document is not supported by
# the random module."), a template's placeholder ("{exc_type}") and a log line's label ("error:").
_PROMPT_WORDS = frozenset(
    (
        *("document", "documents", "draft", "answer", "supported", "unsupported"),
        *("citation", "citations", "critique", "json", "passage", "passages", "schema"),
    )
)

_ECHO = re.compile(r"\{\w{1,40}\}|^\W*(?:error|warning|info|debug|traceback)\b\W", re.IGNORECASE)


def echoes_the_prompt(query: str, question: str) -> bool:
    """A search question written in the prompts' words, not the user's: one of the prompts'
    own words the question does not use, a template placeholder or a log line's label."""
    said = {w.casefold() for w in _LETTER_WORD.findall(query)}
    asked = {w.casefold() for w in _LETTER_WORD.findall(question)}
    return bool(_ECHO.search(one_line(query))) or bool((said - asked) & _PROMPT_WORDS)


_LETTER_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def is_prompt_section(query: str, question: str) -> bool:
    """A plan section that echoes the prompts and shares no word with the question ("The
    answer"); "The answer to how copy handles classes" and "Background" are sections."""
    return echoes_the_prompt(query, question) and not content_words(query) & content_words(question)


def is_on_topic_query(query: str, topic: set[str]) -> bool:
    """A search question worth sending: no junk, two content words or more (a CJK query:
    a few characters), at least one shared with the question or the plan."""
    flat = one_line(query)
    if is_junk(flat) or len(flat) > 300:
        return False
    if CJK.search(flat):
        return len(CJK.findall(flat)) >= 4 and bool(set(CJK.findall(flat)) & topic)
    words = content_words(flat)
    return len(words) >= 2 and bool(words & topic)


# A phrase cut out of a sentence (a weak model copies one from its context) starts or ends
# with a word that joins it to the rest: "that defines the runtime context … executing a".
_CUT_START = frozenset(["that", "and", "or", "but", "of", "to", "by", "than"])

CUT_END = frozenset(
    ["a", "an", "the", "of", "to", "and", "or", "that", "which", "than", "by", "from"]
)


def is_cut_phrase(text: str) -> bool:
    words = text.rstrip(" ?？.").split()
    if not words:
        return False
    first, last = words[0], words[-1].casefold()
    return (first.islower() and first in _CUT_START) or last in CUT_END


def ends_cut(text: str) -> bool:
    """Whether `text` stops on a word nothing complete ends on ("What is the difference
    between?"), for the report a reader gets. A question may end on "to", "of", "from" or
    "by" ("Which module is it imported from?")."""
    words = one_line(text).rstrip(" ?？.:").split()
    return bool(words) and words[-1].casefold() in _ENDS_CUT


def reads_as_heading(text: str, known: set[str] | None = None) -> bool:
    """A good heading (is_good_heading) that is not a sentence the model wrote in its place:
    no citation marks or braces ("It was introduced in Python 3.0, which makes it possible to
    use this feature.[3]},"), no full stop after a clause, something to read (a word or a
    code span, not a build tag such as "1.0.3-SNAPSHOT_BUILDED"), a word that says what the
    section is about (not "How"), no end on a joining word ("The main difference between"), and,
    given `known` (code_names of the question and the retrieved sources), no other code named."""
    flat = one_line(text).strip("*_ ")
    if not _good_shape(flat) or _CITED_OR_BRACED.search(flat) or looks_broken(flat):
        return False
    if not has_a_word(flat) or ends_cut(flat) or is_a_slug(flat) or _ONE_WORD_TWICE.match(flat):
        return False
    # Before the strip: "__slots__ and memory" must not be read as naming "slots__".
    if names_unknown_code(one_line(text), known or set()):
        return False
    if not (content_words(flat) or CJK.search(flat) or "`" in flat):
        return False  # question words alone: the embedded model's generators report had "## How"
    return not (flat.endswith(".") and len(flat.split()) >= SENTENCE_HEADING_WORDS)


def _good_shape(heading: str) -> bool:
    """is_good_heading, but a question may end on "to", "of", "from" or "by" ("What does the
    assert statement expand to?", a part of the question): the loop's check reads it as cut."""
    if is_good_heading(heading):
        return True
    words = heading.rstrip(" ?？.:").split()
    if len(words) < 2 or words[-1].casefold() not in CUT_END - _ENDS_CUT:
        return False
    return is_good_heading(" ".join(words[:-1]) + "?")


def is_unreadable_question(text: str, known: set[str] | None = None) -> bool:
    """A search question no reader should be shown in the Research notes: junk, broken, cut
    after a joining word, with no word to read, with citation marks or braces outside code
    (the embedded model's lambda plan had a section whose focus was "][1]} ] } A response
    should contain …"), or, given `known`, naming code no retrieved source holds. One rule for
    the notes and eval.metrics."""
    outside_code = _INLINE_CODE.sub("", text)
    return (
        is_junk(text)
        or looks_broken(text)
        or ends_cut(text)
        or not has_a_word(text)
        or bool(_CITED_OR_BRACED.search(outside_code))
        or names_unknown_code(text, known or set())
        or not asks_something(text)
        or is_a_slug(text)
    )


def is_a_slug(text: str) -> bool:
    """A question written as a file name: the embedded model's lru_cache plan had a section
    "How-functools-lrucacheworks", shown as a heading and a notes question. A question word
    joined by hyphens or underscores to the next two words opens no heading a reader writes
    ("What-if analysis" is a word)."""
    return bool(_SLUG_QUESTION.match(one_line(text).strip("*_` ")))


# One word said twice: the semaphore run headed a section "Threads and threads".
_ONE_WORD_TWICE = re.compile(r"(?i)(\w+)\s+(?:and|or|&)\s+\1[.?!]?$")
_SLUG_QUESTION = re.compile(r"(?i)(?:how|what|why|when|which|where|who)[-_][a-z0-9]+[-_][a-z0-9]")


def asks_something(text: str) -> bool:
    """Whether a search question reads as one question or a title, not as what the embedded
    model searched at 1e9c940: question words alone ("what"), several numbered questions run
    together ("… etc.? 7. What is the best way …") or a statement ("The assertion is expanded
    to an empty list.")."""
    flat = one_line(text).strip()
    if not (content_words(flat) or CJK.search(flat) or "`" in flat):
        return False
    if _RUN_TOGETHER.search(flat):
        return False
    return not (flat.endswith(".") and len(flat.split()) >= SENTENCE_HEADING_WORDS)


# A numbered question after another's end: "…? 7. What …", "… itself. 3. What …".
_RUN_TOGETHER = re.compile(r"[?.!]\s+\d{1,2}[.)]\s+\w")


_INLINE_CODE = re.compile(r"`[^`\n]*`")


def has_a_word(text: str) -> bool:
    """Whether a reader finds a word in `text`: a token that starts with a letter (or an
    underscore) and holds two letters or more — a word, or a name such as `shutil.copy2` or
    `__slots__` — or an inline code span. The embedded model's raise-from report was headed
    "1.0.3-SNAPSHOT_BUILDED", which has none."""
    if CJK.search(text) or "`" in text:
        return True
    for token in text.split():
        token = token.strip(_TOKEN_PUNCTUATION)
        if _NAME_LIKE.fullmatch(token) and len(_LETTERS.findall(token)) >= 2:
            return True
    return False


_TOKEN_PUNCTUATION = "\"'“”‘’()[]{}?!,.:;*"
_NAME_LIKE = re.compile(r"[^\W\d][\w.'’-]*")
_LETTERS = re.compile(r"[^\W\d_]")

# Words a heading does not end on unless cut (beyond CUT_END, which the loop's checks use too):
# "What is the difference between?" and "The main difference between" headed the embedded
# model's shutil report.
_REPORT_CUT_END = frozenset(["between", "versus", "vs", "among", "without", "into", "onto"])
_ENDS_CUT = (CUT_END - {"to", "of", "from", "by"}) | _REPORT_CUT_END


def looks_broken(text: str) -> bool:
    """Text no reader should be shown as a heading or a question: it opens with stray
    punctuation ("} Question: …"), carries escaped or half markup ("&lt;version number="), an
    address, or a "word" too long to be one ("…30TueNov29ThuA:5761:1Z_vNljYwLzH…")."""
    flat = one_line(text)
    return bool(_BROKEN.search(flat)) or any(len(word) > LONGEST_WORD for word in flat.split())


_BROKEN = re.compile(
    r"^[^\w\"'“‘`(¿¡]|&(?:lt|gt|amp|quot);|\*\(|=\s*$|://|\bwww\.|\w\.(?:com|org|net|io)/"
)

LONGEST_WORD = 40

# A heading the model wrote as a sentence: cited, braced, or a clause with a full stop.
_CITED_OR_BRACED = re.compile(r"\[\d{1,3}(?:[,;]\s*\d{1,3})*\]|[{}]")

SENTENCE_HEADING_WORDS = 6


def code_names(text: str) -> set[str]:
    """The names with an underscore that `text` holds (`__exit__`, `copy_function`), case
    folded: what a heading or a question may name."""
    return {token.casefold() for token in _CODE_NAME.findall(text)}


def names_unknown_code(text: str, known: set[str]) -> bool:
    """Whether `text` names code that no text of `known` (code_names of the question and of
    every retrieved source) holds: a name the model made up or mangled. The embedded model's
    getattr report at 9399885 was headed "How does __getattr_vendor differ from __getattr__"
    and "How does __getattr() differ from …", names no page holds. With nothing known (no
    source retrieved), nothing is judged."""
    return bool(known) and not code_names(text) <= known


# A word with an underscore and a letter, whole (`__getattr` is not a part of `__getattr__`).
_CODE_NAME = re.compile(r"(?<!\w)(?=\w*_)(?=\w*[^\W\d_])\w+")
