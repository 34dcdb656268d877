"""Watched topics (cli/schedule.py, workflows/continuation.py): a Temporal Schedule whose runs
each start from the previous run's report and open with "What changed since DATE". Real dev
server, real workers over a corpus folder edited between runs (the worker restarts to read it
again), the scripted fake LLM answering like a faithful model, a loopback receiver for --notify.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client

from activities.llm import LLMClient
from common.temporal_connection import local_server_env
from common.temporal_plugin import ResearchPlugin
from embedded.temporal_server import TemporalDevServer
from observability.search_attributes import ensure_search_attributes
from search.local_provider import LocalSearch
from testing.faithful_llm import faithful
from testing.fake_llm import FakeLLMServer
from testing.processes import run_client_py
from testing.scripted_llm import Script
from testing.settings import fake_llm_settings
from worker import build_worker
from workflows.results import ResearchReport

QUESTION = "What do the widget notes say?"
FACTORY = "# Factory\n\nWidget factory: the Springfield plant employs forty machinists.\n"
COLOUR = "# Colour\n\nWidget colour: every unit leaves painted bright orange.\n"
PACKAGING = "# Packaging\n\nWidget packaging: units ship inside recycled cardboard crates.\n"
CONFIG = {"evolution": "off", "max_iterations": 1, "questions_per_iteration": 1}


class Receiver:
    """A loopback HTTP endpoint that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


class Workers:
    """A worker over the test's corpus folder, restarted on demand (a new index reads the
    edited files)."""

    def __init__(self, client: Client, server: FakeLLMServer, corpus: Path, cache: Path) -> None:
        self.client, self.corpus, self.cache = client, corpus, cache
        self.queue = f"ttdr-watch-{uuid.uuid4().hex[:8]}"
        self.llm = LLMClient(fake_llm_settings(server))
        self._group: object | None = None
        self._search: LocalSearch | None = None

    async def start(self) -> None:
        env = {"TTDR_CACHE_DIR": str(self.cache), "TTDR_CORPUS": str(self.corpus)}
        self._search = LocalSearch.from_env(env)
        self._group = build_worker(self.client, self.queue, self.llm, self._search)
        await self._group.__aenter__()  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._group is not None:
            await self._group.__aexit__(None, None, None)  # type: ignore[attr-defined]
            self._group = None
        if self._search is not None:
            await self._search.aclose()
            self._search = None


@pytest_asyncio.fixture
async def workers(
    client: Client,
    fake_server: FakeLLMServer,
    script: Script,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Workers]:
    monkeypatch.setenv("TTDR_NOTIFY_ALLOW_LOOPBACK", "1")  # the receiver is on loopback
    faithful(fake_server)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "factory.md").write_text(FACTORY)
    (corpus / "colour.md").write_text(COLOUR)
    running = Workers(client, fake_server, corpus, tmp_path / "cache")
    await running.start()
    yield running
    await running.stop()
    await running.llm.aclose()


async def cli(client: Client, queue: str, *args: str, **extra: str) -> tuple[int, str, str]:
    env = local_server_env(client.service_client.config.target_host)
    env |= {"TTDR_TASK_QUEUE": queue, "TTDR_SCHEDULE_ALLOW_SECONDS": "1", **extra}
    return await run_client_py(*args, env=env)


async def runs_of(client: Client, schedule_id: str, status: str | None = None) -> list[str]:
    query = f'TemporalScheduledById = "{schedule_id}"'
    if status:
        query += f' AND ExecutionStatus = "{status}"'
    return [run.id async for run in client.list_workflows(query)]


async def wait_for(check: Callable[[], object], what: str, seconds: float = 90) -> None:
    for _ in range(int(seconds * 4)):
        if await check():  # type: ignore[misc]
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


async def report_of(client: Client, workflow_id: str) -> ResearchReport:
    return await client.get_workflow_handle(workflow_id, result_type=ResearchReport).result()


def _section(markdown: str, heading: str) -> str:
    if heading not in markdown:
        return ""
    rest = markdown.split(heading, 1)[1]
    return rest.split("\n**", 1)[0].split("\n## ", 1)[0]


