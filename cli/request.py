"""Question + config file -> a validated ResearchRequest, before anything is contacted.

The config file is read like every settings file (activities/settings_file.py: 1 MB, UTF-8,
nesting depth; /dev/zero or a huge file ends in an error, not an endless read), must hold a JSON
object, and is validated in pydantic's strict JSON mode: "3", 3.0 and true are not integers.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from activities.settings_file import SettingsFileError, read_json
from common.errors import UsageError
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest


def first_validation_problem(err: ValidationError) -> str:
    problem = err.errors()[0]
    where = ".".join(str(p) for p in problem["loc"])
    message = problem["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def read_config(config_file: Path) -> dict[str, object]:
    """The JSON object in `config_file`, or UsageError with one line saying what is wrong."""
    try:
        raw = read_json(config_file, f"config {config_file}")
    except SettingsFileError as err:
        raise UsageError(str(err)) from None
    if not isinstance(raw, dict):
        raise UsageError(f"config {config_file} must hold a JSON object")
    return raw


def build_request(
    question: str, config_file: Path | None, max_iterations: int | None
) -> ResearchRequest:
    """Validate everything before contacting the server; raise UsageError with one clear line."""
    raw = read_config(config_file) if config_file is not None else {}
    if max_iterations is not None:
        raw["max_iterations"] = max_iterations
    return validate_request(question, raw, f"config {config_file}")


def validate_request(
    question: str, raw: dict[str, object], where: str = "config"
) -> ResearchRequest:
    """The question and a config object checked by the CLI's rules (the MCP server's too)."""
    try:
        # Strict JSON mode at the boundary: what the file says is what the run gets.
        config = ResearchConfig.model_validate_json(json.dumps(raw), strict=True)
    except ValidationError as err:
        raise UsageError(f"invalid config: {first_validation_problem(err)}") from None
    except RecursionError:
        raise UsageError(f"{where} is nested too deeply") from None
    try:
        return ResearchRequest(question=question, config=config)
    except ValidationError as err:
        raise UsageError(f"invalid question: {first_validation_problem(err)}") from None
