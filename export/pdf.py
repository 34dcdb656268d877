"""The report as a PDF, rendered with ReportLab's Platypus from the same document model.

Why ReportLab: it installs from PyPI as wheels with no system library (WeasyPrint needs
Pango/Cairo from Debian; xhtml2pdf is ReportLab plus an HTML/CSS layer and several more
packages), and its flowables do what a report needs — headings, nested numbered and bulleted
lists, preformatted code, tables whose cells wrap, internal links from a citation to its
Sources entry — where fpdf2's write_html handles a small HTML subset.

Safety: Platypus paragraphs take a small XML markup; every text and attribute is XML-escaped
here, so model or page text is shown, never interpreted; code blocks use Preformatted (no
markup at all). Links are only the citations' internal anchors and http(s) URLs.

Fonts: a TrueType sans family (DejaVu Sans when the system has fonts-dejavu, else the Bitstream
Vera fonts ReportLab ships), embedded, so text extraction gets the text back; code in DejaVu Sans
Mono or Courier.
"""

from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, StyleSheet1, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Flowable,
    HRFlowable,
    ListFlowable,
    ListItem,
    Paragraph,
    Preformatted,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Table as PdfTable

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

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
_VERA = Path(reportlab.__file__).parent / "fonts"
LINK_COLOUR = "#0969da"
CODE_LINE_CHARS = 90


def _register_fonts() -> tuple[str, str]:
    """(sans family name, mono font name), registered once per process."""
    if "ReportSans" in pdfmetrics.getRegisteredFontNames():
        mono = "ReportMono" if "ReportMono" in pdfmetrics.getRegisteredFontNames() else "Courier"
        return "ReportSans", mono
    if (_DEJAVU / "DejaVuSans.ttf").is_file():
        files = ["DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique"]
        folder = _DEJAVU
    else:
        files, folder = ["Vera", "VeraBd", "VeraIt", "VeraBI"], _VERA
    names = ["ReportSans", "ReportSans-Bold", "ReportSans-Italic", "ReportSans-BoldItalic"]
    for name, file in zip(names, files, strict=True):
        pdfmetrics.registerFont(TTFont(name, str(folder / f"{file}.ttf")))
    pdfmetrics.registerFontFamily("ReportSans", *names)
    mono = "Courier"
    if (_DEJAVU / "DejaVuSansMono.ttf").is_file():
        pdfmetrics.registerFont(TTFont("ReportMono", str(_DEJAVU / "DejaVuSansMono.ttf")))
        mono = "ReportMono"
    return "ReportSans", mono


def _styles(sans: str, mono: str) -> StyleSheet1:
    sheet = getSampleStyleSheet()
    for name in (
        "Title",
        "Normal",
        "BodyText",
        "Heading1",
        "Heading2",
        "Heading3",
        "Heading4",
        "Heading5",
        "Heading6",
    ):
        style = sheet[name]
        style.fontName = f"{sans}-Bold" if name.startswith(("Heading", "Title")) else sans
    sheet["BodyText"].spaceAfter = 6
    sheet["BodyText"].leading = 14
    sheet.add(
        ParagraphStyle(
            "Question",
            parent=sheet["BodyText"],
            fontName=f"{sans}-Italic",
            textColor=colors.HexColor("#59636e"),
        )
    )
    sheet.add(
        ParagraphStyle("Cell", parent=sheet["BodyText"], spaceAfter=0, fontSize=9, leading=11)
    )
    sheet.add(
        ParagraphStyle(
            "CodeBlock",
            parent=sheet["Code"],
            fontName=mono,
            fontSize=8,
            leading=10,
            backColor=colors.HexColor("#f6f8fa"),
            borderPadding=4,
            leftIndent=4,
            rightIndent=4,
            spaceBefore=4,
            spaceAfter=8,
        )
    )
    sheet.add(
        ParagraphStyle(
            "Source", parent=sheet["BodyText"], leftIndent=14, firstLineIndent=-14, spaceAfter=3
        )
    )
    return sheet


