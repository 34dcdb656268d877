"""The one sanitiser for model-written Markdown: pure, deterministic, linear-time text functions,
safe to call from workflow code and reusable by every export.

Model text is untrusted (a model echoes what a hostile page told it). What a reader gets:
- raw HTML is escaped (`<` becomes `&lt;`), never passed through; Markdown (lists, tables,
  emphasis, quotes) keeps working, and code spans and fenced blocks stay literal;
- links and images whose target is not http(s), mailto or relative (`javascript:`, `data:`,
  `vbscript:`, entity- or backslash-disguised forms) lose their target and keep their text;
  images become plain links (nothing loads when the report is opened); link reference
  definitions are dropped (`[1]: https://evil` would turn a citation into a link);
- a source list the model wrote ("Sources", "References", "Bibliography", "Works cited"… as a
  heading, a bold or colon pseudo-heading, or a setext heading) is dropped with its content,
  wherever it stands: the product writes the real list;
- every bracketed number-like marker (`[7]`, `[ 7 ]`, `[7, 8]`, `[7-8]`, `[^7]`, `[00007]`,
  `[Source 7]`, `[-1]`, `[12345]`, glued `word[7]`) goes through the caller's `cite` function:
  it becomes `[n]` of a registered source, or it is removed (with the space before it) and
  counted. Nothing that looks like a citation escapes the check.

Every regular expression here is linear: possessive quantifiers or bounded repeats, so a
megabyte of adversarial text costs a pass over it, not a quadratic search
(tests/workflows/citing/test_sanitise.py).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

# cite(n): the number to print for source n, or None when n is not a source it may cite.
# A citation's new form: a number, a number with the part it cites (`1, p. 2`), or None.
Cite = Callable[[int], int | str | None]

MAX_RANGE = 20  # [3-7] is expanded; a wider "range" is not a citation

# ---------------------------------------------------------------------------- code segments

_FENCE = re.compile(r" {0,3}(`{3,}+|~{3,}+)")
_TICKS = re.compile(r"`++")


def _blocks(text: str) -> list[tuple[bool, str]]:
    """Text cut into (is_code, piece): fenced code blocks (CommonMark rules: the closing fence
    uses the opening's character, at least as many; an unclosed fence runs to the end)."""
    out: list[tuple[bool, str]] = []
    prose: list[str] = []
    code: list[str] = []
    fence = ""
    for line in text.splitlines(keepends=True):
        opened = _FENCE.match(line)
        if not fence:
            if opened and not (opened.group(1)[0] == "`" and "`" in line[opened.end() :]):
                if prose:
                    out.append((False, "".join(prose)))
                    prose = []
                fence = opened.group(1)
                code = [line]
            else:
                prose.append(line)
            continue
        code.append(line)
        if (
            opened
            and opened.group(1)[0] == fence[0]
            and len(opened.group(1)) >= len(fence)
            and not line[opened.end() :].strip()
        ):
            out.append((True, "".join(code)))
            fence, code = "", []
    if fence:
        out.append((True, "".join(code)))
    if prose:
        out.append((False, "".join(prose)))
    return out


def _spans(prose: str) -> list[tuple[bool, str]]:
    """Prose cut into (is_code, piece) at code spans: a run of n backticks up to the next run
    of exactly n. One forward pointer per run length keeps this linear."""
    runs = [(m.start(), m.end()) for m in _TICKS.finditer(prose)]
    if not runs:
        return [(False, prose)]
    by_length: dict[int, list[int]] = {}
    for index, (start, end) in enumerate(runs):
        by_length.setdefault(end - start, []).append(index)
    pointer = dict.fromkeys(by_length, 0)
    out: list[tuple[bool, str]] = []
    position = index = 0
    while index < len(runs):
        start, end = runs[index]
        same = by_length[end - start]
        while pointer[end - start] < len(same) and same[pointer[end - start]] <= index:
            pointer[end - start] += 1
        if pointer[end - start] < len(same):
            closing = same[pointer[end - start]]
            out.append((False, prose[position:start]))
            out.append((True, prose[start : runs[closing][1]]))
            position = runs[closing][1]
            index = closing + 1
        else:
            index += 1  # an unmatched run is literal backticks
    out.append((False, prose[position:]))
    return out


def _segments(text: str) -> list[tuple[bool, str]]:
    out: list[tuple[bool, str]] = []
    for is_code, piece in _blocks(text):
        out.extend([(True, piece)] if is_code else _spans(piece))
    return out


def segments(text: str) -> list[tuple[bool, str]]:
    """The text as (is_code, piece) pairs: fenced blocks and code spans are code."""
    return _segments(text)


def _map_prose(text: str, change: Callable[[str], str]) -> str:
    return "".join(piece if is_code else change(piece) for is_code, piece in _segments(text))


# ---------------------------------------------------------------------------- source lists

_WORDS = (
    r"(?:sources?|source\s++list|references?|reference\s++list|bibliography|citations?"
    r"|works\s++cited|sources\s++cited|cited\s++sources|further\s++reading"
    r"|(?:sources|references)\s++(?:and|&)\s++(?:sources|references))"
)
_EMPH = r"(?:\*\*|__|\*|_)?+"
_ATX = re.compile(rf" {{0,3}}(#{{1,6}})[ \t]++(?:\d{{1,3}}[.)]?+[ \t]*+)?+{_EMPH}{_WORDS}"
                  rf"[ \t]*+:?+{_EMPH}[ \t]*+#*+[ \t]*+$", re.IGNORECASE)  # fmt: skip
_PSEUDO = re.compile(rf" {{0,3}}{_EMPH}{_WORDS}[ \t]*+:?+{_EMPH}[ \t]*+:?+[ \t]*+$", re.IGNORECASE)
_SETEXT = re.compile(r" {0,3}(?:=++|-++)[ \t]*+$")
_ANY_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]|$)")
_LIST_LIKE = re.compile(r"[ \t]|(?:[-*+]|\d{1,9}[.)]|\[[^\]\n]{0,200}+\])[ \t]|<?https?://")
_REFERENCE_DEFINITION = re.compile(r" {0,3}\[[^\]\n]{1,999}+\]:")


