"""The report a reader gets holds no bare name and no sentence cut by the token limit, even
where a source holds their words: the embedded model's copy report kept "python.util.uuid[2]"
(uuid's page says "python", "util" and "uuid") in its Research notes, and a body kept "…which
allows for common[4]". A strong model's list items without a full stop stay as written."""

from __future__ import annotations

import pytest

from workflows.citing.claim_text import ground_markdown
from workflows.citing.grounding import Evidence
from workflows.citing.sentences import completed, is_unfinished
from workflows.labels import labels_for
from workflows.models import PlanSection, QAPair, ResearchPlan
from workflows.notes import research_notes
from workflows.text_checks import echoes_the_prompt
from workflows.topics import anchored_queries, section_query, shown_query

UUID_PAGE = "Python util uuid: the uuid module of python util generates UUID objects."
WITH_PAGE = (
    "The with statement is used to wrap the execution of a block with methods defined by a "
    "context manager, which allows common try except finally usage patterns to be encapsulated."
)


@pytest.mark.parametrize(
    "text",
    [
        "python.util.uuid",
        "`asyncio.gather`",
        "The context manager is used to wrap the execution of a block, which allows for common",
        "A context manager defines the runtime context when executing a",
    ],
)
def test_a_bare_name_or_a_cut_sentence_is_unfinished(text: str) -> None:
    assert is_unfinished(text)


@pytest.mark.parametrize(
    "text",
    [
        "Caches results for speed",
        "Use contextlib for simple cases",
        "`asyncio.gather` runs awaitables concurrently",
        "The with statement wraps a block with a context manager's methods.",
        "The exception is suppressed when __exit__ returns a true value;",
    ],
)
def test_a_list_item_or_a_finished_sentence_is_not(text: str) -> None:
    assert not is_unfinished(text)


def test_the_final_reports_check_drops_them_and_the_loops_does_not() -> None:
    evidence = Evidence({1: WITH_PAGE, 2: UUID_PAGE})
    cut = "The with statement is used to wrap the execution of a block, which allows for common"
    markdown = f"{cut}[1]\n\npython.util.uuid[2]\n\n- Wraps a block with methods of a context[1]"
    strict, figures = ground_markdown(markdown, evidence, pool=[1, 2], policy="drop", strict=True)
    assert "python.util.uuid" not in strict and "allows for common" not in strict
    assert "- Wraps a block with methods of a context[1]" in strict
    assert figures.unsupported_claims == 2
    # The loop's drafts decide when to stop: runs in flight must decide as they did.
    loose, _ = ground_markdown(markdown, evidence, pool=[1, 2], policy="drop")
    assert "python.util.uuid[2]" in loose


def test_the_research_notes_leave_out_a_bare_name_that_kept_its_citation() -> None:
    findings = [
        QAPair(iteration=2, question="The answer", answer="python.util.uuid[2]"),
        QAPair(iteration=2, question="What does a with statement wrap?", answer=f"{WITH_PAGE}[1]"),
    ]
    notes = research_notes(findings, labels_for("What does a with statement wrap?"))
    assert "python.util.uuid" not in notes
    assert f"{WITH_PAGE}[1]" in notes


def test_a_plan_section_echoing_the_prompts_is_no_spare_search() -> None:
    question = "What is the difference between a shallow copy and a deep copy?"
    plan = ResearchPlan(
        sections=[
            PlanSection(title="The answer", focus="The answer"),
            PlanSection(title="Compound objects", focus="what a deep copy copies"),
        ]
    )
    junk = ["</plan>"]  # replaced by a spare: the question's aspects are all asked already
    earlier = [question]
    asked = anchored_queries(junk, question, plan, earlier, True, on_question=True)
    assert asked == ["Compound objects: what a deep copy copies"]
    # Runs started before the patch (their histories replay) took the first section.
    assert anchored_queries(junk, question, plan, earlier, True) == ["The answer"]


SECRETS = "When should I use the secrets module rather than the random module to generate tokens?"


