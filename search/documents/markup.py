"""Text formats: Markdown, MDX (Markdown without its JSX), plain text, reStructuredText, HTML.

Flowing text is one section; its headings name the passages' sections."""

from __future__ import annotations

import codecs
import re

from search.documents.base import Document, Section
from search.documents.chunking import blocks
from search.documents.files import SkipFile
from search.documents.html_text import html_to_text
from workflows.citing.sentences import FRONT_MATTER, front_matter_title

_SNIFF_BYTES = 64 * 1024
_WORDS = re.compile(r"\w")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufffd]")


def decode_text(data: bytes) -> str:
    """UTF-8 (or UTF-16 with a BOM) text with normalised newlines; SkipFile when the bytes
    are not text at all (binary junk under a text name)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16", errors="replace")
    else:
        if b"\0" in data[:_SNIFF_BYTES]:
            raise SkipFile("binary content, not text (NUL bytes)")
        text = data.decode("utf-8", errors="replace")
    head = text[:_SNIFF_BYTES]
    if head and len(_CONTROL.findall(head)) > 0.05 * len(head):
        raise SkipFile("binary content, not text (mostly undecodable bytes)")
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub(" ", text)


def plain(data: bytes) -> Document:
    """.md, .txt, .rst: the front matter's `title`, else the first heading, is the title; the
    front matter itself is metadata, not text (a reader once saw a source titled `---`)."""
    text = decode_text(data)
    title, text = split_front_matter(text)
    return Document(title=title or first_heading(text), sections=[Section(text)])


def html(data: bytes) -> Document:
    title, text = html_to_text(decode_text(data))
    return Document(title=title or first_heading(text), sections=[Section(text)])


def mdx(data: bytes) -> Document:
    title, text = split_front_matter(decode_text(data))
    text = strip_jsx(text)
    return Document(title=title or first_heading(text), sections=[Section(text)])


def split_front_matter(text: str) -> tuple[str | None, str]:
    """(the front matter's title, the text without its front matter)."""
    title = front_matter_title(text)
    rest = FRONT_MATTER.sub("", text, count=1)
    return title, rest


def first_heading(text: str) -> str | None:
    """The first heading that has words (an underline-only block such as `---` is none)."""
    return next((b.heading for b in blocks(text) if b.heading and _WORDS.search(b.heading)), None)


_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_ESM = re.compile(r"^(import|export)\b")
_TAG = re.compile(r"</?[A-Za-z][\w.:-]*(?:\s[^<>]*)?/?>|<>|</>")


def strip_jsx(text: str) -> str:
    """MDX without its JavaScript: `import`/`export` statements, `{expressions}` and JSX tags
    are removed outside code fences; the text between tags is kept."""
    out: list[str] = []
    in_fence = False
    in_esm = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            out.append(line)
        elif in_fence:
            out.append(line)
        elif in_esm or _ESM.match(line):
            in_esm = bool(line.strip())  # an ESM statement runs until a blank line
        else:
            out.append(line)
    return _TAG.sub(" ", _strip_braces("\n".join(out)))


def _strip_braces(text: str) -> str:
    """Drop balanced `{...}` expressions, except inside inline code spans and fences."""
    out: list[str] = []
    depth = 0
    in_code = False
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line) and depth == 0:
            in_fence = not in_fence
            out.append(line + "\n")
            continue
        if in_fence:
            out.append(line + "\n")
            continue
        for char in line:
            if char == "`" and depth == 0:
                in_code = not in_code
            if in_code:
                out.append(char)
            elif char == "{":
                depth += 1
            elif char == "}" and depth:
                depth -= 1
            elif depth == 0:
                out.append(char)
        out.append("\n")
        in_code = False
    return "".join(out).rstrip("\n")
