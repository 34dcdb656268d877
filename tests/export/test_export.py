"""Exports read back with real readers: an HTML parser, pypdf and python-docx.

The report is made by the product's own citation check (finalise_report) from a model body
that carries a hostile page's payload; each format must keep the title, the sections, the
citations and the Sources list, and must let no raw HTML, script or unsafe link through.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import docx
import pytest
from pypdf import PdfReader

import export
from export.document import build_document, is_web_url
from workflows.citing.citations import finalise_report
from workflows.models import LLMUsage, NumberedSource, ResearchPlan, Source
from workflows.results import ResearchReport

POISON = (
    "<script>alert('x')</script> <img src=x onerror=alert(2)> "
    '[click me](javascript:alert(3)) <a href="javascript:alert(4)">there</a>'
)
BODY = f"""# Context managers in Python

## Mechanism

The with statement calls `__enter__` first [1]. Its `__exit__` runs on the way out [2][3].
A made-up claim [42].

- bullet with **bold** [1]
- bullet with a [web link](https://docs.python.org/3/library/contextlib.html)
  1. nested step one
  2. nested step two

## Protocol

| Method | Returns |
|---|:-:|
| `__enter__` | the target [2] |
| `__exit__` | a flag |

```python
with open("f") as handle:
    data = handle.read()[1]
```

> A quoted remark [3].

## Pitfalls

Page text: {POISON}
"""
SOURCES = [
    ("Python reference: with <script>alert('t')</script>", "https://docs.python.org/3/reference/compound_stmts.html#with"),
    ("contextlib notes", "/home/user/corpus/contextlib.md#section-2"),
    ("Evil page", "javascript:alert(5)"),
]  # fmt: skip


def make_report() -> ResearchReport:
    known = [
        NumberedSource(
            number=n,
            source=Source(
                id=f"s{n}",
                title=title,
                location=location,
                provider="local",
                retrieved_at="2026-11-30T00:00:00Z",
                quote="q",
            ),
        )
        for n, (title, location) in enumerate(SOURCES, 1)
    ]
    markdown, cited, removed = finalise_report(BODY, known)
    return ResearchReport(
        question="How do context managers work?",
        markdown=markdown,
        plan=ResearchPlan(sections=[]),
        sources=cited,
        sources_retrieved=3,
        removed_citations=removed,
        iterations=1,
        quality_history=[0.5],
        stop_reason="max_iterations",
        usage_by_node={},
        usage_total=LLMUsage(),
    )


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def read_html(data: bytes) -> Elements:
    parser = Elements()
    parser.feed(data.decode("utf-8"))
    parser.close()
    return parser


def assert_html_is_inert(page: Elements) -> None:
    """No script, no image, no event handler, no link but #source-n anchors and http(s)."""
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"script", "img", "iframe", "object", "embed", "form", "svg", "link"}, tags
    all_ids = [attrs["id"] for _, attrs in page.tags if attrs.get("id")]
    assert len(all_ids) == len(set(all_ids)), f"repeated ids: {all_ids}"
    ids = set(all_ids)
    for tag, attrs in page.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        assert "src" not in attrs, (tag, attrs)
        href = attrs.get("href")
        if href is not None:
            assert tag == "a"
            if href.startswith("#"):
                assert href[1:] in ids, f"{href} points at no entry"
            else:
                assert is_web_url(href), href


