"""A cited local document, served read-only from inside the corpus folders only.

A page never names a path: it names a run and a source number, and the desk looks the file up
from the report's own record of that source (its location, relative to a corpus folder). The
path is resolved — symbolic links followed — and must end inside a corpus folder as a regular
file: `..`, an absolute path or a link that leads out is refused. Text-like files (HTML and SVG
included) are sent as plain text, so nothing in a document runs; the response also carries a
sandboxing CSP (desk/security.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from workflows.models import NumberedSource, Source

MAX_DOCUMENT_BYTES = 50_000_000
_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def relative_path(source: Source) -> str | None:
    """The file a local source names (its location without the `, anchor` part), or None for a
    web source."""
    if source.provider != "local":
        return None
    location = source.location
    if source.anchor and location.endswith(f", {source.anchor}"):
        location = location[: -len(source.anchor) - 2]
    return location or None


def resolve(roots: Sequence[Path], relative: str) -> Path | None:
    """The file `relative` names inside one of `roots`, or None (outside, missing, not a file)."""
    if not relative or "\x00" in relative or Path(relative).is_absolute():
        return None
    for root in roots:
        try:
            base = root.resolve(strict=True)
            candidate = (base / relative).resolve(strict=True)
        except (OSError, RuntimeError):  # missing, a link loop
            continue
        if candidate.is_relative_to(base) and candidate.is_file():
            return candidate
    return None


def document_of(
    sources: Sequence[NumberedSource], number: int, roots: Sequence[Path]
) -> Path | None:
    for numbered in sources:
        if numbered.number == number and (relative := relative_path(numbered.source)):
            found = resolve(roots, relative)
            if found is not None:
                return found
    return None


def local_numbers(sources: Sequence[NumberedSource], roots: Sequence[Path]) -> set[int]:
    numbers = {n.number for n in sources}
    return {n for n in numbers if document_of(sources, n, roots) is not None}


def media_type(path: Path) -> str:
    return _TYPES.get(path.suffix.lower(), "text/plain; charset=utf-8")
