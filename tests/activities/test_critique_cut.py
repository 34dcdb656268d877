"""A judge that writes a critique past its 1,000-character bound has still scored: the critique
is cut at a word boundary and marked, and the run goes on (it used to fail the answer's
validation, be re-asked, and fail the run when the judge kept writing long). Both judges: the
quality judge (JudgeAnswer) and self-evolution's variant judge (VariantCritique).
"""

from __future__ import annotations

import asyncio
import json
import uuid

from temporalio.client import Client

from activities.boundary import CRITIQUE_MAX_CHARS
from activities.llm_answers import parse_structured
from activities.prompts._common import CRITIQUE_CUT_MARK
from activities.prompts.quality_assessor import JudgeAnswer
from activities.prompts.self_evolution_enhancer import VariantCritique
from testing.fake_llm import FakeLLMServer
from testing.scripted_llm import Script
from workflows.config import ResearchConfig
from workflows.models import CRITIQUE_KEPT_CHARS, ResearchRequest
from workflows.research import WORKFLOW_NAME
from workflows.results import ResearchReport, ResearchState

# 1,500 characters of words of differing lengths, so the boundary is not at a fixed stride.
LONG = " ".join(f"section{i} lacks{'s' * (i % 4)} citations" for i in range(70))[:1_500]


def answer(critique: str) -> str:
    return json.dumps({"critique": critique, "score": 6, "done": False})


def test_a_long_critique_is_cut_at_a_word_boundary_and_marked() -> None:
    judged = parse_structured(answer(LONG), JudgeAnswer)
    assert judged.score == 6 and judged.done is False
    # The same words starting at every offset of a word: the bound falls inside a word, on
    # its first or last letter, and on a space.
    for start in range(12):
        critique = LONG[start:]
        text = parse_structured(answer(critique), JudgeAnswer).critique
        assert len(text) <= CRITIQUE_MAX_CHARS and text.endswith(CRITIQUE_CUT_MARK)
        kept = text.removesuffix(CRITIQUE_CUT_MARK)
        assert critique.startswith(kept), start
        assert critique[len(kept)] == " " and kept[-1] != " ", f"cut inside a word at {start}"
        assert len(kept) > CRITIQUE_MAX_CHARS - 40, "no more than the last word dropped"


def test_a_critique_at_its_bound_is_kept_whole_and_one_past_it_is_cut() -> None:
    at = ("abcd " * 200)[:CRITIQUE_MAX_CHARS]
    assert parse_structured(answer(at), JudgeAnswer).critique == at
    past = parse_structured(answer(at + "e"), VariantCritique).critique
    assert past.endswith(CRITIQUE_CUT_MARK) and len(past) <= CRITIQUE_MAX_CHARS


def test_one_word_longer_than_the_bound_is_cut_inside_it() -> None:
    text = parse_structured(answer("x" * 1_500), VariantCritique).critique
    assert text == "x" * (CRITIQUE_MAX_CHARS - len(CRITIQUE_CUT_MARK)) + CRITIQUE_CUT_MARK


async def test_a_run_whose_judges_write_too_much_completes(
    client: Client, task_queue: str, fake_server: FakeLLMServer, script: Script
) -> None:
    def long_critique(base: object) -> object:
        return lambda request: {**base(request), "critique": LONG}  # type: ignore[operator]

    fake_server.respond("JudgeAnswer", long_critique(script.judge))
    fake_server.respond("VariantCritique", long_critique(script.critique))
    handle = await client.start_workflow(
        WORKFLOW_NAME,
        ResearchRequest(
            question="How do Python decorators work?",
            config=ResearchConfig.model_validate(
                {"max_iterations": 1, "questions_per_iteration": 1}
            ),
        ),
        id=f"critique-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        result_type=ResearchReport,
    )
    report = await asyncio.wait_for(handle.result(), 90)
    assert report.markdown
    state = await handle.query("state", result_type=ResearchState)
    assert state.critiques == [LONG[:CRITIQUE_KEPT_CHARS]]
    judged = [r for r in state.evolution if r.step == "judge" and r.score is not None]
    assert judged, "the variant judges scored"
    assert not [r for r in fake_server.requests if "is not valid" in str(r.body)], "no re-ask"
