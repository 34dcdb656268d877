"""Citation bookkeeping: what a reader of the report sees (workflows/citing/citations.py and the
sanitiser it uses). Pure: no server.

The report exactly: the note on top, one Sources entry per document with every cited part of it,
nothing cited said so, and titles made inert (the cases bench/mutation.py found unkilled).
"""

from __future__ import annotations

import pytest

from workflows.citing import sanitise
from workflows.citing.citations import (
    cited_numbers,
    finalise_citations,
    finalise_report,
    remap_citations,
    sources_section,
    strip_own_sources_section,
)
from workflows.models import NumberedSource, Source


def source(n: int) -> NumberedSource:
    return NumberedSource(
        number=n,
        source=Source(
            id=f"id{n}", title=f"T{n}", location=f"/docs/{n}.txt", provider="local",
            retrieved_at="2026-01-01T00:00:00+00:00",
        ),
    )  # fmt: skip


def test_code_is_never_taken_for_a_citation() -> None:
    text = "Use `xs[1]` or\n```python\nys[2]\n[3]\n```\nthen claim [5]."
    assert cited_numbers(text) == [5]


def test_a_marker_glued_to_a_word_in_prose_is_a_citation() -> None:
    # Small models write "claim[3]": outside code that is a citation, checked like any other.
    assert cited_numbers("then items[4] and claim [5].") == [4, 5]
    assert remap_citations("Claim[4]. Bogus[9].", {4: 1}) == ("Claim[1]. Bogus.", 1)


def test_markers_the_old_checker_did_not_parse_are_checked() -> None:
    text, removed = remap_citations(
        "A [ 7 ]. B [7-8]. C [^7]. D [00007]. E [-1]. F [12345].", {7: 2}
    )
    assert text == "A [2]. B [2]. C [2]. D [2]. E. F."
    assert removed == 3  # 8, -1 and 12345


def test_removing_citations_is_linear_time() -> None:
    """A megabyte of spaces took the old `[ \t]*marker` cleanup about 15 minutes (quadratic)."""
    text, removed = remap_citations(" " * 1_000_000 + "x [9]", {})
    assert text.endswith(" x") and removed == 1


def test_grouped_and_adjacent_citations() -> None:
    assert cited_numbers("A [2, 3]. B [1][2]. C [3]") == [2, 3, 1]


def test_remap_drops_unknown_numbers_and_tidies_the_sentence() -> None:
    text, removed = remap_citations("Fact [1]. Made up [9]. Both [1, 9].", {1: 4})
    assert text == "Fact [4]. Made up. Both [4]."
    assert removed == 2


def test_final_citations_are_renumbered_in_order_of_first_use() -> None:
    body = "Second source first [7]. Then [3]. Again [7]. Invented [42]."
    text, cited, removed = finalise_citations(body, [source(3), source(7)])
    assert text == "Second source first [1]. Then [2]. Again [1]. Invented."
    assert [(c.number, c.source.id) for c in cited] == [(1, "id7"), (2, "id3")]
    assert removed == 1


def test_a_model_list_followed_by_another_heading_is_dropped_too() -> None:
    report = "# R\n\nA [1].\n\n## Sources\n\n[99] https://evil.example/steal\n\n## More\n\nB [1]."
    text, cited, _ = finalise_citations(report, [source(1)])
    assert "evil" not in text and "[99]" not in text
    assert text == "# R\n\nA [1].\n\n## More\n\nB [1]."
    assert [c.number for c in cited] == [1]


def test_the_report_escapes_html_and_writes_inert_source_titles() -> None:
    hostile = source(1)
    hostile.source.title = "<script>alert(1)</script> [2](javascript:x)"
    markdown, _, _ = finalise_report("Claim [1] <img src=x onerror=alert(1)>.", [hostile])
    assert "<" not in markdown
    assert "\\[2\\](javascript:x)" in markdown  # escaped brackets: text, not a link


