"""Reports people can share: a finished run's ResearchReport as Markdown, HTML, PDF or DOCX.

One module per format, all rendered from one parsed document (export/document.py), from the
run's result only: exporting never calls a model. `client.py research --format ...` and
`client.py export ID --format ...` (cli/export.py) use it; so does the MCP server's get_report.
"""

from __future__ import annotations

from collections.abc import Callable

from export.document import Document, build_document, xml_safe
from workflows.results import ResearchReport

FORMATS: dict[str, str] = {"md": ".md", "html": ".html", "pdf": ".pdf", "docx": ".docx"}
ALIASES = {"markdown": "md", "htm": "html", "word": "docx"}


class FormatError(ValueError):
    """An unknown or empty --format value: the message lists the formats."""


class ExportFailed(Exception):
    """One format could not be made from this report; the message says which and why. The
    other formats are made all the same (render_all)."""

    def __init__(self, name: str, error: BaseException) -> None:
        super().__init__(f"the {name} export could not be made: {type(error).__name__}: {error}")
        self.name = name


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
    return xml_safe(report.markdown).encode("utf-8")


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
    """The report in format `name` (a key of FORMATS) as bytes; ExportFailed when this format
    cannot be made from it (a renderer's error, named)."""
    if name not in FORMATS:
        raise FormatError(f"unknown format {name!r}")
    try:
        if name == "md":
            return _markdown(report)
        return _renderer(name)(document if document is not None else build_document(report))
    except Exception as err:  # any renderer's error: this format is lost, never the others
        raise ExportFailed(name, err) from err


def render_all(report: ResearchReport, names: list[str]) -> dict[str, bytes | ExportFailed]:
    """Every format asked for, from one parse of the report: each one's bytes, or the reason
    it could not be made. One format's failure costs no other."""
    document: Document | None = None
    parse_error: Exception | None = None
    if any(n != "md" for n in names):
        try:
            document = build_document(report)
        except Exception as err:  # every format but Markdown needs the parse: each says so
            parse_error = err
    out: dict[str, bytes | ExportFailed] = {}
    for name in names:
        if parse_error is not None and name != "md":
            out[name] = ExportFailed(name, parse_error)
            continue
        try:
            out[name] = render(report, name, document)
        except ExportFailed as failed:
            out[name] = failed
    return out
