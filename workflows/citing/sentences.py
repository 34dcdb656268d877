# ruff: noqa: RUF001 (typographic quotes, CJK punctuation and Cyrillic are what this code reads or writes)
"""Evidence as whole sentences: what a passage says, without the metadata around it.

A retrieved passage is a piece of a document as the chunker cut it: it may open with headings,
front matter, heading underlines (`*****`), grammar productions (`with_stmt ::= …`), markup and
code, and it may start or end inside a sentence. A reader of a quote wants none of that, and a
citation checked against it proves little. These functions keep the prose, split it into
sentences and tell a statement (a whole sentence that says something) from a heading, a
question, a fragment or code. Pure and linear in the (bounded) text: safe in workflow code, and
used by the retrieval activity as well, so both sides read a passage the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from workflows.citing.support import (
    COMPLETION_MEMO_ENTRIES,
    STATEMENTS_MEMO_ENTRIES,
    content_words,
    short_text_memo,
)

FRONT_MATTER = re.compile(r"\A\s*---[ \t]*\n(.{0,4000}?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE | re.IGNORECASE)
_ATX = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")
_ADORNMENT = re.compile(r"^ {0,3}([=\-~^\"'`#*+:.<>_])\1{2,}[ \t]*$")
_GRAMMAR = re.compile(r"::=")
_DIRECTIVE = re.compile(r"^ {0,3}\.\. [\w:-]+::")  # reST `.. index::`, `.. note::`
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_TAG = re.compile(r"</?[A-Za-z][\w:-]{0,30}(?:\s[^<>]{0,300})?/?>")
# A Markdown link or image keeps its text, never its target (`[x](javascript:…)` → `x`).
_LINK = re.compile(
    r"!?\[([^\[\]\n]{0,300})\]\([^()\n]{0,500}(?:\([^()\n]{0,100}\)[^()\n]{0,200})*\)"
)
# An API entry of a definition list: `object.__enter__(self)`, `class contextlib.ExitStack`.
_API_TERM = re.compile(r"(?:[a-z]+ )?[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*(?:\([^()\n]*\))?")
_SUBJECT_LABEL = re.compile(r"^`[^`\n]{1,120}`: (?=\S)")
_LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)]|\(?[a-z]\))\s+")
_EMPHASIS = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_SPLIT = re.compile(r"(?<=[.!?])([\"'”’)]*)\s+(?=\S)")
_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_CJK_END = re.compile(r"(?<=[。！？])")
_CODE_SIGNS = ("::=", " = ", "==", "{", "}", ">>>", "=>", "->", "();", "</", "/>")
_OPTION = re.compile(r"(?:^|\s)--?[A-Za-z]")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "cf.", "vs.", "p.", "pp.", "no.", "fig.", "mr.", "dr.")

MIN_STATEMENT_WORDS = 5
MAX_STATEMENT_CHARS = 400
# An API entry's definition is one statement up to this size (see _definition_kept_whole).
DEFINITION_MAX_CHARS = 320


def front_matter_title(text: str) -> str | None:
    """The `title:` of a document's YAML front matter, when it has one."""
    match = FRONT_MATTER.match(text)
    if not match or not (title := _FRONT_TITLE.search(match.group(1))):
        return None
    return title.group(1).strip().strip("\"'").strip() or None