@pytest.mark.parametrize(
    "query",
    [
        "The document is not supported by the random module.",
        "error: Exception occurred! ({exc_type})",
        "error: Exception occurred!",
        "Which random module citations are in the JSON?",
    ],
)
def test_a_search_question_echoing_the_prompts_is_replaced_and_not_shown(query: str) -> None:
    assert echoes_the_prompt(query, SECRETS)
    plan = ResearchPlan(sections=[PlanSection(title="Token generation", focus="secrets tokens")])
    asked = anchored_queries([query], SECRETS, plan, [SECRETS], True, on_question=True)
    assert asked == ["Token generation: secrets tokens"]
    # The notes of runs started before the patch (which searched it) hide it.
    found = QAPair(iteration=2, question=query, answer=f"{WITH_PAGE}[1]")
    notes = research_notes([found], labels_for(SECRETS), SECRETS)
    assert query not in notes and "**Q1 (iteration 2): —**" in notes


def test_runs_started_before_the_patch_search_what_they_searched() -> None:
    echo = "The document is not supported by the random module."
    plan = ResearchPlan(sections=[PlanSection(title="Token generation", focus="secrets tokens")])
    assert anchored_queries([echo], SECRETS, plan, [SECRETS], True) == [echo]


def test_the_users_own_words_are_no_echo() -> None:
    assert not echoes_the_prompt("How does the secrets module generate tokens?", SECRETS)
    question = "How do I cite a document's passage in a JSON answer?"
    assert not echoes_the_prompt("Citing a document passage in JSON", question)


def test_a_section_query_whose_focus_repeats_its_title_is_shown_once() -> None:
    title = "When should I use the secrets module rather than the random module?"
    doubled = section_query(PlanSection(title=title, focus=SECRETS))
    assert doubled == f"{title}: {SECRETS}"  # searched as before: runs in flight replay
    assert shown_query(doubled) == SECRETS
    found = QAPair(iteration=1, question=doubled, answer=f"{WITH_PAGE}[1]")
    notes = research_notes([found], labels_for(SECRETS), SECRETS)
    assert f"**Q1 (iteration 1): {SECRETS}**" in notes
    assert shown_query("Token generation: secrets tokens") == "Token generation: secrets tokens"


def test_a_section_asked_as_a_question_or_named_by_a_file_is_shown_by_its_title() -> None:
    """The embedded model's with-statement notes at 64f9982 showed "Python with Statement:
    python-withstatement.html" and "How does Python's with statement work?: a concise summary
    of how it works?": the model's focus added nothing a reader can use."""
    asked = "How does Python's with statement work?"
    assert shown_query("Python with Statement: python-withstatement.html") == (
        "Python with Statement"
    )
    assert shown_query(f"{asked}: a concise summary of how it works?") == asked
    assert shown_query("Python 3.12: what changed in typing?") == (
        "Python 3.12: what changed in typing?"
    )
    # A section whose focus is a paragraph (the embedded model's process-pool notes at
    # dd50cef) shows its title.
    title = "Use a ProcessPoolExecutor when you need to handle multiple processes concurrently."
    focus = (
        "When you have a large number of processes that can be executed in parallel using a "
        "process pool. This is often the case with multi-core systems, where a single CPU can "
        "execute many tasks simultaneously."
    )
    assert shown_query(f"{title}: {focus}") == title


SPEC_PAGE = (
    'The specification, background, and examples for the Python "with" statement. '
    "See PEP 343 for the full text."
)
SPEC_COPY = "The specification, background and examples for the Python"


def test_a_cut_copy_of_a_cited_sentence_reads_as_the_whole_sentence() -> None:
    """The embedded model's generators report at 64f9982 ended a note with "The specification,
    background and examples for the Python[5]": the reader gets with.txt's sentence instead."""
    whole = 'The specification, background, and examples for the Python "with" statement.'
    assert completed(SPEC_COPY, [SPEC_PAGE]) == whole
    assert completed(whole, [SPEC_PAGE]) is None  # a finished sentence is left as written
    assert completed("The specification and background", [SPEC_PAGE]) is None  # not its start
    assert completed("The specification", [SPEC_PAGE]) is None  # too little to be a copy
    # Copied word for word: a word cut in two is no copy of the source's whole word.
    assert completed("The specification, background and examp", [SPEC_PAGE]) is None

    evidence = Evidence({1: SPEC_PAGE})
    report, _ = ground_markdown(f"{SPEC_COPY}[1]", evidence, pool=[1], strict=True)
    assert report == f"{whole}[1]"
    # The loop's drafts (not strict) are checked as before: runs in flight decide as they did.
    loop, _ = ground_markdown(f"{SPEC_COPY}[1]", evidence, pool=[1])
    assert whole not in loop

    found = QAPair(question="What is with.txt?", answer=f"{SPEC_COPY}[1]", iteration=2)
    notes = research_notes([found], labels_for("What is with.txt?"), "", evidence)
    assert f"{whole}[1]" in notes and f"{SPEC_COPY}[1]" not in notes


