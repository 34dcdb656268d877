"""What the demo's report on the Intel machine still showed a reader: two sections headed by one
question give or take a word, a section on handling exceptions quoting augmented assignment,
and a Research note ending on the cut start of another source's sentence. All are the
product's own text and must read well whatever the model wrote."""

from __future__ import annotations

from tests.support.evidence import source
from workflows.citing.claim_text import ground_markdown
from workflows.citing.extractive import EvidencePool
from workflows.citing.grounding import Evidence
from workflows.citing.shown_text import names_as_code
from workflows.headings import fixed_headings
from workflows.labels import labels_for
from workflows.models import NumberedSource, PlanSection, QAPair, ResearchPlan
from workflows.notes import research_notes
from workflows.reporting import extractive_floor
from workflows.text_checks import reads_as_heading

QUESTION = (
    "How does Python's `with` statement work, what must an object implement to be a context "
    "manager, and when should contextlib be used instead of writing the class by hand?"
)


def _headings(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("## ")]


def test_a_heading_one_word_off_an_earlier_one_is_replaced_by_an_unused_part() -> None:
    body = (
        "# T\n\nLead.[1]\n\n## How does Python's `with` statement work?\n\nW.[1]\n\n"
        "## What are the different ways to handle exceptions in a Python program?\n\nA.[1]\n\n"
        "## What must an object implement to be a context manager?\n\nB.[1]\n\n"
        "## What are the different ways to handle exceptions in Python?\n\nC.[1]"
    )
    fixed, changed = fixed_headings(body, None, QUESTION, set())
    assert changed == 1
    assert _headings(fixed)[3] == (
        "## When should contextlib be used instead of writing the class by hand?"
    )
    assert "C.[1]" in fixed  # the section's text stays, under its new heading


def test_headings_that_share_few_words_or_differ_by_more_stay() -> None:
    """ "Context managers" and "Async context managers" are two subjects; so are two questions
    that differ in two words. A part of the question as a heading is not a repeat of the title."""
    plan = ResearchPlan(sections=[PlanSection(title="Spare title", focus="x")])
    body = (
        "# T\n\nLead.[1]\n\n## Context managers\n\nA.[1]\n\n## Async context managers\n\nB.[1]"
        "\n\n## How does the with statement call enter?\n\nC.[1]"
        "\n\n## How does the async with statement call aenter?\n\nD.[1]"
        "\n\n## What must an object implement to be a context manager?\n\nE.[1]"
    )
    assert fixed_headings(body, plan, QUESTION, set()) == (body, 0)


# compound.txt's with-statement section, source [2] of the demo's run; [1] is another page.
COMPOUND = (
    "The with statement is used to wrap the execution of a block with methods defined by a "
    "context manager (see section With Statement Context Managers). This allows common "
    "try…except…finally usage patterns to be encapsulated for convenient reuse."
)
CONTEXT_MANAGERS = (
    "A context manager is an object that defines the runtime context to be established when "
    "executing a with statement. The context manager handles the entry into, and the exit "
    "from, the desired runtime context for the execution of the block of code."
)
REWORDED = (
    "The context manager is used to wrap the execution of a block with methods defined by a "
    "context manager (see section With Statement Context Managers)."
)


def test_a_cut_copy_of_an_uncited_sources_sentence_is_dropped_not_filled_in() -> None:
    """The demo's note cited [1] for "… This allows common", the start of a sentence of [2]:
    the cut words go, and nothing of [2] is printed under [1]."""
    evidence = Evidence({1: CONTEXT_MANAGERS, 2: COMPOUND})
    assert evidence.completed(f"{REWORDED} This allows common", [1]) == REWORDED
    found = QAPair(
        question="How does the with statement work?",
        answer=f"{REWORDED} This allows common[1]",
        iteration=1,
    )
    notes = research_notes([found], labels_for(QUESTION), QUESTION, evidence)
    assert f"{REWORDED}[1]" in notes
    assert "allows common" not in notes and "convenient reuse" not in notes
    cut = f"{REWORDED} This allows common[1]"
    report, _ = ground_markdown(cut, evidence, pool=[1, 2], strict=True)
    assert "allows common" not in report and "convenient reuse" not in report


def test_a_short_cut_copy_of_the_cited_source_is_still_made_whole() -> None:
    evidence = Evidence({1: CONTEXT_MANAGERS, 2: COMPOUND})
    cut = (
        "The context manager handles the entry into, and the exit from, the desired runtime "
        "context for the execution of the block of"
    )
    whole = evidence.completed(cut, [1])
    assert whole is not None and whole.endswith("for the execution of the block of code.")
    # The same copy cited to the wrong source is not filled in from the right one.
    assert evidence.completed(cut, [2]) is None


def _titled(number: int, page: str, evidence: str) -> NumberedSource:
    found = source(number, evidence)
    found.source.title = f"{page} (Python language reference)"
    return found


