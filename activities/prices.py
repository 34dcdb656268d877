"""What an LLM call costs in money: a price table per model, read by the worker.

The workflow cannot read files or the environment, and the client does not know which model the
worker talks to, so the worker prices every call: the LLM client puts the call's cost in the
usage it returns (LLMUsage.cost_usd) and the workflow only adds those numbers up.

Defaults are list prices per million tokens (USD, standard tier, short prompts) of a few common
models as published by their providers in 2025; prices change, so `TTDR_LLM_PRICES` names a JSON
file whose entries replace or extend them:

    {"my-model": {"input_per_million": 0.5, "output_per_million": 1.5}}

A model is found by its exact name, then by the part after its last "/" (OpenRouter's
`moonshotai/kimi-k2` is priced as `kimi-k2`). The embedded local model costs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, field_validator

from activities.settings_file import SettingsFileError, read_json
from common.settings import SharedSettings
from embedded.llama_server import MODEL_ALIAS

PRICES_ENV = "TTDR_LLM_PRICES"


class PriceConfigError(ValueError):
    """TTDR_LLM_PRICES is unusable; the message says what to fix."""


class UnpricedModel(LookupError):
    """A cost budget is set but the model has no price: the cost cannot be counted."""


class ModelPrice(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_million: float = Field(ge=0, le=10_000)
    output_per_million: float = Field(ge=0, le=10_000)

    @field_validator("input_per_million", "output_per_million")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (
            input_tokens * self.input_per_million + output_tokens * self.output_per_million
        ) / 1_000_000


def _p(inp: float, out: float) -> ModelPrice:
    return ModelPrice(input_per_million=inp, output_per_million=out)


DEFAULT_PRICES: dict[str, ModelPrice] = {
    # OpenAI
    "gpt-4.1": _p(2.00, 8.00),
    "gpt-4.1-mini": _p(0.40, 1.60),
    "gpt-4.1-nano": _p(0.10, 0.40),
    "gpt-4o": _p(2.50, 10.00),
    "gpt-4o-mini": _p(0.15, 0.60),
    "o3": _p(2.00, 8.00),
    "o4-mini": _p(1.10, 4.40),
    # Google (prompts up to 200k tokens)
    "gemini-2.5-pro": _p(1.25, 10.00),
    "gemini-2.5-flash": _p(0.30, 2.50),
    # Moonshot
    "kimi-k2-0905-preview": _p(0.60, 2.50),
    "kimi-k2": _p(0.60, 2.50),
    # DeepSeek
    "deepseek-chat": _p(0.27, 1.10),
    # The embedded llama.cpp model runs on this machine.
    MODEL_ALIAS: _p(0.0, 0.0),
}


class _PricesFile(RootModel[dict[str, ModelPrice]]):
    @field_validator("root")
    @classmethod
    def _names(cls, value: dict[str, ModelPrice]) -> dict[str, ModelPrice]:
        for name in value:
            if not name.strip():
                raise ValueError("a model name is empty")
        return value


class PriceTable:
    """Model name → price; `price_of` answers None for a model it does not know."""

    def __init__(self, prices: Mapping[str, ModelPrice]) -> None:
        self._prices = dict(prices)

    def price_of(self, model: str) -> ModelPrice | None:
        return self._prices.get(model) or self._prices.get(model.rsplit("/", 1)[-1])

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float | None:
        price = self.price_of(model)
        return None if price is None else price.cost(input_tokens, output_tokens)

    def require(self, model: str) -> ModelPrice:
        """The model's price, or UnpricedModel saying how to add one."""
        price = self.price_of(model)
        if price is None:
            raise UnpricedModel(
                f"model {model!r} has no price, so the run's max_cost_usd budget cannot be "
                f"counted: add it to the JSON file named by {PRICES_ENV} on the worker, e.g. "
                f'{{"{model}": {{"input_per_million": 0.5, "output_per_million": 1.5}}}}, '
                "or remove max_cost_usd from the config"
            )
        return price

    @classmethod
    def from_settings(cls, settings: SharedSettings) -> PriceTable:
        """The defaults, with the entries of the file named by TTDR_LLM_PRICES over them."""
        path = settings.llm_prices
        if path is None:
            return cls(DEFAULT_PRICES)
        return cls({**DEFAULT_PRICES, **load_prices_file(path)})

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PriceTable:
        """from_settings over env's TTDR_LLM_PRICES alone (tests, the desk)."""
        return cls.from_settings(SharedSettings.load_only(env, ["llm_prices"]))


def load_prices_file(path: Path) -> dict[str, ModelPrice]:
    """The file's price table, read like every settings file (1 MB, UTF-8, nesting depth)."""
    try:
        data = read_json(path, f"{PRICES_ENV}={path}")
    except SettingsFileError as err:
        raise PriceConfigError(str(err)) from None
    try:
        return _PricesFile.model_validate(data).root
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        raise PriceConfigError(
            f"{PRICES_ENV}={path}: {where}: {first['msg']} (expected "
            '{"model": {"input_per_million": USD, "output_per_million": USD}, ...})'
        ) from None
