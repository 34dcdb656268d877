# ruff: noqa: RUF001 (the en dash of a section range is test data)
"""What the report covers (issue 22): every part of a compound question gets an answer, an API
entry's definition says what it describes, and the floor never repeats what the model backed.
Pure functions, no server."""

from __future__ import annotations

from tests.support.evidence import source
from workflows.citing.extractive import EvidencePool
from workflows.citing.sentences import statements
from workflows.citing.shown_text import cited_sentences
from workflows.models import ResearchPlan
from workflows.reporting import answered_aspects, extractive_floor, fuller_lead, uncovered_aspects

QUESTION = (
    "How does Python's `with` statement work, what must an object implement to be a context "
    "manager, and when should contextlib be used instead of writing the class by hand?"
)
DATA_MODEL = """With Statement Context Managers
*******************************

A *context manager* is an object that defines the runtime context to
be established when executing a "with" statement.

object.__enter__(self)

   Enter the runtime context related to this object. The "with"
   statement will bind this method's return value to the target(s)
   specified in the "as" clause of the statement, if any.

object.__exit__(self, exc_type, exc_value, traceback)

   Exit the runtime context related to this object. The parameters
   describe the exception that caused the context to be exited.

See also

   The specification, background, and examples for the Python "with"
   statement.
"""
CONTEXTLIB = (
    "An abstract base class for classes that implement object.__enter__() and "
    "object.__exit__() is provided. "
    "The contextlib module provides utilities for common tasks involving the with statement. "
    "Use the contextmanager decorator to define a factory function for with statement context "
    "managers without needing to create a class or separate enter and exit methods."
)
WITH_STATEMENT = (
    "The with statement is used to wrap the execution of a block with methods defined by a "
    "context manager. The context manager's enter method is invoked before the suite runs."
)


def pool_of(*texts: str) -> EvidencePool:
    return EvidencePool([source(n, text) for n, text in enumerate(texts, 1)])


def test_an_api_entry_is_the_subject_of_its_definition_and_a_plain_label_is_not() -> None:
    found = statements(DATA_MODEL)
    # The definition keeps the sentences of its paragraph: "this method" needs its name.
    assert (
        "`object.__enter__(self)`: Enter the runtime context related to this object. The "
        '"with" statement will bind this method\'s return value to the target(s) specified in '
        'the "as" clause of the statement, if any.'
    ) in found
    assert any(
        s.startswith("`object.__exit__(self, exc_type, exc_value, traceback)`: Exit") for s in found
    )
    # A label in words ("See also") is metadata, as before: its definition reads on its own.
    assert 'The specification, background, and examples for the Python "with" statement.' in found
    assert not any("See also" in s for s in found)


def test_a_part_of_the_question_the_report_leaves_out_gets_a_section_from_the_evidence() -> None:
    body = (
        f"# {QUESTION}\n\nLead.[1]\n\n## How does Python's `with` statement work?\n\n"
        "The with statement is used to wrap the execution of a block with methods defined by a "
        "context manager.[3]"
    )
    out, added = answered_aspects(body, pool_of(DATA_MODEL, CONTEXTLIB, WITH_STATEMENT), QUESTION)

    assert added == 2
    assert out.startswith(body)  # what was there stays as it was
    implement = out.split("## What must an object implement to be a context manager?\n\n")[1]
    implement = implement.split("\n\n")[0]
    # The sentence that names __enter__ and __exit__ is followed by what each one does.
    names = implement.index("classes that implement `object.__enter__()`")
    assert names < implement.index("`object.__enter__(self)`: Enter the runtime context")
    assert names < implement.index("`object.__exit__(self, exc_type, exc_value, traceback)`: Exit")
    contextlib = out.split("## When should contextlib be used instead of writing the class")[1]
    assert "The contextlib module provides utilities" in contextlib
    # Every sentence printed is cited, and none is printed twice (the body's included).
    added_text = out[len(body) :]
    assert "wrap the execution of a block" not in added_text
    sentences = [s for s in added_text.split("]") if s.strip(" \n#")]
    assert all("[" in s for s in sentences)
    assert len(set(sentences)) == len(sentences)


