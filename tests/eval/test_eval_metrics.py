"""The eval metrics on a hand-made report whose gold passages, citations and claims are known:
each metric gives the value a reader would count by hand, and each can fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.corpus import Corpus
from eval.metrics import (
    RunOutput,
    SourceRef,
    citations_in,
    claims_of,
    score_run,
    summarise,
)
from eval.questions import GoldPassage, Question
from eval.support import lexical_support, load_scorer

QUEUES = """# queues (Python standard library module)

Queues for coroutines and threads.

## class Queue(Base)

A queue for coroutines. Use await put() to add an item; put blocks when the
queue is full.

### Queue.join(self)

Blocks until all items have been processed and task_done was called for each.

## class LifoQueue(Queue)

A last in, first out queue.
"""
WITH = """# with (Python language reference)

The "with" statement
********************

The with statement calls __enter__ on entry and __exit__ when the block ends.
"""


@pytest.fixture
def corpus(tmp_path: Path) -> Corpus:
    (tmp_path / "modules").mkdir()
    (tmp_path / "topics").mkdir()
    (tmp_path / "modules" / "queues.md").write_text(QUEUES)
    (tmp_path / "topics" / "with.txt").write_text(WITH)
    return Corpus(tmp_path)


QUESTION = Question(
    id="q1",
    kind="multi",
    prompt="How do queues and the with statement work?",
    gold=[
        GoldPassage(doc="modules/queues.md", section="class Queue"),
        GoldPassage(doc="topics/with.txt", section='The "with" statement'),
    ],
    facts=["await put", "task_done", "__exit__|exit method"],
)
QUEUE = SourceRef(
    number=1,
    title="queues (Python standard library module)",
    location="/home/u/.cache/ttdr/demo-corpus-py3.11/modules/queues.md",
    quote="## class Queue(Base) A queue for coroutines. Use await put() to add an item; put…",
)
LIFO = SourceRef(
    number=2,
    title="queues (Python standard library module)",
    location="modules/queues.md, section class LifoQueue",  # the grounded Sources' form
    quote="## class LifoQueue(Queue) A last in, first out queue.",
)
WITH_SOURCE = SourceRef(
    title="with (Python language reference)",
    location="Python documentation: with",  # no usable path: found by its title
    quote='The "with" statement ******************** The with statement calls __enter__',
)
REPORT = """# Queues

A queue for coroutines uses await put() to add an item [1]. Join blocks until task_done was
called for each item [1]. A last in, first out queue is offered too [2][7]. The moon is made
of green cheese entirely [1]. This sentence carries no citation at all.

```python
xs[1]  # code, not a citation
```

## Sources

