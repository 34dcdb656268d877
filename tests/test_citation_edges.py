"""The reader's report, exactly (workflows/citations.py): the note on top, one Sources entry per
document with every cited part of it, nothing cited said so, and titles made inert. Pure: no
server. Written from the mutants bench/mutation.py found unkilled.
"""

from __future__ import annotations

from workflows.citations import finalise_report, sources_section
from workflows.models import NumberedSource, Source


def source(n: int, document: str, anchor: str = "", title: str = "") -> NumberedSource:
    return NumberedSource(
        number=n,
        source=Source(
            id=f"s{n}",
            title=title or f"Title {n}",
            location=f"/corpus/{document}",
            provider="local",
            retrieved_at="2026-01-01T00:00:00Z",
            document=document,
            anchor=anchor,
        ),
    )


def test_the_report_is_the_body_then_one_entry_per_document_with_its_cited_parts() -> None:
    known = [
        source(1, "guide.md", "Install"),
        source(2, "guide.md", "Usage"),
        source(3, "faq.md"),
        source(4, "guide.md", "Install"),  # a second passage of a part already listed
    ]
    report, cited, removed = finalise_report("Install it [2]. Ask [3]. Again [1][4]. [9]", known)
    assert report == (
        "Install it [1]. Ask [2]. Again [1].\n\n"
        "## Sources\n\n"
        "1. Title 2 — guide.md; cited: Usage; Install\n"
        "2. Title 3 — faq.md\n"
    )
    assert [(c.number, c.source.id) for c in cited] == [(1, "s2"), (2, "s3"), (1, "s1"), (1, "s4")]
    assert removed == 1


def test_a_note_goes_on_top_and_no_note_adds_nothing() -> None:
    known = [source(1, "a.md")]
    with_note, _, _ = finalise_report("Body [1].", known, note="Stopped early.")
    assert with_note == (
        "> **Note:** Stopped early.\n\nBody [1].\n\n## Sources\n\n1. Title 1 — a.md\n"
    )
    without, _, _ = finalise_report("Body [1].", known)
    assert without == "Body [1].\n\n## Sources\n\n1. Title 1 — a.md\n"


def test_a_report_that_cites_nothing_says_so() -> None:
    assert sources_section([]) == "## Sources\n\nNo source was cited."
    report, cited, removed = finalise_report("No citations here [5].", [])
    assert report == "No citations here.\n\n## Sources\n\nNo source was cited.\n"
    assert (cited, removed) == ([], 1)


def test_titles_and_parts_are_inert() -> None:
    entry = sources_section([source(1, "x.md", anchor="[2](javascript:x)", title="<b>T</b> [3]")])
    assert entry == (
        "## Sources\n\n1. &lt;b>T&lt;/b> \\[3\\] — x.md; cited: \\[2\\](javascript:x)"
    )