def drop_source_lists(markdown: str) -> str:
    """Drop every source list the model wrote, with its heading, wherever it stands.

    A Markdown heading's list runs to the next heading of the same or a higher level; a
    pseudo-heading ("**Sources:**", "References:") takes the list-like lines that follow it.
    A heading that only mentions sources ("Sources of error") is not a source list.
    """
    lines = markdown.splitlines(keepends=True)
    code = _code_lines(lines)
    kept: list[str] = []
    dropping: int | None = None  # level of the heading being dropped; 7 for a pseudo-heading
    for i, line in enumerate(lines):
        body = line.rstrip("\r\n")
        if code[i]:
            if dropping == 7:
                dropping = None
            if dropping is None:
                kept.append(line)
            continue
        heading = _ANY_ATX.match(body)
        if dropping is not None:
            if dropping < 7 and not (heading and len(heading.group(1)) <= dropping):
                continue
            if dropping == 7 and not heading and (not body.strip() or _LIST_LIKE.match(body)):
                continue
            dropping = None
        if atx := _ATX.match(body):
            dropping = len(atx.group(1))
            continue
        if _PSEUDO.match(body):
            underline = i + 1 < len(lines) and not code[i + 1] and _SETEXT.match(lines[i + 1])
            # A setext heading ("References" over "----------") has a level; else it is 7.
            level = 1 if underline and lines[i + 1].lstrip().startswith("=") else 2
            dropping = level if underline else 7
            continue
        kept.append(line)
    return "".join(kept)


def _code_lines(lines: list[str]) -> list[bool]:
    """Which lines belong to a fenced code block."""
    flags: list[bool] = []
    for is_code, piece in _blocks("".join(lines)):
        flags.extend([is_code] * len(piece.splitlines(keepends=True)))
    return flags


def _drop_reference_definitions(markdown: str) -> str:
    lines = markdown.splitlines(keepends=True)
    code = _code_lines(lines)
    return "".join(
        line
        for line, is_code in zip(lines, code, strict=True)
        if is_code or not _REFERENCE_DEFINITION.match(line)
    )


# ---------------------------------------------------------------------------- links

_DESTINATION = (
    r"[ \t]*+(?P<dest><[^<>\n]*+>|(?:[^\s()\\]++|\\.|\((?:[^\s()\\]++|\\.)*+\))*+)"
    r"(?:[ \t]++(?:\"[^\"\n]*+\"|'[^'\n]*+'|\([^()\n]*+\)))?+[ \t]*+\)"
)
_LINK = re.compile(rf"(?:(?P<bang>!?+)\[(?P<text>[^\[\]\n]{{0,1000}}+)\]|\])\({_DESTINATION}")
_SAFE_SCHEMES = ("http", "https", "mailto")
_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]{0,31}+:")
_INVISIBLE = re.compile(r"[\x00-\x20\x7f\\]++")


def is_safe_url(destination: str) -> bool:
    """http(s), mailto, or no scheme at all (relative, #anchor), as a browser would read it
    after decoding entities and dropping the whitespace and backslashes renderers ignore."""
    decoded = _INVISIBLE.sub("", html.unescape(destination.strip().strip("<>"))).lower()
    scheme = _SCHEME.match(decoded)
    return scheme is None or scheme.group(0)[:-1] in _SAFE_SCHEMES


