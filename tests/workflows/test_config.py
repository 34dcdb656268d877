"""Every bounded field of ResearchConfig, at both edges, read from the model itself: a field added
later is covered without touching this file. Plus the cross-field rules (the budget must fit one
iteration, retry intervals in order, evolution profiles) at their edges, and the table of bounds
of docs/use/configuration.md checked against the model. Pure validation: no server.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import annotated_types
import pytest
from pydantic import BaseModel, ValidationError

from tests.support.paths import ROOT
from workflows.config import (
    ACTIVITY_NAMES,
    ACTIVITY_NODE,
    EVOLUTION_PROFILES,
    NODE_NAMES,
    EvolutionConfig,
    NodeTimeouts,
    ResearchConfig,
    RetryConfig,
    UnitEvolution,
    calls_per_iteration,
    evolution_activity,
    minimum_llm_calls,
    report_calls,
)

CONFIG_DOC = ROOT / "docs" / "use" / "configuration.md"
DASH = "\u2013"  # the docs write ranges with an en dash
BOUND_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def bounded_fields(
    model: type[BaseModel], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], type, dict[str, float]]]:
    """(path, number type, {ge/gt/le/lt: bound}) of every numeric field, nested models included."""
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        kind = info.annotation
        args = getattr(kind, "__args__", ())
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield from bounded_fields(kind, path)
            continue
        number = next((t for t in (kind, *args) if t in (int, float)), None)
        if number is None:
            continue
        bounds: dict[str, float] = {}
        for item in info.metadata:
            for key in ("ge", "gt", "le", "lt"):
                if isinstance(item, getattr(annotated_types, key.capitalize())):
                    bounds[key] = getattr(item, key)
        yield path, number, bounds


FIELDS = list(bounded_fields(ResearchConfig))
FIELD_IDS = [".".join(path) for path, _, _ in FIELDS]


def nested(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    data: Any = value
    for name in reversed(path):
        data = {name: data}
    return data


def bound_errors(path: tuple[str, ...], value: Any) -> set[str]:
    """The bound errors pydantic reports for `path` = value (other rules may fail too)."""
    try:
        ResearchConfig.model_validate(nested(path, value))
    except ValidationError as err:
        return {e["type"] for e in err.errors() if e["loc"][: len(path)] == path} & BOUND_ERRORS
    return set()


def step(number: type, bound: float, direction: float) -> float:
    """The nearest value past `bound` in `direction` (+1 up, -1 down)."""
    if number is int:
        return bound + direction
    return math.nextafter(bound, math.inf * direction)


def test_every_numeric_field_has_a_lower_and_an_upper_bound() -> None:
    assert len(FIELDS) >= 25  # the walk really reaches the nested models
    unbounded = [
        ".".join(path)
        for path, _, bounds in FIELDS
        if not ({"ge", "gt"} & bounds.keys() and {"le", "lt"} & bounds.keys())
    ]
    assert unbounded == [], f"numeric config fields without both bounds: {unbounded}"


@pytest.mark.parametrize(("path", "number", "bounds"), FIELDS, ids=FIELD_IDS)
def test_lower_bound_is_enforced_exactly(
    path: tuple[str, ...], number: type, bounds: dict[str, float]
) -> None:
    if "ge" in bounds:
        assert bound_errors(path, bounds["ge"]) == set()
        assert bound_errors(path, step(number, bounds["ge"], -1)) == {"greater_than_equal"}
    else:
        assert bound_errors(path, bounds["gt"]) == {"greater_than"}
        assert bound_errors(path, step(number, bounds["gt"], +1)) == set()


@pytest.mark.parametrize(("path", "number", "bounds"), FIELDS, ids=FIELD_IDS)
def test_upper_bound_is_enforced_exactly(
    path: tuple[str, ...], number: type, bounds: dict[str, float]
) -> None:
    if "le" in bounds:
        assert bound_errors(path, bounds["le"]) == set()
        assert bound_errors(path, step(number, bounds["le"], +1)) == {"less_than_equal"}
    else:
        assert bound_errors(path, bounds["lt"]) == {"less_than"}
        assert bound_errors(path, step(number, bounds["lt"], -1)) == set()


def test_an_out_of_range_value_is_rejected_with_a_message_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        ResearchConfig.model_validate({"retry": {"maximum_attempts": 21}})
    assert caught.value.errors()[0]["loc"] == ("retry", "maximum_attempts")
    assert "less than or equal to 20" in str(caught.value)


def test_unknown_fields_are_rejected_at_every_level() -> None:
    for data in ({"max_iteration": 3}, {"retry": {"attempts": 3}}, {"report": {"mode": "x"}}):
        with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
            ResearchConfig.model_validate(data)


# ---------------------------------------------------------------- the documented table


def documented_bounds() -> dict[str, tuple[float, float]]:
    """field -> (low, high) from the Configuration page's table rows that give a range."""
    section = CONFIG_DOC.read_text().split("\n# Configuration", 1)[1].split("\n\n", 2)[1]
    found: dict[str, tuple[float, float]] = {}
    for row in section.splitlines():
        cells = [c.strip() for c in row.strip("|").split("|")]
        if len(cells) < 3:
            continue
        match = re.fullmatch(rf"([\d,.]+){DASH}([\d,.]+)(?:⁸)?", cells[2])
        if match is None:
            continue
        low = float(match.group(1).replace(",", ""))
        high_text = match.group(2).replace(",", "")
        high = 10.0**8 if cells[2].endswith("10⁸") else float(high_text)
        for name in re.findall(r"`([^`]+)`", cells[0]):
            names = [f"timeouts.{n}" for n in NODE_NAMES] if name == "timeouts.<node>" else [name]
            for each in names:
                found[each] = (low, high)
    return found