async def test_a_watched_topic_reports_what_changed_in_its_documents(
    client: Client,
    workers: Workers,
    fake_server: FakeLLMServer,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG))
    schedule_id = f"watch-{uuid.uuid4().hex[:6]}"
    queue = workers.queue
    code, out, err = await cli(
        client, queue, "schedule", QUESTION, "--every", "3s", "--id", schedule_id,
        "--config", str(config), "--notify", receiver.url,
        TTDR_NOTIFY_ALLOW_LOOPBACK="1",
    )  # fmt: skip
    assert code == 0, err
    assert f"schedule_id: {schedule_id}" in out
    try:
        await wait_for(lambda: runs_of(client, schedule_id, "Completed"), "a first run")
        assert (await cli(client, queue, "schedule", "pause", schedule_id))[0] == 0
        await wait_for(lambda: _none(runs_of(client, schedule_id, "Running")), "no run in flight")
        first_ids = await runs_of(client, schedule_id, "Completed")
        assert all(run.startswith(f"{schedule_id}-") for run in first_ids)
        first = await report_of(client, first_ids[0])
        assert "Widget colour" in first.markdown

        # The document changes: one fact retracted, a new one in its place.
        (workers.corpus / "colour.md").write_text(PACKAGING)
        await workers.stop()
        await workers.start()
        reports_before = len(fake_server.calls("ReportAnswer"))
        assert (await cli(client, queue, "schedule", "trigger", schedule_id))[0] == 0
        await wait_for(
            lambda: _more(runs_of(client, schedule_id, "Completed"), len(first_ids)),
            "the triggered run",
        )
        second_id = (set(await runs_of(client, schedule_id, "Completed")) - set(first_ids)).pop()
        second = await report_of(client, second_id)
        markdown = second.markdown
        assert markdown.startswith(f"# {QUESTION}\n\n## What changed since 20")
        added = _section(markdown, "**Claims added**")
        assert "recycled cardboard crates" in added, markdown
        removed = _section(markdown, "**Claims no longer supported**")
        assert "painted bright orange" in removed, markdown
        # Each with the source that shows it: colour.md, under its number in the Sources list.
        colour_number = next(s.number for s in second.sources if "colour" in s.source.document)
        assert f"[{colour_number}]" in added and f"[{colour_number}]" in removed
        # Old sources keep their numbers.
        before = {s.source.document: s.number for s in first.sources}
        after = {s.source.document: s.number for s in second.sources}
        assert all(after[d] == n for d, n in before.items() if d in after)
        assert len(fake_server.calls("ReportAnswer")) == reports_before + 1
        # The changes were POSTed.
        await wait_for(lambda: _true(receiver.bodies), "the notification")
        posted = receiver.bodies[-1]
        assert posted["schedule_id"] == schedule_id and posted["workflow_id"] == second_id
        assert "recycled cardboard crates" in posted["changes"]["added"][0]["text"]
        assert "painted bright orange" in posted["changes"]["removed"][0]["text"]

        # Nothing changes: one line, and no report synthesis.
        seen = set(await runs_of(client, schedule_id, "Completed"))
        assert (await cli(client, queue, "schedule", "trigger", schedule_id))[0] == 0
        await wait_for(
            lambda: _more(runs_of(client, schedule_id, "Completed"), len(seen)), "a third run"
        )
        third_id = (set(await runs_of(client, schedule_id, "Completed")) - seen).pop()
        third = await report_of(client, third_id)
        assert third.markdown.split("\n\n")[2].startswith("Nothing new")
        assert len(fake_server.calls("ReportAnswer")) == reports_before + 1
        assert len(receiver.bodies) == 1, "nothing new is not notified"

        code, out, _ = await cli(client, queue, "schedule", "show", schedule_id)
        assert code == 0 and "paused: yes" in out and QUESTION in out and second_id in out
        assert "overlap: skip, catch-up window: 0:01:00" in out
        code, out, _ = await cli(client, queue, "schedule", "list")
        assert code == 0 and schedule_id in out
    finally:
        # A deleted schedule leaves no run behind.
        await cli(client, queue, "schedule", "resume", schedule_id)
        await wait_for(lambda: runs_of(client, schedule_id, "Running"), "a resumed run", 30)
        code, out, err = await cli(client, queue, "schedule", "delete", schedule_id)
        assert code == 0, err
    await wait_for(lambda: _none(runs_of(client, schedule_id, "Running")), "no run left")
    await asyncio.sleep(4)  # more than an interval: nothing starts any more
    assert not await runs_of(client, schedule_id, "Running")
    code, _, err = await cli(client, queue, "schedule", "show", schedule_id)
    assert code == 2 and "no schedule" in err