def test_the_models_own_reference_list_is_dropped_but_not_other_sections() -> None:
    report = "# R\n\n## Sources of error\n\nNoise.\n\n## Results\n\nX.\n\n## References\n\n1. fake"
    assert (
        strip_own_sources_section(report)
        == "# R\n\n## Sources of error\n\nNoise.\n\n## Results\n\nX."
    )
    assert strip_own_sources_section("# R\n\n## Sources of error\n\n## End\n") == (
        "# R\n\n## Sources of error\n\n## End"
    )


# ------------------------------------------------ the report exactly: Sources, note, inert text


def document_source(n: int, document: str, anchor: str = "", title: str = "") -> NumberedSource:
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
        document_source(1, "guide.md", "Install"),
        document_source(2, "guide.md", "Usage"),
        document_source(3, "faq.md"),
        document_source(4, "guide.md", "Install"),  # a second passage of a part already listed
    ]
    report, cited, removed = finalise_report("Install it [2]. Ask [3]. Again [1][4]. [9]", known)
    assert report == (
        "Install it [1, Usage]. Ask [2]. Again [1, Install].\n\n"
        "## Sources\n\n"
        "1. Title 2 — cited: Usage; Install — guide.md\n"
        "2. Title 3 — faq.md\n"
    )
    assert [(c.number, c.source.id) for c in cited] == [(1, "s2"), (2, "s3"), (1, "s1"), (1, "s4")]
    assert removed == 1


def test_a_note_goes_on_top_and_no_note_adds_nothing() -> None:
    known = [document_source(1, "a.md")]
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
    hostile = document_source(1, "x.md", anchor="[2](javascript:x)", title="<b>T</b> [3]")
    entry = sources_section([hostile])
    assert entry == (
        "## Sources\n\n1. &lt;b>T&lt;/b> \\[3\\] — cited: \\[2\\](javascript:x) — x.md"
    )


def test_a_citation_names_the_part_it_relies_on_and_the_part_is_inert() -> None:
    known = [
        document_source(1, "report.pdf", "page 2"),
        document_source(2, "report.pdf", "page 5"),
        document_source(3, "deck.pptx", "slide 4: Results"),
        document_source(4, "notes.md", "section Diet; Habitat"),
        document_source(5, "x.md", "[9](javascript:x) `code <b>"),
    ]
    body = "A [1]. B [2]. C [3]. D [4]. E [5]."
    report, _, _ = finalise_report(body, known)
    first_line = report.split("\n", 1)[0]
    assert first_line.startswith(
        "A [1, p. 2]. B [1, p. 5]. C [2, slide 4]. D [3, §Diet\u2013Habitat]."
    )
    # A document's own words cannot open a link, a code span or a tag inside a marker.
    assert "[9]" not in first_line and "`" not in first_line and "<b>" not in first_line


# ---------------------------------------------------------------- the sanitiser, piece by piece


def none(_: int) -> None:
    return None


def test_a_link_with_brackets_in_its_text_keeps_a_safe_target_and_loses_an_unsafe_one() -> None:
    safe = "see [a [b] c](https://x.org/) now"
    assert sanitise.sanitise_markdown(safe, none) == (safe, 0)
    unsafe = "see [a [b] c](javascript:alert(1)) now"
    assert sanitise.sanitise_markdown(unsafe, none) == ("see [a [b] c] now", 0)


def test_removing_a_marker_takes_the_space_before_it_not_the_line_break() -> None:
    assert sanitise.rewrite_citations("Line one\n[99] next", none) == ("Line one\n next", 1)
    assert sanitise.rewrite_citations("Value X [99].", none) == ("Value X.", 1)
    assert sanitise.rewrite_citations("[1] starts here", {1: 1}.get) == ("[1] starts here", 0)


def test_prose_before_a_code_span_is_checked_and_removals_are_counted_across_it() -> None:
    assert sanitise.rewrite_citations("See [99] and `x[1]` then [98].", none) == (
        "See and `x[1]` then.",
        2,
    )


