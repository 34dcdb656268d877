"""Reports people can share: a finished run's ResearchReport as Markdown, HTML, PDF or DOCX.

One module per format, all rendered from one parsed document (export/document.py), from the
run's result only: exporting never calls a model. `client.py research --format ...` and
`client.py export ID --format ...` (cli/export.py) use it; so does the MCP server's get_report.
"""

from __future__ import annotations

from collections.abc import Callable

from export.document import Document, build_document
from workflows.models import ResearchReport

FORMATS: dict[str, str] = {"md": ".md", "html": ".html", "pdf": ".pdf", "docx": ".docx"}
ALIASES = {"markdown": "md", "htm": "html", "word": "docx"}


class FormatError(ValueError):
    """An unknown or empty --format value: the message lists the formats."""


def parse_formats(value: str) -> list[str]:
    """`md,html,pdf` -> ["md", "html", "pdf"] (in order, without repeats), or FormatError."""
    wanted: list[str] = []
    for part in value.split(","):
        name = part.strip().lower()
        name = ALIASES.get(name, name)
        if not name:
            continue
        if name not in FORMATS:
            raise FormatError(
                f"unknown format {part.strip()!r}: choose from {', '.join(FORMATS)} "
                "(comma-separated, e.g. md,html,pdf)"
            )
        if name not in wanted:
            wanted.append(name)
    if not wanted:
        raise FormatError(f"no format given: choose from {', '.join(FORMATS)}")
    return wanted


def _markdown(report: ResearchReport) -> bytes:
    return report.markdown.encode("utf-8")


def _renderer(name: str) -> Callable[[Document], bytes]:
    # Imported on demand: ReportLab and python-docx are only loaded for the formats asked for.
    if name == "html":
        from export.html import render_html

        return render_html
    if name == "pdf":
        from export.pdf import render_pdf

        return render_pdf
    from export.docx import render_docx

    return render_docx


def render(report: ResearchReport, name: str, document: Document | None = None) -> bytes:
    """The report in format `name` (a key of FORMATS) as bytes."""
    if name == "md":
        return _markdown(report)
    if name not in FORMATS:
        raise FormatError(f"unknown format {name!r}")
    return _renderer(name)(document if document is not None else build_document(report))


def render_all(report: ResearchReport, names: list[str]) -> dict[str, bytes]:
    """Every format asked for, from one parse of the report."""
    document = build_document(report) if any(n != "md" for n in names) else None
    return {name: render(report, name, document) for name in names}
