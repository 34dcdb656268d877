# ruff: noqa: RUF001 (CJK punctuation and typographic quotes are test data)
"""The product's own text around the model's (issue 22), as pure functions: evidence in whole
sentences, junk queries and headings replaced, the extractive floor, citations that name the
part they rely on, labels in the question's language. No server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from search.base import SearchResult
from search.documents.markup import mdx, plain
from search.fusion import definition_first, fused
from tests.support.evidence import source
from workflows.citing.citations import finalise_report, short_part
from workflows.citing.extractive import EvidencePool
from workflows.citing.grounding import Claim, Evidence, check_claims
from workflows.citing.sentences import (
    evidence_text,
    is_fragment,
    is_statement,
    quote_of,
    statements,
)
from workflows.citing.shown_text import cited_sentences
from workflows.headings import fixed_headings, known_code_names
from workflows.labels import labels_for, language_of
from workflows.models import PlanSection, QAPair, ResearchPlan
from workflows.notes import HIDDEN_QUESTION, research_notes
from workflows.reporting import extractive_floor, short_title
from workflows.text_checks import is_good_heading
from workflows.topics import anchored_queries, aspects, repaired_plan, section_served

QUESTION = (
    "How does Python's `with` statement work, what must an object implement to be a context "
    "manager, and when should contextlib be used instead of writing the class by hand?"
)
WITH_PASSAGE = """# with (Python language reference)

The "with" statement
********************

The "with" statement is used to wrap the execution of a block with
methods defined by a context manager. This allows common usage
patterns to be encapsulated for convenient reuse.

   with_stmt          ::= "with" ( "(" with_stmt_contents ","? ")" ) ":" suite
   with_item          ::= expression ["as" target]

2. The context manager's "__enter__()" is loaded for later use.

   with EXPRESSION as TARGET:
       SUITE

