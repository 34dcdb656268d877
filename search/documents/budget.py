"""The time and memory a format reader may spend on one file before the file is skipped.

A small hostile file can hold a reader for hours (a DOCX of 20,000 one-word paragraphs, a sheet
claiming a million rows) or grow it to gigabytes; the fixes to the readers remove the cases we
know, the budget bounds the ones we do not. Set by TTDR_INDEX_FILE_SECONDS and
TTDR_INDEX_FILE_MEMORY_MB; enforced by the reader process (documents/sandbox.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SECONDS_ENV = "TTDR_INDEX_FILE_SECONDS"
MEMORY_ENV = "TTDR_INDEX_FILE_MEMORY_MB"
DEFAULT_SECONDS = 60.0
DEFAULT_MEMORY_MIB = 1024
_SECONDS_RANGE = (1.0, 86_400.0)
_MEMORY_RANGE = (64, 1_048_576)


class BudgetConfigError(ValueError):
    """A budget setting is not a number in its range; the message is one line."""


@dataclass(frozen=True)
class FileBudget:
    seconds: float = DEFAULT_SECONDS  # wall time to read and cut one file
    memory_mib: int = DEFAULT_MEMORY_MIB  # address space the reader may add for one file

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FileBudget:
        return cls(
            seconds=_number(env, SECONDS_ENV, DEFAULT_SECONDS, _SECONDS_RANGE, "seconds"),
            memory_mib=int(_number(env, MEMORY_ENV, DEFAULT_MEMORY_MIB, _MEMORY_RANGE, "MiB")),
        )


def _number(
    env: Mapping[str, str],
    name: str,
    default: float,
    bounds: tuple[float, float],
    unit: str,
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    # ASCII digits only: float() would also take "١٢٠" or "1e3".
    digits = raw.replace(".", "", 1)
    low, high = bounds
    if not (digits.isascii() and digits.isdigit() and low <= float(raw) <= high):
        raise BudgetConfigError(
            f"{name}={raw!r} is not a number of {unit} between {low:g} and {high:g} "
            f"(unset it for {default:g})"
        )
    return float(raw)