def test_a_list_item_opening_a_long_source_sentence_stays_as_written() -> None:
    page = (
        "Context managers are normally invoked using the with statement, but can also be used "
        "by directly invoking their methods when a program needs finer control."
    )
    item = "Context managers are normally invoked using the with statement"
    assert completed(item, [page]) is None
    report, _ = ground_markdown(f"- {item}[1]", Evidence({1: page}), pool=[1], strict=True)
    assert report == f"- {item}[1]"


def test_a_cut_copy_after_whole_sentences_is_dropped_when_much_is_missing() -> None:
    """The embedded model's with-statement report at 64f9982: a note ended "… (see section With
    Statement Context Managers). This allows common[2]", a copy of compound.txt cut by the
    token limit. The whole sentence before it stays; the cut copy goes."""
    page = (
        "The with statement is used to wrap the execution of a block with methods defined by a "
        "context manager (see section With Statement Context Managers). This allows common "
        "try…except…finally usage patterns to be encapsulated for convenient reuse."
    )
    first = (
        "The with statement is used to wrap the execution of a block with methods defined by a "
        "context manager (see section With Statement Context Managers)."
    )
    assert completed(f"{first} This allows common", [page]) == first
    short = "This allows common try…except…finally usage patterns to be encapsulated for"
    whole = f"{short} convenient reuse."
    assert completed(f"{first} {short}", [page]) == f"{first} {whole}"
    found = QAPair(
        question="How does with work?", answer=f"{first} This allows common[1]", iteration=2
    )
    notes = research_notes([found], labels_for("How does with work?"), "", Evidence({1: page}))
    assert f"{first}[1]" in notes and "allows common" not in notes


def test_json_debris_is_no_claim_but_braces_in_code_are() -> None:
    """The embedded model's asyncio notes at dd50cef held "TaskGroup.create_task(self, coro, *,
    name=None)'}, {[3]": every word is on the cited page, and the note showed JSON debris."""
    assert is_unfinished("TaskGroup.create_task(self, coro, *, name=None)'}, {")
    assert is_unfinished("The handler formats the {exc_type} of the error.")
    assert not is_unfinished("An empty dictionary is written `{}` in Python code.")
    page = "TaskGroup.create_task(self, coro, *, name=None): Create a new task in this group."
    found = QAPair(
        question="TaskGroup",
        answer="TaskGroup.create_task(self, coro, *, name=None)'}, {[1]",
        iteration=2,
    )
    notes = research_notes([found], labels_for("How does TaskGroup work?"), "", Evidence({1: page}))
    assert "'}, {" not in notes
    code = "An empty dictionary is written `{}` in Python code."
    page = "An empty dictionary is written {} in Python code, and an empty set with set()."
    kept, _ = ground_markdown(f"{code}[1]", Evidence({1: page}), pool=[1], strict=True)
    assert kept == f"{code}[1]"  # a strong model's code span stays as written


def test_a_name_lost_between_emphasis_marks_is_no_claim() -> None:
    """The embedded model's __slots__ report at dd50cef opened "The action of a ***** declaration
    is not limited to the class where it is defined.[1]": the page's "*__slots__*" had become
    five asterisks, and every word left was on the page."""
    lost = "The action of a ***** declaration is not limited to the class where it is defined."
    assert is_unfinished(lost)
    page = (
        "The action of a *__slots__* declaration is not limited to the class where it is "
        "defined. *__slots__* declared in parents are available in child classes."
    )
    report, figures = ground_markdown(
        f"{lost}[1]", Evidence({1: page}), pool=[1], policy="drop", strict=True
    )
    assert "*****" not in report and figures.unsupported_claims == 1
    for kept in (
        "The action of a *__slots__* declaration is not limited to the class.",
        "It is ***very*** important to close the file.",
        "Use `***` to mark a break in Markdown.",
    ):
        assert not is_unfinished(kept)