The context manager's "__exit__()" method is invoked when the suite ends and its
return value decides whether an exception is"""


# ---------------------------------------------------------------- evidence in whole sentences


def test_a_passage_is_its_prose_in_whole_sentences_without_headings_or_grammar() -> None:
    found = statements(WITH_PASSAGE)
    assert found == [
        'The "with" statement is used to wrap the execution of a block with methods defined by '
        "a context manager.",
        "This allows common usage patterns to be encapsulated for convenient reuse.",
        'The context manager\'s "__enter__()" is loaded for later use.',
    ]  # the heading, its underline, the grammar, the code and the cut last sentence are gone
    seen = evidence_text(WITH_PASSAGE, 1500)
    assert "#" not in seen and "::=" not in seen and "****" not in seen


def test_a_quote_is_whole_sentences_best_matching_the_question() -> None:
    seen = evidence_text(WITH_PASSAGE, 1500)
    quote = quote_of(seen, "what does __enter__ do", 300)
    assert quote.startswith('The context manager\'s "__enter__()"') and quote.endswith(".")
    assert quote_of("no sentence here at all", "q", 300) == ""


def test_evidence_is_cut_between_sentences_not_inside_one() -> None:
    text = " ".join(f"Sentence number {i} says something true." for i in range(100))
    seen = evidence_text(text, 200)
    assert len(seen) <= 200 and seen.endswith("true.")


@pytest.mark.parametrize(
    "text",
    [
        "how do before and after validation differ?",
        "# Heading",
        "Python",
        "1234567890",
        "python.with_finally",
    ],
)
def test_a_question_a_heading_or_a_fragment_is_no_claim(text: str) -> None:
    assert is_fragment(text)
    evidence = Evidence({1: f"{text} {text} and more words about it."})
    checked, figures = check_claims([Claim(text=text, sources=[1])], evidence, pool=[1])
    assert not checked or not checked[0].supported
    assert figures.claims_supported == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The suite is executed before the exit method runs.", True),
        ("evaluated to obtain a context manager.", False),  # cut: starts inside a sentence
        ("manager = type(mgr).__enter__ and more words here.", False),  # code
        ("Options: -n/--number N: how often -r/--repeat N: how many times.", False),
        ("Does the suite run first?", False),
        ("The list goes on…", False),
    ],
)
def test_a_statement_is_a_whole_sentence_of_prose(text: str, expected: bool) -> None:
    assert is_statement(text) is expected


def test_a_document_is_titled_by_its_front_matter_never_by_its_dashes() -> None:
    doc = plain(b'---\ntitle: "Varroa mites"\ndate: 2020\n---\n\nBees are kept in hives.\n')
    assert doc.title == "Varroa mites" and "date:" not in doc.sections[0].text
    untitled = plain(b"---\nlayout: post\n---\n\nBees are kept in hives.\n")
    assert untitled.title is None  # the file name stands in (documents/extract.py)
    assert mdx(b"---\ntitle: Hives\n---\n\n# Other\n\nText.\n").title == "Hives"


# ---------------------------------------------------------------- queries and headings


def test_the_questions_aspects_are_questions_of_their_own() -> None:
    assert aspects(QUESTION) == [
        "How does Python's `with` statement work?",
        "What must an object implement to be a context manager?",
        "When should contextlib be used instead of writing the class by hand?",
    ]


def test_junk_and_off_topic_queries_are_replaced_and_good_ones_kept() -> None:
    plan = ResearchPlan(sections=[PlanSection(title="Protocol", focus="__enter__ and __exit__")])
    good = "How does a context manager's __exit__ method handle exceptions?"
    asked = ["1.0.2", "continue_stmt", "</plan> <script>", good, "Memory use of while loops"]
    out = anchored_queries(asked, QUESTION, plan, earlier=[])
    assert len(out) == len(asked) and out[3] == good
    assert "1.0.2" not in out and "continue_stmt" not in out
    assert all("<" not in q and "while loops" not in q for q in out)
    assert len(set(out)) == len(out)  # each replacement is a different, unsearched aspect


def test_a_numbered_or_repeated_query_is_searched_once() -> None:
    same = "How does __exit__ handle errors in the with statement?"
    out = anchored_queries([f"1. {same}", f"2. {same}", same.lower()], QUESTION, None, [])
    assert out[0] == same  # the list number is not part of the query
    assert same.lower() not in out[1:] and len(set(out)) == 3
    again = anchored_queries([same], QUESTION, None, earlier=[same])
    assert again != [same]  # asked in an earlier iteration: another aspect instead


def test_a_junk_plan_becomes_the_questions_aspects_and_a_good_plan_is_kept() -> None:
    junk = ResearchPlan(
        sections=[
            PlanSection(title="</plan>", focus="<document number=1>"),
            PlanSection(title="A " * 30, focus="x"),
            PlanSection(title="Protocol", focus="the methods"),
            PlanSection(title="protocol", focus="again"),
        ]
    )
    fixed = repaired_plan(junk, QUESTION)
    titles = [s.title for s in fixed.sections]
    assert all(is_good_heading(t) for t in titles) and len(set(map(str.lower, titles))) == len(
        titles
    )
    assert "Protocol" in titles
    good = ResearchPlan(
        sections=[
            PlanSection(title="Mechanism", focus="how Python's with statement works"),
            PlanSection(title="Protocol", focus="what an object must implement: context manager"),
            PlanSection(title="contextlib", focus="when contextlib should be used by hand"),
        ]
    )
    assert repaired_plan(good, QUESTION) == good
    # A plan that leaves an aspect of the question out gets a section for it.
    partial = ResearchPlan(sections=good.sections[:1])
    added = [s.title for s in repaired_plan(partial, QUESTION).sections[1:]]
    assert added == [
        "What must an object implement to be a context manager?",
        "When should contextlib be used instead of writing the class by hand?",
    ]


def test_repeated_or_junk_headings_are_replaced_and_good_ones_kept() -> None:
    plan = ResearchPlan(sections=[PlanSection(title="Protocol", focus="methods")])
    body = (
        "# T\n\nLead.\n\n## Mechanism\n\nA.\n\n## Mechanism\n\nB.\n\n"
        "## The context manager is only implemented for 0 arguments and can use the list…\n\nC."
    )
    fixed, changed = fixed_headings(body, plan, QUESTION)
    headings = [line for line in fixed.splitlines() if line.startswith("## ")]
    assert headings[0] == "## Mechanism" and changed == 2
    assert len(set(headings)) == len(headings) == 3
    assert "## Protocol" in headings


def test_a_heading_or_a_notes_question_with_no_word_to_read_is_replaced() -> None:
    """The embedded model's raise-from report at dd50cef had a section headed
    "1.0.3-SNAPSHOT_BUILDED" and asked it as Q1 of its Research notes."""
    plan = ResearchPlan(sections=[PlanSection(title="Protocol", focus="methods")])
    body = (
        "# T\n\nLead.\n\n## 1.0.3-SNAPSHOT_BUILDED\n\nA.\n\n## `contextlib.suppress`\n\n"
        "`contextlib.suppress` ignores the exceptions it is given."
    )
    fixed, changed = fixed_headings(body, plan, QUESTION)
    headings = [line for line in fixed.splitlines() if line.startswith("## ")]
    assert headings == ["## Protocol", "## `contextlib.suppress`"] and changed == 1
    # A name is a word to read; a heading cut after "between" is not one to keep.
    names = (
        "# T\n\nLead.\n\n## shutil.copy\n\nshutil.copy copies.\n\n"
        "## The main difference between\n\nB.\n\n"
        "## Copy a file without?\n\nC."
    )
    fixed, changed = fixed_headings(names, plan, QUESTION)
    headings = [line for line in fixed.splitlines() if line.startswith("## ")]
    assert headings[:2] == ["## shutil.copy", "## Protocol"] and changed == 2
    assert not any(h.endswith(("between", "without?")) for h in headings)
    # A plan title cut so is no spare either (the shutil report at 6b264b1 put it back).
    cut_plan = ResearchPlan(
        sections=[PlanSection(title="What is the difference between?", focus="copy")]
    )
    fixed, _ = fixed_headings(names, cut_plan, QUESTION)
    assert "## What is the difference between?" not in fixed
    tags = [
        QAPair(question="1.0.3-SNAPSHOT_BUILDED", answer="*none*", iteration=1),
        QAPair(question="2.10.4-SNAPSHOT_BUILDED, -2", answer="*none*", iteration=1),
        QAPair(question="What is the difference between?", answer="*none*", iteration=2),
    ]
    notes = research_notes(tags, labels_for(QUESTION), QUESTION)
    assert "SNAPSHOT" not in notes and "between" not in notes
    assert notes.count(HIDDEN_QUESTION) == 3
    # The model's bold inside a question would end the note's bold label midway.
    bold = QAPair(question="Is the operator in **PEP 572** new?", answer="*none*", iteration=2)
    notes = research_notes([bold], labels_for(QUESTION), QUESTION)
    assert "**Q1 (iteration 2): Is the operator in PEP 572 new?**" in notes


def test_a_file_name_heading_off_the_topic_is_replaced_and_a_good_heading_kept() -> None:
    """The embedded model's truth-value report at dd50cef had a section headed "python-babel",
    a word neither the question, the plan nor the section holds. A strong model's heading
    that its section never repeats ("The protocol") stays."""
    plan = ResearchPlan(sections=[PlanSection(title="Protocol", focus="methods")])
    body = (
        "# T\n\nLead.\n\n## python-babel\n\nAn object is true unless it says otherwise.\n\n"
        "## The exit protocol\n\nThe with statement calls __exit__ when the block ends.\n\n"
        "## context-managers\n\nA context manager defines the runtime context."
    )
    fixed, changed = fixed_headings(body, plan, QUESTION)
    headings = [line for line in fixed.splitlines() if line.startswith("## ")]
    assert "## python-babel" not in headings and changed == 1
    # Question words alone say nothing of the section (the generators report at 1342283).
    fixed, changed = fixed_headings("# T\n\nLead.\n\n## How\n\nA generator yields.", plan, QUESTION)
    assert "## How\n" not in fixed and changed == 1
    assert "## The exit protocol" in headings and "## context-managers" in headings


def test_a_search_serves_the_plan_section_it_shares_words_with() -> None:
    plan = ResearchPlan(
        sections=[
            PlanSection(title="Mechanism", focus="how the statement runs"),
            PlanSection(title="Protocol", focus="__enter__ and __exit__ methods"),
        ]
    )
    served = section_served("What do __exit__ methods return?", plan, 0)
    assert served is not None and served.title == "Protocol"


def test_retrieval_fuses_the_query_and_its_anchors_by_rank() -> None:
    def hits(*ids: str) -> list[SearchResult]:
        return [
            SearchResult(id=i, title=i, location=i, provider="local", text=i, score=0.0)
            for i in ids
        ]

    # "ctx" is second for the query and first for both anchors: it comes first.
    out = fused([hits("junk", "ctx", "x"), hits("ctx", "with"), hits("ctx", "with", "y")], 3)
    assert [r.id for r in out] == ["ctx", "with", "junk"]


def test_the_entry_that_defines_the_name_a_query_quotes_is_retrieved_first() -> None:
    """ "The `__exit__` method": the anchors rank the with statement's prose on two lists and
    fused the entry that says what `__exit__` does out of the top three."""

    def hit(rid: str, text: str) -> SearchResult:
        return SearchResult(id=rid, title=rid, location=rid, provider="local", text=text, score=0)

    entry = hit("entry", "object.__exit__(self, exc_type, exc_value, traceback)\n\n   Exit the…")
    prose = hit("prose", 'The context manager\'s "__exit__()" method is invoked.')
    other = hit("other", "The with statement wraps a block.")
    own = [prose, entry, other]
    ranked = fused([own, [prose, other], [other, prose]], 2)
    assert "entry" not in [r.id for r in ranked]
    query = "The `__exit__` method"
    assert [r.id for r in definition_first(ranked, own, query)] == ["entry", "prose", "other"]
    # A query that quotes no API name, or whose own results define nothing, keeps the fusion.
    assert definition_first(ranked, own, "How does the `with` statement work?") == ranked
    assert definition_first(ranked, [prose, other], query) == ranked


# ---------------------------------------------------------------- the extractive floor


def test_a_section_with_nothing_supported_is_written_from_the_evidence_once() -> None:
    pool = EvidencePool(
        [
            source(1, "The context manager's __exit__ method is called when the block ends."),
            source(2, "The __enter__ method of a context manager returns the bound value."),
            source(3, "Lists are mutable sequences that hold items of any type."),
        ]
    )
    plan = ResearchPlan(sections=[PlanSection(title="Protocol", focus="__enter__ and __exit__")])
    body = "# T\n\nThe lead cites [3].\n\n## Protocol\n\n## Lists\n\n## Protocol methods"
    out, filled, dropped = extractive_floor(body, pool, plan, "context manager methods")
    protocol = out.split("## Protocol\n\n", 1)[1].split("##", 1)[0]
    assert "[1]" in protocol and "[2]" in protocol
    assert out.count("`__exit__` method is called") == 1  # used once in the report
    # The only passage about lists is not about the question: the section goes. Nothing is
    # left for the last section either: dropped, not printed empty.
    assert "Lists are mutable" not in out and "## Lists" not in out
    assert (filled, dropped) == (1, 2) and "## Protocol methods" not in out


def test_a_sentence_cannot_forge_a_citation_or_a_heading() -> None:
    pool = EvidencePool([source(4, "The context manager [7] closes the file for the caller.")])
    picked = pool.take("context manager", "context manager closes", 1)
    assert cited_sentences(picked) == "The context manager (7) closes the file for the caller.[4]"


# ---------------------------------------------------------------- citations and labels


@pytest.mark.parametrize(
    ("anchor", "part"),
    [
        ("page 3", "p. 3"),
        ("pages 3-4", "pp. 3-4"),
        ("slide 2: Results", "slide 2"),
        ("section Diet", "§Diet"),
        ("sections Diet; Habitat", "§Diet–Habitat"),
        # An entry's name too long for the marker: its own name, never cut inside a word.
        ("section AsyncExitStack.push_async_callback(self, callback)", "§push_async_callback"),
        (
            "sections AsyncExitStack.push_async_callback(self, callback); class nullcontext",
            "§push_async_callback ff.",
        ),
        ("section " + "A" * 40, "§" + "A" * 30 + "…"),
        ("", ""),
    ],
)
def test_a_citation_names_the_part_of_the_document(anchor: str, part: str) -> None:
    assert short_part(anchor) == part


def test_two_pages_of_one_pdf_tell_the_reader_which_backs_which_sentence() -> None:
    known = [source(1, "x", "page 2", "r.pdf"), source(2, "y", "page 5", "r.pdf")]
    report, _, _ = finalise_report("First claim [1]. Second claim [2].", known)
    assert report.startswith("First claim [1, p. 2]. Second claim [1, p. 5].")
    assert "1. Doc 1 — cited: page 2; page 5 — r.pdf" in report


def test_the_reports_labels_follow_the_questions_language() -> None:
    assert language_of("如何评价人工智能对教育的影响？") == "zh"
    assert language_of(QUESTION) == "en"
    assert language_of("¿Cómo funciona la fotosíntesis en las plantas?") == "es"
    zh = labels_for("如何评价人工智能对教育的影响？")
    report, _, _ = finalise_report("内容[1]。", [source(1, "x")], note="注意", labels=zh)
    assert "## 来源" in report and "## Sources" not in report and "> **注:**" in report


def test_a_long_question_gets_a_short_title() -> None:
    long_question = "Write a detailed report. " + "Consider every aspect of the topic. " * 30
    title = short_title(long_question)
    assert len(title) <= 180 and title
    assert short_title("Short question?") == "Short question?"


def test_the_demo_passages_of_the_with_statement_read_as_sentences() -> None:
    corpus = Path.home() / ".cache" / "ttdr"
    files = list(corpus.glob("demo-corpus-*/topics/with.txt"))
    if not files:
        pytest.skip("demo corpus not materialised yet")
    found = statements(files[0].read_text()[:4000])
    assert any("__exit__" in s for s in found)
    assert all(is_statement(s) and "::=" not in s for s in found)


def test_an_export_links_a_citation_that_names_its_part_and_splits_a_chinese_sources_list() -> None:
    from export.document import Paragraph, build_document
    from workflows.models import LLMUsage
    from workflows.results import ResearchReport

    known = [source(1, "x", "page 2", "r.pdf"), source(2, "y", "", "s.md")]
    question = "如何评价上下文管理器的作用？"
    markdown, cited, _ = finalise_report(
        "第一句话[1]。第二句话[2]。", known, labels=labels_for(question)
    )
    assert "[1, p. 2]" in markdown and "## 来源" in markdown
    report = ResearchReport(
        question=question,
        markdown=markdown,
        plan=ResearchPlan(sections=[]),
        sources=cited,
        sources_retrieved=2,
        removed_citations=0,
        iterations=1,
        quality_history=[0.5],
        stop_reason="max_iterations",
        usage_by_node={},
        usage_total=LLMUsage(),
    )
    document = build_document(report)
    runs = [run for block in document.blocks if isinstance(block, Paragraph) for run in block.runs]
    assert [(r.text, r.citation) for r in runs if r.citation] == [("[1, p. 2]", 1), ("[2]", 2)]
    assert not any("来源" in r.text for r in runs)  # the Sources list is not body text
    assert [e.parts for e in document.sources] == [["page 2"], []]


def test_a_model_cannot_pass_a_marker_that_names_a_part_as_text() -> None:
    """`[9, p. 2]` written by a model is a citation like `[9]`: checked, renumbered or
    removed, never left as citation-looking text for an export to link."""
    known = [source(1, "The context manager closes the file.", "page 2", "r.pdf")]
    report, _, removed = finalise_report("Closed [1, p. 7]. Invented [9, p. 2].", known)
    body = report.split("## Sources", 1)[0]
    assert body.strip() == "Closed [1, p. 2]. Invented."
    assert removed == 1


def test_a_section_that_only_heads_subsections_is_kept_as_it_is() -> None:
    pool = EvidencePool([source(1, "The __exit__ method of a context manager runs on exit.")])
    body = "# T\n\nLead [1].\n\n## Protocol\n\n### Exit\n\nThe exit method runs on exit [1]."
    out, filled, dropped = extractive_floor(body, pool, ResearchPlan(sections=[]), "exit method")
    assert out == body and (filled, dropped) == (0, 0)


def test_a_definition_term_is_a_label_and_a_wrapped_list_item_is_a_sentence() -> None:
    text = (
        "PEP 526 - Syntax for Variable Annotations\n"
        "   The proposal added syntax for annotating the types of variables.\n\n"
        "1. The context expression (the expression given in the with item) is\n"
        "   evaluated to obtain a context manager.\n"
    )
    assert statements(text) == [
        "The proposal added syntax for annotating the types of variables.",
        "The context expression (the expression given in the with item) is evaluated to obtain "
        "a context manager.",
    ]


def test_headings_that_differ_only_in_quotes_are_one_heading() -> None:
    body = (
        "# T\n\nLead [1].\n\n## Python's 'with' statement\n\nA [1].\n\n"
        "## Python's `with` statement\n\nB [1]."
    )
    fixed, changed = fixed_headings(body, None, QUESTION)
    assert changed == 1 and "## Python's `with` statement\n" not in fixed


def test_a_claim_repeated_word_for_word_is_printed_once() -> None:
    from workflows.reporting import without_repeats

    said = "A context manager defines the runtime context of a with statement."
    shouted = said.replace("with", "WITH")
    body = f"# T\n\n{said}[1] {said}[1]\n\n## How\n\n{shouted}[1]\n\n## Other\n\nNew.[2]"
    out, removed = without_repeats(body)
    assert removed == 2 and out.count("runtime context") == 1
    assert "## How\n\n## Other" in out and "New.[2]" in out


def test_a_phrase_cut_out_of_a_sentence_is_not_searched_or_shown() -> None:
    cut = "that defines the runtime context to be established when executing a"  # the demo's
    asked = ["which methods must a context manager define?", cut]
    out = anchored_queries(asked, QUESTION, None, [])
    assert out[0] == asked[0]  # a lower-case question is still a question
    assert out[1] != cut and out[1] in aspects(QUESTION)


def test_items_listed_before_their_kind_are_searched_each_on_its_own() -> None:
    question = "How do the global and nonlocal statements change where Python binds a name?"
    out = anchored_queries(["1.0.2", "continue_stmt", "</plan>"], question, None, [question])
    assert out[:2] == ["global statement", "nonlocal statement"]


def test_a_sentence_written_as_a_heading_is_replaced() -> None:
    said = "It was introduced in Python 3.0, which makes it possible to use this feature."
    body = f"# T\n\nLead [1].\n\n## {said}[3]}},\n\nA [1].\n\n## {said}[4]}},\n\nB [2]."
    fixed, changed = fixed_headings(body, None, QUESTION)
    assert changed == 2 and "introduced in Python 3.0" not in fixed
    assert "## How does Python's `with` statement work?" in fixed
    kept = "# T\n\n## The protocol\n\nA [1].\n\n## What changed in 3.11\n\nB [1]."
    assert fixed_headings(kept, None, QUESTION) == (kept, 0)


def test_broken_text_is_never_shown_as_a_heading_or_a_question() -> None:
    """Both seen in an embedded-model report: an address as a heading, a prompt remnant as a
    search question in the Research notes."""
    address = "python-dev.com/2018/04/30TueNov29ThuA:5761:1Z_vNljYwLzHmJfKycPbGVhMkBWiRdSrFgDnIo"
    body = f"# T\n\nLead [1].\n\n## {address}\n\nA [1]."
    fixed, changed = fixed_headings(body, None, QUESTION)
    assert changed == 1 and address not in fixed
    remnant = (
        "} Question: How does Python's `with` statement works? *(no retrieved source supports "
        "this)* This is the first question. &lt;version number="
    )
    out = anchored_queries([remnant], QUESTION, None, [])
    assert out[0] != remnant and out[0] in aspects(QUESTION)
    from workflows.labels import labels_for as labels
    from workflows.models import QAPair
    from workflows.notes import research_notes

    notes = research_notes([QAPair(question=remnant, answer="A [1].", iteration=2)], labels("x"))
    assert "&lt;" not in notes and "} Question" not in notes


def test_a_question_asked_again_in_other_words_is_one_research_note() -> None:
    """The embedded model's secrets report listed Q1 and Q3 as the same question: Q3 searched the
    plan section "title: focus" whose focus is the question, and both are shown as the focus."""
    from workflows.models import QAPair
    from workflows.notes import research_notes

    asked = "When should I use the secrets module rather than the random module?"
    findings = [
        QAPair(question=asked, answer="Secrets suits tokens [1].", iteration=1),
        QAPair(question="Is random reproducible?", answer="It is seeded [2].", iteration=1),
        QAPair(
            question=f"When should I use the secrets module?: {asked}",
            answer="Use secrets for security tokens [1].",
            iteration=2,
        ),
        QAPair(question=asked, answer="Secrets suits tokens [1].", iteration=2),
    ]
    notes = research_notes(findings, labels_for(asked), asked)
    assert notes.count(asked) == 1
    assert f"**Q1, Q3, Q4 (iteration 1, 2): {asked}**" in notes
    assert notes.count("Secrets suits tokens [1].") == 1
    assert "Use secrets for security tokens [1]." in notes
    assert "**Q2 (iteration 1): Is random reproducible?**" in notes


def test_headings_with_the_same_words_are_one_heading() -> None:
    body = (
        "# T\n\nLead [1].\n\n## How does Python's `with` statement works?\n\nA [1].\n\n"
        "## How does Python's `with` statement work?\n\nB [1].\n\n"
        "## Python's `with` statement works!\n\nC [1]."
    )
    fixed, changed = fixed_headings(body, None, QUESTION)
    headings = [line for line in fixed.split("\n") if line.startswith("## ")]
    assert changed == 2 and len(headings) == 3
    assert sum("statement work" in h for h in headings) == 1  # the others took spare parts


def test_a_section_headed_with_the_question_itself_is_a_repeat_of_the_title() -> None:
    """A one-part question's only aspect is the question: under its title, a section headed
    with it again read as a repeat (and "... from work" as a cut heading)."""
    question = "How does exception chaining with raise ... from work in Python?"
    body = (
        f"# {short_title(question)}\n\nLead.[1]\n\n## {question}\n\nMore.[1]\n\n"
        "## The `__cause__` attribute\n\nWhat it holds.[1]"
    )
    fixed, changed = fixed_headings(body, None, question)
    assert changed == 1
    assert f"## {question}" not in fixed
    assert re.search(r"Lead\.\[1\]\s+More\.\[1\]", fixed)  # its text belongs to the lead
    assert "## The `__cause__` attribute" in fixed


def test_a_sentence_end_inside_parentheses_does_not_end_the_sentence() -> None:
    """ "you'll get the results (or exceptions!) of the original Futures" was printed cut at
    the "!" (and its ")" lost); a closing quote or parenthesis stays with its sentence."""
    text = (
        "Return an iterator of coroutines. When waiting for them you'll get the results (or "
        "exceptions!) of the original Futures as they complete. The docs call it "
        '"eager." Then it returns the list of results.'
    )
    assert statements(text) == [
        "Return an iterator of coroutines.",
        "When waiting for them you'll get the results (or exceptions!) of the original Futures "
        "as they complete.",
        'The docs call it "eager."',
        "Then it returns the list of results.",
    ]


def test_a_plan_section_that_shares_no_word_with_the_question_is_repaired() -> None:
    """The embedded model's plan held a prompt echo as a section; it became a search question
    and a Research notes heading. A strong model's own wording of a part stays."""
    question = (
        "How do generators relate to context managers in Python: how does yield make a "
        "generator function, and how does contextlib turn a generator into a context manager?"
    )
    echo = PlanSection(
        title="The answer's structure is incomplete.",
        focus="2. The answer has no placeholders marked as required in the JSON object.",
    )
    own = PlanSection(title="Protocol", focus="which methods a context manager must implement")
    plan = ResearchPlan(sections=[own, echo])
    repaired = repaired_plan(plan, question, on_topic=True)
    titles = [s.title for s in repaired.sections]
    assert "Protocol" in titles and echo.title not in titles
    # The part it stood for is a heading cut at its clause, never on a dangling word.
    assert "How do generators relate to context managers in Python?" in titles
    # Runs started before the rule keep their plan (their histories replay).
    assert echo.title in [s.title for s in repaired_plan(plan, question).sections]


