"""PDF: the text layer of each page (pypdf), one section per page, cited as "page N".

pypdf is pure Python with no dependencies (4 MB), maintained, and reads the text layer well
enough for retrieval; pdfminer.six is more faithful on layout but several times slower.
Scanned PDFs without a text layer yield no passages (no OCR). Decompression bombs are bounded by
pypdf itself (6.x: at most 75 MB out of any one stream, pypdf.filters), a failure skips the file."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PdfReadError

from search.documents.base import Document, Section
from search.documents.files import SkipFile

# Pages are read one at a time; a page whose text cannot be extracted is left out.
logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf warns loudly on every odd object


def parse(data: bytes) -> Document:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _decrypts_without_password(reader):
            raise SkipFile("encrypted PDF (needs a password)")
        pages = [
            Section(page.extract_text() or "", locator=f"page {number}")
            for number, page in enumerate(reader.pages, 1)
        ]
        title = _metadata_title(reader)
    except FileNotDecryptedError as exc:
        raise SkipFile("encrypted PDF (needs a password)") from exc
    except PdfReadError as exc:
        raise SkipFile(f"corrupt PDF ({exc})") from exc
    return Document(title=title, sections=[p for p in pages if p.text.strip()])


def _decrypts_without_password(reader: PdfReader) -> bool:
    try:
        return bool(reader.decrypt(""))
    except Exception:
        return False


def _metadata_title(reader: PdfReader) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:
        return None
    return " ".join(str(title).split()) or None if title else None
