"""The question set stays valid: every gold passage still exists in the demo corpus of this
interpreter, and every key fact is written in a gold passage (so a report can only contain it by
finding the evidence, and a change of corpus that drops it is noticed here)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from eval.corpus import Corpus, parse_document
from eval.questions import GoldPassage, gold_text, load_questions
from search.demo_corpus import materialise_demo_corpus

QUESTIONS = load_questions()


@pytest.fixture(scope="module")
def corpus(cache_dir: Path) -> Corpus:
    return Corpus(materialise_demo_corpus(cache_dir))


def test_the_set_is_big_and_varied_enough() -> None:
    assert len(QUESTIONS) >= 30
    kinds = Counter(q.kind for q in QUESTIONS)
    assert set(kinds) == {"single", "multi", "comparison", "when"}
    assert all(count >= 4 for count in kinds.values()), kinds
    ids = [q.id for q in QUESTIONS]
    assert len(ids) == len(set(ids)), "question ids must be unique"
    multi = [q for q in QUESTIONS if q.kind == "multi"]
    assert all(len({g.doc for g in q.gold}) >= 2 for q in multi), "multi = two documents or more"


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.id)
def test_gold_passages_exist_and_hold_the_facts(question, corpus: Corpus) -> None:
    for gold in question.gold:
        assert corpus.document(gold.doc) is not None, f"{gold.doc} is not in the demo corpus"
        assert gold.spans(corpus), f"no section {gold.section!r} in {gold.doc}"
    text = gold_text(question, corpus).lower()
    for fact in question.facts:
        alternatives = [a.strip().lower() for a in fact.split("|")]
        assert any(a in text for a in alternatives), f"fact {fact!r} is in no gold passage"


def test_a_missing_section_is_reported_as_missing(corpus: Corpus) -> None:
    assert not GoldPassage(doc="modules/heapq.md", section="no such heading").spans(corpus)
    assert not GoldPassage(doc="modules/no_such_module.md", section=None).spans(corpus)


def test_sections_nest_and_signatures_are_dropped() -> None:
    doc = parse_document(
        "modules/m.md",
        "# m (module)\n\nLead text.\n\n## class Queue(Base)\n\nA queue.\n\n"
        "### Queue.put(self, item)\n\nPut.\n\n## gather(*aws)\n\nGather.\n",
    )
    queue, put, gather = doc.find("class Queue"), doc.find("Queue.put"), doc.find("gather")
    assert queue and put and gather
    assert queue.start < put.start < put.end <= queue.end <= gather.start
    assert doc.text[put.start : put.end].startswith("### Queue.put(self, item) Put.")
