"""A section that names a document ("When should contextlib be used…") is written from what
that document says: the demo's section quoted augmented assignment ("…the old object is
modified instead") because it shared "instead" with the heading. A name the corpus uses as an
ordinary word ("class") picks out nothing, and the lead, which serves every part of the
question, is not narrowed."""

from __future__ import annotations

from workflows.citing.evidence_fill import quote_for
from workflows.citing.extractive import EvidencePool, EvidenceSentence
from workflows.citing.shown_text import cited_sentences
from workflows.models import NumberedSource, Source
from workflows.reporting import answered_aspects

QUESTION = (
    "How does Python's `with` statement work, what must an object implement to be a context "
    "manager, and when should contextlib be used instead of writing the class by hand?"
)
EMPTY = (frozenset(), frozenset(), "", frozenset())  # words, pairs, name, tokens
TOPIC = "When should contextlib be used instead of writing the class by hand?"
NULLCONTEXT = (
    "`class nullcontext(AbstractContextManager)`: Context manager that does no additional "
    "processing."
)
IN_PLACE = (
    "Also, when possible, the actual operation is performed in-place, meaning that rather than "
    "creating a new object and assigning that to the target, the old object is modified instead."
)
CLASS_BY_HAND = "A class written by hand defines its methods instead of inheriting them."


def doc(number: int, title: str, evidence: str) -> NumberedSource:
    name = title.split()[0]
    return NumberedSource(
        number=number,
        source=Source(
            id=f"s{number}",
            title=title,
            location=f"{name}.md",
            provider="local",
            retrieved_at="2026-01-01T00:00:00Z",
            evidence=evidence,
            document=f"{name}.md",
        ),
    )


def texts(pool: EvidencePool, topic: str, lead: bool = False) -> list[str]:
    return [s.text for s in pool.ranked(topic, QUESTION, lead)]


def test_a_section_naming_a_document_quotes_that_document() -> None:
    pool = EvidencePool(
        [
            doc(1, "contextlib (Python standard library module)", NULLCONTEXT),
            doc(2, "assignment (Python language reference)", IN_PLACE),
            doc(3, "classes (Python language reference)", CLASS_BY_HAND),
        ]
    )
    assert texts(pool, TOPIC) == [NULLCONTEXT]
    # Without the name, the shared words decide as before.
    assert IN_PLACE in texts(pool, "When should a class be written by hand instead?")


def test_a_sentence_elsewhere_that_names_the_document_still_counts() -> None:
    mention = "The contextlib module offers helpers for writing a context manager by hand."
    pool = EvidencePool(
        [
            doc(1, "contextlib (Python standard library module)", NULLCONTEXT),
            doc(2, "with (Python language reference)", mention + " " + IN_PLACE),
        ]
    )
    assert set(texts(pool, TOPIC)) == {NULLCONTEXT, mention}


def test_a_document_named_by_an_ordinary_word_picks_out_nothing() -> None:
    ordinary = [
        "A class statement defines a class.",
        "Each class has a namespace.",
        "Instances of a class are created by calling it.",
    ]
    pool = EvidencePool(
        [
            doc(1, "class (Python language reference)", "Class definitions are executed once."),
            doc(2, "datamodel (Python language reference)", " ".join(ordinary)),
            doc(3, "assignment (Python language reference)", IN_PLACE),
        ]
    )
    # "class" names topics/class.txt, but three sentences of another document use the word:
    # the topic's other words still count.
    assert IN_PLACE in texts(pool, "When is a class written by hand instead?")


def test_the_lead_is_not_narrowed_to_the_named_document() -> None:
    manager = "A context manager is an object that defines the runtime context of a with statement."
    pool = EvidencePool(
        [
            doc(1, "contextlib (Python standard library module)", NULLCONTEXT),
            doc(2, "context-managers (Python language reference)", manager),
        ]
    )
    assert manager in texts(pool, QUESTION, lead=True)


def source_of(title: str, evidence: str) -> Source:
    return doc(1, title, evidence).source


def test_an_answer_quote_for_a_question_naming_a_document_comes_from_it() -> None:
    annotated = (
        "The proposal that added syntax for annotating the types of variables (including class "
        "variables and instance variables), instead of expressing them through comments."
    )
    retrieved = [
        source_of("assignment (Python language reference)", annotated),
        source_of("contextlib (Python standard library module)", NULLCONTEXT),
    ]
    found = quote_for(TOPIC, retrieved, on_subject=True)
    assert found is not None and found[1] == NULLCONTEXT
    # Runs started before the patch (their histories replay) quote as they did.
    before = quote_for(TOPIC, retrieved, on_subject=False)
    assert before is not None and before[1] == annotated


def test_a_section_reads_prose_before_entries_it_does_not_name() -> None:
    """The demo's "How does the with statement work?" section opened with chdir's and
    ContextDecorator's entries, which say "context manager" more often than the statement's
    prose does."""
    chdir = (
        "`class chdir(AbstractContextManager)`: Non thread-safe context manager to change the "
        "current working directory of the with statement context manager."
    )
    prose = "The context expression of a with statement is evaluated to obtain a context manager."
    pool = EvidencePool(
        [
            doc(1, "contextlib (Python standard library module)", chdir),
            doc(2, "compound (Python language reference)", prose),
        ]
    )
    assert texts(pool, "How does the with statement work with a context manager?")[0] == prose
    # An entry the section names still comes first.
    assert texts(pool, "What does `chdir` do as a context manager?")[0] == chdir


def test_a_printed_sentence_keeps_the_emphasis_of_its_first_word() -> None:
    """ "*name* is the attribute name" was printed as "name* is the attribute name"."""
    sentence = "*name* is the attribute name, *value* the value to assign."
    printed = cited_sentences([EvidenceSentence(sentence, 1, *EMPTY)])
    assert printed.startswith("*name* is the attribute name")
    heading = cited_sentences([EvidenceSentence("# Heading text here.", 2, *EMPTY)])
    assert heading == "Heading text here.[2]"


def test_a_part_naming_a_document_gets_a_section_from_it() -> None:
    """The embedded model's demo dropped "When should contextlib be used…": contextlib's entries
    say "context manager", which the part about implementing one says too, and share few words
    with the question, so no sentence was the part's."""
    manager = "A context manager is an object that defines the runtime context of a with statement."
    pool = EvidencePool(
        [
            doc(1, "contextlib (Python standard library module)", NULLCONTEXT),
            doc(2, "context-managers (Python language reference)", manager),
        ]
    )
    part = "When should contextlib be used instead of writing the class by hand?"
    body, added = answered_aspects("# Title\n\nLead.[2]", pool, QUESTION, [part])
    assert added == 1 and f"## {part}\n\n{NULLCONTEXT}[1]" in body
    # "typing.Protocol" asks about Protocol, not about the typing module as a whole.
    typing = EvidencePool([doc(3, "typing (Python standard library module)", IN_PLACE)])
    assert typing.named_documents("What is typing.Protocol?") == {}
    assert typing.named_documents("When is the typing module worth it?") == {"typing": {3}}
