"""The support scorer's negation penalty went from x0.6 to x0.5 behind a workflow.patched marker
(workflows/citing/support.py, NEGATION_HALVES_PATCH): the scorer decides citations in workflow code,
so
a run recorded before the change must replay with x0.6 and a new run halves. A probe workflow
scores one negated claim its passage covers word for word and, like the report's check, does
something else (here: a timer) when the citation would be removed. Real dev server and worker.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Replayer, Worker

from workflows.citing.support import DEFAULT_THRESHOLD, NEGATION_HALVES_PATCH, support_score

CLAIM, PASSAGE = "Retries do no harm.", "Retries do harm and help."


@workflow.defn(name="NegationProbe", sandboxed=False)
class NegationProbe:
    @workflow.run
    async def run(self) -> float:
        score = support_score(CLAIM, PASSAGE)
        if score < DEFAULT_THRESHOLD:  # the citation would be removed: a different command
            await workflow.sleep(timedelta(milliseconds=1))
        return score


async def probe(client: Client, *, patch_active: bool) -> tuple[float, object]:
    """Run the probe once; `patch_active=False` records it as a worker without the patch did."""
    queue = f"negation-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[NegationProbe],
        patch_activation_callback=lambda _: patch_active,
    ):
        handle = await client.start_workflow(
            NegationProbe.run, id=f"negation-{uuid.uuid4().hex[:8]}", task_queue=queue
        )
        score = await handle.result()
        return score, await handle.fetch_history()


def markers(history: object) -> list[str]:
    return [
        e.marker_recorded_event_attributes.marker_name
        for e in history.events  # type: ignore[attr-defined]
        if e.HasField("marker_recorded_event_attributes")
    ]


def timers(history: object) -> int:
    return sum(e.HasField("timer_started_event_attributes") for e in history.events)  # type: ignore[attr-defined]


async def test_a_new_run_halves_a_negation_and_both_sides_of_the_patch_replay(
    client: Client,
) -> None:
    new_score, new_history = await probe(client, patch_active=True)
    old_score, old_history = await probe(client, patch_active=False)
    assert new_score == 0.5 and timers(new_history) == 1, "a new run removes the citation"
    assert old_score == 0.6 and timers(old_history) == 0, "a run before the patch kept it"
    assert markers(new_history) and not markers(old_history)
    replayer = Replayer(workflows=[NegationProbe])
    for history in (new_history, old_history):
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)  # type: ignore[arg-type]
        assert result.replay_failure is None, result.replay_failure


def test_outside_a_workflow_the_scorer_halves_a_negation() -> None:
    assert support_score(CLAIM, PASSAGE) == 0.5
    assert NEGATION_HALVES_PATCH == "negation-halves-support"  # a rename breaks recorded runs
