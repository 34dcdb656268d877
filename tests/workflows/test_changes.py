"""The pure text work of follow-ups and watched topics (workflows/changes.py), and the change
notification's address rules and answers (activities/notify.py) against a loopback receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from temporalio.exceptions import ApplicationError

from activities.notify import Notifier
from workflows.changes import (
    compute_changes,
    keep_numbering,
    parent_body,
    rewrite_final_markers,
    what_changed,
)
from workflows.continuation_models import ChangeItem, Changes, NotifyInput, PreviousClaim
from workflows.labels import labels_for
from workflows.models import NumberedSource, ResearchPlan, Source
from workflows.results import ResearchReport


def source(document: str, evidence: str = "") -> Source:
    return Source(
        id=f"id-{document}-{len(evidence)}",
        title=document.title(),
        location=document,
        provider="local",
        retrieved_at="2026-12-04T10:00:00+00:00",
        evidence=evidence,
        document=document,
    )


def report(markdown: str, cited: list[tuple[int, str]]) -> ResearchReport:
    return ResearchReport(
        question="Q?",
        markdown=markdown,
        plan=ResearchPlan(sections=[]),
        sources=[NumberedSource(number=n, source=source(d)) for n, d in cited],
        sources_retrieved=0,
        removed_citations=0,
        iterations=1,
        quality_history=[],
        stop_reason="max_iterations",
        usage_by_node={},
        usage_total={},
    )


def test_a_parent_report_becomes_a_draft_citing_plain_numbers() -> None:
    markdown = (
        "> **Note:** stopped early.\n\n# Q?\n\n> **Follow-up of** run r1: P?\n\n"
        "## What changed since 2026-12-01 10:00 UTC\n\nNothing new: ...\n\n---\n\n"
        "Cats sleep a lot.[1, §Sleep] Dogs bark.[2] *(no retrieved source supports this)*\n\n"
        "`xs[1]` stays code.\n\n## Research notes\n\n**Q1: x**\n\nnotes [1]\n\n"
        "## Sources\n\n1. Cats — cats.md\n2. Dogs — dogs.md\n"
    )
    body = parent_body(markdown, labels_for("Q?"))
    assert body == "Cats sleep a lot.[1] Dogs bark.[2]\n\n`xs[1]` stays code."


def test_renumbering_keeps_the_parent_numbers_and_lists_new_documents_after_them() -> None:
    child = report(
        "# Q?\n\nNew fact.[1, p. 2] Old fact.[2]\n\n## Sources\n\n1. x\n2. y\n",
        [(1, "new.md"), (2, "old.md")],
    )
    registry = [source("old.md"), source("new.md"), source("other.md")]
    kept = keep_numbering(
        child, {"old.md": 3, "gone.md": 1}, registry, lambda cite: f"see [{cite(3)}]"
    )
    assert kept.markdown.startswith("# Q?\n\nsee [5]\n\nNew fact.[4, p. 2] Old fact.[3]\n\n")
    assert [(s.number, s.source.document) for s in kept.sources] == [
        (3, "old.md"),
        (4, "new.md"),
        (5, "other.md"),
    ]
    assert kept.markdown.endswith(
        "3. Old.Md — old.md\n4. New.Md — new.md\n5. Other.Md — other.md\n"
    )


def test_markers_in_code_are_not_renumbered() -> None:
    text = "A [1, §X] and `b[1]` and\n\n```\nc[1]\n```\n"
    assert rewrite_final_markers(text, lambda n: n + 1) == text.replace("[1, §X]", "[2, §X]")


def test_what_changed_lists_added_changed_and_retracted_claims() -> None:
    registry = [
        source("a.md", "The plant employs forty machinists."),
        source("b.md", "Units ship inside recycled cardboard crates. Output is 900 units a day."),
    ]
    previous = [
        PreviousClaim(text="The plant employs forty machinists.", documents=["a.md"],
                      numbers=[1], supported_now=True, rechecked=True),
        PreviousClaim(text="Every unit leaves painted bright orange.", documents=["b.md"],
                      numbers=[2], supported_now=False, rechecked=True),
        PreviousClaim(text="Output is 500 units a day.", documents=["b.md"], numbers=[2],
                      supported_now=False, rechecked=True),
        PreviousClaim(text="A page not read again says so.", documents=["c.md"], numbers=[2],
                      supported_now=False, rechecked=False),
    ]  # fmt: skip
    found = [
        ("The plant employs forty machinists.", [1]),
        ("Units ship inside recycled cardboard crates.", [2]),
        ("Output is 900 units a day.", [2]),
    ]
    changes = compute_changes(previous, found, registry, 0.6, "2026-12-01 10:00 UTC", "run-1")
    assert [c.text for c in changes.added] == ["Units ship inside recycled cardboard crates."]
    assert [(c.previous, c.text) for c in changes.changed] == [
        ("Output is 500 units a day.", "Output is 900 units a day.")
    ]
    assert [c.text for c in changes.removed] == ["Every unit leaves painted bright orange."]
    assert changes.removed[0].sources == ["B.Md — b.md"]
    section = what_changed(changes, lambda n: n + 10)
    assert section.startswith("## What changed since 2026-12-01 10:00 UTC\n\n")
    assert "- Units ship inside recycled cardboard crates.[12]" in section
    assert "- Output is 900 units a day.[12] (was: Output is 500 units a day.)" in section
    assert (
        "- ~~Every unit leaves painted bright orange.~~ — not in the current text of [12]"
        in section
    )
    assert section.endswith("\n\n---")


def test_untrusted_claim_text_is_made_inert_in_the_section() -> None:
    changes = Changes(
        since="d",
        previous_run="r",
        added=[ChangeItem(text="<script>x</script> [7] `c`", numbers=[1])],
    )
    section = what_changed(changes, lambda n: n)
    assert "<script>" not in section and "\\[7\\]" in section and "[1]" in section


class Receiver:
    def __init__(self, status: int) -> None:
        self.bodies: list[dict] = []
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                bodies.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for receiver in made:
        receiver.server.shutdown()
        receiver.server.server_close()


def notification(url: str) -> NotifyInput:
    changes = Changes(since="d", previous_run="r", added=[ChangeItem(text="new", numbers=[1])])
    return NotifyInput(url=url, schedule_id="s", workflow_id="w", question="q", changes=changes)


async def test_the_notification_obeys_the_address_rules(receivers: list[Receiver]) -> None:
    ok, rejecting, failing = Receiver(204), Receiver(404), Receiver(503)
    receivers += [ok, rejecting, failing]
    with pytest.raises(ApplicationError) as refused:
        await Notifier(allow_loopback=False).notify(notification(ok.url))
    assert refused.value.non_retryable and "non-public address 127.0.0.1" in str(refused.value)
    for private in ("http://10.0.0.7/x", "http://169.254.169.254/latest", "http://[::1]:9/x"):
        with pytest.raises(ApplicationError) as refused:
            await Notifier(allow_loopback=True).notify(notification(private))
        assert refused.value.non_retryable or "::1" in private
    assert not ok.bodies

    await Notifier(allow_loopback=True).notify(notification(ok.url))
    assert (
        ok.bodies[0]["workflow_id"] == "w" and ok.bodies[0]["changes"]["added"][0]["text"] == "new"
    )
    assert "url" not in ok.bodies[0]
    with pytest.raises(ApplicationError) as final:
        await Notifier(allow_loopback=True).notify(notification(rejecting.url))
    assert final.value.non_retryable and "HTTP 404" in str(final.value)
    with pytest.raises(ApplicationError) as again:
        await Notifier(allow_loopback=True).notify(notification(failing.url))
    assert not again.value.non_retryable and "HTTP 503" in str(again.value)