def _pool() -> EvidencePool:
    return EvidencePool(
        [
            _titled(1, "context-managers", CONTEXT_MANAGERS),
            _titled(2, "compound", COMPOUND),
            _titled(
                3,
                "assignment",
                "With the exception of assigning to tuples, the assignment done by augmented "
                "assignment statements is handled the same way as normal assignments.",
            ),
        ]
    )


OFF_TOPIC = "What are the different ways to handle exceptions in a Python program?"


def test_the_product_writes_no_section_under_a_question_off_the_users_question() -> None:
    """The heading shares only "Python" with the question, which every source's title holds:
    the augmented-assignment sentence that shares "exception" with it is not quoted there."""
    plan = ResearchPlan(sections=[PlanSection(title=OFF_TOPIC, focus="exception handling")])
    body = f"# T\n\nThe lead.[1]\n\n## {OFF_TOPIC}\n\nNothing backed here."
    out, filled, dropped = extractive_floor(body, _pool(), plan, QUESTION)
    assert (filled, dropped) == (0, 1)
    assert OFF_TOPIC not in out and "augmented" not in out
    # A heading that is no question ("The protocol") is the model's choice of words: the
    # product still writes it from the evidence, as it does a part of the question.
    for heading in ("The protocol", "What must an object implement to be a context manager?"):
        kept = f"# T\n\nThe lead.[1]\n\n## {heading}\n\nNothing backed here."
        out, filled, dropped = extractive_floor(kept, _pool(), plan, QUESTION)
        assert (filled, dropped) == (1, 0) and f"## {heading}" in out


def test_a_full_stop_after_a_name_ends_the_sentence_not_the_code_span() -> None:
    """The dataclass report quoted "It is an error to specify both default and
    `default_factory.`": the full stop went inside the code span."""
    said = "It is an error to specify both default and default_factory."
    assert names_as_code(said) == "It is an error to specify both default and `default_factory`."
    assert names_as_code('The "__exit__()" method.') == "The `__exit__()` method."
    assert names_as_code("Use os_path.join here.") == "Use `os_path.join` here."


ELSE_CLAUSE = (
    'The optional "else" clause is executed if the control flow leaves the "try" suite, no '
    'exception was raised, and no "return", "continue", or "break" statement was executed.'
)
SAVED = 'If there is a saved exception it is re-raised at the end of the "finally" clause.'


def test_the_floor_does_not_say_again_what_the_models_shorter_copy_said() -> None:
    """The finally report's lead held the model's copy of the else-clause sentence with its
    last clause left out; the floor quoted the source's whole sentence again below it."""
    pool = EvidencePool([source(1, f"{ELSE_CLAUSE} {SAVED}")])
    copy = (
        'The optional "else" clause is executed if the control flow leaves the "try" suite, no '
        "exception was raised."
    )
    body = f"# T\n\n{copy}[1]\n\n## When does the else clause run after try?\n\nUnbacked."
    asked = "What does the finally clause guarantee, and when does the else clause run?"
    out, filled, _ = extractive_floor(body, pool, None, asked)
    assert filled == 1 and SAVED in out and 'no "return"' not in out
    # A sentence that differs by one word of its own says something else.
    pool = EvidencePool(
        [
            source(
                2,
                'It is a SyntaxError to use an "async with" statement outside a coroutine. '
                'It is a SyntaxError to use an "async for" statement outside a coroutine.',
            )
        ]
    )
    said = 'It is a SyntaxError to use an "async with" statement outside a coroutine.'
    body = f"# T\n\n{said}[2]\n\n## Where may async for be used?\n\nUnbacked."
    out, _, _ = extractive_floor(body, pool, None, "Where may async with and async for be used?")
    assert '"async for" statement outside' in out


def test_a_question_written_as_a_file_name_is_no_heading_and_no_notes_question() -> None:
    """The embedded model's lru_cache report had a section "How-functools-lrucacheworks" and
    notes questions "how-functools-lrucacheworks" and "how-functools-lrucache works"."""
    question = (
        "How does `functools.lru_cache` work, and what do its maxsize and typed arguments mean?"
    )
    body = "# T\n\nLead.[1]\n\n## How-functools-lrucacheworks\n\nA.[1]"
    fixed, changed = fixed_headings(body, None, question, set())
    assert changed == 1 and "## How does `functools.lru_cache` work?" in fixed
    found = [
        QAPair(question=q, answer="A cache.[1]", iteration=2)
        for q in ("how-functools-lrucache works", "What-if analysis of the cache")
    ]
    notes = research_notes(found, labels_for(question), question)
    assert "lrucache" not in notes and "What-if analysis of the cache" in notes
    kept = "# T\n\nLead.[1]\n\n## Copy-on-write semantics\n\nA.[1]"
    assert fixed_headings(kept, None, question, set()) == (kept, 0)


