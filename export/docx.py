"""The report as a Word document (python-docx) from the same document model.

Real structure, not look-alikes: Word's Title and Heading 1-6 styles (the navigation pane and
a table of contents see them), List Bullet / List Number styles (nested levels use "List Bullet
2" etc.; each numbered list restarts at its own start), tables in "Table Grid", code in a
monospace font. A citation is an internal hyperlink to a bookmark on its Sources entry; a web
link is an external hyperlink; a local file is text. python-docx writes text as XML text nodes,
so model text is shown as typed, never read as markup.
"""

from __future__ import annotations

import dataclasses
import io

from docx import Document as new_docx
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor
from docx.text.paragraph import Paragraph as DocxParagraph

from export.document import (
    Block,
    CodeBlock,
    Document,
    Heading,
    ListBlock,
    Quote,
    Rule,
    Run,
    Table,
)
from export.document import Paragraph as TextBlock

MONO = "Courier New"
LINK_COLOUR = "0969DA"
_ALIGN = {"center": WD_ALIGN_PARAGRAPH.CENTER, "right": WD_ALIGN_PARAGRAPH.RIGHT}


def _run_element(run: Run, link: bool) -> OxmlElement:
    """A w:r with the run's formatting (built as XML so it can sit inside a w:hyperlink)."""
    element = OxmlElement("w:r")
    properties = OxmlElement("w:rPr")
    if run.code:
        fonts = OxmlElement("w:rFonts")
        for attribute in ("w:ascii", "w:hAnsi", "w:cs"):
            fonts.set(qn(attribute), MONO)
        properties.append(fonts)
    for flag, tag in ((run.bold, "w:b"), (run.italic, "w:i"), (run.strike, "w:strike")):
        if flag:
            properties.append(OxmlElement(tag))
    if link:
        colour = OxmlElement("w:color")
        colour.set(qn("w:val"), LINK_COLOUR)
        underline = OxmlElement("w:u")
        underline.set(qn("w:val"), "single")
        properties.extend([colour, underline])
    if run.citation is not None:
        position = OxmlElement("w:vertAlign")
        position.set(qn("w:val"), "superscript")
        properties.append(position)
    if len(properties):
        element.append(properties)
    for index, line in enumerate(run.text.split("\n")):
        if index:
            element.append(OxmlElement("w:br"))
        text = OxmlElement("w:t")
        text.set(qn("xml:space"), "preserve")
        text.text = line
        element.append(text)
    return element


def _add_runs(paragraph: DocxParagraph, runs: list[Run]) -> None:
    for run in runs:
        if run.citation is not None:
            link = OxmlElement("w:hyperlink")
            link.set(qn("w:anchor"), f"source-{run.citation}")
            link.append(_run_element(run, link=True))
            paragraph._p.append(link)
        elif run.href:
            relation = paragraph.part.relate_to(
                run.href, RELATIONSHIP_TYPE.HYPERLINK, is_external=True
            )
            link = OxmlElement("w:hyperlink")
            link.set(qn("r:id"), relation)
            link.append(_run_element(run, link=True))
            paragraph._p.append(link)
        else:
            paragraph._p.append(_run_element(run, link=False))


def _bookmark(paragraph: DocxParagraph, name: str, number: int) -> None:
    start = OxmlElement("w:bookmarkStart")
    start.set(qn("w:id"), str(number))
    start.set(qn("w:name"), name)
    end = OxmlElement("w:bookmarkEnd")
    end.set(qn("w:id"), str(number))
    paragraph._p.insert(1 if paragraph._p.pPr is not None else 0, start)
    paragraph._p.append(end)


