"""The research desk's safety and input rules, over HTTP against the real app, Temporal dev
server and worker (the browser journey is tests/desk/test_desk_browser.py).

- off loopback, `client.py serve` refuses to start without TTDR_SERVE_TOKEN;
- with a token, a request without it is refused, and the token never appears in a page;
- POSTs need this session's CSRF token; every page sends a strict CSP; a foreign Host is refused;
- the ask form refuses bad input with the CLI's own messages, and the desk's caps and rate;
- documents are served from inside the corpus only; model and document text is escaped.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from cli.request import validate_request
from common.errors import UsageError
from common.temporal_connection import local_server_env
from desk.documents import resolve
from desk.report_view import render_report
from desk.settings import Caps
from testing.processes import run_client_py
from testing.settings import FAKE_KEY
from tests.support.desk import asgi_client, csrf_of, free_port, settings_for
from workflows.models import LLMUsage, NumberedSource, ResearchPlan, Source
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport

TOKEN = "desk-token-0123456789abcdef"
NO_WORKER = "desk-no-worker"  # pages that start nothing need no worker


def no_worker_queue() -> str:
    """A queue of this test's own with no worker: a run it starts by mistake is counted here,
    never one that another test (or a schedule left behind) starts meanwhile."""
    return f"{NO_WORKER}-{uuid.uuid4().hex[:8]}"


ASK = {
    "question": "How does the with statement work?",
    "profile": "off",
    "max_iterations": "1",
    "max_llm_calls": "500",
    "max_total_tokens": "2000000",
    "max_cost_usd": "",
    "search": "corpus",
}


def cli_message(question: str, **config: object) -> str:
    try:
        validate_request(question, dict(config))
    except UsageError as err:
        return str(err)
    raise AssertionError("the CLI accepts this")


async def runs_started(client: Client, task_queue: str) -> int:
    query = f"WorkflowType = '{WORKFLOW_NAME}' AND TaskQueue = '{task_queue}'"
    return (await client.count_workflows(query)).count


def escaped(message: str) -> str:
    return message.replace("&", "&amp;").replace("'", "&#39;").replace('"', "&#34;")


async def test_serve_refuses_a_public_address_without_a_token(client: Client) -> None:
    env = local_server_env(client.service_client.config.target_host)
    port = free_port()
    code, _, err = await run_client_py(
        "serve", "--host", "0.0.0.0", "--port", str(port), env=env, timeout_seconds=30
    )
    assert code == 2
    assert err.strip().splitlines() == [
        "error: --host 0.0.0.0 is not a loopback address: set TTDR_SERVE_TOKEN (at least 16 "
        "characters) so that only people with the token can start runs"
    ]
    with socket.socket() as probe:  # nothing listens there
        assert probe.connect_ex(("127.0.0.1", port)) != 0


async def test_pages_are_locked_down(client: Client) -> None:
    settings = settings_for(no_worker_queue(), [])
    async with asgi_client(client, settings) as http:
        page = await http.get("/")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "httponly" in page.headers["set-cookie"].lower()
        assert FAKE_KEY not in page.text
        # An unknown run is a 404 (a slow server would be a 503), as a page and as progress.
        assert (await http.get("/runs/no-such-run")).status_code == 404
        assert (await http.get("/runs/no-such-run/progress")).status_code == 404
        # A page reached through another host name (DNS rebinding) is refused.
        assert (await http.get("/", headers={"host": "evil.example"})).status_code == 421
        # No CSRF token, or another session's: refused, nothing started.
        before = await runs_started(client, settings.task_queue)
        assert (await http.post("/runs", data=ASK)).status_code == 403
        forged = {**ASK, "csrf": "0" * 64}
        assert (await http.post("/runs", data=forged)).status_code == 403
        foreign = await http.post(
            "/runs", data={**ASK, "csrf": csrf_of(page.text)},
            headers={"origin": "http://evil.example"},
        )  # fmt: skip
        assert foreign.status_code == 403
        assert await runs_started(client, settings.task_queue) == before


async def test_the_token_gates_every_request(client: Client) -> None:
    settings = settings_for(NO_WORKER, [], host="0.0.0.0", token=TOKEN)
    async with asgi_client(client, settings) as http:
        assert (await http.get("/")).status_code == 401
        assert (await http.get("/?token=wrong-token-0123456789")).status_code == 401
        entry = await http.get(f"/?token={TOKEN}")
        assert entry.status_code == 303 and entry.headers["location"] == "/"
        page = await http.get("/")  # the cookie now carries it
        assert page.status_code == 200
        assert TOKEN not in page.text
    async with asgi_client(client, settings) as http:
        bearer = await http.get("/", headers={"authorization": f"Bearer {TOKEN}"})
        assert bearer.status_code == 200


@pytest.mark.parametrize(
    ("change", "config"),
    [
        ({"question": "   "}, {}),
        ({"max_llm_calls": "0"}, {"max_llm_calls": 0}),
        ({"max_llm_calls": "many"}, {"max_llm_calls": "many"}),
        ({"max_iterations": "2.5"}, {"max_iterations": 2.5}),
        ({"max_cost_usd": "-1"}, {"max_cost_usd": -1.0}),
        ({"profile": "turbo"}, {"evolution": "turbo"}),
    ],
)
async def test_bad_input_gets_the_cli_message_and_starts_nothing(
    client: Client, change: dict[str, str], config: dict[str, object]
) -> None:
    settings = settings_for(no_worker_queue(), [])
    form = {**ASK, **change}
    base = {"evolution": form["profile"], "max_iterations": 1, "review_plan": False}
    expected = cli_message(form["question"], **(base | config))
    async with asgi_client(client, settings) as http:
        csrf = csrf_of((await http.get("/")).text)
        before = await runs_started(client, settings.task_queue)
        answer = await http.post("/runs", data={**form, "csrf": csrf})
        assert answer.status_code == 400
        assert re.search(r'role="alert">([^<]*)<', answer.text).group(1) == escaped(expected)
        assert await runs_started(client, settings.task_queue) == before


async def test_caps_and_rate_limit_what_pages_start(client: Client, task_queue: str) -> None:
    caps = Caps(runs_per_minute=1, max_llm_calls=600, max_total_tokens=3_000_000)
    settings = settings_for(task_queue, [], caps=caps)
    async with asgi_client(client, settings) as http:
        csrf = csrf_of((await http.get("/")).text)
        over = await http.post("/runs", data={**ASK, "max_llm_calls": "601", "csrf": csrf})
        assert over.status_code == 400
        assert "max_llm_calls 601 is over this desk&#39;s cap of 600" in over.text
        before = await runs_started(client, settings.task_queue)
        first = await http.post("/runs", data={**ASK, "csrf": csrf})
        assert first.status_code == 303
        second = await http.post("/runs", data={**ASK, "csrf": csrf})
        assert second.status_code == 400
        assert "at most 1 runs a minute (TTDR_SERVE_RUNS_PER_MINUTE)" in second.text
        assert await runs_started(client, settings.task_queue) == before + 1
        workflow_id = first.headers["location"].split("/runs/")[1].split("?")[0]
        await client.get_workflow_handle(workflow_id).result()


def test_documents_come_from_inside_the_corpus_only(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "notes").mkdir(parents=True)
    (corpus / "notes" / "bees.md").write_text("# Bees\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the browser")
    os.symlink(secret, corpus / "link-out.txt")
    os.symlink(corpus / "notes" / "bees.md", corpus / "link-in.md")
    roots = [corpus]
    assert resolve(roots, "notes/bees.md") == (corpus / "notes" / "bees.md").resolve()
    assert resolve(roots, "link-in.md") == (corpus / "notes" / "bees.md").resolve()
    for hostile in ("../secret.txt", "notes/../../secret.txt", str(secret), "link-out.txt",
                    "notes", "missing.md", "notes/bees.md\x00.txt", ""):  # fmt: skip
        assert resolve(roots, hostile) is None, hostile


def test_model_and_document_text_is_escaped() -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    source = Source(
        id="s1", title=f"Title {hostile}", location=f"notes/a.md, section {hostile}",
        provider="local", retrieved_at="2026-01-01T00:00:00Z", quote=f"Quote {hostile}",
        evidence=f"Evidence {hostile}", document="notes/a.md", anchor=f"section {hostile}",
    )  # fmt: skip
    report = ResearchReport(
        question=f"Q {hostile}",
        markdown=f"# Q\n\nA claim {hostile} [1].\n\n[link](javascript:alert(1))\n",
        plan=ResearchPlan(sections=[]),
        sources=[NumberedSource(number=1, source=source)],
        sources_retrieved=1, removed_citations=0, iterations=1, quality_history=[],
        stop_reason="max_iterations", usage_by_node={}, usage_total=LLMUsage(),
    )  # fmt: skip
    _, markup = render_report(report, "/runs/r1", {1})
    html = str(markup)
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert "Evidence &lt;script&gt;" in html  # the evidence is there, as text
    assert 'href="/runs/r1/sources/1/document"' in html


async def test_a_follow_up_of_an_unknown_run_is_refused(client: Client) -> None:
    settings = settings_for(no_worker_queue(), [])
    async with asgi_client(client, settings) as http:
        csrf = csrf_of((await http.get("/")).text)
        before = await runs_started(client, settings.task_queue)
        answer = await http.post(
            "/runs/no-such-run/follow-up", data={"csrf": csrf, "question": "And generators?"}
        )
        assert answer.status_code == 303
        flash = await http.get(answer.headers["location"].replace("/runs/no-such-run", "/"))
        assert "error: cannot follow up:" in flash.text
        assert await runs_started(client, settings.task_queue) == before
