"""Every supported format is indexed with a citation that says where (page, slide, sheet and
rows, section); hostile and broken files are skipped, counted and named, and never stop an
index build or a research run (issue 14, items 1 and 2)."""

from __future__ import annotations

import json
import logging
import os
import random
import zipfile
from pathlib import Path

import pytest
from temporalio.client import Client

from activities.llm import LLMClient
from search.documents import registry
from search.local_index import LocalIndex
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer
from testing.settings import fake_llm_settings
from tests.support.runs import run_research
from tests.support.sample_documents import (
    encrypted_pdf_bytes,
    pdf_bytes,
    write_docx,
    write_ipynb,
    write_pptx,
    write_xlsx,
)
from worker import build_worker

_FILLER = (
    "This paragraph is ordinary background prose about schedules, meetings and the weather, "
    "written so that every file has more than one passage worth of words to rank against."
)

_MDX = """import Chart from './chart'
export const meta = { author: 'nobody' }

# Widgets

<Chart data={[1, 2, 3]} color="hotpink" />

The wibblewidget spins counterclockwise on alternate Tuesdays. {props.footnote}

<Callout type="warn">Never lubricate a wibblewidget with marmalade.</Callout>

```js
const x = {inside: "a fence"}
```
"""


def _formats_corpus(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "papers").mkdir()
    (root / "papers" / "reactor.pdf").write_bytes(
        pdf_bytes(
            [
                f"Reactor overview\n{_FILLER}",
                "The Zorblat reactor runs on crystallised moonwater\nharvested at dawn.",
                f"Appendix\n{_FILLER}",
            ],
            title="Zorblat report",
        )
    )
    write_docx(
        root / "guide.docx",
        "Field guide to otters",
        [
            ("Habitat", f"Otters live near rivers. {_FILLER} {_FILLER}"),
            ("Diet", f"The quillfin otter eats only purple kelp. {_FILLER} {_FILLER} {_FILLER}"),
            ("Breeding", f"{_FILLER} {_FILLER} {_FILLER}"),
        ],
    )
    write_pptx(
        root / "deck.pptx",
        [
            ("Introduction", _FILLER),
            ("Results", "Project Velvet Hammer cut checkout latency by 73 percent."),
            ("Next steps", _FILLER),
        ],
    )
    write_xlsx(
        root / "budget.xlsx",
        {
            "Summary": [["Quarter", "Total"], ["Q1", 1200], ["Q2", 1350]],
            "Vendors": [
                ["Vendor", "Product", "Price"],
                ["Acme", "paper clips", 3],
                ["Gribblecorp", "anti-gravity staplers", 412],
                ["Initech", "TPS report covers", 9],
            ],
        },
    )
    (root / "stations.csv").write_text(
        "station,elevation_m,mascot\n"
        "Alpha Base,120,a cat\n"
        "Snorvik Station,4812,a llama named Pemberton\n"
    )
    write_ipynb(
        root / "analysis.ipynb",
        [
            ("markdown", f"# Flux analysis\n\n{_FILLER}\n\n{_FILLER}\n\n{_FILLER}"),
            ("markdown", "## Findings\n\nThe flux capacitor drifted 0.37 glorps per hour."),
            ("code", "drift = measure_glorps(capacitor)\nprint(drift)"),
        ],
    )
    (root / "widgets.mdx").write_text(_MDX)
    (root / "notes.md").write_text(
        f"# Notes\n\n{_FILLER}\n\n{_FILLER}\n\n{_FILLER}\n\n## Bees\n\n"
        "Honeybees in the Quandary Valley dance in hexagons.\n"
    )
    (root / "page.html").write_text(
        "<html><head><title>Lighthouses</title></head><body><h1>Lighthouses</h1>"
        "<p>The Brellow lighthouse is painted in tartan.</p></body></html>"
    )
    (root / "plain.txt").write_text("The town of Quimby bans whistling after nine.\n")
    (root / "doc.rst").write_text("Trains\n======\n\nThe Fenwick line runs on cheese power.\n")
    return root


# (question, file, locator of the passage that answers it)
_FACTS = [
    ("what fuel does the Zorblat reactor use moonwater", "papers/reactor.pdf", "page 2"),
    ("what does the quillfin otter eat", "guide.docx", "section Diet"),
    ("Velvet Hammer checkout latency", "deck.pptx", "slide 2: Results"),
    ("which vendor sells anti-gravity staplers", "budget.xlsx", "sheet Vendors, rows 2-4"),
    ("which station has a llama mascot Pemberton", "stations.csv", "rows 2-3"),
    ("flux capacitor drift glorps", "analysis.ipynb", "section Findings"),
    ("wibblewidget spins counterclockwise", "widgets.mdx", ""),
    ("honeybees Quandary Valley dance", "notes.md", "section Bees"),
    ("Brellow lighthouse tartan", "page.html", ""),
    ("Quimby whistling", "plain.txt", ""),
    ("Fenwick line cheese", "doc.rst", ""),
]