def test_a_report_that_answers_every_part_gets_nothing_added() -> None:
    body = (
        f"# {QUESTION}\n\nLead.[1]\n\n## The with statement\n\nIt wraps a block.[3]\n\n"
        "## The protocol\n\nAn object must implement enter and exit methods to be a context "
        "manager.[1]\n\n## Generators instead of classes\n\nThe contextlib decorator is used "
        "instead of writing a class by hand.[2]"
    )
    pool = pool_of(DATA_MODEL, CONTEXTLIB, WITH_STATEMENT)
    assert answered_aspects(body, pool, QUESTION) == (body, 0)
    # One thing asked: the whole report is about it.
    single = "# How does the with statement work?\n\nLead.[1]"
    assert answered_aspects(single, pool, "How does the with statement work?") == (single, 0)


def test_a_sentence_the_model_backed_in_the_lead_is_not_printed_again_by_the_floor() -> None:
    said = (
        "A *context manager* is an object that defines the runtime context to be established "
        "when executing a 'with' statement."
    )
    body = f"# T\n\n{said}[1]\n\n## What is a context manager?\n\nUnbacked words only."
    pool = pool_of(DATA_MODEL)
    out, filled, dropped = extractive_floor(
        body, pool, ResearchPlan(sections=[]), "context manager"
    )
    assert out.count("runtime context to be established") == 1
    # Nothing else in the evidence speaks of both words: the section goes rather than repeat.
    assert (filled, dropped) == (0, 1)


def test_a_section_that_answers_one_part_does_not_count_for_another() -> None:
    """The demo's report: one section, under the first part's heading, whose sentence names a
    context manager; the other two parts were still unanswered."""
    body = (
        f"# {QUESTION}\n\n## Python's `with` statement works!\n\nA *context manager* is an "
        'object that defines the runtime context to be established when executing a "with" '
        "statement.[1]"
    )
    out, added = answered_aspects(body, pool_of(DATA_MODEL, CONTEXTLIB, WITH_STATEMENT), QUESTION)
    assert added == 2
    assert "## What must an object implement to be a context manager?" in out


def test_a_passage_about_something_else_does_not_answer_a_part() -> None:
    annotations = (
        "The proposal that added syntax for annotating the types of variables (including class "
        "variables and instance variables), instead of expressing them through comments."
    )  # shares "class" and "instead" with the contextlib part, and is about annotations
    body = f"# {QUESTION}\n\n## How does Python's `with` statement work?\n\nIt wraps a block.[3]"
    pool = pool_of(DATA_MODEL, CONTEXTLIB, WITH_STATEMENT, annotations)
    out, _ = answered_aspects(body, pool, QUESTION)
    assert "annotating" not in out


SHUTIL = """## copy(src, dst, *, follow_symlinks=True)

Copy data and mode bits ("cp src dst"). Return the file's destination.

## copy2(src, dst, *, follow_symlinks=True)

Copy data and metadata. Return the file's destination.

## Notes

Everything here is about files.
"""


def test_a_markdown_api_heading_is_the_subject_of_the_entrys_first_sentence() -> None:
    found = statements(SHUTIL)
    assert (
        '`copy(src, dst, *, follow_symlinks=True)`: Copy data and mode bits ("cp src dst"). '
        "Return the file's destination."
    ) in found
    # Short, and whole statements: the entry's name is their subject.
    assert (
        "`copy2(src, dst, *, follow_symlinks=True)`: Copy data and metadata. "
        "Return the file's destination."
    ) in found
    assert not any(s.startswith("`Notes`") for s in found)  # a heading in words is no name


def test_the_things_a_question_compares_each_get_a_section_that_defines_them() -> None:
    question = "What is the difference between shutil.copy and shutil.copy2?"
    body = f"# {question}\n\nBy default, copy2() is used by move.[1]"
    pool = pool_of(SHUTIL, "The difference between shallow and deep copying matters for lists.")
    out, added = answered_aspects(body, pool, question)
    assert added == 2
    first = out.split("## shutil.copy\n\n")[1].split("\n\n")[0]
    assert first.startswith("`copy(src, dst, *, follow_symlinks=True)`: Copy data and mode bits")
    second = out.split("## shutil.copy2\n\n")[1]
    assert second.startswith("`copy2(src, dst, *, follow_symlinks=True)`: Copy data and metadata.")


