"""A finished run's report as a small document model that every exporter renders.

The report's Markdown is parsed once with markdown-it-py (a CommonMark parser) into blocks and
inline runs; the HTML, PDF and DOCX exporters render those, never the Markdown text, so no
format needs regexes over Markdown and none passes anything through unescaped:

- raw HTML is off in the parser: `<script>` in model text is text (and the report's Markdown
  already carries it escaped as `&lt;script&gt;`, which the parser reads back as text);
- a link keeps its target only when it is http(s) (`is_web_url`); any other link — a
  `javascript:` URL, a relative path, a local file — is shown as its text; images are never
  loaded: they become their alt text;
- `[n]` in prose is a citation when n is a source of the report; it links to that entry of the
  Sources list;
- the Sources list comes from the report's structured sources (title, location), not from the
  Markdown: a source's location links out only when it is an http(s) URL, a local file is text.
"""

from __future__ import annotations

import dataclasses
import html
import re
from dataclasses import dataclass, field
from typing import Any, Union
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from workflows.citing.citations import document_key
from workflows.labels import SOURCES_HEADINGS
from workflows.models import NumberedSource
from workflows.results import ResearchReport

SOURCES_HEADING = "\n## Sources\n"
# `[3]`, or `[3, p. 2]` naming the part of source 3 the sentence relies on
# (workflows/citing/citations.py).
_CITATION = re.compile(r"\[(\d{1,6})(?:, [^\[\]\n]{1,60})?\]")
_TAB_NEWLINE = re.compile(r"[\t\n\r]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_OUTER_SPACE = "".join(map(chr, range(0x21)))  # C0 controls and space, trimmed as browsers do
# What XML 1.0 cannot hold (C0 controls but tab, newline and CR; lone surrogates; U+FFFE/U+FFFF),
# plus DEL and the C1 controls, which no reader shows and a terminal obeys: one ESC in a claim
# or a file name made python-docx refuse the whole document.
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"


def xml_safe(text: str) -> str:
    """The text with every character an export cannot hold replaced by U+FFFD (visible: the
    reader sees that something was there). Unchanged when it has none."""
    return _NOT_TEXT.sub(REPLACEMENT, text)


def web_url(url: str) -> str | None:
    """The URL as a browser would follow it (entities decoded, tabs and newlines dropped, outer
    spaces trimmed, inner ones encoded) when that is an absolute http(s) URL with a host, else
    None: the only links an export keeps. A scheme that reads as http(s) only once spaces or
    control characters are removed (`ht tp:`) is refused."""
    gentle = _TAB_NEWLINE.sub("", html.unescape(url)).strip(_OUTER_SPACE)
    if _CONTROL.search(gentle):
        return None
    try:
        parts = urlsplit(gentle)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return gentle.replace(" ", "%20")


def is_web_url(url: str) -> bool:
    return web_url(url) is not None


# ---------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Run:
    """A piece of inline text with one style. `citation` is a source number (link to the
    Sources entry); `href` an http(s) URL; `text == "\\n"` is a line break."""

    text: str
    bold: bool = False
    italic: bool = False
    strike: bool = False
    code: bool = False
    href: str | None = None
    citation: int | None = None


@dataclass
class Heading:
    level: int  # below the title: 1 is a top section (build_document makes levels consecutive)
    runs: list[Run]


@dataclass
class Paragraph:
    runs: list[Run]


@dataclass
class ListBlock:
    ordered: bool
    start: int
    items: list[list[Block]]


@dataclass
class CodeBlock:
    text: str
    language: str = ""


@dataclass
class Table:
    header: list[list[Run]]
    rows: list[list[list[Run]]]
    align: list[str] = field(default_factory=list)  # "left" / "center" / "right" / ""


@dataclass
class Quote:
    blocks: list[Block]


@dataclass
class Rule:
    pass


Block = Union[Heading, Paragraph, ListBlock, CodeBlock, Table, Quote, Rule]  # noqa: UP007


@dataclass
class SourceEntry:
    number: int
    title: str
    location: str  # the document: a file or a page
    link: str | None  # the location when it is an http(s) URL
    parts: list[str] = field(default_factory=list)  # cited sections, pages, slides


@dataclass
class Document:
    title: str
    question: str
    blocks: list[Block]
    sources: list[SourceEntry]


# ---------------------------------------------------------------------------- parsing


def _parser() -> MarkdownIt:
    # CommonMark with raw HTML off (it is text), plus GFM tables and strikethrough.
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
        ["table", "strikethrough"]
    )


