"""A hostile corpus file through the whole pipeline to every export format.

A real worker searches a folder holding a poisoned page (a script, an image with an onerror
handler, a javascript: link, in its title and its text); the fake model echoes the page's text
verbatim, as a model told to by a page would. `client.py research --format md,html,pdf,docx`
and then `client.py export` must produce files whose readers (an HTML parser, pypdf,
python-docx) see the title, the sections, the citations and the sources, and no live markup.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import docx
import pytest_asyncio
from pypdf import PdfReader
from temporalio.client import Client

from activities.llm import LLMClient
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer, RecordedRequest
from testing.processes import run_client
from testing.scripted_llm import Script
from testing.settings import fake_llm_settings
from tests.export.test_export import assert_html_is_inert, read_html
from worker import build_worker

PAYLOAD = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> "
    "[click here](javascript:alert(3)) <a href='javascript:alert(4)'>more</a>"
)
POISONED_PAGE = f"""# Context managers <script>alert('title')</script>

The with statement calls the context manager's enter method and then its exit method, \
{PAYLOAD} even when the block raises an exception.

## Exit values

A true value returned by the exit method suppresses the exception {PAYLOAD}.
"""
_DOCUMENT = re.compile(r'<document number="(\d+)"[^\n]*>\n(.*?)\n</document>', re.DOTALL)


def echo_documents(request: RecordedRequest) -> dict:
    """A retrieval answer that repeats each document's text verbatim, markup and all."""
    claims = [
        {"text": " ".join(text.split())[:600], "sources": [int(number)]}
        for number, text in _DOCUMENT.findall(request.prompt)[:2]
    ]
    return {"claims": claims or [{"text": "Nothing found.", "sources": []}]}


@pytest_asyncio.fixture
async def poisoned_queue(
    client: Client, fake_server: FakeLLMServer, script: Script, tmp_path: Path
) -> AsyncIterator[str]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "poisoned.md").write_text(POISONED_PAGE, encoding="utf-8")
    (corpus / "plain.md").write_text(
        "# Generators\n\nA generator function returns an iterator that yields values lazily.\n",
        encoding="utf-8",
    )
    search = LocalSearch.from_env(
        {"TTDR_CORPUS": str(corpus), "TTDR_CACHE_DIR": str(tmp_path / "cache")}
    )
    fake_server.respond("RetrievalAnswer", echo_documents)
    queue = f"ttdr-export-{uuid.uuid4().hex[:8]}"
    llm = LLMClient(fake_llm_settings(fake_server))
    async with build_worker(client, queue, llm, search):
        yield queue
    await llm.aclose()


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


async def test_poisoned_page_reaches_no_export_as_markup(
    client: Client, poisoned_queue: str, fake_server: FakeLLMServer, tmp_path: Path
) -> None:
    workflow_id = f"export-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "reports" / "run.md"
    config = tmp_path / "config.json"
    config.write_text('{"evolution": "off", "max_iterations": 1}')
    code, stdout, err = await run_client(
        client, poisoned_queue, "research", "How do context managers work?", "--id",
        workflow_id, "--config", str(config), "--out", str(out), "--format", "md,html,pdf,docx",
    )  # fmt: skip
    assert code == 0, err
    for suffix in (".md", ".json", ".html", ".pdf", ".docx"):
        assert out.with_suffix(suffix).is_file(), suffix
    assert f"pdf: {out.with_suffix('.pdf')}" in stdout

    markdown = out.read_text()
    assert "<script" not in markdown and "javascript:alert(3)" not in markdown
    assert "alert(1)" in markdown, "the page's text did reach the report (escaped)"

    page = read_html(out.with_suffix(".html").read_bytes())
    assert_html_is_inert(page)
    text = "".join(page.text)
    # Tags in a passage are markup, not evidence: the model never saw them; the page's title
    # keeps its own, shown to the reader as text.
    assert "alert(1)" in text and "<script>alert(1)</script>" not in text
    assert "<script>alert('title')</script>" in text, "shown to the reader as text"
    assert "How do context managers work?" in text  # the title: the question
    assert "Findings" in text and "Sources" in text
    assert any(a.get("class") == "citation" for t, a in page.tags if t == "a")
    assert "poisoned.md" in text, "the local file is a source, shown as text"

    pdf = pdf_text(out.with_suffix(".pdf").read_bytes())
    assert "Findings" in pdf and "Sources" in pdf and "poisoned.md" in pdf
    assert "alert(1)" in pdf and re.search(r"\[\d(?:, [^\]]+)?\]", pdf)

    word = docx.Document(str(out.with_suffix(".docx")))
    styled = [(p.style.name, p.text) for p in word.paragraphs]
    assert ("Heading 1", "Findings") in styled and ("Heading 1", "Sources") in styled
    assert any("poisoned.md" in text for _, text in styled)

    # The same report again from the finished run: no model is called.
    calls_before = fake_server.count()
    folder = tmp_path / "again"
    code, stdout, err = await run_client(
        client, poisoned_queue, "export", workflow_id, "--format", "html,docx", "--out", str(folder)
    )
    assert code == 0, err
    written = sorted(p.name for p in folder.iterdir())
    assert written == [f"{workflow_id}.docx", f"{workflow_id}.html"]
    assert (folder / f"{workflow_id}.html").read_bytes() == out.with_suffix(".html").read_bytes()
    assert fake_server.count() == calls_before, "no model call"


async def test_bad_format_is_refused_before_anything_starts(
    client: Client, tmp_path: Path
) -> None:
    workflow_id = f"export-bad-{uuid.uuid4().hex[:8]}"
    code, stdout, err = await run_client(
        client, "unused-queue", "research", "A question?", "--id", workflow_id, "--format", "md,rtf"
    )
    assert code == 2 and "unknown format 'rtf'" in err and err.count("\n") == 1
    assert "workflow_id" not in stdout


async def test_export_of_an_unknown_run_is_a_clear_error(client: Client, tmp_path: Path) -> None:
    code, _, err = await run_client(
        client, "unused-queue", "export", "no-such-run", "--out", str(tmp_path)
    )
    assert code == 2 and "no workflow no-such-run" in err
    assert not list(tmp_path.iterdir()), "nothing written"