def test_the_sources_list_names_a_passage_over_several_sections_by_its_range() -> None:
    from workflows.citing.citations import listed_part, sources_section

    anchor = (
        "sections class AbstractContextManager(abc.ABC); class AbstractAsyncContextManager"
        "(abc.ABC); class ContextDecorator(object)"
    )
    cited = [source(1, "", anchor=anchor, document="modules/contextlib.md")]
    listed = sources_section(cited)
    assert "cited: sections AbstractContextManager–ContextDecorator —" in listed
    assert "(abc.ABC)" not in listed
    assert listed_part("section field(*, default=MISSING, init=True, hash=N…") == "section field()"
    assert listed_part("section With Statement Context Managers").endswith("Context Managers")


def test_a_keyword_the_question_quotes_is_a_word_of_the_topic() -> None:
    """ "with" is a common word, but `with` quoted is the statement: a sentence about the
    "with" statement answers "how does the `with` statement work", one about `pass` does not."""
    pool = pool_of(
        'The "with" statement is used to wrap the execution of a block with methods.',
        'The "pass" statement is a null operation and nothing happens when it executes.',
    )
    ranked = pool.ranked("How does the `with` statement work?", QUESTION)
    assert [s.text for s in ranked] == [
        'The "with" statement is used to wrap the execution of a block with methods.'
    ]


def test_a_definition_reads_whole_and_cites_each_of_its_sentences() -> None:
    """The second sentence of `__enter__`'s definition speaks of "this method": it is printed
    after the first, each sentence with its citation, and quoted code reads as code."""
    pool = pool_of(DATA_MODEL, 'Then "__exit__()" is called with the exception, if any.')
    picked = pool.take("What must an object implement to be a context manager?", QUESTION, 3)
    text = cited_sentences(picked)
    assert (
        "`object.__enter__(self)`: Enter the runtime context related to this object.[1] The "
        '"with" statement will bind this method'
    ) in text
    assert text.count("[1]") >= 3  # each sentence of each definition cites its source
    assert '"__exit__()"' not in cited_sentences(pool.sentences)
    assert "Then `__exit__()` is called" in cited_sentences(pool.sentences)


def test_a_lead_that_defines_the_subject_does_not_answer_what_must_be_implemented() -> None:
    """The demo's lead "A context manager is an object that defines the runtime context…"
    shares three of the four words of "what must an object implement to be a context
    manager" and said nothing of what to implement: that part still gets its section."""
    body = (
        f"# {QUESTION}\n\nA *context manager* is an object that defines the runtime context to "
        'be established when executing a "with" statement.[1]\n\n'
        "## How does Python's `with` statement work?\n\nIt wraps a block.[2]\n\n"
        "## When should contextlib be used instead of writing the class by hand?\n\n"
        "Use the contextmanager decorator.[3]"
    )
    missing = uncovered_aspects(body, QUESTION)
    assert missing == ["What must an object implement to be a context manager?"], missing