def test_a_heading_cut_on_a_joining_word_and_a_title_as_a_claim_are_not_prose() -> None:
    """The embedded model headed a section "the section about the" and opened its report with
    "Python's with Statement", cited to two sources."""
    assert not is_good_heading("the section about the")
    assert is_good_heading("What a context manager implements")
    assert is_fragment("Python's with Statement")
    assert is_fragment("How It Works Under The Hood")
    assert not is_fragment("Tuples are immutable")  # a claim written without its full stop
    assert not is_fragment("The with statement wraps a block of code in a context")


def test_a_strong_models_abstract_section_title_is_kept() -> None:
    """ "The protocol" shares no word with the question either, but it is a heading, not a
    remark on the model's own output: only a sentence-titled section is repaired."""
    question = "How does Python's with statement work, and what must a context manager implement?"
    plan = ResearchPlan(
        sections=[
            PlanSection(title="How the statement runs", focus="the steps it takes"),
            PlanSection(title="The protocol", focus="the methods it calls"),
        ]
    )
    titles = [s.title for s in repaired_plan(plan, question, on_topic=True).sections]
    assert titles[:2] == ["How the statement runs", "The protocol"]


def test_a_heading_or_question_naming_code_no_source_holds_is_replaced() -> None:
    """The embedded model's getattr report at 9399885 had sections headed "How does
    __getattr_vendor differ from __getattr__ …" and "What is the difference between __getattr()
    and __getattribute()?", and asked "… __setattr_vendors …" in its notes: names no retrieved
    page holds. A heading that names code the sources do hold stays as the model wrote it."""
    page = (
        "object.__getattr__(self, name): Called when the default attribute access fails. "
        "object.__getattribute__(self, name): Called unconditionally."
    )
    question = "How does __getattr__ differ from __getattribute__?"
    known = known_code_names(question, [source(1, page)])
    plan = ResearchPlan(sections=[PlanSection(title="Lookup order", focus="which runs first")])
    body = (
        "# T\n\nLead.\n\n## How does __getattr_vendor differ from __getattr__?\n\nA.[1]\n\n"
        "## What is the difference between __getattr() and __getattribute()?\n\nB.[1]\n\n"
        "## When is `__getattribute__` called?\n\nC.[1]"
    )
    fixed, changed = fixed_headings(body, plan, question, known)
    headings = [line for line in fixed.splitlines() if line.startswith("## ")]
    assert changed == 2 and "__getattr_vendor" not in fixed and "__getattr()" not in fixed
    assert headings == ["## Lookup order", "## When is `__getattribute__` called?"]
    # With no source retrieved, nothing is known to judge by: the heading stays.
    assert fixed_headings(body, plan, question, set())[1] == 0
    # A heading that opens with a name the sources hold stays (its underscores are the name's).
    opening = "# T\n\nLead.\n\n## __getattribute__ and recursion\n\nC.[1]"
    assert fixed_headings(opening, plan, question, known) == (opening, 0)
    asked = [
        QAPair(question="What is __setattr_vendors for?", answer="*none*", iteration=1),
        QAPair(question="When is __getattribute__ called?", answer="*none*", iteration=1),
    ]
    notes = research_notes(asked, labels_for(question), question, known_names=known)
    assert "__setattr_vendors" not in notes and notes.count(HIDDEN_QUESTION) == 1
    assert "When is `__getattribute__` called?" in notes  # a name shown as code, not bold