class _Writer:
    def __init__(self, document: DocxDocument) -> None:
        self.docx = document
        self._style_ids: dict[str, str] = {}
        self._abstract: dict[str, int | None] = {}  # list style -> its abstract numbering

    def styled(self, name: str | None) -> DocxParagraph:
        """A new paragraph in style `name`, its id looked up once: python-docx's lookup by
        name scans every style each time (seconds over a long report)."""
        paragraph = self.docx.add_paragraph()
        if name is not None:
            if name not in self._style_ids:
                self._style_ids[name] = self.docx.styles[name].style_id
            paragraph._p.style = self._style_ids[name]
        return paragraph

    def blocks(self, blocks: list[Block], depth: int = 0, quote: bool = False) -> None:
        for block in blocks:
            self.block(block, depth, quote)

    def paragraph(self, style: str | None, quote: bool) -> DocxParagraph:
        return self.styled("Quote" if quote and style is None else style)

    def block(self, block: Block, depth: int, quote: bool) -> None:
        if isinstance(block, Heading):
            _add_runs(self.styled(f"Heading {block.level}"), block.runs)
        elif isinstance(block, TextBlock):
            _add_runs(self.paragraph(None, quote), block.runs)
        elif isinstance(block, ListBlock):
            self.list(block, depth, quote)
        elif isinstance(block, CodeBlock):
            paragraph = self.paragraph(None, False)
            paragraph.paragraph_format.left_indent = Pt(12)
            _add_runs(paragraph, [Run(block.text, code=True)])
            for run in paragraph.runs:
                run.font.size = Pt(9)
        elif isinstance(block, Quote):
            self.blocks(block.blocks, depth, quote=True)
        elif isinstance(block, Rule):
            self.paragraph(None, False).add_run("―" * 20)
        elif isinstance(block, Table):
            self.table(block)
        else:
            raise TypeError(f"unknown block {block!r}")

    def list(self, block: ListBlock, depth: int, quote: bool) -> None:
        base = "List Number" if block.ordered else "List Bullet"
        style = base if depth == 0 else f"{base} {min(depth + 1, 3)}"
        numbering = self._restart(style, block.start) if block.ordered else None
        for item in block.items:
            first, *rest = item or [TextBlock([])]
            if isinstance(first, TextBlock):
                paragraph = self.styled(style)
                _add_runs(paragraph, first.runs)
                if numbering is not None:
                    _set_numbering(paragraph, numbering, depth)
            else:
                rest = [first, *rest]
            self.blocks(rest, depth + 1, quote)

    def _restart(self, style: str, start: int) -> str | None:
        """A new w:num over the style's numbering with its own start, so that every numbered
        list counts from its start instead of going on from the previous list."""
        if style not in self._abstract:
            num_pr = self.docx.styles[style].element.pPr
            num_id = None if num_pr is None or num_pr.numPr is None else num_pr.numPr.numId
            numbering = self.docx.part.numbering_part.element
            existing = None if num_id is None else numbering.num_having_numId(num_id.val)
            self._abstract[style] = None if existing is None else existing.abstractNumId.val
        abstract = self._abstract[style]
        if abstract is None:
            return None
        fresh = self.docx.part.numbering_part.element.add_num(abstract)
        override = fresh.add_lvlOverride(ilvl=0)
        override.add_startOverride(start)
        return str(fresh.numId)

    def table(self, table: Table) -> None:
        columns = max(1, len(table.header), *(len(row) for row in table.rows))
        rows = ([table.header] if table.header else []) + table.rows
        grid = self.docx.add_table(rows=len(rows), cols=columns)
        grid.style = self.docx.styles["Table Grid"]
        for r, cells in enumerate(rows):
            for c, runs in enumerate(cells):
                paragraph = grid.cell(r, c).paragraphs[0]
                header = r == 0 and bool(table.header)
                shown = [dataclasses.replace(run, bold=True) for run in runs] if header else runs
                _add_runs(paragraph, shown)
                align = table.align[c] if c < len(table.align) else ""
                if align in _ALIGN:
                    paragraph.alignment = _ALIGN[align]

    def sources(self, document: Document) -> None:
        self.styled("Heading 1").add_run("Sources")  # a top section, like the report's own
        if not document.sources:
            self.docx.add_paragraph("No source was cited.")
            return
        for source in document.sources:
            paragraph = self.docx.add_paragraph()
            paragraph.paragraph_format.left_indent = Pt(18)
            paragraph.paragraph_format.first_line_indent = Pt(-18)
            location = Run(source.location, href=source.link)
            parts = [Run(f"; cited: {'; '.join(source.parts)}")] if source.parts else []
            _add_runs(paragraph, [Run(f"{source.number}. {source.title} — "), location, *parts])
            _bookmark(paragraph, f"source-{source.number}", source.number)


def _set_numbering(paragraph: DocxParagraph, num_id: str, depth: int) -> None:
    properties = paragraph._p.get_or_add_pPr()
    numbering = properties.get_or_add_numPr()
    numbering.get_or_add_ilvl().val = 0
    numbering.get_or_add_numId().val = int(num_id)


def render_docx(document: Document) -> bytes:
    docx = new_docx()
    docx.core_properties.title = document.title[:255]
    docx.core_properties.subject = document.question[:255]
    docx.core_properties.author = "TTD-DR"
    docx.add_heading(document.title, level=0)
    if document.question and document.question != document.title:
        question = docx.add_paragraph()
        question.add_run(document.question).italic = True
        for run in question.runs:
            run.font.color.rgb = RGBColor(0x59, 0x63, 0x6E)
    writer = _Writer(docx)
    writer.blocks(document.blocks)
    writer.sources(document)
    buffer = io.BytesIO()
    docx.save(buffer)
    return buffer.getvalue()