async def _none(listing: object) -> bool:
    return not await listing  # type: ignore[misc]


async def _more(listing: object, count: int) -> bool:
    return len(await listing) > count  # type: ignore[misc]


async def _true(value: object) -> bool:
    return bool(value)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--every", "30s"], "the interval must be at least 60 s"),
        (["--cron", "every monday"], "is not a cron expression"),
        (["--cron", "0 9 * *"], "is not a cron expression"),
        (["--every", "1h", "--notify", "http://10.1.2.3/hook"], "non-public address 10.1.2.3"),
        (["--every", "1h", "--notify", "http://127.0.0.1:9/x"], "non-public address 127.0.0.1"),
        (["--every", "1h", "--notify", "ftp://example.com/x"], "only http(s) URLs"),
        (["--every", "1h", "--cron", "@daily"], "exactly one of --every"),
    ],
)
async def test_bad_schedule_input_is_one_line_and_creates_nothing(
    args: list[str], message: str
) -> None:
    # No server at this address: the input is refused before any connection.
    env = local_server_env("127.0.0.1:1")
    code, out, err = await run_client_py(
        "schedule", QUESTION, "--id", "never", *args, env=env, timeout_seconds=120
    )
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow  # starts and restarts its own dev server
async def test_a_schedule_survives_a_server_and_worker_restart(
    fake_server: FakeLLMServer, script: Script, local_search: LocalSearch, tmp_path: Path
) -> None:
    faithful(fake_server)
    ports = {"port": free_port(), "ui_port": free_port()}

    def dev_server() -> TemporalDevServer:
        return TemporalDevServer(tmp_path / "temporal.db", log_path=tmp_path / "t.log", **ports)

    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG))
    schedule_id = f"watch-{uuid.uuid4().hex[:6]}"
    queue = f"ttdr-restart-{uuid.uuid4().hex[:6]}"
    llm = LLMClient(fake_llm_settings(fake_server))
    server = await asyncio.to_thread(dev_server().start)
    try:
        own = await Client.connect(server.address, plugins=[ResearchPlugin()])
        await ensure_search_attributes(own, "default")
        async with build_worker(own, queue, llm, local_search):
            code, _, err = await cli(
                own, queue, "schedule", QUESTION, "--every", "4s", "--id", schedule_id,
                "--config", str(config),
            )  # fmt: skip
            assert code == 0, err
            await wait_for(lambda: runs_of(own, schedule_id, "Completed"), "a first run")
        await asyncio.to_thread(server.stop)  # the worker is gone too
        server = await asyncio.to_thread(dev_server().start)  # same db file, same ports
        own = await Client.connect(server.address, plugins=[ResearchPlugin()])
        before = set(await runs_of(own, schedule_id, "Completed"))
        async with build_worker(own, queue, llm, local_search):
            await wait_for(
                lambda: _more(runs_of(own, schedule_id, "Completed"), len(before)),
                "a run after the restart",
            )
            code, out, _ = await cli(own, queue, "schedule", "show", schedule_id)
            assert code == 0 and "paused: no" in out
            code, _, err = await cli(own, queue, "schedule", "delete", schedule_id)
            assert code == 0, err
            await wait_for(lambda: _none(runs_of(own, schedule_id, "Running")), "no run left")
        newest = (set(await runs_of(own, schedule_id, "Completed")) - before).pop()
        report = await report_of(own, newest)
        assert "## What changed since" in report.markdown
    finally:
        await asyncio.to_thread(server.stop)
        await llm.aclose()