1. queues (Python standard library module) — modules/queues.md
2. queues (Python standard library module) — modules/queues.md
"""


def run(**changes: object) -> RunOutput:
    fields: dict[str, object] = {
        "question_id": "q1",
        "markdown": REPORT,
        "cited": [QUEUE, LIFO],
        "retrieved": [QUEUE, LIFO, WITH_SOURCE],
        "llm_calls": 12,
        "tokens": 3400,
        "wall_seconds": 2.5,
    }
    return RunOutput.model_validate({**fields, **changes})


def test_every_metric_of_the_hand_made_report(corpus: Corpus) -> None:
    scores = score_run(QUESTION, run(), corpus)
    assert scores.gold_retrieved == 1.0  # both gold passages were retrieved
    assert scores.gold_cited == 0.5  # only the queue passage is cited
    assert scores.missing_gold == ['topics/with.txt#The "with" statement']
    assert scores.fact_recall == pytest.approx(2 / 3)
    assert scores.missing_facts == ["__exit__|exit method"]
    assert scores.citations == 5  # [1] [1] [2] [7] [1]; xs[1] in code is not one
    assert scores.citation_validity == pytest.approx(4 / 5)  # [7] is not in Sources
    assert scores.claims == 5
    assert scores.claims_cited == pytest.approx(4 / 5)
    # Pairs: queue→[1] supported, join→[1] supported (the Queue section holds Queue.join),
    # LIFO→[2] four of six words, moon→[1] none.
    assert scores.citation_support == pytest.approx(3 / 4)
    assert (scores.llm_calls, scores.tokens, scores.wall_seconds) == (12, 3400, 2.5)


def test_a_perfect_report_scores_one_everywhere(corpus: Corpus) -> None:
    markdown = (
        "Use await put() to add an item to a queue for coroutines [1]. The with statement "
        "calls __exit__ when the block ends [2]. Join blocks until task_done was called [1].\n\n"
        "## Sources\n\n1. queues\n2. with\n"
    )
    with_cited = WITH_SOURCE.model_copy(update={"number": 2})
    scores = score_run(QUESTION, run(markdown=markdown, cited=[QUEUE, with_cited]), corpus)
    for metric in ("gold_retrieved", "gold_cited", "fact_recall", "citation_validity"):
        assert getattr(scores, metric) == 1.0, metric
    assert scores.citation_support == 1.0
    assert scores.claims_cited == 1.0


def test_nothing_found_nothing_cited_scores_zero(corpus: Corpus) -> None:
    scores = score_run(
        QUESTION,
        run(markdown="An answer from memory about queues and more.", cited=[], retrieved=[]),
        corpus,
    )
    assert scores.gold_retrieved == 0.0
    assert scores.gold_cited == 0.0
    assert scores.fact_recall == 0.0
    assert scores.claims_cited == 0.0
    assert scores.citation_validity is None  # nothing to check: left out of means
    assert scores.citation_support is None


def test_a_passage_outside_the_gold_section_does_not_count(corpus: Corpus) -> None:
    scores = score_run(QUESTION, run(retrieved=[LIFO]), corpus)
    assert scores.gold_retrieved == 0.0  # same document, another section


def test_a_section_named_in_the_location_counts_beyond_the_quote(corpus: Corpus) -> None:
    # The passage starts in the lead text; its location says it runs into class Queue.
    spanning = SourceRef(
        title="queues (Python standard library module)",
        location="modules/queues.md, sections queues; class Queue(Base)",
        quote="# queues (Python standard library module) Queues for coroutines and threads.",
    )
    assert score_run(QUESTION, run(retrieved=[spanning]), corpus).gold_retrieved == 0.5


def test_a_failed_run_scores_zero_and_keeps_its_usage(corpus: Corpus) -> None:
    scores = score_run(QUESTION, run(status="failed", markdown=""), corpus)
    assert (scores.gold_retrieved, scores.fact_recall) == (0.0, 0.0)
    assert scores.llm_calls == 12


def test_summary_means_leave_undefined_values_out(corpus: Corpus) -> None:
    good = score_run(QUESTION, run(), corpus)
    empty = score_run(QUESTION, run(markdown="No answer here at all today.", cited=[]), corpus)
    summary = summarise([good, empty])
    assert summary["citation_validity"] == pytest.approx(4 / 5)  # the empty one has none
    assert summary["fact_recall"] == pytest.approx(1 / 3)
    assert summary["completed"] == 1.0


def test_the_scorer_is_pluggable(corpus: Corpus) -> None:
    always = score_run(QUESTION, run(), corpus, scorer=lambda claim, text: 1.0)
    assert always.citation_support == 1.0
    assert load_scorer("lexical") is lexical_support
    assert load_scorer("eval.support:lexical_support") is lexical_support
    with pytest.raises(ValueError, match="cannot be loaded"):
        load_scorer("eval.support:nope")


def test_parsing_helpers() -> None:
    assert citations_in("a [1, 2] b [3][4] c xs[5] `[6]`") == [1, 2, 3, 4]
    assert claims_of("# Title\n\n- First item has four words [1].\n- Tiny.\n") == [
        "First item has four words [1]."
    ]


def test_a_document_number_with_two_passages_is_supported_by_the_better_one(
    corpus: Corpus,
) -> None:
    # One Sources entry per document: both queue passages are number 1; the product kept the
    # text the model saw as evidence, which is what support is scored against.
    lifo_as_one = LIFO.model_copy(update={"number": 1, "evidence": "A last in, first out queue."})
    queue_evidence = QUEUE.model_copy(update={"evidence": "Use await put() to add an item."})
    markdown = "A last in, first out queue is offered too [1].\n\n## Sources\n\n1. queues\n"
    scores = score_run(
        QUESTION, run(markdown=markdown, cited=[queue_evidence, lifo_as_one]), corpus
    )
    assert scores.citation_support == 1.0
    only_queue = score_run(QUESTION, run(markdown=markdown, cited=[queue_evidence]), corpus)
    assert only_queue.citation_support == 0.0


def test_readability_counts_repeated_and_junk_headings_junk_questions_and_cut_quotes() -> None:
    from eval.readability import readability

    clean = (
        "# How does with work?\n\nLead [1].\n\n## Protocol\n\nText [1].\n\n## Research notes\n\n"
        '**Q1 (iteration 1): How is __exit__ called?**\n\n> "The exit method runs."[1]\n\n'
        "## Sources\n\n1. with — topics/with.txt\n"
    )
    assert readability(clean) == (0, 0, 0)
    hidden = clean.replace("How is __exit__ called?", "—")  # the product hid a junk question
    assert readability(hidden) == (0, 0, 0)
    messy = (
        "# T\n\n## Same\n\nA [1].\n\n## Same\n\nB [1].\n\n## </plan> <script>\n\nC [1].\n\n"
        '**Q1 (iteration 1): </plan>**\n\n> "During the"[1]\n\n'
        '**Q2, Q4 (iteration 1, 2): <script>**\n\n> "It runs."[1]\n\n'
        "## Sources\n\n1. --- — a.md\n"
    )
    duplicates, junk, cut = readability(messy)
    assert duplicates == 1 and cut == 1
    # The tag heading, the tag questions (one note asked twice), `---`, and "Same" twice (a
    # heading that names nothing).
    assert junk == 6
    # The embedded model's raise-from report at dd50cef: a build tag as a heading and as a
    # note's question has no word a reader can read.
    tagged = clean.replace("## Protocol", "## 1.0.3-SNAPSHOT_BUILDED").replace(
        "How is __exit__ called?", "2.10.4-SNAPSHOT_BUILDED, -2"
    )
    assert readability(tagged) == (0, 2, 0)
    # The getattr report at 9399885: a heading and a note naming code no retrieved page holds.
    made_up = clean.replace("## Protocol", "## How does __exit_vendor work?").replace(
        "How is __exit__ called?", "How is __exit() called?"
    )
    known = {"__exit__", "__enter__"}
    assert readability(made_up, known) == (0, 2, 0)
    assert readability(clean, known) == (0, 0, 0)


def test_readability_counts_a_heading_one_word_off_and_a_note_ending_on_a_cut_sentence() -> None:
    """The demo's report on the Intel machine (1247341) as a reader saw it."""
    from eval.readability import readability

    demo = (
        "# How does with work?\n\nLead.[1]\n\n"
        "## What are the different ways to handle exceptions in a Python program?\n\nA.[1]\n\n"
        "## What are the different ways to handle exceptions in Python?\n\nB.[1]\n\n"
        "## Research notes\n\n**Q1 (iteration 1): How does with work?**\n\n"
        "The with statement wraps a block (see section Context Managers). This allows common"
        "[1, §With Statement Context Managers]\n\n## Sources\n\n1. with — topics/with.txt\n"
    )
    assert readability(demo) == (1, 0, 1)
    # Two subjects, a part of the question under its title, and a statement that only lacks
    # its full stop are what a reader expects.
    fine = (
        "# How does with work, and what must a context manager implement?\n\nLead.[1]\n\n"
        "## What must a context manager implement?\n\nA.[1]\n\n## Context managers\n\n"
        "B.[1]\n\n## Async context managers\n\nC.[1]\n\n"
        "Attribute assignments and deletions update the instance's dictionary[1]\n\n"
        "## Sources\n\n1. with — topics/with.txt\n"
    )
    assert readability(fine) == (0, 0, 0)
    assert readability(fine.replace("dictionary[1]", "dictionary of the[1]")) == (0, 0, 1)
    # A fence that never closes (all after it renders as code) and markup in prose are junk.
    assert readability(fine.replace("B.[1]", "```\n\nB.[1]")) == (0, 1, 0)
    assert readability(fine.replace("B.[1]", "B &lt;/code> &lt;x>.[1]")) == (0, 1, 0)
    assert readability(fine.replace("B.[1]", "`a<b>` in code.[1]")) == (0, 0, 0)
    assert readability(fine.replace("B.[1]", 'The name is "<stdin>" then.[1]')) == (0, 0, 0)


def test_an_abbreviation_does_not_end_a_claim() -> None:
    """ "(e.g. IPython)" is inside one sentence: read as two claims, the first had no citation
    though the report printed the whole sentence with one."""
    body = (
        "It helps an interactive console (e.g. IPython), or a test runner.[1, §Runner] "
        "Two more words here.[2]"
    )
    assert claims_of(body) == [
        "It helps an interactive console (e.g. IPython), or a test runner [1, §Runner].",
        "Two more words here [2].",
    ]
