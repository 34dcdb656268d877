"""An ESC in a corpus file name and in the model's claims, through a real run to every format.

Before: `research --format md,html,pdf,docx` crashed after the paid run with python-docx's
"All strings must be XML compatible", and `client.py export` wrote no file at all; MCP's
get_report(format=docx) said only "Error executing tool".
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import docx
import pytest_asyncio
from temporalio.client import Client

from activities.llm import LLMClient
from cli.mcp_tools import Connection, get_report
from common.temporal_connection import local_server_env
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer, RecordedRequest
from testing.processes import run_client
from testing.scripted_llm import Script
from testing.settings import fake_llm_settings
from worker import build_worker

ESCAPE_NAME = "colour\x1b[31mred.md"
_DOCUMENT = re.compile(r'<document number="(\d+)"[^\n]*>\n(.*?)\n</document>', re.DOTALL)
_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def claims_with_escapes(request: RecordedRequest) -> dict:
    claims = [
        {"text": "\x1b[2J" + " ".join(text.split())[:300] + " \x1b[0m", "sources": [int(number)]}
        for number, text in _DOCUMENT.findall(request.prompt)[:2]
    ]
    return {"claims": claims or [{"text": "Nothing \x1b found.", "sources": []}]}


@pytest_asyncio.fixture
async def escape_queue(
    client: Client, fake_server: FakeLLMServer, script: Script, tmp_path: Path
) -> AsyncIterator[str]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / ESCAPE_NAME).write_text(
        "# Context managers\n\nThe with statement calls the enter method, then the exit "
        "method, even when the block raises an exception.\n",
        encoding="utf-8",
    )
    search = LocalSearch.from_env(
        {"TTDR_CORPUS": str(corpus), "TTDR_CACHE_DIR": str(tmp_path / "cache")}
    )
    fake_server.respond("RetrievalAnswer", claims_with_escapes)
    queue = f"ttdr-export-esc-{uuid.uuid4().hex[:8]}"
    llm = LLMClient(fake_llm_settings(fake_server))
    async with build_worker(client, queue, llm, search):
        yield queue
    await llm.aclose()


async def test_an_escape_character_costs_no_export(
    client: Client, escape_queue: str, tmp_path: Path
) -> None:
    workflow_id = f"export-esc-{uuid.uuid4().hex[:8]}"
    out = tmp_path / "reports" / "run.md"
    config = tmp_path / "config.json"
    config.write_text('{"evolution": "off", "max_iterations": 1}')
    code, stdout, err = await run_client(
        client, escape_queue, "research", "How do context managers work?", "--id", workflow_id,
        "--config", str(config), "--out", str(out), "--format", "md,html,pdf,docx",
    )  # fmt: skip
    assert code == 0, err
    for suffix in (".md", ".html", ".pdf", ".docx"):
        assert out.with_suffix(suffix).is_file(), suffix
        assert f"{suffix[1:]}: {out.with_suffix(suffix)}" in stdout or suffix == ".md"
    markdown = out.read_text(encoding="utf-8")
    assert "\ufffd[2J" in markdown and not _BAD.search(markdown), "the .md holds no ESC either"
    word = docx.Document(str(out.with_suffix(".docx")))
    body = "\n".join(p.text for p in word.paragraphs)
    assert "colour\ufffd[31mred.md" in body, "the file name, its ESC made visible"
    assert "\ufffd[2J" in body and not _BAD.search(word.element.xml)

    folder = tmp_path / "again"
    code, _, err = await run_client(
        client, escape_queue, "export", workflow_id, "--out", str(folder)
    )
    assert code == 0, err
    assert sorted(p.suffix for p in folder.iterdir()) == [".docx", ".html", ".md", ".pdf"]

    target = client.service_client.config.target_host
    connection = Connection(local_server_env(target))  # the MCP server's, on this server
    name, content = await get_report(connection, workflow_id, "docx")
    assert name == "docx" and isinstance(content, bytes)
    assert "colour\ufffd[31mred.md" in "\n".join(
        p.text for p in docx.Document(io.BytesIO(content)).paragraphs
    )
