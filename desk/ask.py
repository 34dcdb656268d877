"""The ask form: fields -> a ResearchRequest checked by the CLI's own rules (cli/request.py),
and what the run can cost at most."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from activities.llm_settings import LLMConfigError, LLMSettings
from activities.prices import PriceConfigError, PriceTable
from cli.request import validate_request
from common.errors import UsageError
from workflows.config import EVOLUTION_PROFILES, ResearchConfig
from workflows.models import ResearchRequest

PROFILES = tuple(EVOLUTION_PROFILES)  # off, paper, cheap
SEARCHES = ("corpus", "web")
# Form field -> ResearchConfig field, and the type its text is read as.
NUMBER_FIELDS: dict[str, type] = {
    "max_iterations": int,
    "max_llm_calls": int,
    "max_total_tokens": int,
    "max_cost_usd": float,
}


@dataclass(frozen=True)
class Ask:
    request: ResearchRequest
    search: str


def _number(text: str, kind: type) -> object:
    """The number the text says, as JSON would carry it (2.5 stays a float even where an
    integer is wanted), else the text itself: the config's strict validation then refuses it
    with the message the CLI gives for that value in a config file."""
    for reader in (kind, float):
        try:
            return reader(text)
        except ValueError:
            continue
    return text


def read_form(form: Mapping[str, str]) -> Ask:
    """The request the form asks for, or UsageError with the CLI's one-line message."""
    raw: dict[str, object] = {}
    profile = form.get("profile", "off")
    raw["evolution"] = profile  # an unknown name gets the config's own message
    for name, kind in NUMBER_FIELDS.items():
        text = form.get(name, "").strip()
        if text:
            raw[name] = _number(text, kind)
    raw["review_plan"] = form.get("review_plan") == "on"
    search = form.get("search", "corpus")
    if search not in SEARCHES:
        raise UsageError(f"search must be one of {', '.join(SEARCHES)}, not {search!r}")
    return Ask(validate_request(form.get("question", ""), raw, "form"), search)


@dataclass(frozen=True)
class PriceHint:
    """USD per token of the dearest model this host's settings name, or why there is none."""

    per_token: float | None
    note: str


def price_hint(env: Mapping[str, str] | None = None) -> PriceHint:
    env = os.environ if env is None else env
    try:
        llm = LLMSettings.from_env(env)
        table = PriceTable.from_env(env)
    except (LLMConfigError, PriceConfigError) as err:
        return PriceHint(None, f"cannot price the model here: {err}")
    if llm is None:
        return PriceHint(0.0, "the embedded local model costs nothing")
    prices = [table.price_of(model) for model in {llm.model, llm.judge_model}]
    if any(price is None for price in prices):
        return PriceHint(None, f"model {llm.model} has no price here (TTDR_LLM_PRICES)")
    per_million = max(max(p.input_per_million, p.output_per_million) for p in prices if p)
    return PriceHint(per_million / 1_000_000, f"priced as {llm.model}")


def max_cost(config: ResearchConfig, hint: PriceHint) -> str:
    """One line: the most the run can cost — its money budget, or its token budget at the
    dearest price per token, whichever is lower."""
    bounds = []
    if config.max_cost_usd is not None:
        bounds.append(config.max_cost_usd)
    if hint.per_token is not None:
        bounds.append(config.max_total_tokens * hint.per_token)
    if not bounds:
        return (
            f"at most {config.max_llm_calls} LLM calls and {config.max_total_tokens} tokens "
            f"({hint.note}; set max cost for a money cap)"
        )
    return f"at most ${min(bounds):.2f} ({hint.note}; {config.max_total_tokens} tokens)"
