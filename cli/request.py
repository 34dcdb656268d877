"""Question + config file -> a validated ResearchRequest, before anything is contacted."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from cli.errors import UsageError
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest


def first_validation_problem(err: ValidationError) -> str:
    problem = err.errors()[0]
    where = ".".join(str(p) for p in problem["loc"])
    message = problem["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def build_request(
    question: str, config_file: Path | None, max_iterations: int | None
) -> ResearchRequest:
    """Validate everything before contacting the server; raise UsageError with one clear line."""
    raw: dict[str, object] = {}
    if config_file is not None:
        try:
            raw = json.loads(config_file.read_text(encoding="utf-8"))
        except OSError as err:
            raise UsageError(f"cannot read config {config_file}: {err.strerror}") from None
        except json.JSONDecodeError as err:
            raise UsageError(f"config {config_file} is not valid JSON: {err}") from None
        if not isinstance(raw, dict):
            raise UsageError(f"config {config_file} must hold a JSON object")
    if max_iterations is not None:
        raw["max_iterations"] = max_iterations
    try:
        config = ResearchConfig.model_validate(raw)
    except ValidationError as err:
        raise UsageError(f"invalid config: {first_validation_problem(err)}") from None
    try:
        return ResearchRequest(question=question, config=config)
    except ValidationError as err:
        raise UsageError(f"invalid question: {first_validation_problem(err)}") from None