def plain_text(runs: list[Run]) -> str:
    return "".join(run.text for run in runs).strip()


class _Builder:
    def __init__(self, citable: set[int]) -> None:
        self.citable = citable

    def blocks(self, nodes: list[SyntaxTreeNode]) -> list[Block]:
        out: list[Block] = []
        for node in nodes:
            block = self.block(node)
            if block is not None:
                out.append(block)
        return out

    def block(self, node: SyntaxTreeNode) -> Block | None:
        kind = node.type
        if kind == "heading":
            return Heading(int(node.tag[1]), self.inline_of(node))
        if kind == "paragraph":
            return Paragraph(self.inline_of(node))
        if kind in ("bullet_list", "ordered_list"):
            start = int(node.attrs.get("start", 1)) if kind == "ordered_list" else 1
            items = [self.blocks(item.children) for item in node.children]
            return ListBlock(kind == "ordered_list", start, items)
        if kind in ("fence", "code_block"):
            return CodeBlock(node.content.rstrip("\n"), (node.info or "").split(" ")[0])
        if kind == "blockquote":
            return Quote(self.blocks(node.children))
        if kind == "hr":
            return Rule()
        if kind == "table":
            return self.table(node)
        return None  # html_block cannot occur (html off); anything else has no content

    def table(self, node: SyntaxTreeNode) -> Table:
        header: list[list[Run]] = []
        rows: list[list[list[Run]]] = []
        align: list[str] = []
        for part in node.children:  # thead, tbody
            for row in part.children:
                cells = [self.inline_of(cell) for cell in row.children]
                if part.type == "thead":
                    header = cells
                    align = [_alignment(cell) for cell in row.children]
                else:
                    rows.append(cells)
        return Table(header, rows, align)

    def inline_of(self, node: SyntaxTreeNode) -> list[Run]:
        runs: list[Run] = []
        for child in node.children:
            if child.type == "inline":
                self.inline(child.children, Run(""), runs)
        return _with_citations(_merged(runs), self.citable)

    def inline(self, nodes: list[SyntaxTreeNode], style: Run, out: list[Run]) -> None:
        for node in nodes:
            kind = node.type
            if kind == "text":
                out.append(_styled(style, node.content))
            elif kind == "code_inline":
                out.append(_styled(style, node.content, code=True))
            elif kind in ("softbreak",):
                out.append(_styled(style, " "))
            elif kind == "hardbreak":
                out.append(_styled(style, "\n"))
            elif kind == "strong":
                self.inline(node.children, _styled(style, "", bold=True), out)
            elif kind == "em":
                self.inline(node.children, _styled(style, "", italic=True), out)
            elif kind == "s":
                self.inline(node.children, _styled(style, "", strike=True), out)
            elif kind == "link":
                href = web_url(str(node.attrs.get("href", "")))
                self.inline(node.children, _styled(style, "", href=href), out)
            elif kind == "image":  # never loaded: its alt text stands in
                alt = "".join(c.content for c in node.children if c.type == "text")
                out.append(_styled(style, alt))
            else:  # html_inline cannot occur (html off); keep any other text as text
                out.append(_styled(style, node.content))


def _styled(style: Run, text: str, **changes: Any) -> Run:
    return dataclasses.replace(style, text=text, **changes)


def _alignment(cell: SyntaxTreeNode) -> str:
    match = re.search(r"text-align:(\w+)", str(cell.attrs.get("style", "")))
    return match.group(1) if match else ""


