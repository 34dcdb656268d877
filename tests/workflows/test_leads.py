"""Leads (workflows/leads.py): the names the evidence about the question mentions and does not
define are what the product searches next when it writes its own search questions. Pure
functions, no server."""

from __future__ import annotations

from tests.support.evidence import source
from workflows.leads import LEADS_MAX, leads
from workflows.models import PlanSection, ResearchPlan
from workflows.topics import anchored_queries

QUESTION = "How does the with statement work, and what must a context manager implement?"
STEPS = (
    "The context manager's __enter__() method is loaded for later use by the with statement. "
    "The context manager's __exit__() method is invoked when the with statement ends."
)
ENTER = """object.__enter__(self)

   Enter the runtime context related to this object.
"""
ELSEWHERE = "The socket.close() function closes the socket and frees its file descriptor."


def test_a_name_the_evidence_mentions_and_does_not_define_is_a_lead() -> None:
    found = leads([source(1, STEPS).source, source(2, ENTER).source], QUESTION)
    # __enter__ is defined in the evidence already; __exit__ is not.
    assert found == ["The `__exit__` method"]


def test_names_in_sentences_about_something_else_are_not_followed() -> None:
    assert leads([source(1, ELSEWHERE).source], QUESTION) == []


def test_the_question_s_own_names_are_not_leads_and_there_are_few() -> None:
    asked = "When is __exit__ called by the with statement, and what does a context manager do?"
    assert leads([source(1, STEPS).source], asked) == ["The `__enter__` method"]
    many = " ".join(
        f"The with statement calls the context manager's name{n}() function." for n in range(9)
    )
    assert len(leads([source(1, many).source], QUESTION)) == LEADS_MAX


def test_a_junk_search_question_is_replaced_by_a_lead_after_the_plan_sections() -> None:
    plan = ResearchPlan(sections=[PlanSection(title="The protocol", focus="enter and exit")])
    earlier = [
        "How does the with statement work?",
        "What must a context manager implement?",
        "The protocol: enter and exit",
    ]
    lead = "The `__exit__` method"
    asked = anchored_queries(["</plan> 1.0.2"], QUESTION, plan, earlier, True, lambda: [lead])
    assert asked == [lead]


def test_leads_are_worked_out_only_when_a_question_is_replaced() -> None:
    """Reading every source for names costs workflow time on each iteration: a run whose
    model asks good questions never pays it."""

    def fail() -> list[str]:
        raise AssertionError("the leads were worked out for questions that needed none")

    good = ["How does the with statement work?"]
    assert anchored_queries(good, QUESTION, None, [], True, fail) == good
