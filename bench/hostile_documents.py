"""Benchmark: the worst-case DOCX, PPTX and XLSX we know of, in seconds per MB of file.

Each file is generated here (nothing to download), then read the way the index reads it: in
the budgeted reader process (search/documents/sandbox.py), one file at a time,
timed from the parent once the reader has started (read, parse and cut into passages), with the
reader's peak RSS. The shapes are the ones that hurt a reader:

  docx-paragraphs  tens of thousands of one-word paragraphs, every one with a heading style
                   (python-docx scanned every style for each paragraph's style: issue 26)
  docx-styles      a few thousand paragraphs over a styles part of 2,000 styles
  pptx-shapes      slides holding hundreds of small text boxes each
  xlsx-sparse      a sheet whose dimension claims A1:XFD1048576 with one cell at its far end
                   (a reader that pads rows to the claimed width does 16 billion cell steps)
  xlsx-rows        100,000 short rows of shared strings

    .venv/bin/python -m bench.hostile_documents            # the figures in bench/RESULTS.md
    .venv/bin/python -m bench.hostile_documents --scale 0.2 # a quick check
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# --- generators -------------------------------------------------------------------------------


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _docx_with(body: str, extra_styles: str = "") -> bytes:
    """python-docx's default document with `body` as its body XML and `extra_styles` appended
    to its styles part (written as XML: adding 100,000 paragraphs through python-docx is itself
    quadratic)."""
    import docx

    template = io.BytesIO()
    docx.Document().save(template)
    out = io.BytesIO()
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/document.xml":
                data = (
                    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                    f'<w:document xmlns:w="{_W}"><w:body>{body}</w:body></w:document>'
                ).encode()
            elif info.filename == "word/styles.xml" and extra_styles:
                data = data.replace(b"</w:styles>", extra_styles.encode() + b"</w:styles>")
            z.writestr(info.filename, data)
    return out.getvalue()


def _paragraph(text: str, style: str | None) -> str:
    props = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p>{props}<w:r><w:t>{text}</w:t></w:r></w:p>"


def docx_paragraphs(paragraphs: int) -> bytes:
    return _docx_with(
        "".join(_paragraph(f"w{i}", "Heading2" if i % 2 else None) for i in range(paragraphs))
    )


def docx_styles(paragraphs: int, styles: int) -> bytes:
    extra = "".join(
        f'<w:style w:type="paragraph" w:customStyle="1" w:styleId="Custom{i}">'
        f'<w:name w:val="Custom {i}"/></w:style>'
        for i in range(styles)
    )
    body = "".join(
        _paragraph(f"word {i}", f"Custom{(i * 7919) % styles}") for i in range(paragraphs)
    )
    return _docx_with(body, extra)


def pptx_shapes(slides: int, shapes: int) -> bytes:
    """`slides` title-only slides, each with `shapes` one-word text boxes (written as XML:
    python-pptx's add_textbox is quadratic in the shapes of a slide)."""
    from pptx import Presentation

    deck = Presentation()
    for number in range(slides):
        deck.slides.add_slide(deck.slide_layouts[5]).shapes.title.text = f"Slide {number}"
    template = io.BytesIO()
    deck.save(template)
    boxes = "".join(
        f'<p:sp><p:nvSpPr><p:cNvPr id="{100 + i}" name="TextBox {i}"/>'
        f'<p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr><p:spPr/>'
        f"<p:txBody><a:bodyPr/><a:p><a:r><a:t>t{i}</a:t></a:r></a:p></p:txBody></p:sp>"
        for i in range(shapes)
    ).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.startswith("ppt/slides/slide") and info.filename.endswith(".xml"):
                data = data.replace(b"</p:spTree>", boxes + b"</p:spTree>")
            z.writestr(info.filename, data)
    return out.getvalue()


def xlsx_rows(rows: int) -> bytes:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Data")
    sheet.append(["name", "value", "note"])
    for i in range(rows):
        sheet.append([f"item {i % 5000}", i, f"note {i % 997}"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_sparse() -> bytes:
    """A minimal workbook whose only sheet claims the largest range and fills its last cell."""
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<dimension ref="A1:XFD1048576"/><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>header</t></is></c></row>'
        '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>far</t></is></c></row>'
        "</sheetData></worksheet>"
    )
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="Far" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": sheet,
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return out.getvalue()


def cases(scale: float) -> dict[str, tuple[str, Callable[[], bytes]]]:
    """name -> (suffix, generator)."""

    def n(count: int) -> int:
        return max(1, int(count * scale))

    return {
        "docx-paragraphs": (".docx", lambda: docx_paragraphs(n(100_000))),
        "docx-styles": (".docx", lambda: docx_styles(n(5_000), 2_000)),
        "pptx-shapes": (".pptx", lambda: pptx_shapes(n(100), 300)),
        "xlsx-sparse": (".xlsx", xlsx_sparse),
        "xlsx-rows": (".xlsx", lambda: xlsx_rows(n(100_000))),
    }


# --- measuring --------------------------------------------------------------------------------

# Runs in a fresh process: reads each file through the budgeted reader, prints JSON lines.
_MEASURE = """
import json, sys, time
from pathlib import Path
from search.documents.budget import FileBudget
from search.documents.files import list_files
from search.documents.registry import SUFFIXES
from search.documents.sandbox import SandboxedReader

folder = Path(sys.argv[1])
budget = FileBudget(seconds=float(sys.argv[2]), memory_mib=int(sys.argv[3]))
listing = list_files([folder], SUFFIXES)
with SandboxedReader(budget) as reader:
    for file in listing.files:
        reader.start()  # a fresh one after a file over budget: its CPU time starts again
        started, cpu = time.perf_counter(), reader.cpu_seconds
        try:
            passages, outcome = reader.extract(file, file.rel, 64 * 2**20, ()), "read"
        except Exception as exc:
            passages, outcome = [], f"skipped: {exc}"
        print(json.dumps({
            "file": file.rel, "bytes": file.size, "seconds": time.perf_counter() - started,
            "cpu": reader.cpu_seconds - cpu if outcome == "read" else None,
            "passages": len(passages), "outcome": outcome, "peak_rss_mib": reader.peak_rss_mib,
        }), flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="size of the generated files")
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget per file")
    parser.add_argument("--memory-mib", type=int, default=1024, help="memory budget per file")
    parser.add_argument("--only", help="comma-separated case names")
    args = parser.parse_args()
    chosen = cases(args.scale)
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only.split(",")}
    with tempfile.TemporaryDirectory(prefix="ttdr-hostile-") as tmp:
        folder = Path(tmp)
        for name, (suffix, make) in chosen.items():
            started = time.perf_counter()
            (folder / f"{name}{suffix}").write_bytes(make())
            print(f"generated {name}{suffix} in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr)  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-c", _MEASURE, str(folder), str(args.seconds), str(args.memory_mib)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(
        "| file | size | wall | CPU | CPU s per MB | passages | reader peak RSS | outcome |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    for row in rows:
        mb = row["bytes"] / 1e6
        cpu = row["cpu"]
        print(
            f"| {row['file']} | {mb:.2f} MB | {row['seconds']:.2f} s | "
            + (f"{cpu:.2f} s | {cpu / mb:.1f} | " if cpu is not None else "- | - | ")
            + f"{row['passages']} | {row['peak_rss_mib']} MiB | {row['outcome']} |"
        )


if __name__ == "__main__":
    main()