def prose(text: str) -> str:
    """The passage without its metadata: front matter, headings (ATX and underlined), reST
    directives, grammar productions, fenced code and HTML tags go; paragraphs stay, separated
    by blank lines, each on one line."""
    text = FRONT_MATTER.sub("", text, count=1)
    lines = text.replace("\r\n", "\n").split("\n")
    keep: list[str] = []
    fenced = False
    subject = ""  # an API entry's name, for the first line of its definition
    for at, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            keep.append("")
            continue
        following = lines[at + 1] if at + 1 < len(lines) else ""
        if not fenced and (term := _api_entry(line, lines[at + 1 : at + 3])):
            # An API entry's name is what its (indented) definition is about
            # ("object.__enter__(self)" / "Enter the runtime context…"): kept as the
            # subject of the definition's first sentence, so that it says what it describes.
            keep.append("")
            subject = term
            continue
        if not fenced and _ATX.match(line):
            # A Markdown API reference heads each entry with its name: the subject too.
            name = line.strip().strip("#").strip().strip("`")
            subject = name if is_api_name(name) else ""
            keep.append("")
            continue
        if subject and line.strip():
            indent = line[: len(line) - len(line.lstrip())]
            line, subject = f"{indent}`{subject}`: {line.strip()}", ""
        if (
            fenced
            or _is_term(line, following)
            or _ATX.match(line)
            or _ADORNMENT.match(line)
            or _DIRECTIVE.match(line)
            or _GRAMMAR.search(line)
            or (line.strip() and _ADORNMENT.match(following) and not _ADORNMENT.match(line))
        ):
            keep.append("")
            continue
        keep.append(line)
    paragraphs = []
    for block in re.split(r"\n\s*\n", "\n".join(keep)):
        flat = " ".join(_LINK.sub(r"\1", _TAG.sub(" ", block)).split())
        if flat:
            paragraphs.append(flat)
    return "\n\n".join(paragraphs)


def is_api_name(term: str) -> bool:
    """Code that names an API entry: `object.__enter__(self)`, `class contextlib.ExitStack`,
    `copy2(src, dst, *, follow_symlinks=True)` — not a word or a phrase."""
    return (
        bool(term)
        and len(term) <= 120
        and bool(_API_TERM.fullmatch(term))
        and any(sign in term for sign in "._(")
    )


def _api_entry(line: str, following: list[str]) -> str:
    """The name of an API entry (`object.__enter__(self)`, `class contextlib.ExitStack`) when
    `line` is one: code-like, alone on its line, its definition indented below (after at most
    one blank line); else empty."""
    term = line.strip().strip("`")
    if not is_api_name(term):
        return ""
    below = next((f for f in following if f.strip()), "")
    indent = len(line) - len(line.lstrip())
    return term if len(below) - len(below.lstrip()) > indent else ""


def _is_term(line: str, following: str) -> bool:
    """A definition list's term (reST, Markdown extensions): a line that ends no sentence,
    followed by its more indented definition — a label, like a heading."""
    if not line.strip() or not following.strip() or line.rstrip().endswith((".", ":", ",", ";")):
        return False
    if _LIST_MARK.match(line):
        return False  # a list item wrapped onto an indented line
    indent = len(line) - len(line.lstrip())
    return len(following) - len(following.lstrip()) > indent and len(line.split()) <= 12


def sentences(text: str) -> list[str]:
    """The sentences of `text`, paragraph by paragraph (a sentence never spans a paragraph),
    list markers and bold marks removed."""
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(paragraph.split())
        if not flat:
            continue
        flat = _EMPHASIS.sub(r"\1", _LIST_MARK.sub("", flat))
        out.extend(_definition_kept_whole(split_sentences(flat)))
    return out


def split_sentences(flat: str) -> list[str]:
    """The sentences of one paragraph on one line, each on its own (definitions too)."""
    pieces = _CJK_END.split(flat) if _CJK.search(flat) else _split(flat)
    return [p.strip() for p in pieces if p.strip()]


def _definition_kept_whole(pieces: list[str]) -> list[str]:
    """An API entry's definition (its first sentence labelled with the entry's name) keeps the
    sentences that follow it in its paragraph while they fit in one statement: "The "with"
    statement will bind this method's return value…" means nothing without the name of
    the method it speaks of."""
    if not pieces or not _SUBJECT_LABEL.match(pieces[0]):
        return pieces
    whole = pieces[0]
    rest = pieces[1:]
    while rest and len(whole) + 1 + len(rest[0]) <= DEFINITION_MAX_CHARS:
        whole = f"{whole} {rest.pop(0)}"
    return [whole, *rest]


