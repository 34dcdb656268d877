"""Which parser reads which suffix, and the one place a parser's failure becomes a skip.

Parsers are imported on first use, so a corpus of Markdown never loads pypdf or python-pptx.
Whatever a parser raises on a hostile or broken file (a truncated zip, a corrupt xref table,
a recursion bomb, memory exhaustion) is turned into SkipFile with a one-line reason: a bad
file costs its own passages, never the index or the worker."""

from __future__ import annotations

import importlib
import io
import zipfile
from collections.abc import Callable

from search.documents.base import (
    MAX_UNZIPPED_BYTES,
    MAX_UNZIPPED_XML_BYTES,
    Document,
)
from search.documents.files import SkipFile

# suffix -> (format name shown to users, "module:function")
_PARSERS: dict[str, tuple[str, str]] = {
    ".md": ("Markdown", "markup:plain"),
    ".markdown": ("Markdown", "markup:plain"),
    ".mdx": ("MDX", "markup:mdx"),
    ".txt": ("text", "markup:plain"),
    ".rst": ("reStructuredText", "markup:plain"),
    ".html": ("HTML", "markup:html"),
    ".htm": ("HTML", "markup:html"),
    ".pdf": ("PDF", "pdf:parse"),
    ".docx": ("DOCX", "word:parse"),
    ".pptx": ("PPTX", "slides:parse"),
    ".xlsx": ("XLSX", "sheets:parse_xlsx"),
    ".csv": ("CSV", "sheets:parse_csv"),
    ".tsv": ("CSV", "sheets:parse_tsv"),
    ".ipynb": ("notebook", "notebook:parse"),
}
_ZIP_CONTAINERS = frozenset({".docx", ".pptx", ".xlsx"})

SUFFIXES = frozenset(_PARSERS)


def format_name(suffix: str) -> str:
    return _PARSERS[suffix][0]


def parse(suffix: str, data: bytes) -> Document:
    """The document in `data` (a file with `suffix`); SkipFile if it cannot be read."""
    name, target = _PARSERS[suffix]
    if not data.strip():
        return Document(title=None)
    if suffix in _ZIP_CONTAINERS:
        _check_zip(name, data)
    try:
        return _parser(target)(data)
    except (SkipFile, MemoryError):
        raise  # MemoryError: over the memory budget, reported as such (documents/sandbox.py)
    except Exception as exc:
        detail = " ".join(str(exc).split())[:160]
        raise SkipFile(f"unreadable {name} ({type(exc).__name__}: {detail})") from exc


def load_parser(suffix: str) -> None:
    """Import the parser of `suffix` now (the reader process does, before its memory limit)."""
    _parser(_PARSERS[suffix][1])


def _parser(target: str) -> Callable[[bytes], Document]:
    module, function = target.split(":")
    parser: Callable[[bytes], Document] = getattr(
        importlib.import_module(f"search.documents.{module}"), function
    )
    return parser


def _check_zip(name: str, data: bytes) -> None:
    """A DOCX/PPTX/XLSX is a zip: refuse a broken one, one that would inflate past the cap (a
    zip bomb), or one whose XML would not parse in bounded memory, before any XML is parsed."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            inflated = sum(info.file_size for info in members)
            xml = sum(
                info.file_size for info in members if info.filename.endswith((".xml", ".rels"))
            )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise SkipFile(f"not a valid {name} (bad zip: {exc})") from exc
    if inflated > MAX_UNZIPPED_BYTES:
        raise SkipFile(
            f"{name} would inflate to {inflated // 2**20} MiB (cap {MAX_UNZIPPED_BYTES // 2**20} "
            "MiB): refused as a zip bomb"
        )
    if xml > MAX_UNZIPPED_XML_BYTES:
        raise SkipFile(
            f"{name} holds {xml // 2**20} MiB of XML (cap {MAX_UNZIPPED_XML_BYTES // 2**20} MiB): "
            "too large to parse with bounded memory"
        )
