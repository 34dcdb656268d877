"""Small documents of every indexed format, written by the same libraries the index reads
them with (a PDF is written by hand: pypdf does not lay out text)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import docx
import openpyxl
from pptx import Presentation
from pptx.util import Inches
from pypdf import PdfReader, PdfWriter


def _pdf_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf_bytes(pages: list[str], title: str | None = None) -> bytes:
    """A valid PDF with one line of Helvetica text per page (each string may hold several
    lines separated by newlines)."""
    objects: list[str] = []
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects.append("<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, text in enumerate(pages):
        lines = " ".join(
            f"({_pdf_string(line)}) Tj 0 -16 Td" for line in text.split("\n") if line.strip()
        )
        stream = f"BT /F1 12 Tf 72 720 Td {lines} ET"
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {page_ids[i] + 1} 0 R >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    info = len(objects) + 1
    objects.append(f"<< /Title ({_pdf_string(title)}) >>" if title else "<< >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def encrypted_pdf_bytes(pages: list[str], password: str = "s3cret-pw") -> bytes:
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(pdf_bytes(pages))).pages:
        writer.add_page(page)
    writer.encrypt(user_password=password, owner_password=password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def write_docx(path: Path, title: str, sections: list[tuple[str, str]]) -> Path:
    document = docx.Document()
    document.add_heading(title, level=0)
    for heading, text in sections:
        document.add_heading(heading, level=1)
        document.add_paragraph(text)
    document.save(path)
    return path


def write_pptx(path: Path, slides: list[tuple[str, str]]) -> Path:
    deck = Presentation()
    for title, text in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[5])  # title only
        slide.shapes.title.text = title
        box = slide.shapes.add_textbox(Inches(1), Inches(2), Inches(8), Inches(3))
        box.text_frame.text = text
    deck.save(path)
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def write_ipynb(path: Path, cells: list[tuple[str, str]]) -> Path:
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"language_info": {"name": "python"}},
        "cells": [
            {
                "cell_type": kind,
                "metadata": {},
                "source": source.splitlines(keepends=True),
                **({"outputs": [], "execution_count": None} if kind == "code" else {}),
            }
            for kind, source in cells
        ],
    }
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path