def _split(flat: str) -> list[str]:
    """Split at sentence ends, rejoining where the 'end' was an abbreviation (e.g., p. 2) or
    inside parentheses: "you'll get the results (or exceptions!) of the original Futures"
    is one sentence."""
    parts = _SPLIT.split(flat)  # [piece, closers, piece, closers, …]
    pieces: list[str] = [parts[0]]
    for closers, piece in zip(parts[1::2], parts[2::2], strict=True):
        last = pieces[-1]
        if last.split()[-1].lower() in _ABBREVIATIONS:
            pieces[-1] = f"{last} {piece}"
        elif last.count("(") > last.count(")"):
            pieces[-1] = f"{last}{closers} {piece}"
        else:
            pieces[-1] = f"{last}{closers}"  # the quote or parenthesis the sentence closes
            pieces.append(piece)
    return pieces


def is_statement(text: str) -> bool:
    """A whole sentence that states something: it starts like a sentence, ends with a full
    stop (not a question mark), has enough words and reads as prose, not code or markup. An
    API entry's definition may open with the entry's name as a label (`name()`: …)."""
    text = text.strip()
    if not text or len(text) > MAX_STATEMENT_CHARS:
        return False
    labelled = _SUBJECT_LABEL.match(text) is not None
    text = _SUBJECT_LABEL.sub("", text, count=1)
    if _CJK.search(text):
        return text.endswith(("。", "！", ".")) and len(_CJK.findall(text)) >= 8
    first = text.lstrip("\"'“‘(`*_")[:1]
    if not (first.isupper() or first.isdigit()):
        return False  # a sentence the chunker cut, or a list fragment
    if not text.rstrip("\"'”’)*_`").endswith((".", "!")) or text.endswith(("...", "…")):
        return False
    if any(sign in text for sign in _CODE_SIGNS) or text.startswith(("#", ">", "|", "-")):
        return False
    if len(_OPTION.findall(text)) >= 2:  # command-line usage, not prose
        return False
    tokens = text.split()
    words = [t for t in tokens if _WORD.fullmatch(t.strip(".,;:!?()\"'“”‘’`*"))]
    # The entry's name is the subject of a labelled definition ("`copy2()`: Copy data and
    # metadata."): one word of the sentence.
    return len(words) + labelled >= MIN_STATEMENT_WORDS and len(words) >= 0.6 * len(tokens)


def statements(text: str) -> list[str]:
    """The whole sentences of a passage's prose that state something (see is_statement)."""
    return list(_statements(text))


# Each retrieval's leads, the grounding and the final report split the same sources again.
@short_text_memo(STATEMENTS_MEMO_ENTRIES)
def _statements(text: str) -> tuple[str, ...]:
    return tuple(s for s in sentences(prose(text)) if is_statement(s))


def is_fragment(text: str) -> bool:
    """Not a claim at all: a question, a heading-like phrase or a few words (the checker never
    counts one as a supported claim)."""
    flat = " ".join(text.split()).strip()
    if not flat:
        return True
    if flat.rstrip("\"'”’)*_`").endswith("?") or flat.startswith("#"):
        return True
    if _CJK.search(flat):
        return len(_CJK.findall(flat)) < 4
    words = _WORD.findall(flat)
    if len(words) < 3:
        return True
    # A phrase in title case with no sentence end is a heading: "Python's with Statement"
    # was printed as the lead's claim, citing two sources.
    if not flat.rstrip("\"'”’)*_`").endswith((".", "!", ":", ";")):
        capitals = sum(1 for w in words if w[0].isupper())
        return capitals * 3 >= len(words) * 2
    return False


# The words a sentence cut by a token limit stops on or just after ("…which allows for
# common"): no finished sentence ends on them.
_CUT_TAIL = frozenset(
    (
        *("a", "an", "the", "of", "to", "for", "in", "on", "at", "by", "with", "from", "into"),
        *("and", "or", "but", "that", "which", "than", "as", "its", "their"),
    )
)
# A list item may end without a stop ("Caches results for speed"); a sentence this long that
# has none, and ends on those words, was cut.
_CUT_MIN_WORDS = 10


# Braces outside inline code are the debris of the model's JSON or a template, not prose:
# "TaskGroup.create_task(self, coro, *, name=None)'}, {" was a Research note.
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_BRACE = re.compile(r"[{}]")
# A run of emphasis marks standing alone is a name the model lost between its marks: "The
# action of a ***** declaration" stood for the page's "*__slots__* declaration".
_BARE_MARKS = re.compile(r"(?<!\S)[*_]{3,}(?![^\s.,;:!?)])")