def test_a_copy_of_a_sources_heading_is_no_claim() -> None:
    """The embedded model's getattr notes at dd50cef held "Attribute access (Python language
    reference)[1]", the heading line of the cited page: a title is no finding."""
    page = (
        "# attribute-access (Python language reference)\n\nCustomizing attribute access\n"
        "****************************\n\nThe following methods can be defined to customize "
        "the meaning of attribute access for class instances."
    )
    evidence = Evidence({1: page})
    heading = "Attribute access (Python language reference)"
    report, _ = ground_markdown(f"{heading}[1]", evidence, pool=[1], policy="drop", strict=True)
    assert heading not in report
    found = QAPair(question="How is attribute access customised?", iteration=2,
                   answer=f"{heading}[1]")  # fmt: skip
    notes = research_notes([found], labels_for(found.question), "", evidence)
    assert heading not in notes
    # A list item that says more than the heading, or a sentence, stays as written.
    item = "Customizing attribute access for class instances"
    kept, _ = ground_markdown(f"- {item}[1]", evidence, pool=[1], strict=True)
    assert kept == f"- {item}[1]"


def test_a_copy_of_a_sources_title_is_no_claim_where_its_passage_lacks_the_title() -> None:
    """The embedded model's getattr notes at 9399885 held "Attribute access (Python language
    reference)[1]" again, citing the page's module-attribute section, whose passage does not
    hold the page's title line: the source's title is checked too."""
    passage = "Special names __getattr__ and __dir__ can be also used to customize access."
    evidence = Evidence({1: passage}, titles={1: "attribute-access (Python language reference)"})
    title = "Attribute access (Python language reference)"
    found = QAPair(question="How is module attribute access customised?", iteration=2,
                   answer=f"{title}[1]")  # fmt: skip
    notes = research_notes([found], labels_for(found.question), "", evidence)
    assert title not in notes
    kept = f"{passage}[1]"
    report, _ = ground_markdown(kept, evidence, pool=[1], strict=True)
    assert report == kept


def test_an_open_call_with_no_sentence_end_is_no_claim() -> None:
    """The embedded model's wait-for notes at 9399885 held "Task.print_stack(self, *,
    limit=None, file=[1]", the signature cut inside its parentheses. A sentence that ends, an
    interval in it included, stays."""
    page = "### Task.print_stack(self, *, limit=None, file=None)\n\nPrint the stack."
    evidence = Evidence({1: page})
    cut = "Task.print_stack(self, *, limit=None, file="
    found = QAPair(question="How is a stack printed?", iteration=2, answer=f"{cut}[1]")
    assert cut not in research_notes([found], labels_for(found.question), "", evidence)
    assert is_unfinished(cut) and is_unfinished("A list of names (see the table")
    assert not is_unfinished("Return a random int in the range (0, n].")
    assert not is_unfinished("Caches results for speed")


def test_a_question_said_back_is_no_answer() -> None:
    """The embedded model's is-vs-== notes at dd50cef answered "Is operator and == in
    Python?" with "is operator and == in Python[2]": every word is on the cited page."""
    page = "The operators is and is not test for an object's identity in Python code."
    evidence = Evidence({1: page})
    asked = "What is the difference between the is operator and == in Python?"
    found = QAPair(question="Is operator and == in Python?", iteration=1,
                   answer="is operator and == in Python[1]")  # fmt: skip
    notes = research_notes([found], labels_for(asked), asked, evidence)
    assert "is operator and == in Python[1]" not in notes
    echo = "is operator and == in Python"
    report, _ = ground_markdown(f"{echo}[1]", evidence, pool=[1], policy="drop", strict=True,
                                asked=[asked])  # fmt: skip
    assert echo not in report
    # An answer, or a list item naming one thing asked about, stays as written.
    for kept in (
        "The operators is and is not test for an object's identity.",
        "- The is operator",
    ):
        report, _ = ground_markdown(f"{kept}[1]", evidence, pool=[1], strict=True, asked=[asked])
        assert report == f"{kept}[1]"