@pytest.fixture(scope="module")
def formats(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LocalIndex]:
    root = _formats_corpus(tmp_path_factory.mktemp("formats") / "corpus")
    return root, LocalIndex.open([root], tmp_path_factory.mktemp("cache"))


@pytest.mark.parametrize(("question", "rel", "locator"), _FACTS, ids=[f[1] for f in _FACTS])
def test_a_question_about_each_fact_ranks_its_file_first(
    formats: tuple[Path, LocalIndex], question: str, rel: str, locator: str
) -> None:
    _root, index = formats
    assert index.skipped == []
    top = index.search(question, k=3)[0].passage
    assert (top.rel_path, top.locator) == (rel, locator)
    assert top.citation == (f"{rel}, {locator}" if locator else rel)


def test_citations_and_text_of_the_richer_formats(formats: tuple[Path, LocalIndex]) -> None:
    _root, index = formats
    pdf = index.search("Zorblat moonwater", k=1)[0].passage
    assert pdf.title == "Zorblat report"  # the PDF's metadata title
    assert "harvested at dawn" in pdf.text
    docx_hit = index.search("quillfin otter purple kelp", k=1)[0].passage
    assert docx_hit.title == "Field guide to otters"
    assert docx_hit.text.startswith("## Diet")
    sheet = index.search("Gribblecorp staplers", k=1)[0].passage
    assert "Vendor: Gribblecorp; Product: anti-gravity staplers; Price: 412" in sheet.text
    notebook = index.search("measure_glorps capacitor", k=1)[0].passage
    assert "```python\ndrift = measure_glorps(capacitor)" in notebook.text
    mdx = index.search("wibblewidget", k=1)[0].passage
    assert "Never lubricate a wibblewidget with marmalade." in mdx.text
    for jsx in ("import", "Chart", "hotpink", "props.footnote", "Callout", "author"):
        assert jsx not in mdx.text
    assert 'const x = {inside: "a fence"}' in mdx.text  # code in fences is kept as written


async def test_local_search_cites_file_and_place(formats: tuple[Path, LocalIndex]) -> None:
    _root, index = formats
    results = await LocalSearch(index).search("Velvet Hammer latency", 2)
    assert results[0].location == "deck.pptx, slide 2: Results"
    assert results[0].title == "Introduction"  # the deck's first slide title


# --- hostile and broken files ---------------------------------------------------------------


def _zip_bomb(path: Path) -> None:
    """A DOCX-named zip whose one member inflates to 600 MiB (compressed: about 600 KiB)."""
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("word/document.xml", "w", force_zip64=True) as member,
    ):
        for _ in range(600):
            member.write(b"\0" * (1 << 20))