def test_a_notes_answer_shows_names_as_code_not_emphasis() -> None:
    """The embedded model's slots notes printed "The action of a *__slots__* declaration …",
    which Markdown renders as a bold "slots". Its words stay; the name is shown as code."""
    said = "The action of a *__slots__* declaration is not limited to the class where it is."
    found = QAPair(question="What does __slots__ do?", answer=f"{said}[1]", iteration=1)
    notes = research_notes([found], labels_for(found.question), found.question)
    assert "The action of a *`__slots__`* declaration is not limited" in notes


def test_a_notes_question_with_citation_marks_or_braces_is_hidden() -> None:
    """The embedded model's lambda plan at 9399885 had a section "Python: What can and cannot
    be written inside a Python lambda expression?" whose focus was "][1]} ] } A response should
    contain exactly one section …": the notes showed it as the question searched. Braces in
    code stay readable."""
    junk = (
        "Python: What can and cannot be written inside a Python lambda expression?: ][1]} ] } "
        "A response should contain exactly one section with the specified field."
    )
    code = "How do `{}` placeholders in str.format work?"
    asked = [
        QAPair(question=junk, answer="*none*", iteration=2),
        QAPair(question=code, answer="*none*", iteration=2),
    ]
    notes = research_notes(asked, labels_for(QUESTION), QUESTION)
    assert "A response should contain" not in notes and notes.count(HIDDEN_QUESTION) == 1
    assert code in notes


