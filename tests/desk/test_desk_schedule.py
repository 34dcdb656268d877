"""A schedule (a watched topic) started from the desk's report page, over HTTP against the real
app, dev server and worker: `client.py schedule`'s checks and one-line messages, CSRF, and
the schedule as Temporal holds it. The browser journey is tests/desk/test_desk_browser.py."""

from __future__ import annotations

import re

import httpx
import pytest
from temporalio.client import Client, ScheduleOverlapPolicy

from cli.schedule import check_cron, parse_interval
from common.errors import UsageError
from tests.desk.test_desk import ASK, NO_WORKER
from tests.support.desk import asgi_client, csrf_of, settings_for

UNKNOWN_RUN = "/runs/no-such-run/schedule"


def cli_message(every: str | None, cron: str | None) -> str:
    """What `client.py schedule` says for these --every / --cron values."""
    try:
        if (every is None) == (cron is None):
            raise UsageError("give exactly one of --every INTERVAL or --cron EXPRESSION")
        parse_interval(every) if every is not None else check_cron(cron or "")
    except UsageError as err:
        return str(err)
    raise AssertionError("the CLI accepts this")


async def schedule_ids(client: Client) -> set[str]:
    return {entry.id async for entry in await client.list_schedules()}


async def nothing_created(client: Client, before: set[str]) -> None:
    """No schedule appeared since `before`. Compared as new ids, not the whole list: another
    test's schedule deleted meanwhile leaves the server's list (and its visibility) late."""
    assert not await schedule_ids(client) - before


async def flash_after(http: httpx.AsyncClient, answer: httpx.Response) -> str:
    """The one line a refused form leaves for the next page (read on the desk's index: the run
    page of an unknown run is a 404)."""
    assert answer.status_code == 303
    key = answer.headers["location"].split("?flash=")[1]
    page = await http.get(f"/?flash={key}")
    found = re.search(r'class="flash[^"]*" role="status">([^<]*)<', page.text)
    assert found, "no flash on the page"
    return found.group(1)


@pytest.mark.parametrize(
    ("every", "cron"),
    [("30s", None), ("7 days", None), (None, "every monday"), (None, "0 9 * *"),
     ("1h", "@daily"), (None, None)],
)  # fmt: skip
async def test_bad_timing_gets_the_cli_message_and_creates_nothing(
    client: Client, every: str | None, cron: str | None
) -> None:
    settings = settings_for(NO_WORKER, [])
    form = {"every": every or "", "cron": cron or "", "note": "n"}
    async with asgi_client(client, settings) as http:
        csrf = csrf_of((await http.get("/")).text)
        before = await schedule_ids(client)
        # Checked before the run is even looked up, as the CLI checks before it connects.
        answer = await http.post(UNKNOWN_RUN, data={**form, "csrf": csrf})
        expected = cli_message(every, cron).replace("'", "&#39;").replace('"', "&#34;")
        assert await flash_after(http, answer) == f"error: {expected}"
        await nothing_created(client, before)


async def test_a_schedule_needs_the_csrf_token_and_a_finished_run(client: Client) -> None:
    settings = settings_for(NO_WORKER, [])
    async with asgi_client(client, settings) as http:
        csrf = csrf_of((await http.get("/")).text)
        before = await schedule_ids(client)
        assert (await http.post(UNKNOWN_RUN, data={"every": "7d"})).status_code == 403
        answer = await http.post(UNKNOWN_RUN, data={"every": "7d", "csrf": csrf})
        assert (await flash_after(http, answer)).startswith("error: no workflow no-such-run")
        await nothing_created(client, before)
        assert (await http.get("/schedules/no-such-schedule")).status_code == 404


async def test_a_report_starts_a_cron_schedule(client: Client, task_queue: str) -> None:
    settings = settings_for(task_queue, [])
    async with asgi_client(client, settings) as http:
        csrf = csrf_of((await http.get("/")).text)
        started = await http.post("/runs", data={**ASK, "csrf": csrf})
        run_path = started.headers["location"].split("?")[0]
        workflow_id = run_path.rsplit("/", 1)[1]
        await client.get_workflow_handle(workflow_id).result()
        assert 'id="watch"' in (await http.get(run_path)).text  # the form is on the report

        # A cron expression the server refuses: its one line, nothing created.
        before = await schedule_ids(client)
        refused = await http.post(f"{run_path}/schedule", data={"cron": "99 9 * * *", "csrf": csrf})
        assert (await flash_after(http, refused)).startswith("error: could not create schedule")
        await nothing_created(client, before)

        answer = await http.post(
            f"{run_path}/schedule", data={"cron": " 0 9  * * MON ", "note": "", "csrf": csrf}
        )
        assert answer.status_code == 303
        schedule_id = answer.headers["location"].split("/schedules/")[1].split("?")[0]
        try:
            page = await http.get(answer.headers["location"])
            assert page.status_code == 200
            assert f"started schedule {schedule_id}" in page.text
            assert 'id="schedule-spec">cron: 0 9 * * MON<' in page.text
            web_ui = f"{settings.web_ui_url}/namespaces/default/schedules/{schedule_id}"
            assert f'href="{web_ui}"' in page.text
            schedule = (await client.get_schedule_handle(schedule_id).describe()).schedule
            # The server keeps a cron expression as calendar ranges: Mondays, 9:00.
            [calendar] = schedule.spec.calendars
            assert [(r.start, r.end) for r in calendar.day_of_week] == [(1, 1)]
            assert [(r.start, r.end) for r in calendar.hour] == [(9, 9)]
            assert [(r.start, r.end) for r in calendar.minute] == [(0, 0)]
            assert schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
            assert schedule.state.note == f"watching: {ASK['question']}"  # the CLI's default
        finally:
            await client.get_schedule_handle(schedule_id).delete()
