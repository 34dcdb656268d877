"""A plan edit whose title or focus is only zero-width or bidi characters is refused, as the
question check refuses the same text (issue 26 item 9). Real dev server, worker and client.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import Client

from testing.fake_llm import FakeLLMServer
from testing.processes import run_client
from testing.scripted_llm import Script
from tests.workflows.test_plan_review import start, waiting
from workflows.models import ResearchRequest
from workflows.results import ResearchState

INVISIBLE = "\u200b\u200d\u2060\ufeff\u202e\u2066"  # zero-width, word joiner, BOM, bidi


def test_the_question_check_refuses_the_same_text() -> None:
    with pytest.raises(ValueError, match="no visible characters"):
        ResearchRequest(question=INVISIBLE)


async def test_an_invisible_title_or_focus_is_refused_and_changes_nothing(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script, tmp_path: Path
) -> None:
    handle = await start(client, task_queue)
    await waiting(handle)
    visible = {"title": "Entering and exiting", "focus": "what __enter__ and __exit__ do"}
    for section, where in (
        ({"title": INVISIBLE, "focus": "what __exit__ receives"}, "section 2's title"),
        ({"title": "Exceptions", "focus": INVISIBLE}, "section 2's focus"),
    ):
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps({"sections": [visible, section]}))
        code, _, err = await run_client(
            client, task_queue, "review", handle.id, "--plan", str(plan)
        )
        assert code == 2, err
        assert f"{where} has no visible characters" in err

    state = await handle.query("state", result_type=ResearchState)
    assert state.progress.plan_review == "waiting" and state.plan is not None
    assert state.plan.sections[0].title == "Mechanism", "the proposed plan is unchanged"
    code, _, err = await run_client(client, task_queue, "review", handle.id)
    assert code == 0, err
    await handle.result()
