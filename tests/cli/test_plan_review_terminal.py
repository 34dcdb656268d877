"""The plan review `research --review-plan` offers in a terminal (cli/plan_review.py): errors
number sections as the user sees them, an invalid edit is kept and reopened with its error, and
guidance waits for the user's approval or edit instead of approving on its own. A real run
waits for review on a real worker; the editor is a real program ($EDITOR), the answers are typed
by a script."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client

from cli.plan_review import ReviewError, read_plan, review_interactively
from testing.fake_llm import FakeLLMServer
from testing.scripted_llm import Script
from tests.workflows.test_plan_review import review_status, start, waiting
from workflows.results import ResearchReport, ResearchState

# The editor: records what it was given, then writes the next of the edits queued in a file.
EDITOR = """
import json, pathlib, sys
here = pathlib.Path(sys.argv[0]).parent
plan = pathlib.Path(sys.argv[1])
seen = here / "seen.jsonl"
with seen.open("a") as log:
    log.write(json.dumps(plan.read_text()) + "\\n")
edits = json.loads((here / "edits.json").read_text())
plan.write_text(edits[len(seen.read_text().splitlines()) - 1])
"""


def answers(*typed: str) -> Callable[[str], str]:
    queue: Iterator[str] = iter(typed)
    return lambda prompt: next(queue)


class Editor:
    """$EDITOR for the test: the edits it makes, in turn, and what it was shown each time."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "editor.py").write_text(EDITOR)

    def queue(self, *edits: str) -> None:
        (self.folder / "edits.json").write_text(json.dumps(list(edits)))

    def seen(self) -> list[str]:
        log = self.folder / "seen.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Editor:
    made = Editor(tmp_path)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {tmp_path / 'editor.py'}")
    return made


def test_a_plan_error_numbers_sections_from_one(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text('{"sections": [{"title": "A", "focus": "a"}, {"title": "B"}]}')
    with pytest.raises(ReviewError) as error:
        read_plan(plan)
    assert str(error.value).endswith("section 2: focus: Field required")


async def test_an_invalid_edit_is_kept_and_reopened_with_its_error(
    client: Client,
    task_queue: str,
    fake_server: FakeLLMServer,
    script: Script,
    editor: Editor,
    capsys: pytest.CaptureFixture[str],
) -> None:
    handle = await start(client, task_queue)
    await waiting(handle)
    broken = '{"sections": [{"title": "Entering", "focus": "__enter__"}, {"title": "Leaving"}]}'
    fixed = broken.replace('"Leaving"}', '"Leaving", "focus": "__exit__"}')
    editor.queue(broken, fixed)
    await review_interactively(handle, answers("e", "e"))

    shown = editor.seen()
    assert len(shown) == 2 and shown[1] == broken, "the second edit starts from the first"
    out, err = capsys.readouterr()
    assert "section 2: focus: Field required" in err and "sections.1" not in err
    assert "reopening your edit; it was not sent: " in out and "plan replaced" in out
    report = ResearchReport.model_validate(await handle.result())
    assert [s.title for s in report.plan.sections] == ["Entering", "Leaving"]


async def test_guidance_waits_for_the_users_approval(
    client: Client,
    task_queue: str,
    fake_server: FakeLLMServer,
    script: Script,
    capsys: pytest.CaptureFixture[str],
) -> None:
    handle = await start(client, task_queue)
    await waiting(handle)
    await review_interactively(handle, answers("g", "Stress the exception path.", "l"))
    assert await review_status(handle) == "waiting", "guidance alone approved nothing"
    out, _ = capsys.readouterr()
    assert "guidance noted: it is sent with [a]pprove or [e]dit" in out
    assert "your guidance was not sent" in out

    await review_interactively(handle, answers("g", "Stress the exception path.", "a"))
    state = await handle.query("state", result_type=ResearchState)
    assert state.progress.plan_review == "approved"
    assert "plan approved: guidance noted" in capsys.readouterr().out
    await handle.result()
    assert "Stress the exception path." in fake_server.calls("GapAnswer")[0].prompt
