"""Citation bookkeeping: what a reader of the report sees."""

from __future__ import annotations

from workflows.citations import (
    cited_numbers,
    finalise_citations,
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
    text = "Use `xs[1]` or\n```python\nys[2]\n[3]\n```\nthen items[4] and claim [5]."
    assert cited_numbers(text) == [5]


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


def test_the_models_own_reference_list_is_dropped_but_not_other_sections() -> None:
    report = "# R\n\n## Sources of error\n\nNoise.\n\n## Results\n\nX.\n\n## References\n\n1. fake"
    assert (
        strip_own_sources_section(report)
        == "# R\n\n## Sources of error\n\nNoise.\n\n## Results\n\nX."
    )
    assert strip_own_sources_section("# R\n\n## Sources of error\n\n## End\n") == (
        "# R\n\n## Sources of error\n\n## End"
    )