def is_unfinished(text: str) -> bool:
    """Stricter than is_fragment, for the report a reader gets: a bare name of one or two
    tokens ("python.util.uuid", cited to uuid's page because its three word parts are there),
    a text with braces outside inline code (JSON or template debris) or a bare run of emphasis
    marks (a name lost between them), a text ending on a joining word ("…executing a"), a
    text with no end that leaves a call or a list open ("…limit=None, file="), a question with
    no end ("How does Python's heapq.max()"), or a long sentence with no end whose last two
    words hold one ("…which allows for common")."""
    flat = " ".join(text.split()).strip()
    if len(flat.split()) < 3 and not _CJK.search(flat):
        return True
    outside_code = _INLINE_CODE.sub("", flat)
    if _BRACE.search(outside_code) or _BARE_MARKS.search(outside_code):
        return True
    if MARKUP_TAG.search(outside_code) or says_too_little(flat, outside_code):
        return True
    if flat.rstrip("\"'”’)*_`").endswith((".", "!", "?", ":", ";", "。", "！", "？")):
        return False
    # An open call or list with no sentence end: "Task.print_stack(self, *, limit=None, file=".
    if outside_code.endswith(_OPEN_ENDS) or outside_code.count("(") > outside_code.count(")"):
        return True
    words = [w.casefold() for w in _WORD.findall(flat)]
    if not words:
        return False
    if words[0] in _ASKING and len(words) > 1 and words[1] in _ASKING_NEXT:
        return True  # a question with no mark: the heapq notes answered "How does …heapq.max()"
    tail = set(words[-2:]) if len(words) >= _CUT_MIN_WORDS else {words[-1]}
    return bool(_CUT_TAIL & tail)


def says_too_little(flat: str, outside_code: str) -> bool:
    """One word said twice: "Threads and threads" (a notes list item the semaphore run cited
    to two passages), or an entry's label with one word after it ("`PurePath.is_reserved(self)`
    : True"). A list item naming one thing ("- The is operator") says what it names."""
    if _CJK.search(flat):
        return False
    if _LABELLED.match(flat):
        return len(_WORD.findall(_LABELLED.sub("", flat))) < 2
    joined = _JOINED.search(outside_code)
    return bool(joined) and "`" not in flat and len(content_words(outside_code)) < 2


_JOINED = re.compile(r"\s(?:and|or|&)\s", re.I)
# Markup debris outside code: an escaped tag or a closing one ("The asyncio package, tracking
# PEP 3156.&lt;/code> &lt;description>" was a note of the taskgroup run). An opening tag alone
# may be what the docs quote: 'File "<stdin>", line 1'.
MARKUP_TAG = re.compile(r"&lt;/?[A-Za-z][\w-]*|</[A-Za-z][\w-]*>")
# An API entry's label, as code or as a bare name with a dot, an underscore or a call's
# brackets ("`name(args)`:", "PurePath.is_reserved(self) :"), then its definition.
_LABELLED = re.compile(r"^(?:`[^`\n]+`|[\w.]+\([^()\n]*\)|\w+[._][\w.]+)\s*:\s*")
_OPEN_ENDS = ("=", "(", "[", ",", "–", "—", "/")
# A question's opening: a question word and then a verb or a thing asked about.
_ASKING = frozenset(("how", "what", "why", "when", "which", "where", "who"))
_ASKING_NEXT = frozenset(
    ("does", "do", "did", "is", "are", "was", "were", "can", "should", "would", "will", "to")
)
_COPY_MIN_WORDS = 4
# A heading or title line is short; longer lines are prose however they end.
MAX_LABEL_CHARS = 160
_ENDS = (".", "!", "?", ":", ";", "。", "！", "？")


