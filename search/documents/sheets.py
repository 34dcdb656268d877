"""Spreadsheets: XLSX (openpyxl, streamed in read-only mode) and CSV/TSV (stdlib csv). Each row
becomes "header: value; …" so a passage is readable on its own; passages are cited by sheet and
row range. Formulas are read as their last computed values.

openpyxl is the maintained pure-Python XLSX reader (3 MB, et-xmlfile as its only dependency)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from itertools import islice
from typing import Any

import openpyxl

from search.documents.base import MAX_TEXT_CHARS, Document, Section
from search.documents.markup import decode_text

# A row wider than this is cut: nobody reads the 16,000th column of a passage.
_MAX_COLUMNS = 64


def parse_xlsx(data: bytes) -> Document:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        budget = MAX_TEXT_CHARS
        sections = []
        for sheet in book.worksheets:
            # max_col: a sheet may claim 16,384 columns (A1:XFD1048576) and openpyxl pads
            # every row, even the empty ones, to the claimed width (issue 26).
            cells = sheet.iter_rows(min_row=1, max_col=_MAX_COLUMNS, values_only=True)
            rows = _rows_as_text(cells, budget)
            budget -= sum(len(r) for _, r in rows)
            if rows:
                sections.append(Section(locator=f"sheet {sheet.title}", rows=tuple(rows)))
        title = (book.properties.title or "").strip() or None
    finally:
        book.close()
    return Document(title=title, sections=sections)


def parse_csv(data: bytes, delimiter: str | None = None) -> Document:
    text = decode_text(data)
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = _rows_as_text(reader, MAX_TEXT_CHARS)
    return Document(title=None, sections=[Section(rows=tuple(rows))] if rows else [])


def parse_tsv(data: bytes) -> Document:
    return parse_csv(data, delimiter="\t")


def _rows_as_text(rows: Iterable[Sequence[Any]], budget: int) -> list[tuple[int, str]]:
    """(row number, "header: value; …") for the rows after the first non-empty one (the
    header), up to `budget` characters."""
    header: list[str] | None = None
    out: list[tuple[int, str]] = []
    for number, row in enumerate(rows, 1):
        if row.count(None) == len(row):
            continue  # an empty row openpyxl made up (a sheet claiming a million rows): cheap
        cells = [_cell(v) for v in islice(row, _MAX_COLUMNS)]
        if not any(cells):
            continue
        if header is None:
            header = cells
            continue
        line = "; ".join(
            f"{name}: {value}" if name else value
            for name, value in zip([*header, *[""] * len(cells)], cells, strict=False)
            if value
        )
        budget -= len(line)
        if budget < 0:
            break
        out.append((number, line))
    if header is not None and not out:
        out.append((1, "; ".join(c for c in header if c)))  # a header alone is still text
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())