def test_the_entries_under_a_section_the_part_names_answer_what_must_be_implemented() -> None:
    """The demo corpus never says "implement __enter__": what an object must implement is
    what the section "With Statement Context Managers" defines. The part's section says what
    `__enter__` and `__exit__` do, ahead of sentences that only share its words; the lead
    does not open with one part's entries."""
    protocol = source(1, DATA_MODEL.split("\n", 2)[2], anchor="With Statement Context Managers")
    typical = source(
        2,
        "Typical uses of context managers include saving and restoring various kinds of "
        "global state, locking and unlocking resources, closing opened files. Context "
        "managers are normally invoked using the with statement, but an object can also "
        "be used by directly invoking its methods.",
        anchor="Context Manager Types",
    )
    # A section named by its entries' signatures is not about their bases' words.
    nullcontext = source(
        3,
        "class nullcontext(AbstractContextManager, AbstractAsyncContextManager)\n\n"
        "   Context manager that does no additional processing of the object.",
        anchor="sections class nullcontext(AbstractContextManager, AbstractAsyncContextManager)",
    )
    body = f"# {QUESTION}\n\n## How does Python's `with` statement work?\n\nIt wraps a block.[2]"
    missing = ["What must an object implement to be a context manager?"]
    pool = EvidencePool([nullcontext, protocol, typical])
    out, added = answered_aspects(body, pool, QUESTION, missing)

    assert added == 1
    section = out.split(f"## {missing[0]}\n\n")[1]
    assert section.startswith("`object.__enter__(self)`: Enter the runtime context")
    exits = section.index("`object.__exit__(self, exc_type, exc_value, traceback)`: Exit the")
    assert "nullcontext" not in section[:exits]
    # The lead of a report written from the evidence opens with the subject, not an entry the
    # question does not name.
    chdir = source(
        4,
        "class chdir(AbstractContextManager)\n\n   Non thread-safe context manager to change "
        "the current working directory, used in a with statement instead of a class by hand.",
        anchor="section class chdir(AbstractContextManager)",
    )
    pool = EvidencePool([chdir, nullcontext, protocol, typical])
    lead, _, _ = extractive_floor(f"# {QUESTION}\n\n", pool, ResearchPlan(sections=[]), QUESTION)
    assert not lead.split("\n\n")[1].startswith("`"), lead


RAISE = (
    'The "from" clause is used for exception chaining: if given, the second expression must be '
    "another exception class or instance. If the second expression is an exception instance, "
    "it will be attached to the raised exception as the __cause__ attribute (which is "
    "writable). If the expression is an exception class, the class will be instantiated and "
    "the resulting exception instance will be attached to the raised exception as the "
    "__cause__ attribute. A similar mechanism works implicitly if a new exception is raised "
    "when an exception is already being handled."
)


def test_a_report_that_is_one_backed_sentence_gets_what_its_evidence_says_next() -> None:
    """A weak model's one backed sentence was the whole report on exception chaining, and the
    passage it cited says what `__cause__` holds one sentence on. "raise" in the question
    meets "raised" in the passage."""
    question = "How does exception chaining with raise ... from work in Python?"
    said = (
        'The "from" clause is used for exception chaining: if given, the second expression '
        "must be another exception class or instance."
    )
    body = f"# Exception chaining\n\n{said}[1]"
    out, added = fuller_lead(body, pool_of(RAISE), question)
    assert added >= 2
    assert out.startswith(f"# Exception chaining\n\n{said}[1] ")
    assert "as the `__cause__` attribute (which is writable).[1]" in out
    assert out.count(said) == 1  # what the model backed is not printed twice
    # A report with sections, or a lead that says enough already, is left as it is.
    sectioned = f"{body}\n\n## Details\n\nMore.[1]"
    assert fuller_lead(sectioned, pool_of(RAISE), question) == (sectioned, 0)
    full = "# T\n\n" + " ".join(f"Sentence {n} about exceptions.[1]" for n in range(6))
    assert fuller_lead(full, pool_of(RAISE), question) == (full, 0)


def test_an_entry_of_another_owner_with_the_same_name_is_not_about_the_topic() -> None:
    """ "asyncio.gather" printed curses' `Textbox.gather` as its definition, and
    "asyncio.wait_for" `Condition.wait_for`."""
    asyncio_doc = source(
        1,
        "gather(*coros_or_futures, return_exceptions=False)\n\n"
        "   Return a future aggregating results from the given coroutines or futures.",
        anchor="section gather",
    )
    curses_doc = source(
        2,
        "Textbox.gather(self)\n\n   Collect and return the contents of the window as results.",
        anchor="section Textbox.gather",
    )
    pool = EvidencePool([asyncio_doc, curses_doc])
    topic = "What does asyncio.gather return?"
    names = [s.text for s in pool.ranked(topic, topic)]
    assert names and names[0].startswith("`gather(*coros_or_futures")
    assert not any("Textbox" in n for n in names)
    # Named without an owner, either entry may answer.
    assert any("Textbox" in s.text for s in pool.ranked("What does gather return?", "gather"))