class _Renderer:
    def __init__(self, sheet: StyleSheet1, mono: str, width: float) -> None:
        self.sheet, self.mono, self.width = sheet, mono, width

    def markup(self, runs: list[Run]) -> str:
        parts = []
        for run in runs:
            text = escape(run.text).replace("\n", "<br/>")
            if run.citation is not None:
                target = f"#source-{run.citation}"
                parts.append(f'<a href="{target}" color="{LINK_COLOUR}">{text}</a>')
                continue
            if run.code:
                text = f'<font face="{self.mono}">{text}</font>'
            if run.strike:
                text = f"<strike>{text}</strike>"
            if run.italic:
                text = f"<i>{text}</i>"
            if run.bold:
                text = f"<b>{text}</b>"
            if run.href:
                href = escape(run.href, {'"': "&quot;"})
                text = f'<a href="{href}" color="{LINK_COLOUR}">{text}</a>'
            parts.append(text)
        return "".join(parts)

    def blocks(self, blocks: list[Block], width: float) -> list[Flowable]:
        out: list[Flowable] = []
        for block in blocks:
            out.extend(self.block(block, width))
        return out

    def block(self, block: Block, width: float) -> list[Flowable]:
        if isinstance(block, Heading):
            level = block.level + 1  # Heading1 is the title's level
            return [Paragraph(self.markup(block.runs), self.sheet[f"Heading{level}"])]
        if isinstance(block, TextBlock):
            return [Paragraph(self.markup(block.runs), self.sheet["BodyText"])]
        if isinstance(block, ListBlock):
            items = [
                ListItem(self.blocks(item, width - 18) or [Spacer(1, 1)]) for item in block.items
            ]
            kind = (
                {"bulletType": "1", "start": block.start}
                if block.ordered
                else {"bulletType": "bullet", "start": "•"}
            )
            return [
                ListFlowable(
                    items, leftIndent=18, bulletFontName=self.sheet["BodyText"].fontName, **kind
                )
            ]
        if isinstance(block, CodeBlock):
            return [
                Preformatted(
                    block.text,
                    self.sheet["CodeBlock"],
                    maxLineLength=CODE_LINE_CHARS,
                    newLineChars="",
                )
            ]
        if isinstance(block, Quote):
            inner = self.blocks(block.blocks, width - 20) or [Spacer(1, 1)]
            quote = PdfTable([[inner]], colWidths=[width - 8], splitInRow=1)
            quote.setStyle(
                TableStyle(
                    [
                        ("LINEBEFORE", (0, 0), (0, 0), 3, colors.HexColor("#d0d7de")),
                        ("LEFTPADDING", (0, 0), (0, 0), 10),
                    ]
                )
            )
            return [quote]
        if isinstance(block, Rule):
            return [
                HRFlowable(
                    width="100%", color=colors.HexColor("#d0d7de"), spaceBefore=4, spaceAfter=8
                )
            ]
        if isinstance(block, Table):
            return [self.table(block, width)]
        raise TypeError(f"unknown block {block!r}")

    def table(self, table: Table, width: float) -> PdfTable:
        columns = max(1, len(table.header), *(len(row) for row in table.rows))
        aligns = {"center": TA_CENTER, "right": TA_RIGHT}

        def cell(runs: list[Run], column: int) -> Paragraph:
            align = table.align[column] if column < len(table.align) else ""
            style = ParagraphStyle(
                f"cell-{align}", parent=self.sheet["Cell"], alignment=aligns.get(align, TA_LEFT)
            )
            return Paragraph(self.markup(runs), style)

        def row(cells: list[list[Run]]) -> list[Paragraph | str]:
            filled: list[Paragraph | str] = [cell(runs, i) for i, runs in enumerate(cells)]
            return filled + [""] * (columns - len(filled))

        data = ([row(table.header)] if table.header else []) + [row(r) for r in table.rows]
        grid = PdfTable(  # splitInRow: a cell taller than a page goes on over the next one
            data,
            colWidths=[width / columns] * columns,
            repeatRows=1 if table.header else 0,
            splitInRow=1,
        )
        style = [
            ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#d0d7de")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
        if table.header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f6f8fa")))
        grid.setStyle(TableStyle(style))
        return grid

    def sources(self, document: Document) -> list[Flowable]:
        out: list[Flowable] = [Paragraph('<a name="sources"/>Sources', self.sheet["Heading2"])]
        if not document.sources:
            return [*out, Paragraph("No source was cited.", self.sheet["BodyText"])]
        for source in document.sources:
            location = escape(source.location)
            if source.link:
                href = escape(source.link, {'"': "&quot;"})
                location = f'<a href="{href}" color="{LINK_COLOUR}">{location}</a>'
            out.append(
                Paragraph(
                    f'<a name="source-{source.number}"/>{source.number}. '
                    f"{escape(source.title)} — {location}{_parts(source.parts)}",
                    self.sheet["Source"],
                )
            )
        return out


def _parts(parts: list[str]) -> str:
    return f"; cited: {escape('; '.join(parts))}" if parts else ""


def render_pdf(document: Document) -> bytes:
    sans, mono = _register_fonts()
    sheet = _styles(sans, mono)
    buffer = io.BytesIO()
    page = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=2 * cm,
        bottomMargin=2 * cm,
        title=document.title,
        subject=document.question,
        creator="ttdr export",
        author="TTD-DR",
    )
    renderer = _Renderer(sheet, mono, page.width)
    story: list[Flowable] = [Paragraph(escape(document.title), sheet["Title"])]
    if document.question and document.question != document.title:
        story.append(Paragraph(escape(document.question), sheet["Question"]))
    story += renderer.blocks(document.blocks, page.width)
    story += renderer.sources(document)
    page.build(story)
    return buffer.getvalue()