def copies_a_label(text: str, passages: Iterable[str]) -> bool:
    """A text with no sentence end that says only what a line of `passages` that is no sentence
    says (a heading, a title, a label): "Attribute access (Python language reference)" was a
    Research note citing the page that opens "# attribute-access (Python language reference)"."""
    flat = " ".join(text.split()).strip()
    if flat.rstrip("\"'”’)*_`").endswith(_ENDS):
        return False
    words = [w.casefold() for w in _WORD.findall(flat.replace("-", " "))]
    if not words:
        return False
    for passage in passages:
        for line in passage.splitlines():
            if len(line) <= MAX_LABEL_CHARS and not line.rstrip().endswith(_ENDS):
                said = [w.casefold() for w in _WORD.findall(line.replace("-", " "))]
                if said == words:
                    return True
    return False


def completed(text: str, passages: Iterable[str], fill: bool = True) -> str | None:
    """A text whose last sentence has no end and copies the start of a sentence of `passages`,
    made whole, or None when there is nothing to mend. The embedded model cited "The
    specification, background and examples for the Python" to the page that says 'The
    specification, background, and examples for the Python "with" statement.': the reader gets
    the source's sentence. A short missing tail is filled in from the source; after whole
    sentences, a cut copy missing more ("… Managers). This allows common") is dropped. With
    `fill` False a cut copy is only ever dropped, never filled in."""
    flat = " ".join(text.split()).strip()
    if flat.rstrip("\"'”’)*_`").endswith(_ENDS):
        return None
    pieces = split_sentences(flat)
    head, last = pieces[:-1], pieces[-1] if pieces else ""
    words = [w.casefold() for w in _WORD.findall(last)]
    if len(words) < (3 if head else _COPY_MIN_WORDS):
        return None
    opening = " ".join(words) + " "  # a word holds no space: a prefix of words is a prefix
    for passage in passages:
        for sentence, said, count in _statement_words(passage):
            missing = count - len(words)
            if missing <= 0 or not said.startswith(opening):
                continue
            # Only a short tail is filled in: a strong model's list item without a full stop
            # that opens a long sentence of its source stays as the model wrote it.
            if fill and missing <= max(3, len(words) // 2):
                return " ".join([*head, sentence])
            if head:
                return " ".join(head)
    return None


@short_text_memo(COMPLETION_MEMO_ENTRIES)
def _statement_words(passage: str) -> tuple[tuple[str, str, int], ...]:
    """Each statement of `passage` with its words casefolded and joined by spaces, and their
    count: what `completed` compares a claim's opening with, for every claim of a report
    against every source the run holds."""
    found = []
    for sentence in statements(passage):
        said = [w.casefold() for w in _WORD.findall(sentence)]
        found.append((sentence, " ".join(said) + " ", len(said)))
    return tuple(found)


def joined(found: Iterable[str], limit: int) -> str:
    """Whole sentences, in order, as many as fit in `limit` characters (at least none cut)."""
    out: list[str] = []
    size = 0
    for sentence in found:
        extra = len(sentence) + (1 if out else 0)
        if size + extra > limit:
            break
        out.append(sentence)
        size += extra
    return " ".join(out)


def evidence_text(text: str, limit: int) -> str:
    """The passage's prose (see `prose`) up to `limit` characters, cut between paragraphs or
    sentences, never inside one (a single over-long sentence is the exception)."""
    out: list[str] = []
    size = 0
    for paragraph in prose(text).split("\n\n"):
        extra = len(paragraph) + (2 if out else 0)
        if size + extra <= limit:
            out.append(paragraph)
            size += extra
            continue
        room = limit - size - (2 if out else 0)
        part = joined(sentences(paragraph), room) if room > 40 else ""
        if part:
            out.append(part)
        break
    if not out and text.strip():
        return " ".join(prose(text).split())[:limit]
    return "\n\n".join(out)


def quote_of(evidence: str, query: str, limit: int) -> str:
    """The statement of `evidence` that shares most words with `query` (the first one on a
    tie), followed by the next statement when both fit in `limit`; empty when the passage
    states nothing in whole sentences."""
    found = [s for s in statements(evidence) if len(s) <= limit]
    if not found:
        return ""
    wanted = content_words(query)
    best = max(range(len(found)), key=lambda i: (len(content_words(found[i]) & wanted), -i))
    quote = found[best]
    if best + 1 < len(found) and len(quote) + 1 + len(found[best + 1]) <= limit:
        quote = f"{quote} {found[best + 1]}"
    return quote
