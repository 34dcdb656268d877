"""sentences.statements and support.content_words are memoised for the worker process (the
same passages are split and compared on every step of a run, and by every run): a caller gets
its own list or set, so what one caller does with it never changes another's answer."""

from __future__ import annotations

from workflows.citing.sentences import statements
from workflows.citing.support import content_words

PASSAGE = (
    "The with statement wraps a block in the methods of a context manager. "
    "The context manager's __enter__() method is called before the block runs.\n\n"
    "Its __exit__() method is called when the block ends, even by an exception."
)


def test_a_callers_changes_to_the_statements_do_not_reach_the_next_caller() -> None:
    first = statements(PASSAGE)
    assert len(first) == 3
    first.append("Made up by a caller.")
    first[0] = "Changed by a caller."
    assert statements(PASSAGE) == [
        "The with statement wraps a block in the methods of a context manager.",
        "The context manager's __enter__() method is called before the block runs.",
        "Its __exit__() method is called when the block ends, even by an exception.",
    ]


def test_a_callers_changes_to_the_content_words_do_not_reach_the_next_caller() -> None:
    words = content_words("Context managers call __exit__ and asyncio.gather")
    expected = set(words)
    assert {"context", "call", "__exit__", "asyncio"} <= words
    words.add("invented")
    words -= {"context"}
    assert content_words("Context managers call __exit__ and asyncio.gather") == expected