def _neutralise_links(prose: str) -> str:
    def link(match: re.Match[str]) -> str:
        text = match.group("text")
        safe = is_safe_url(match.group("dest"))
        if text is None:  # only `](target)` matched (nested brackets in the link text)
            return match.group(0) if safe else "]"
        if _MARKER.fullmatch(f"[{text}]"):
            return f"[{text}]"  # a citation-looking link: the citation check decides
        if not safe:
            return text
        return match.group(0)[len(match.group("bang")) :]  # an image becomes a plain link

    return _LINK.sub(link, prose)


# ---------------------------------------------------------------------------- markers

# A marker may name the part it cites after its number, as the product prints them
# (`[3, p. 2]`, `[3, §Diet]`): the part is dropped and the number checked like any other, so a
# model cannot pass a citation-looking marker through as text.
_MARKER = re.compile(
    r"\[(?:\^|\#|(?:sources?|src|refs?|references?|docs?|documents?|citations?)[ \t]*+[:#]?+)?+"
    r"[ \t]*+([\d \t,;\-\u2010-\u2015\u2212]{1,64}?)"
    r"(?:,[ \t]*+[^\[\]\n\d \t,;\-][^\[\]\n]{0,60}+)?\]",
    re.IGNORECASE,
)
_DASH = r"[\-\u2010-\u2015\u2212]"
_PART = re.compile(rf"[ \t]*+(\d{{1,12}}+)[ \t]*+(?:{_DASH}[ \t]*+(\d{{1,12}}+)[ \t]*+)?+")


def marker_numbers(content: str) -> list[int] | None:
    """The source numbers a marker's content names, or None when it names none (`-1`, a wide
    range, a lone dash). Ranges of at most MAX_RANGE numbers are expanded."""
    numbers: list[int] = []
    for part in re.split(r"[,;]", content):
        if not part.strip():
            continue
        match = _PART.fullmatch(part)
        if match is None:
            return None
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if last < first or last - first >= MAX_RANGE:
            return None
        numbers.extend(range(first, last + 1))
    return numbers or None


def _markers(prose: str) -> list[tuple[re.Match[str], list[int] | None]]:
    return [
        (m, marker_numbers(m.group(1)))
        for m in _MARKER.finditer(prose)
        if any(ch.isdigit() for ch in m.group(1))
    ]


def _rewrite_prose(prose: str, cite: Cite) -> tuple[str, int]:
    """Adjacent markers ([1][2]) are one run: a run that loses every number is removed with
    the space before it ("claim [99]." reads "claim.")."""
    out: list[str] = []
    run: list[int | str] | None = None  # printed markers of the current run of markers
    removed = position = 0

    def close(run: list[int | str] | None) -> None:
        if run:
            out.append("".join(f"[{n}]" for n in run))
        elif run is not None and out:
            out[-1] = out[-1].rstrip(" \t")

    for match, numbers in _markers(prose):
        if run is None or match.start() != position:
            close(run)
            out.append(prose[position : match.start()])
            run = []
        position = match.end()
        if numbers is None:
            removed += 1
        for n in numbers or []:
            printed = cite(n)
            if printed is None:
                removed += 1
            elif printed not in run:
                run.append(printed)
    close(run)
    out.append(prose[position:])
    return "".join(out), removed


def rewrite_citations(text: str, cite: Cite) -> tuple[str, int]:
    """Every marker outside code through `cite` (nothing else changes); returns the new text
    and how many citations were removed."""
    removed = 0

    def change(prose: str) -> str:
        nonlocal removed
        new, count = _rewrite_prose(prose, cite)
        removed += count
        return new

    return _map_prose(text, change), removed


def cited_numbers(text: str) -> list[int]:
    """Every number cited outside code, in order of first appearance, without repeats."""
    seen: dict[int, None] = {}
    for is_code, piece in _segments(text):
        if not is_code:
            for _, numbers in _markers(piece):
                seen.update(dict.fromkeys(numbers or []))
    return list(seen)


# ---------------------------------------------------------------------------- the sanitiser


def _escape_html(prose: str) -> str:
    return prose.replace("<", "&lt;")


def sanitise_markdown(text: str, cite: Cite) -> tuple[str, int]:
    """Model-written Markdown made safe to show: source lists and reference definitions
    dropped, unsafe links neutralised, citations checked through `cite`, raw HTML escaped.
    Returns the text and how many citations were removed."""
    structured = _drop_reference_definitions(drop_source_lists(text))
    removed = 0

    def change(prose: str) -> str:
        nonlocal removed
        new, count = _rewrite_prose(_neutralise_links(prose), cite)
        removed += count
        return _escape_html(new)

    return _map_prose(structured, change), removed


def escape_inline(text: str) -> str:
    """One line of untrusted text (a page title, a URL) made inert inside Markdown: no HTML,
    no link or citation syntax, no code span, no line break."""
    flat = " ".join(text.split())
    for char in "\\`[]":
        flat = flat.replace(char, f"\\{char}")
    return _escape_html(flat)