def test_a_notes_question_shows_names_as_code_not_emphasis() -> None:
    """A notes question is printed in bold: "**What does __slots__ do?**" would lose the
    name's underscores to Markdown. The question's words stay as searched."""
    asked = QAPair(question="What does __slots__ do in a class?", answer="*none*", iteration=1)
    notes = research_notes([asked], labels_for(QUESTION), QUESTION)
    assert "**Q1 (iteration 1): What does `__slots__` do in a class?**" in notes


def test_headings_that_differ_only_by_instead_or_rather_are_one_heading() -> None:
    """The embedded model's wait-for report headed two sections "When should I use
    asyncio.timeout instead of asyncio.wait_for?" and "… rather than …": one question to a
    reader. Headings that name different things stay."""
    plan = ResearchPlan(sections=[PlanSection(title="Cancelling on timeout", focus="what runs")])
    question = "How do asyncio.timeout and asyncio.wait_for differ?"
    body = (
        "# T\n\nLead.\n\n## When should I use asyncio.timeout instead of asyncio.wait_for?\n\n"
        "A.[1]\n\n## When should I use asyncio.timeout rather than asyncio.wait_for?\n\nB.[1]\n\n"
        "## Using asyncio.timeout\n\nC.[1]\n\n## Using asyncio.wait_for\n\nD.[1]"
    )
    fixed, changed = fixed_headings(body, plan, question, set())
    headings = [line for line in fixed.splitlines() if line.startswith("## ")]
    assert changed == 1
    assert headings == [
        "## When should I use asyncio.timeout instead of asyncio.wait_for?",
        "## Cancelling on timeout",
        "## Using asyncio.timeout",
        "## Using asyncio.wait_for",
    ]


