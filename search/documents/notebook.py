"""Jupyter notebooks: Markdown cells as Markdown, code cells as fenced code (outputs left out:
they are often large and machine-made), cited by their headings.

A notebook is JSON with a small documented schema (nbformat 4); reading it with the stdlib
and a pydantic model avoids nbformat's dependencies (jsonschema, jupyter_core, traitlets) for
what is one json.loads."""

from __future__ import annotations

import json

from pydantic import BaseModel, ValidationError

from search.documents.base import Document, Section
from search.documents.files import SkipFile
from search.documents.markup import decode_text, first_heading


class _Cell(BaseModel):
    cell_type: str
    source: str | list[str] = ""


class _Notebook(BaseModel):
    cells: list[_Cell]
    metadata: dict[str, object] = {}


def parse(data: bytes) -> Document:
    try:
        notebook = _Notebook.model_validate(json.loads(decode_text(data)))
    except (ValueError, RecursionError, ValidationError) as exc:
        raise SkipFile(f"not a Jupyter notebook ({type(exc).__name__})") from exc
    language = _language(notebook.metadata)
    parts = []
    for cell in notebook.cells:
        source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        if not source.strip():
            continue
        if cell.cell_type == "markdown":
            parts.append(source)
        elif cell.cell_type == "code":
            parts.append(f"```{language}\n{source}\n```")
        else:
            parts.append(source)
    text = "\n\n".join(parts)
    return Document(title=first_heading(text), sections=[Section(text)])


def _language(metadata: dict[str, object]) -> str:
    info = metadata.get("language_info")
    name = info.get("name") if isinstance(info, dict) else None
    return name if isinstance(name, str) and name.isidentifier() else ""