def _hostile_corpus(root: Path, outside: Path) -> dict[str, str]:
    """Writes hostile files into `root`; returns {file: start of the expected skip reason}."""
    rng = random.Random(14)
    good_pdf = pdf_bytes(["A fine page about nothing.", "Another page."])
    (root / "encrypted.pdf").write_bytes(encrypted_pdf_bytes(["The vault code is 1234."]))
    (root / "corrupt.pdf").write_bytes(b"%PDF-1.4\n" + rng.randbytes(4000))
    (root / "truncated.pdf").write_bytes(good_pdf[: len(good_pdf) // 3])
    full = root / "full.docx"
    write_docx(full, "Whole", [("Part", "text")])
    (root / "truncated.docx").write_bytes(full.read_bytes()[:700])
    full.unlink()
    (root / "junk.md").write_bytes(rng.randbytes(8192))
    (root / "junk.xlsx").write_bytes(rng.randbytes(2048))
    (root / "not-a-notebook.ipynb").write_text("{ this is not json")
    (root / "deep.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    (root / "nul.csv").write_bytes(b"a,b\n1,\0\0\0\n")
    _zip_bomb(root / "bomb.docx")
    with (root / "huge.txt").open("wb") as fh:
        fh.truncate(70 * 1024 * 1024)  # sparse: 70 MiB on paper, nothing on disk
    os.mkfifo(root / "pipe.md")
    (root / "loop.md").symlink_to(root / "loop.md")
    (outside / "secret.txt").write_text("OUTSIDE-SECRET-777\n")
    (root / "leak.md").symlink_to(outside / "secret.txt")
    (root / "env.md").symlink_to("/proc/self/environ")
    return {
        "encrypted.pdf": "encrypted PDF (needs a password)",
        "corrupt.pdf": "corrupt PDF",
        "truncated.pdf": "corrupt PDF",
        "truncated.docx": "not a valid DOCX (bad zip",
        "junk.md": "binary content, not text",
        "junk.xlsx": "not a valid XLSX (bad zip",
        "not-a-notebook.ipynb": "not a Jupyter notebook",
        "deep.ipynb": "not a Jupyter notebook",
        "nul.csv": "binary content, not text",
        "bomb.docx": "DOCX would inflate to 600 MiB",
        "huge.txt": "too large (70.0 MiB > 64.0 MiB cap)",
        "pipe.md": "not a regular file (a fifo)",
        "loop.md": "symlink loop",
        "leak.md": "symlink leads outside the corpus folders",
        "env.md": "on a kernel pseudo file system",
    }


_CONTEXT_MANAGERS = """# The with statement

The with statement wraps a block in a context manager: Python calls the manager's __enter__
method on entry and its __exit__ method on exit, even when the block raises an exception.
A context manager must implement both __enter__ and __exit__.
"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    base = tmp_path_factory.mktemp("hostile")
    root, outside = base / "corpus", base / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "with.md").write_text(_CONTEXT_MANAGERS)
    write_pptx(root / "deck.pptx", [("Context managers", "__enter__ and __exit__ in slides")])
    return root, _hostile_corpus(root, outside)


def test_hostile_files_are_skipped_each_with_one_warning(
    hostile: tuple[Path, dict[str, str]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root, expected = hostile
    with caplog.at_level(logging.WARNING):
        index = LocalIndex.open([root], tmp_path / "cache")
    reasons = {s.rel: s.reason for s in index.skipped}
    assert sorted(reasons) == sorted(expected)
    for name, start in expected.items():
        assert reasons[name].startswith(start), (name, reasons[name])
    for name in expected:
        assert len([r for r in caplog.messages if f"skipped {name}:" in r]) == 1, name
    assert {h.passage.rel_path for h in index.search("__enter__ __exit__", k=5)} == {
        "with.md",
        "deck.pptx",
    }
    assert index.search("vault code 1234 OUTSIDE-SECRET-777") == []


def test_every_parser_failure_becomes_a_skip() -> None:
    """Whatever a parser raises on garbage is a SkipFile, for every format."""
    rng = random.Random(7)
    for suffix in sorted(registry.SUFFIXES):
        for blob in (rng.randbytes(3000), b"PK\x03\x04" + rng.randbytes(500), b"\xff" * 100):
            try:
                registry.parse(suffix, blob)
            except registry.SkipFile as skip:
                assert str(skip)
            # (no other exception type may escape)


async def test_a_research_over_a_hostile_corpus_completes(
    client: Client,
    fake_server: FakeLLMServer,
    script: object,
    hostile: tuple[Path, dict[str, str]],
    tmp_path: Path,
) -> None:
    root, expected = hostile
    search = LocalSearch.from_env({"TTDR_CORPUS": str(root), "TTDR_CACHE_DIR": str(tmp_path)})
    assert len(search.index.skipped) == len(expected)
    llm = LLMClient(fake_llm_settings(fake_server))
    queue = f"ttdr-hostile-{os.getpid()}-{random.randrange(1 << 30)}"
    async with build_worker(client, queue, llm, search):
        report = await run_research(client, queue, max_iterations=1)
    await llm.aclose()
    assert report.markdown.strip()
    locations = {n.source.location.split(",")[0] for n in report.sources}
    assert locations and locations <= {"with.md", "deck.pptx"}
    assert "OUTSIDE-SECRET-777" not in json.dumps(report.model_dump(mode="json"))


def test_an_unexpected_failure_on_one_file_skips_only_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a bug (not a parse error) on one file costs only that file's passages."""
    from search import local_index

    root = tmp_path / "corpus"
    root.mkdir()
    (root / "good.md").write_text("# Good\n\nKestrels hover over meadows.\n")
    (root / "bad.md").write_text("# Bad\n\nThis one trips a bug.\n")
    real = local_index.SandboxedReader.extract  # files are read in a child: fail in the parent

    def buggy(reader: object, file: object, display: str, *args: object) -> object:
        if display == "bad.md":
            raise IndexError("a bug in chunking")
        return real(reader, file, display, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(local_index.SandboxedReader, "extract", buggy)
    index = LocalIndex.open([root], tmp_path / "cache")
    assert {s.rel: s.reason for s in index.skipped} == {
        "bad.md": "could not be indexed (IndexError: a bug in chunking)"
    }
    assert index.search("kestrels", k=1)[0].passage.rel_path == "good.md"


def test_a_container_with_too_much_xml_is_refused_before_parsing(tmp_path: Path) -> None:
    """Inside the zip-bomb cap, but 100 MiB of XML would take gigabytes once parsed."""
    path = tmp_path / "huge.docx"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("word/document.xml", "w", force_zip64=True) as member,
    ):
        for _ in range(100):
            member.write(b" " * (1 << 20))
    with pytest.raises(registry.SkipFile, match=r"DOCX holds 100 MiB of XML \(cap 96 MiB\)"):
        registry.parse(".docx", path.read_bytes())
