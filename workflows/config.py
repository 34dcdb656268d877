"""ResearchConfig: every knob of a research run, validated before any workflow starts.

The config travels inside the workflow input, so it must hold no secrets and no environment
reads: everything the workflow needs to decide is here, passed in by the client.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The one table of the TTD-DR nodes: the workflow, the activities' registration, the live-control
# commands and the per-node timeouts below all read it (a test checks NodeTimeouts against it).
NodeName = Literal[
    "research_planner",
    "draft_generator",
    "gap_analyzer",
    "retrieval_engine",
    "information_integrator",
    "quality_assessor",
    "report_synthesizer",
]
NODE_NAMES: tuple[NodeName, ...] = get_args(NodeName)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryConfig(_Strict):
    """Temporal retry policy for every node activity (LLM/search faults are retried here)."""

    maximum_attempts: int = Field(5, ge=1, le=20)
    initial_interval_seconds: float = Field(1.0, gt=0, le=60)
    backoff_coefficient: float = Field(2.0, ge=1, le=10)
    maximum_interval_seconds: float = Field(60.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _interval_order(self) -> RetryConfig:
        if self.maximum_interval_seconds < self.initial_interval_seconds:
            raise ValueError(
                "retry.maximum_interval_seconds must be >= retry.initial_interval_seconds"
            )
        return self


class NodeTimeouts(_Strict):
    """Start-to-close timeout of one attempt of each node, in seconds.

    Generous defaults: a local CPU model or a long report on a slow provider takes minutes.
    `heartbeat_seconds` bounds how long a dead worker goes unnoticed during a long LLM call.
    """

    research_planner: float = Field(300, ge=1, le=3600)
    draft_generator: float = Field(600, ge=1, le=3600)
    gap_analyzer: float = Field(300, ge=1, le=3600)
    retrieval_engine: float = Field(300, ge=1, le=3600)
    information_integrator: float = Field(600, ge=1, le=3600)
    quality_assessor: float = Field(300, ge=1, le=3600)
    report_synthesizer: float = Field(900, ge=1, le=3600)
    heartbeat_seconds: float = Field(30, ge=1, le=600)

    def for_node(self, node: NodeName) -> timedelta:
        return timedelta(seconds=getattr(self, node))


EvolvableUnit = Literal["plan", "questions", "answers", "report"]
EVOLVABLE_UNITS: tuple[EvolvableUnit, ...] = get_args(EvolvableUnit)
UNIT_NODE: dict[EvolvableUnit, NodeName] = {
    "plan": "research_planner",
    "questions": "gap_analyzer",
    "answers": "retrieval_engine",
    "report": "report_synthesizer",
}
EVOLUTION_NODE = "self_evolution_enhancer"
EvolutionStep = Literal["judge", "revise", "merge"]
EVOLUTION_STEPS: tuple[EvolutionStep, ...] = get_args(EvolutionStep)


def evolution_activity(unit: EvolvableUnit, step: EvolutionStep) -> str:
    """Activity type of one evolution step, e.g. self_evolution_enhancer.questions.judge."""
    return f"{EVOLUTION_NODE}.{unit}.{step}"


# Every activity type the workflow calls and the worker registers, with the node it belongs to
# (an evolution step runs with its unit's node timeout). Its order is fixed: it also gives each
# activity its place in a call's seed (workflows/calls.py).
ACTIVITY_NODE: dict[str, NodeName] = {
    **{node: node for node in NODE_NAMES},
    **{
        evolution_activity(unit, step): UNIT_NODE[unit]
        for unit in EVOLVABLE_UNITS
        for step in EVOLUTION_STEPS
    },
}
ACTIVITY_NAMES: tuple[str, ...] = tuple(ACTIVITY_NODE)
# What `break_before` accepts: a node, or every self-evolution step at once.
BREAKABLE: tuple[str, ...] = (*NODE_NAMES, EVOLUTION_NODE)


class UnitEvolution(_Strict):
    """Self-evolution of one unit: k variants, each judged and revised s times, then merged."""

    variants: int = Field(1, ge=1, le=8, description="k: variants sampled in parallel")
    revision_steps: int = Field(0, ge=0, le=5, description="s: judge-and-revise rounds")

    @property
    def enabled(self) -> bool:
        return self.variants > 1 or self.revision_steps > 0

    def llm_calls(self) -> int:
        """k samples + s rounds of (k judges + k revisions) + one merge when k > 1."""
        k, s = self.variants, self.revision_steps
        return k + 2 * s * k + (1 if k > 1 else 0)

    def critical_path(self) -> int:
        """LLM calls one after another: sample, s x (judge, revise), merge."""
        return 1 + 2 * self.revision_steps + (1 if self.variants > 1 else 0)


_OFF = UnitEvolution()
EVOLUTION_PROFILES: dict[str, dict[str, UnitEvolution]] = {
    # No evolution: every unit is one LLM call.
    "off": {"plan": _OFF, "questions": _OFF, "answers": _OFF, "report": _OFF},
    # The paper's ports: 5 question variants, 3 answer variants, 1 plan and report, one
    # judge-and-revise round each. About 8x the calls of "off" per iteration.
    "paper": {
        "plan": UnitEvolution(variants=1, revision_steps=1),
        "questions": UnitEvolution(variants=5, revision_steps=1),
        "answers": UnitEvolution(variants=3, revision_steps=1),
        "report": UnitEvolution(variants=1, revision_steps=1),
    },
    # For the embedded 135M model on a CPU: two question variants merged, and one
    # judge-and-revise round of the report. Every step kind runs; the demo stays short.
    "cheap": {
        "plan": _OFF,
        "questions": UnitEvolution(variants=2, revision_steps=0),
        "answers": _OFF,
        "report": UnitEvolution(variants=1, revision_steps=1),
    },
}


class EvolutionConfig(_Strict):
    """Per-unit self-evolution: the product's test-time-scaling dial. Accepts a profile name
    ("off", "paper", "cheap") in place of the object."""

    plan: UnitEvolution = EVOLUTION_PROFILES["paper"]["plan"]
    questions: UnitEvolution = EVOLUTION_PROFILES["paper"]["questions"]
    answers: UnitEvolution = EVOLUTION_PROFILES["paper"]["answers"]
    report: UnitEvolution = EVOLUTION_PROFILES["paper"]["report"]
    variant_temperature_step: float = Field(
        0.15, ge=0.0, le=0.5, description="variant i samples at temperature + i x step"
    )

    @model_validator(mode="before")
    @classmethod
    def _profile_name(cls, value: object) -> object:
        if isinstance(value, str):
            if value not in EVOLUTION_PROFILES:
                raise ValueError(
                    f"unknown evolution profile {value!r}: use one of "
                    f"{', '.join(EVOLUTION_PROFILES)} or an object"
                )
            return EVOLUTION_PROFILES[value]
        return value

    def for_unit(self, unit: EvolvableUnit) -> UnitEvolution:
        return getattr(self, unit)


class ReportConfig(_Strict):
    """How citations are checked and what the reader gets (docs/use/citations.md)."""

    support_threshold: float = Field(
        0.6, ge=0.0, le=1.0, description="support score a citation needs to be kept"
    )
    unsupported: Literal["mark", "keep", "drop"] = Field(
        "mark", description="a claim no retrieved source supports: marked, kept as is, or dropped"
    )
    appendix: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Research notes (the findings with their sources) after the report; auto: "
        "when the body cites fewer than half of the sources the findings cite",
    )
    show_unsupported: bool = Field(
        False,
        description="list the model's statements no source supports in a marked appendix "
        "(they are never printed in the body)",
    )


class ResearchConfig(_Strict):
    """Loop bounds, budgets, sampling and reliability settings of one research run."""

    max_iterations: int = Field(5, ge=1, le=30, description="denoising steps at most")
    quality_threshold: float = Field(
        0.8, ge=0.0, le=1.0, description="stop once the judge scores the draft at least this"
    )
    questions_per_iteration: int = Field(
        2, ge=1, le=8, description="search questions per step, answered in parallel"
    )
    search_results_per_question: int = Field(5, ge=1, le=20)
    max_llm_calls: int = Field(500, ge=1, le=20_000, description="LLM-call budget of the whole run")
    max_total_tokens: int = Field(
        2_000_000, ge=1000, le=100_000_000, description="token budget (input + output)"
    )
    max_output_tokens: int = Field(
        1500, ge=64, le=32_000, description="cap on one completion's length"
    )
    max_cost_usd: float | None = Field(
        None,
        gt=0,
        le=1_000_000,
        description="money budget in USD, priced by the worker's price table (None: no budget)",
    )
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    judge_temperature: float = Field(0.0, ge=0.0, le=2.0)
    seed: int = Field(0, ge=0, le=2**31 - 1, description="base sampling seed sent to the LLM")
    json_repair_attempts: int = Field(
        1, ge=0, le=3, description="re-asks after a malformed structured answer"
    )
    evolution: EvolutionConfig = EvolutionConfig()
    continue_as_new_every: int = Field(
        0,
        ge=0,
        le=30,
        description="continue as new after this many iterations (0: when the server suggests)",
    )
    timeouts: NodeTimeouts = NodeTimeouts()
    retry: RetryConfig = RetryConfig()
    report: ReportConfig = ReportConfig()
    review_plan: bool = Field(
        False, description="wait after the plan for a person to approve, edit or steer it"
    )
    plan_review_timeout_seconds: int = Field(
        3600, ge=1, le=7 * 86_400, description="then go on with the proposed plan"
    )
    skip_report_when_unchanged: bool = Field(
        True,
        description="a watched topic's run that finds nothing new says so in one line and "
        "skips the report synthesis",
    )

    @model_validator(mode="after")
    def _budget_fits_one_iteration(self) -> ResearchConfig:
        needed = minimum_llm_calls(self)
        if self.max_llm_calls < needed:
            raise ValueError(
                f"max_llm_calls={self.max_llm_calls} cannot fit a single iteration: plan, "
                f"draft, one loop step with {self.questions_per_iteration} question(s) and the "
                f"report need at least {needed} calls with these evolution and re-ask settings"
            )
        return self

    def max_calls_per_node_call(self) -> int:
        """Worst case of LLM calls one node activity makes (first ask + JSON re-asks)."""
        return 1 + self.json_repair_attempts


def calls_per_iteration(config: ResearchConfig) -> int:
    """LLM calls of one loop step when every answer is valid the first time."""
    evolution = config.evolution
    return (
        evolution.questions.llm_calls()  # gap_analyzer
        + config.questions_per_iteration * evolution.answers.llm_calls()  # retrieval_engine
        + 1  # information_integrator
        + 1  # quality_assessor
    )


def report_calls(config: ResearchConfig) -> int:
    return config.evolution.report.llm_calls()


def minimum_llm_calls(config: ResearchConfig) -> int:
    """research_planner + draft_generator + one iteration + report_synthesizer, in the worst
    case: every call re-asked json_repair_attempts times after a malformed answer."""
    calls = config.evolution.plan.llm_calls() + 1 + calls_per_iteration(config)
    return (calls + report_calls(config)) * config.max_calls_per_node_call()
