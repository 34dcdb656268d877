"""Citation bookkeeping: what a reader of the report sees."""

from __future__ import annotations

from workflows.citations import (
    cited_numbers,
    finalise_citations,
    finalise_report,
    remap_citations,
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