def test_a_notes_answer_prints_a_sentence_once() -> None:
    """The embedded model's slots notes at 1e9c940 answered "1. The action of a *__slots__*
    declaration is not limited to the class where it is defined.[1] The action of a
    *__slots__* declaration …[1]": the same sentence twice. It is printed once, here and in a
    later paragraph of the same answer."""
    said = "The action of a *__slots__* declaration is not limited to the class where it is."
    other = "It reserves space for the declared variables."
    answer = f"1. {said}[1] {said}[1]\n\n{other}[1] {said}[1]"
    found = QAPair(question="What does __slots__ do?", answer=answer, iteration=1)
    notes = research_notes([found], labels_for(found.question), found.question)
    assert notes.count("declaration is not limited") == 1
    assert f"{other}[1]" in notes
    # An answer that says each thing once stays as written, its list included.
    listed = QAPair(
        question="What does __slots__ do?", answer=f"1. {other}[1]\n2. {said}[1]", iteration=1
    )
    assert "1. It reserves space" in research_notes([listed], labels_for(QUESTION), QUESTION)


def test_a_heading_that_is_a_bare_name_nothing_else_names_is_replaced() -> None:
    """The embedded model's lambda report at 1e9c940 headed a section "python_implementation()"
    (a function of the platform module, retrieved beside the lambda pages) over a sentence on
    function annotations. A bare name the question, the plan or its own section names stays."""
    plan = ResearchPlan(sections=[PlanSection(title="What a lambda may hold", focus="expressions")])
    question = "What can and cannot be written inside a Python lambda expression?"
    body = (
        "# T\n\nLead.\n\n## python_implementation()\n\nAnnotations came first.[1]\n\n"
        "## __enter__\n\nThe `__enter__()` method is called.[1]"
    )
    fixed, changed = fixed_headings(body, plan, question, set())
    headings = [line for line in fixed.splitlines() if line.startswith("## ")]
    assert changed == 1
    assert headings == ["## What a lambda may hold", "## __enter__"]