def test_html_is_self_contained_linked_and_inert() -> None:
    report = make_report()
    page = read_html(export.render(report, "html"))
    assert_html_is_inert(page)
    text = "".join(page.text)
    assert ("title", {}) in page.tags and "Context managers in Python" in text
    headings = [tag for tag, _ in page.tags if tag in ("h1", "h2")]
    assert headings.count("h1") == 1 and headings.count("h2") == 4  # 3 sections + Sources
    citations = [a["href"] for t, a in page.tags if t == "a" and a.get("class") == "citation"]
    assert citations[:3] == ["#source-1", "#source-2", "#source-3"]
    assert {"source-1", "source-2", "source-3"} <= {a.get("id") for _, a in page.tags}
    external = [a["href"] for t, a in page.tags if t == "a" and not a["href"].startswith("#")]
    assert external == [
        "https://docs.python.org/3/library/contextlib.html",
        "https://docs.python.org/3/reference/compound_stmts.html#with",
    ], "only http(s) link out: the local file and the javascript: location are text"
    assert "/home/user/corpus/contextlib.md#section-2" in text and "javascript:alert(5)" in text
    assert "<script>alert('x')</script>" in text, "the payload is shown as text"
    assert "[42]" not in text, "a citation of no retrieved source was removed"
    assert {"table", "pre", "ol", "ul", "blockquote", "code", "style"} <= {t for t, _ in page.tags}


def test_pdf_keeps_title_sections_citations_and_sources() -> None:
    reader = PdfReader(io.BytesIO(export.render(make_report(), "pdf")))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert reader.metadata is not None and reader.metadata.title == "Context managers in Python"
    for expected in ("Context managers in Python", "Mechanism", "Protocol", "Pitfalls",
                     "Sources", "__enter__", "handle.read()[1]", "nested step one",
                     "/home/user/corpus/contextlib.md#section-2"):  # fmt: skip
        assert expected in text, expected
    assert "first [1]" in text and "[2][3]" in text and "[42]" not in text
    assert "1. Python reference: with <script>alert('t')</script>" in text, "shown as text"
    links = []
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A")
            if action is not None and "/URI" in action:
                links.append(str(action["/URI"]))
    assert links and all(is_web_url(link) for link in links), links
    assert "https://docs.python.org/3/reference/compound_stmts.html#with" in links
    internal = [
        annotation.get_object()
        for page in reader.pages
        for annotation in page.get("/Annots") or []
        if "/Dest" in annotation.get_object()
        or annotation.get_object().get("/A", {}).get("/S") == "/GoTo"
    ]
    assert len(internal) >= 4, "each citation links to its Sources entry"


def test_docx_has_real_headings_lists_citations_and_sources() -> None:
    document = docx.Document(io.BytesIO(export.render(make_report(), "docx")))
    styled = [(p.style.name, p.text) for p in document.paragraphs]
    assert styled[0] == ("Title", "Context managers in Python")
    headings = [text for style, text in styled if style.startswith("Heading")]
    assert headings == ["Mechanism", "Protocol", "Pitfalls", "Sources"]
    assert ("List Bullet", "bullet with bold [1]") in styled
    assert ("List Number 2", "nested step one") in styled
    body = "\n".join(text for _, text in styled)
    assert "first [1]" in body and "[2][3]" in body and "[42]" not in body
    assert "<script>alert('x')</script>" in body, "the payload is text, not markup"
    sources = body.split("Sources", 1)[1]
    first = "1. Python reference: with <script>alert('t')</script> — https://docs.python.org"
    assert first in sources
    assert "2. contextlib notes — /home/user/corpus/contextlib.md#section-2" in sources
    xml = document.element.xml
    anchors = set(re.findall(r'w:anchor="(source-\d+)"', xml))
    bookmarks = set(re.findall(r'w:name="(source-\d+)"', xml))
    assert anchors == {"source-1", "source-2", "source-3"} and anchors <= bookmarks
    targets = [r.target_ref for r in document.part.rels.values() if r.is_external]
    assert targets and all(is_web_url(t) for t in targets), targets
    table = document.tables[0]
    assert [c.text for c in table.rows[0].cells] == ["Method", "Returns"]
    assert table.rows[1].cells[1].text == "the target [2]"


def test_markdown_export_is_the_report_itself() -> None:
    report = make_report()
    assert export.render(report, "md").decode() == report.markdown


def test_title_falls_back_to_the_question() -> None:
    report = make_report().model_copy(update={"markdown": "Just text [1].\n\n## Sources\n\n1. x"})
    document = build_document(report)
    assert document.title == "How do context managers work?"
    assert [s.number for s in document.sources] == [1, 2, 3]