def test_inline_text_is_flattened_and_only_markdown_syntax_escaped() -> None:
    assert sanitise.escape_inline("a  b\nc eXample") == "a b c eXample"
    assert sanitise.sanitise_markdown("a < b", none) == ("a &lt; b", 0)


def test_link_schemes_as_a_browser_reads_them() -> None:
    assert sanitise.is_safe_url("http://x.org") and sanitise.is_safe_url("mailto:a@b.c")
    assert sanitise.is_safe_url("ht\ttps://x.org")  # tabs are ignored: still https
    assert not sanitise.is_safe_url("Xhttps://x.org")  # another scheme


def test_ranges_are_expanded_up_to_their_bound_and_empty_parts_skipped() -> None:
    assert sanitise.marker_numbers("1-20") == list(range(1, 21))
    assert sanitise.marker_numbers("1-21") is None
    assert sanitise.marker_numbers("1, ,2") == [1, 2]
    assert sanitise.marker_numbers("3;;4") == [3, 4]


def test_every_code_span_stays_literal_after_unmatched_and_matched_backticks() -> None:
    assert sanitise.rewrite_citations("`a` and `b[9]` then [8]", none) == (
        "`a` and `b[9]` then",
        1,
    )
    assert sanitise.rewrite_citations("a `` b `c[9]` d [8]", none) == ("a `` b `c[9]` d", 1)


def test_the_sanitiser_counts_removals_in_every_prose_piece() -> None:
    assert sanitise.sanitise_markdown("a [9] `x` b [8]", none) == ("a `x` b", 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("~~~ `py`\ncode [9]\n~~~\n", ("~~~ `py`\ncode [9]\n~~~\n", 0)),  # tilde fence, ` in info
        ("```not``` [9]\n", ("```not```\n", 1)),  # backticks in the info string: not a fence
        ("a [9]\n```\ncode\n```\n", ("a\n```\ncode\n```\n", 1)),  # prose right before a fence
        ("```\nx [9]\ny [8]\n", ("```\nx [9]\ny [8]\n", 0)),  # an unclosed fence runs to the end
    ],
)
def test_fenced_code_follows_commonmark(text: str, expected: tuple[str, int]) -> None:
    assert sanitise.rewrite_citations(text, none) == expected


@pytest.mark.parametrize(
    ("markdown", "kept"),
    [
        ("Intro.\r\n## Sources\r\n- [1] a\r\n", "Intro.\r\n"),  # Windows line ends
        ("## SourcesX\nkeep me\n", "## SourcesX\nkeep me\n"),  # not a source-list heading
        ("References:\n```\nprint(1)\n```\nafter\n", "```\nprint(1)\n```\nafter\n"),
        ("## Sources\n```\ncode\n```\n## Next\nkept\n", "## Next\nkept\n"),
        ("text\nReferences:", "text\n"),  # a pseudo-heading on the last line
        ("Intro.\n\nReferences\n----------", "Intro.\n\n"),  # a setext heading at the end
        ("```\nx\n```\nReferences\n==========\n- a\n", "```\nx\n```\n"),  # right after code
        # A setext "=" heading is level 1: its list runs past "##" to the next "#".
        ("References\n==========\n- a\n## Sub\n- b\n# Next\nkept\n", "# Next\nkept\n"),
        ("References\n  ==========\n- a\n## Sub\n- b\n# Next\nkept\n", "# Next\nkept\n"),
        # A "-" one is level 2: "##" ends it, "###" does not.
        ("References\n----------\n- a\n## Sub\nkept\n", "## Sub\nkept\n"),
        ("References\n----------\n- a\n### Deep\n- b\n## Next\nkept\n", "## Next\nkept\n"),
    ],
)
def test_model_source_lists_end_where_their_heading_level_says(markdown: str, kept: str) -> None:
    assert sanitise.drop_source_lists(markdown) == kept
