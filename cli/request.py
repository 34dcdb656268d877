"""Question + config file -> a validated ResearchRequest, before anything is contacted.

The config file is read with a size limit (MAX_CONFIG_BYTES: /dev/zero or a huge file ends in
an error, not an endless read), must be UTF-8 JSON holding an object, and is validated in
pydantic's strict JSON mode: "3", 3.0 and true are not integers.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from cli.errors import UsageError
from workflows.config import ResearchConfig
from workflows.models import ResearchRequest

MAX_CONFIG_BYTES = 1_000_000  # a full config is about 2 KB


def first_validation_problem(err: ValidationError) -> str:
    problem = err.errors()[0]
    where = ".".join(str(p) for p in problem["loc"])
    message = problem["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def read_config(config_file: Path) -> dict[str, object]:
    """The JSON object in `config_file`, or UsageError with one line saying what is wrong."""
    try:
        with config_file.open("rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise UsageError(f"cannot read config {config_file}: {err.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise UsageError(f"config {config_file} is over the {MAX_CONFIG_BYTES}-byte limit")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UsageError(
            f"config {config_file} is not UTF-8 text (byte {err.start} is 0x{data[err.start]:02x})"
        ) from None
    try:
        raw = json.loads(text)
    except RecursionError:
        raise UsageError(f"config {config_file} is nested too deeply") from None
    except json.JSONDecodeError as err:
        raise UsageError(f"config {config_file} is not valid JSON: {err}") from None
    except ValueError as err:  # e.g. an integer of thousands of digits
        reason = str(err).split(":")[0]
        raise UsageError(f"config {config_file} is not valid JSON: {reason}") from None
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