def test_a_hidden_question_shows_no_quote_picked_for_it() -> None:
    """The lambda report's hidden question (shown as "—") was answered with the product's quote
    "… write audio frames using writeframesraw.": matched to words no reader sees, it says
    nothing about the question. The model's backed claims under it stay."""
    audio = '> "It is best to first set all parameters and then write audio frames."[1]'
    found = [
        QAPair(question="][1]} ] } A response should", answer=audio, iteration=2),
        QAPair(question="}}{{", answer="Lambdas cannot hold statements.[2]", iteration=2),
        QAPair(question="What can a lambda hold?", answer=audio, iteration=2),
    ]
    notes = research_notes(found, labels_for(QUESTION), QUESTION)
    assert notes.count("audio frames") == 1  # under the question a reader can read
    assert "Lambdas cannot hold statements.[2]" in notes


def test_an_ordinary_word_of_the_question_names_no_api_entry() -> None:
    """The truth-testing question asks how a class can "control" its truth value: Tix's
    `class Control(TixWidget)` led the report as if the question named it."""
    tix = "`class Control(TixWidget)`: Control - An entry field with value change arrows."
    truth = "User-defined objects can customize their truth value by providing a __bool__() method."
    asked = "How can a class control its own truth value?"
    pool = EvidencePool([source(1, tix, "Control"), source(2, truth, "Truth Value Testing")])
    assert pool.take(asked, asked, 1, lead=True)[0].number == 2
    # Named as the entry is, it is the entry's definition that comes first.
    pool = EvidencePool([source(1, tix, "Control"), source(2, truth, "Truth Value Testing")])
    named = "What does the Control class of Tix do to a value?"
    assert pool.take(named, named, 1, lead=True)[0].number == 1


MADE_UP = "The code is designed to create a list of tuples holding each release of the semaphore."


def test_text_after_a_code_fence_that_never_closes_is_checked_as_prose() -> None:
    """The semaphore run's answer opened with a lone fence, then made up paragraphs about "the
    code": as code they went unchecked into the notes, and a renderer showed the Sources list
    as code too."""
    page = "`class BoundedSemaphore(Semaphore)`: Implements a bounded semaphore."
    evidence = Evidence({1: page})
    answer = f'```\n\n{MADE_UP}\n\n> "{page}"[1]'
    found = QAPair(question="What is a bounded semaphore?", answer=answer, iteration=1)
    notes = research_notes([found], labels_for(QUESTION), QUESTION, evidence)
    assert "```" not in notes and "designed" not in notes and "Implements a bounded" in notes
    body = f"# T\n\nA bounded semaphore counts releases.[1]\n\n```\n\n{MADE_UP}[1]"
    report, _ = ground_markdown(body, evidence, pool=[1], strict=True, policy="drop")
    assert "```" not in report and "designed" not in report
    # A closed block is code, as written.
    code = "```python\nsem = BoundedSemaphore(2)\n```"
    report, _ = ground_markdown(f"Lead.[1]\n\n{code}", evidence, pool=[1], strict=True)
    assert code in report


def test_markup_a_label_with_one_word_or_another_sources_title_is_no_claim() -> None:
    """Notes of the recorded runs: "The asyncio package, tracking PEP 3156.&lt;/code>
    &lt;description>[3]", "PurePath.is_reserved(self) : True[2]", "Threads and threads[5]" and
    "queue (Python standard library module)[1]", the title of source 2."""
    pages = {
        1: "Queue.join blocks until all items in the queue have been gotten and processed.",
        2: "Return True if the path is considered reserved under Windows.",
    }
    evidence = Evidence(pages, titles={2: "queue (Python standard library module)"})
    for said, number in (
        ("The asyncio package, tracking PEP 3156.&lt;/code> &lt;description>", 1),
        ("PurePath.is_reserved(self) : True", 2),
        ("Threads and threads", 1),
        ("queue (Python standard library module)", 1),
    ):
        assert evidence.unfinished(said, [number]), said
    for said, number in (
        ("Queue.join blocks until all items have been processed.", 1),
        ('The file name is "<stdin>" when the code is read from a terminal.', 1),
        ("`PurePath.is_reserved(self)`: Return True if the path is reserved.", 2),
    ):
        assert not evidence.unfinished(said, [number]), said
    assert not reads_as_heading("Threads and threads") and reads_as_heading("Threads and locks")


def test_a_sentence_the_models_claim_ends_on_is_not_quoted_again() -> None:
    """The json report's claim of two sentences ended with a sentence of the page, and the floor
    quoted that sentence again in the same paragraph's next section."""
    escaped = "Otherwise, all such characters are escaped in JSON strings."
    page = (
        "If ensure_ascii is false, the return value can contain non-ASCII characters. "
        f"{escaped} If indent is a non-negative integer, then JSON array elements are indented."
    )
    pool = EvidencePool([source(1, page)])
    body = (
        f"# T\n\nIf ensure_ascii is false, the output may hold non-ASCII text. {escaped}[1]\n\n"
        "## Which options control the JSON output?\n\nUnbacked."
    )
    asked = "Which options of json.dumps control the output of non-ASCII characters?"
    out, _, _ = extractive_floor(body, pool, None, asked)
    assert out.count(escaped) == 1