def test_a_notes_question_that_asks_nothing_readable_is_hidden() -> None:
    """What the embedded model searched at 1e9c940 and the notes showed as questions: question
    words alone, numbered questions run together, a statement. A question, a title, a query
    opening with code and a keyword query stay."""
    shown = [
        "What does `__slots__` do in a Python class?",
        "Python with Statement",
        "asyncio.timeout vs asyncio.wait_for",
        "tuple displays parentheses comma",  # a keyword query on the question
    ]
    hidden = [
        "what",
        "in terms of readability, maintainability, etc.? 7. What is the best way to write what",
        "The assertion is expanded to an empty list.",
    ]
    asked = [QAPair(question=q, answer="*none*", iteration=1) for q in shown + hidden]
    notes = research_notes(asked, labels_for(QUESTION), QUESTION)
    assert notes.count(HIDDEN_QUESTION) == len(hidden)
    assert all(q.replace("`", "") in notes.replace("`", "") for q in shown)
    assert not any(q in notes for q in hidden)


def test_a_heading_that_asks_what_something_expands_to_is_kept() -> None:
    """The assert question's part "What does the assert statement expand to?" heads its
    section: a question may end on "to". One cut after "between" is still replaced."""
    plan = ResearchPlan(sections=[PlanSection(title="Optimised away", focus="-O")])
    question = "What does the assert statement expand to, and why can assertions disappear?"
    body = (
        "# T\n\nLead.\n\n## What does the assert statement expand to?\n\nA.[1]\n\n"
        "## The main difference between\n\nB.[1]"
    )
    fixed, changed = fixed_headings(body, plan, question, set())
    headings = [line for line in fixed.splitlines() if line.startswith("## ")]
    assert changed == 1
    assert headings == ["## What does the assert statement expand to?", "## Optimised away"]


def test_a_short_sentence_that_says_the_question_back_is_no_claim() -> None:
    """The embedded model's async-with report at 1e9c940 opened with "The async with statement
    works.[1]" for "How does the async with statement work and where may it be used?". A
    sentence that adds what the question does not ask stays."""
    question = "How does the async with statement work and where may it be used?"
    empty = QAPair(question=question, answer="The async with statement works.[1]", iteration=1)
    said = "It is a SyntaxError to use an async with statement outside a coroutine function."
    useful = QAPair(question=question, answer=f"{said}[1]", iteration=1)
    notes = research_notes([empty, useful], labels_for(question), question)
    assert "statement works." not in notes and said in notes


def test_a_question_without_its_mark_is_no_answer() -> None:
    """The embedded model's heapq notes at 1e9c940 answered "How does Python's heapq.max()[4]"
    (a question, no mark, cited to punycode's page)."""
    question = "How does Python's heapq module implement a priority queue?"
    asked = QAPair(
        question="Python's heapq.max()", answer="How does Python's heapq.max()[4]", iteration=1
    )
    notes = research_notes([asked], labels_for(question), question)
    assert "How does Python's heapq.max()" not in notes