def _merged(runs: list[Run]) -> list[Run]:
    """Adjacent runs of one style joined, so `[1]` split over text tokens is whole again
    (texts gathered in lists and joined once: linear however many tokens there are)."""
    groups: list[tuple[Run, list[str]]] = []
    for run in runs:
        if not run.text:
            continue
        style = _styled(run, "")
        if groups and groups[-1][0] == style and "\n" not in (run.text, groups[-1][1][-1]):
            groups[-1][1].append(run.text)
        else:
            groups.append((style, [run.text]))
    return [_styled(style, "".join(texts)) for style, texts in groups]


def _with_citations(runs: list[Run], citable: set[int]) -> list[Run]:
    """`[n]` in prose (not code, not inside a link) becomes a citation run when n is a source."""
    out: list[Run] = []
    for run in runs:
        if run.code or run.href or run.citation is not None:
            out.append(run)
            continue
        position = 0
        for match in _CITATION.finditer(run.text):
            number = int(match.group(1))
            if number not in citable:
                continue
            if match.start() > position:
                out.append(_styled(run, run.text[position : match.start()]))
            out.append(_styled(run, match.group(0), citation=number))
            position = match.end()
        if position < len(run.text):
            out.append(_styled(run, run.text[position:]))
    return out


def _split_sources(markdown: str) -> str:
    """The body without the Sources list the product appended (it is rebuilt from data)."""
    cut = max(markdown.rfind(f"\n{heading}\n") for heading in SOURCES_HEADINGS)
    return markdown[:cut] if cut >= 0 else markdown


def _source_entries(sources: list[NumberedSource]) -> list[SourceEntry]:
    """One entry per number, as the report's own Sources list has it: passages of one document
    share a number; the entry names the document and the parts of it that were cited."""
    by_number: dict[int, list[NumberedSource]] = {}
    for numbered in sources:
        by_number.setdefault(numbered.number, []).append(numbered)
    entries = []
    for number in sorted(by_number):
        first = by_number[number][0].source
        location = xml_safe(" ".join(document_key(first).split()))
        parts = [xml_safe(" ".join(n.source.anchor.split())) for n in by_number[number]]
        entries.append(
            SourceEntry(
                number=number,
                title=xml_safe(" ".join(first.title.split())) or location,
                location=location,
                link=web_url(document_key(first)),
                parts=list(dict.fromkeys(part for part in parts if part)),
            )
        )
    return entries


MAX_LEVEL = 5  # below the title: HTML's h6 and Word's Heading 5 are the deepest used


def _headings(blocks: list[Block]) -> list[Heading]:
    """Every heading in reading order, those inside lists and quotes too."""
    found: list[Heading] = []
    for block in blocks:
        if isinstance(block, Heading):
            found.append(block)
        elif isinstance(block, Quote):
            found += _headings(block.blocks)
        elif isinstance(block, ListBlock):
            for item in block.items:
                found += _headings(item)
    return found


def _consecutive_levels(blocks: list[Block]) -> None:
    """Heading levels as an outline below the title: the shallowest heading is level 1 and no
    heading is more than one level below the one before it (a report's `##` sections under
    its `#` title were Word's Heading 2 right after the Title, which navigation panes and
    accessibility checkers read as a skipped level)."""
    headings = _headings(blocks)
    if not headings:
        return
    base = min(heading.level for heading in headings) - 1
    previous = 0
    for heading in headings:
        heading.level = max(1, min(heading.level - base, previous + 1, MAX_LEVEL))
        previous = heading.level


_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def build_document(report: ResearchReport) -> Document:
    """The report as blocks: its first level-1 heading (if it opens the report, after an
    optional note) is the title, else the question is."""
    citable = {s.number for s in report.sources}
    tree = SyntaxTreeNode(_parser().parse(xml_safe(_split_sources(report.markdown))))
    blocks = _Builder(citable).blocks(tree.children)
    # The question as a reader reads it: "Python's `with` statement" has no backticks in the
    # title (a code span there), nor under it.
    question = _CODE_SPAN.sub(r"\1", xml_safe(report.question))
    title = " ".join(question.split())
    for index, block in enumerate(blocks[:2]):
        if isinstance(block, Heading) and block.level == 1:
            title = plain_text(block.runs) or title
            del blocks[index]
            break
    _consecutive_levels(blocks)
    return Document(title, question, blocks, _source_entries(report.sources))