def test_a_question_naming_code_is_the_title_once_without_backticks() -> None:
    """The demo's question says "Python's `with` statement": the HTML export printed it again
    under the title, backticks and all."""
    question = "How does Python's `with` statement work?"
    body = f"# {question}\n\nA context manager defines __enter__ [1].\n\n## Sources\n\n1. x"
    report = make_report().model_copy(update={"question": question, "markdown": body})
    document = build_document(report)
    assert document.title == document.question == "How does Python's with statement work?"
    page = read_html(export.render(report, "html"))
    assert "`" not in "".join(page.text)
    assert not [attrs for tag, attrs in page.tags if attrs.get("class") == "question"]
    # A title of the report's own (a short one) keeps the question beneath it, as read.
    titled = report.model_copy(update={"markdown": body.replace(question, "Context managers")})
    shown = "".join(read_html(export.render(titled, "html")).text)
    assert "How does Python's with statement work?" in shown and "`" not in shown


@pytest.mark.parametrize(
    ("value", "expected"),
    [("md,html,pdf,docx", ["md", "html", "pdf", "docx"]), (" PDF , word,pdf", ["pdf", "docx"])],
)
def test_format_lists_are_parsed(value: str, expected: list[str]) -> None:
    assert export.parse_formats(value) == expected


@pytest.mark.parametrize(
    ("value", "message"), [("md,rtf", "unknown format 'rtf'"), (",", "no format")]
)
def test_bad_format_lists_are_refused(value: str, message: str) -> None:
    with pytest.raises(export.FormatError, match=message):
        export.parse_formats(value)


@pytest.mark.parametrize(
    ("location", "link"),
    [
        ("  https://example.org/a b\n", "https://example.org/a%20b"),
        ("ht tps://example.org/", None),
        ("https://exa\x00mple.org/", None),
        ("java\tscript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("&#104;ttps://example.org/x", "https://example.org/x"),
        ("file:///etc/passwd", None),
        ("/home/user/notes.md", None),
        ("//evil.example/x", None),
        ("HTTPS://Example.org/ok", "HTTPS://Example.org/ok"),
    ],
)
def test_a_source_links_out_only_to_an_http_url(location: str, link: str | None) -> None:
    report = make_report()
    source = report.sources[0].model_copy(
        update={"source": report.sources[0].source.model_copy(update={"location": location})}
    )
    document = build_document(report.model_copy(update={"sources": [source]}))
    assert document.sources[0].link == link
    page = read_html(export.render(report.model_copy(update={"sources": [source]}), "html"))
    assert_html_is_inert(page)


def test_passages_of_one_document_are_one_sources_entry() -> None:
    def passage(n: int, anchor: str) -> NumberedSource:
        return NumberedSource(
            number=n,
            source=Source(
                id=f"p{n}", title="Guide <b>", location=f"/docs/guide.md#{anchor}",
                provider="local", retrieved_at="2026-11-30T00:00:00Z",
                document="docs/guide.md", anchor=anchor,
            ),
        )  # fmt: skip

    body = "# Guide\n\nFirst [1]. Second [2].\n"
    markdown, cited, _ = finalise_report(body, [passage(1, "Setup"), passage(2, "Usage")])
    report = make_report().model_copy(update={"markdown": markdown, "sources": cited})
    [entry] = build_document(report).sources
    assert (entry.number, entry.location, entry.parts) == (1, "docs/guide.md", ["Setup", "Usage"])
    page = read_html(export.render(report, "html"))
    assert_html_is_inert(page)
    assert "Guide <b> — docs/guide.md; cited: Setup; Usage" in "".join(page.text)
    word = docx.Document(io.BytesIO(export.render(report, "docx")))
    assert word.paragraphs[-1].text == "1. Guide <b> — docs/guide.md; cited: Setup; Usage"
    pdf = PdfReader(io.BytesIO(export.render(report, "pdf"))).pages[0].extract_text()
    assert "docs/guide.md; cited: Setup; Usage" in pdf
