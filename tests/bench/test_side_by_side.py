"""bench.side_by_side's reading of a run: which LLM calls were dependent, and the time between
them (what the bench reports as the per-call overhead against the floor)."""

from __future__ import annotations

import itertools

import pytest

from bench.side_by_side import dependent_chain


def test_a_fan_out_counts_once_and_waits_for_its_last_sibling() -> None:
    plan = (0.0, 1.0)
    siblings = [(1.01, 2.0), (1.02, 2.05)]  # two answers at once; the next step waits for both
    integrate = (2.08, 3.0)
    judge = (3.02, 4.0)
    chain = dependent_chain([judge, siblings[0], integrate, plan, siblings[1]])
    assert chain == [plan, siblings[1], integrate, judge]
    gaps = [nxt[0] - prev[1] for prev, nxt in itertools.pairwise(chain)]
    assert gaps == pytest.approx([0.02, 0.03, 0.02])


def test_calls_that_overlap_are_not_a_chain() -> None:
    assert dependent_chain([(0.0, 1.0), (0.5, 1.5), (0.9, 2.0)]) == [(0.0, 1.0)]
    assert dependent_chain([]) == []
