"""Step 3d of the loop: every search question of an iteration answered from sources.

All variants of all questions are sampled at once (the answers unit's own node,
retrieval_engine); their sources then get run-wide numbers in (question, variant) order — never
in completion order, so the same answers always give the same report — and each question's
variants evolve on their own. The answers are kept as findings, in question order.
"""

from __future__ import annotations

import asyncio
from functools import partial

from workflows.activity_types import NodeActivities
from workflows.config import ResearchConfig
from workflows.evolution import Evolution
from workflows.models import (
    Candidate,
    EvolutionContext,
    QAPair,
    RetrievalInput,
    SamplingParams,
)
from workflows.sources import SourceRegistry
from workflows.state import RunState
from workflows.topics import section_query, section_served

KNOWN_IDS_MAX = 48  # passage ids a retrieval is told the run holds (~16 chars each locally)


class Answers:
    def __init__(
        self,
        question: str,
        config: ResearchConfig,
        state: RunState,
        evolution: Evolution,
        sources: SourceRegistry,
    ) -> None:
        self._question = question
        self._config = config
        self._state = state
        self._evolution = evolution
        self._sources = sources

    async def answer_all(self, questions: list[str]) -> list[QAPair]:
        """The answers unit for every question, citing run-wide source numbers; the new
        findings (also appended to the state)."""
        sampled = await asyncio.gather(
            *(
                self._evolution.sample(
                    "answers",
                    partial(self._input, q, item),
                    NodeActivities.retrieval_engine,
                    item,
                )
                for item, q in enumerate(questions, 1)
            )
        )
        globalise = self._sources.globalise
        variants = [[Candidate(text=globalise(out)) for out in outs] for outs in sampled]
        answers = await asyncio.gather(
            *(
                self._evolution.evolve("answers", texts, partial(self._context, q, texts), item)
                for item, (q, texts) in enumerate(zip(questions, variants, strict=True), 1)
            )
        )
        # Every variant of a question searched the same question: the first one's sources.
        findings = [
            self._sources.finding(self._state.iteration, q, answer.text or "", outs[0].sources)
            for q, answer, outs in zip(questions, answers, sampled, strict=True)
        ]
        self._state.findings.extend(findings)
        return findings

    def _input(
        self, search_question: str, position: int, sampling: SamplingParams
    ) -> RetrievalInput:
        return RetrievalInput(
            question=self._question,
            search_question=search_question,
            top_k=self._config.search_results_per_question,
            iteration=self._state.iteration,
            sampling=sampling,
            anchors=self._anchors(search_question, position) if self._state.anchored else [],
            known_ids=self._known_ids() if self._state.fresh_evidence else [],
        )

    def _known_ids(self) -> list[str]:
        """The ids of the passages registered last (at most KNOWN_IDS_MAX: a bounded input)."""
        return [s.id for s in self._state.sources[-KNOWN_IDS_MAX:]]

    def _anchors(self, search_question: str, position: int) -> list[str]:
        """The user's question and the plan section the search serves: searched with it and
        fused, so retrieval stays on the topic whatever the model asked."""
        section = section_served(search_question, self._state.plan, position)
        anchors = [self._question] + ([section_query(section)] if section else [])
        return [a for a in dict.fromkeys(anchors) if a != search_question]

    def _context(self, search_question: str, variants: list[Candidate]) -> EvolutionContext:
        return EvolutionContext(
            unit="answers",
            question=self._question,
            search_question=search_question,
            sources=self._sources.cited_in(v.text or "" for v in variants),
        )
