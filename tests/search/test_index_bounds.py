"""Sizes of what the local index stores, at and past each bound, read back from a real index
built over files on disk (LocalIndex.open): spreadsheet and CSV rows packed into passages of up
to a passage's size (39 rows make a handful of passages, not one per row), a row longer than a
passage, the column cap, prose passages at and one past the maximum, a short tail, and the
heading names a citation carries (issue 28, "sizes of what the index stores").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from search.documents.chunking import MAX_CHARS, MIN_CHARS
from search.documents.extract import Passage
from search.local_index import LocalIndex
from tests.support.sample_documents import write_xlsx

HEADER = ["city", "population", "note"]


def city_rows(count: int) -> list[list[str]]:
    """Rows of about 110 characters each, every one distinct and findable."""
    return [
        [f"Town{n:03d}", str(1000 + n), f"row {n} of the census measured in spring " + "z" * 20]
        for n in range(count)
    ]


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(",".join(r) for r in [header, *rows]) + "\n"


def indexed(tmp_path: Path, name: str, write) -> list[Passage]:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    write(corpus / name)
    index = LocalIndex.open([corpus], tmp_path / "cache")
    try:
        assert not index.skipped, index.skipped
        return [p for p in index.passages() if p.rel_path == name]
    finally:
        index.close()


def row_line(row: list[str]) -> str:
    """A row as the index writes it: "header: value; …"."""
    return "; ".join(f"{h}: {v}" for h, v in zip(HEADER, row, strict=True))


def assert_packed(passages: list[Passage], lines: list[str], first_row: int) -> None:
    """Whole rows, in order, each passage as full as a passage may be: the next row would not
    have fitted, and together the passages hold every row once."""
    assert "\n".join(p.text for p in passages) == "\n".join(lines)
    at = 0
    for number, passage in enumerate(passages):
        held = passage.text.split("\n")
        assert len(passage.text) <= MAX_CHARS
        start, end = first_row + at, first_row + at + len(held) - 1
        assert passage.locator.endswith(f"rows {start}-{end}"), passage.locator
        at += len(held)
        if number < len(passages) - 1:
            following = lines[at]
            assert len(passage.text) + 1 + len(following) > MAX_CHARS, (
                f"passage {number} stopped at {len(passage.text)} characters; the next row "
                f"({len(following)}) would have fitted"
            )


# ---------------------------------------------------------------- rows packed into passages


def test_39_csv_rows_are_packed_into_a_handful_of_passages(tmp_path: Path) -> None:
    rows = city_rows(39)
    passages = indexed(tmp_path, "towns.csv", lambda p: p.write_text(csv_text(HEADER, rows)))
    lines = [row_line(r) for r in rows]
    per_passage = MAX_CHARS // (len(lines[0]) + 1)
    assert len(passages) == -(-39 // per_passage), [len(p.text) for p in passages]
    assert 3 <= len(passages) <= 6, "a handful, not one per row"
    assert_packed(passages, lines, first_row=2)


def test_xlsx_rows_are_packed_the_same_way_per_sheet(tmp_path: Path) -> None:
    rows = city_rows(39)
    passages = indexed(
        tmp_path,
        "towns.xlsx",
        lambda p: write_xlsx(p, {"Census": [HEADER, *rows], "Tiny": [HEADER, rows[0]]}),
    )
    census = [p for p in passages if p.locator.startswith("sheet Census")]
    tiny = [p for p in passages if p.locator.startswith("sheet Tiny")]
    assert_packed(census, [row_line(r) for r in rows], first_row=2)
    assert [p.locator for p in tiny] == ["sheet Tiny, row 2"], "a sheet never shares a passage"


def test_rows_that_fill_a_passage_exactly_share_it(tmp_path: Path) -> None:
    # Two rows whose lines and the newline between them are exactly a passage long.
    base = len(row_line(["a", "b", ""]))  # "city: a; population: b; note: "
    first, second = ["a", "b", "n" * 569], ["c", "d", "m" * (MAX_CHARS - 1 - 2 * base - 569)]
    assert len(row_line(first)) + 1 + len(row_line(second)) == MAX_CHARS
    third = ["e", "f", "short"]
    passages = indexed(
        tmp_path, "exact.csv", lambda p: p.write_text(csv_text(HEADER, [first, second, third]))
    )
    assert [p.locator for p in passages] == ["rows 2-3", "row 4"]
    assert len(passages[0].text) == MAX_CHARS


def test_a_row_longer_than_a_passage_is_cut_to_one_passage(tmp_path: Path) -> None:
    long_note = "word " * MAX_CHARS
    rows = [["Big", "1", long_note], ["Small", "2", "fine"]]
    passages = indexed(tmp_path, "long.csv", lambda p: p.write_text(csv_text(HEADER, rows)))
    assert len(passages[0].text) == MAX_CHARS
    assert [p.locator for p in passages] == ["row 2", "row 3"]


def test_a_row_keeps_64_columns_and_drops_the_65th(tmp_path: Path) -> None:
    header = [f"h{i}" for i in range(66)]
    row = [f"v{i}" for i in range(66)]
    passages = indexed(tmp_path, "wide.csv", lambda p: p.write_text(csv_text(header, [row])))
    assert len(passages) == 1
    assert "h63: v63" in passages[0].text
    assert "h64" not in passages[0].text and "v64" not in passages[0].text


# ---------------------------------------------------------------- prose passages


def paragraph(chars: int, word: str) -> str:
    text = (word + " ") * (chars // (len(word) + 1) + 1)
    return text[:chars].rstrip().ljust(chars, "x")


def test_a_paragraph_of_exactly_a_passage_stays_whole_and_one_more_character_splits(
    tmp_path: Path,
) -> None:
    exact = paragraph(MAX_CHARS, "alpha")
    passages = indexed(tmp_path, "exact.md", lambda p: p.write_text(exact + "\n"))
    assert [len(p.text) for p in passages] == [MAX_CHARS]

    over = paragraph(MAX_CHARS + 1, "gamma")
    passages = indexed(tmp_path, "over.md", lambda p: p.write_text(over + "\n"))
    assert len(passages) == 2
    assert all(len(p.text) <= MAX_CHARS for p in passages)
    assert " ".join(p.text for p in passages).split() == over.split()


def test_two_paragraphs_that_fill_a_passage_exactly_share_it(tmp_path: Path) -> None:
    first = paragraph(600, "first")
    second = paragraph(MAX_CHARS - 2 - 600, "second")
    passages = indexed(tmp_path, "pair.md", lambda p: p.write_text(f"{first}\n\n{second}\n"))
    assert [p.text for p in passages] == [f"{first}\n\n{second}"]
    assert len(passages[0].text) == MAX_CHARS

    third = paragraph(MAX_CHARS - 2 - 600, "third")  # with the "!": one character too many
    passages = indexed(tmp_path, "split.md", lambda p: p.write_text(f"{first}\n\n{third}!\n"))
    assert len(passages) == 2


def test_paragraphs_pack_up_to_the_maximum(tmp_path: Path) -> None:
    paragraphs = [paragraph(300, f"para{n}") for n in range(9)]
    passages = indexed(tmp_path, "prose.md", lambda p: p.write_text("\n\n".join(paragraphs)))
    # Three paragraphs and their blank lines (3 x 302) fill a passage: a fourth would not fit.
    assert [p.text.count("\n\n") + 1 for p in passages] == [3, 3, 3]
    assert all(len(p.text) + 2 + 300 > MAX_CHARS for p in passages)


def test_a_definition_term_starts_the_passage_its_definition_is_in(tmp_path: Path) -> None:
    """A reST definition list: the term whose definition would not fit moves to the next
    passage with it, instead of ending this one as a name with nothing said of it."""
    intro = paragraph(MAX_CHARS - 300, "intro")
    first = "object.open(self)\n\n   Open the thing." + " It opens." * 10
    second = "object.close(self)\n\n   Close the thing." + " It closes." * 30
    text = f"{intro}\n\n{first}\n\n{second}\n"
    passages = indexed(tmp_path, "entries.rst", lambda p: p.write_text(text))
    assert len(passages) == 2, [p.text[-60:] for p in passages]
    assert passages[0].text.rstrip().endswith("It opens.")
    assert passages[1].text.startswith("object.close(self)")


def test_a_word_wrapped_at_its_hyphen_is_one_word_again(tmp_path: Path) -> None:
    """Python's own docs wrap "pre-existing" and "re-raises" at the hyphen; joined as lines,
    the embedded model's report quoted "must not collide with pre- existing bindings". A list
    mark, a dash before a capital and code in a fence stay as they are."""
    text = (
        "Names listed in a nonlocal statement must not collide with pre-\n"
        "   existing bindings in the local scope. A subsequent raise statement re-\n"
        "   raises the exception. It ends with a dash -\n"
        "   then goes on. Ranks: top-\nLevel stays.\n\n- item-\n- next\n\n"
        "```\nx = value-\n    other\n```\n"
    )
    [passage] = indexed(tmp_path, "wrapped.txt", lambda p: p.write_text(text))
    assert "with pre-existing bindings" in passage.text
    assert "statement re-raises the exception" in passage.text
    assert "dash -\n" in passage.text and "top-\nLevel" in passage.text
    assert "- item-\n- next" in passage.text and "value-\n    other" in passage.text


@pytest.mark.parametrize(("tail_chars", "passages_made"), [(MIN_CHARS - 20, 1), (MIN_CHARS, 2)])
def test_a_last_section_shorter_than_the_minimum_joins_the_passage_before_it(
    tmp_path: Path, tail_chars: int, passages_made: int
) -> None:
    body = paragraph(500, "body")
    tail = paragraph(tail_chars, "tail")
    text = f"# Notes\n\n{body}\n\n## End\n\n{tail}\n"
    passages = indexed(tmp_path, "tail.md", lambda p: p.write_text(text))
    assert len(passages) == passages_made, [p.text[:40] for p in passages]
    assert passages[-1].text.endswith(tail)
    assert all(len(p.text) <= MAX_CHARS for p in passages)


# ---------------------------------------------------------------- headings a citation names


@pytest.mark.parametrize(("length", "shown"), [(80, 80), (81, 79)])
def test_a_heading_is_named_whole_up_to_80_characters(
    tmp_path: Path, length: int, shown: int
) -> None:
    heading = ("H" * length)[:length]
    text = f"# Title\n\n## {heading}\n\n{paragraph(200, 'words')}\n"
    passages = indexed(tmp_path, "named.md", lambda p: p.write_text(text))
    assert len(passages) == 1
    named = passages[0].locator.removeprefix("section ")
    assert named.rstrip("…") == "H" * shown
    assert named.endswith("…") == (length > 80)


@pytest.mark.parametrize(
    ("count", "locator"), [(3, "sections A; B; C"), (4, "sections A; B; C; …")]
)
def test_a_passage_names_up_to_three_sections(tmp_path: Path, count: int, locator: str) -> None:
    parts = ["# Notes", *(f"## {name}\n\nShort text about {name}." for name in "ABCD"[:count])]
    passages = indexed(tmp_path, "short.md", lambda p: p.write_text("\n\n".join(parts) + "\n"))
    assert [p.locator for p in passages] == [locator]