async def test_a_cron_the_server_refuses_is_one_line_and_creates_nothing(client: Client) -> None:
    schedule_id = f"watch-{uuid.uuid4().hex[:6]}"
    code, out, err = await cli(
        client, "q", "schedule", QUESTION, "--cron", "99 9 * * *", "--id", schedule_id
    )
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"could not create schedule {schedule_id}" in err
    code, _, err = await cli(client, "q", "schedule", "show", schedule_id)
    assert code == 2 and f"no schedule {schedule_id}" in err


async def test_show_names_a_cron_schedule_by_its_expression(client: Client) -> None:
    # The server keeps a cron expression only as calendar ranges ("spec: calendar" before).
    schedule_id = f"watch-{uuid.uuid4().hex[:6]}"
    code, _, err = await cli(
        client, "q", "schedule", QUESTION, "--cron", "0 9 * * MON", "--id", schedule_id
    )
    assert code == 0, err
    try:
        code, out, _ = await cli(client, "q", "schedule", "show", schedule_id)
        assert code == 0 and "spec: cron: 0 9 * * MON" in out
    finally:
        await client.get_schedule_handle(schedule_id).delete()


async def test_an_agent_watches_a_topic_through_mcp(
    client: Client, task_queue: str, script: Script
) -> None:
    """watch_topic makes the schedule with the CLI's checks and the MCP server's caps; its runs
    are MCP runs (capped budget, started_by memo); stop_watching deletes it."""
    from temporalio.service import RPCError

    from tests.cli.test_mcp import error_text, structured
    from tests.cli.test_mcp_guards import stdio_server
    from workflows.state import RunInput

    address = client.service_client.config.target_host
    watch_id = f"mcp-watch-{uuid.uuid4().hex[:6]}"
    async with stdio_server(address, task_queue, TTDR_MCP_MAX_LLM_CALLS="100") as mcp:
        for arguments, reason in (
            ({"every": "10s"}, "every 10s: the interval must be at least 60 s"),
            ({"cron": "every monday"}, "cron 'every monday' is not a cron expression"),
            ({"every": "1d", "notify_url": "http://10.0.0.1/hook"}, "notify_url: "),
            ({"every": "1d", "schedule_id": "a b"}, "invalid schedule_id"),
        ):
            asked = {"question": QUESTION, **arguments}
            text = error_text(await mcp.call_tool("watch_topic", asked))
            assert reason in text and "nothing was created" in text, text
            assert "--" not in text, text
        over = {"question": QUESTION, "every": "7d", "config": {"max_llm_calls": 900}}
        assert "over this MCP server's cap of 100" in error_text(
            await mcp.call_tool("watch_topic", over)
        )
        asked = {"question": QUESTION, "every": "7d", "schedule_id": watch_id, "config": CONFIG}
        made = structured(await mcp.call_tool("watch_topic", asked))
        assert made["schedule_id"] == watch_id and made["budget"]["max_llm_calls"] == 100
        schedule = client.get_schedule_handle(watch_id)
        description = await schedule.describe()
        assert description.schedule.policy.catchup_window.days == 1
        assert description.schedule.state.note == f"watching: {QUESTION}"

        await schedule.trigger()  # a run now, as the schedule starts them
        for _ in range(600):
            actions = (await schedule.describe()).info.recent_actions
            if actions:
                break
            await asyncio.sleep(0.1)
        run_id = actions[0].action.workflow_id  # type: ignore[attr-defined]
        run = client.get_workflow_handle(run_id, result_type=ResearchReport)
        assert (await run.result()).markdown.startswith(f"# {QUESTION}")
        assert (await (await run.describe()).memo()).get("started_by") == "mcp"
        first = (await run.fetch_history()).events[0].workflow_execution_started_event_attributes
        [request] = await client.data_converter.decode(first.input.payloads, [RunInput])
        assert request.config.max_llm_calls == 100, "the scheduled run got the capped budget"

        deleted = structured(await mcp.call_tool("stop_watching", {"schedule_id": watch_id}))
        assert deleted["status"] == "deleted"
        missing = error_text(await mcp.call_tool("stop_watching", {"schedule_id": watch_id}))
        assert f"no schedule {watch_id}" in missing, missing
    with pytest.raises(RPCError):
        await schedule.describe()