def test_the_docs_state_the_bounds_the_model_enforces() -> None:
    documented = documented_bounds()
    assert len(documented) >= 15, documented
    model = {".".join(path): bounds for path, _, bounds in FIELDS}
    for name, (low, high) in documented.items():
        assert name in model, (
            f"{CONFIG_DOC.name} documents {name}, which ResearchConfig does not have"
        )
        bounds = model[name]
        assert (bounds.get("ge", bounds.get("gt")), bounds.get("le", bounds.get("lt"))) == (
            low,
            high,
        ), name


# ---------------------------------------------------------------- cross-field rules


def plain(**fields: Any) -> dict[str, Any]:
    return {"evolution": "off", "questions_per_iteration": 1, "json_repair_attempts": 0, **fields}


def test_the_call_budget_must_fit_exactly_one_iteration() -> None:
    base = ResearchConfig.model_validate(plain())
    needed = minimum_llm_calls(base)
    assert needed == 7  # plan, draft, gap, answer, integrate, judge, report
    ResearchConfig.model_validate(plain(max_llm_calls=needed))
    with pytest.raises(ValidationError, match=f"cannot fit a single iteration.*at least {needed}"):
        ResearchConfig.model_validate(plain(max_llm_calls=needed - 1))


def test_the_minimum_counts_every_re_ask_and_every_evolution_call() -> None:
    cfg = ResearchConfig.model_validate(plain(json_repair_attempts=2))
    assert minimum_llm_calls(cfg) == 7 * 3
    paper = ResearchConfig.model_validate({"questions_per_iteration": 2, "json_repair_attempts": 0})
    # plan 1+2, draft 1, questions 5+10+1, answers 2 x (3+6+1), integrate 1, judge 1, report 1+2
    assert calls_per_iteration(paper) == 16 + 20 + 2
    assert report_calls(paper) == 3
    assert minimum_llm_calls(paper) == 3 + 1 + 38 + 3


def test_unit_evolution_calls_and_critical_path() -> None:
    assert (UnitEvolution().llm_calls(), UnitEvolution().critical_path()) == (1, 1)
    assert not UnitEvolution().enabled
    assert UnitEvolution(variants=2).enabled and UnitEvolution(revision_steps=1).enabled
    # k samples + s x (k judges + k revisions) + 1 merge; in sequence: 1 + 2s + 1.
    unit = UnitEvolution(variants=3, revision_steps=2)
    assert (unit.llm_calls(), unit.critical_path()) == (3 + 12 + 1, 1 + 4 + 1)
    two = UnitEvolution(variants=2)  # the smallest k with a merge
    assert (two.llm_calls(), two.critical_path()) == (2 + 1, 1 + 1)
    one = UnitEvolution(variants=1, revision_steps=2)
    assert (one.llm_calls(), one.critical_path()) == (1 + 4, 1 + 4)


def test_retry_intervals_must_be_in_order_equal_is_fine() -> None:
    RetryConfig(initial_interval_seconds=5, maximum_interval_seconds=5)
    with pytest.raises(ValidationError, match=r"maximum_interval_seconds must be >= retry\."):
        RetryConfig(initial_interval_seconds=5, maximum_interval_seconds=4.9)


def test_evolution_profiles_by_name_and_an_unknown_one() -> None:
    for name, units in EVOLUTION_PROFILES.items():
        evolution = EvolutionConfig.model_validate(name)
        assert {u: evolution.for_unit(u) for u in units} == units
    with pytest.raises(ValidationError, match="unknown evolution profile 'fast': use one of off"):
        ResearchConfig.model_validate({"evolution": "fast"})
    assert EvolutionConfig.model_validate({"plan": {"variants": 2}}).plan.variants == 2


def test_node_timeouts_cover_every_node_and_activity() -> None:
    timeouts = NodeTimeouts(gap_analyzer=12)
    assert timeouts.for_node("gap_analyzer").total_seconds() == 12
    assert set(NodeTimeouts.model_fields) == {*NODE_NAMES, "heartbeat_seconds"}
    assert evolution_activity("answers", "merge") == "self_evolution_enhancer.answers.merge"
    assert ACTIVITY_NODE["self_evolution_enhancer.answers.merge"] == "retrieval_engine"
    assert len(ACTIVITY_NAMES) == len(NODE_NAMES) + 4 * 3
