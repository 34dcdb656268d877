"""The time and memory a format reader may spend on one file before the file is skipped.

A small hostile file can hold a reader for hours (a DOCX of 20,000 one-word paragraphs, a sheet
claiming a million rows) or grow it to gigabytes; the fixes to the readers remove the cases we
know, the budget bounds the ones we do not. Set by TTDR_INDEX_FILE_SECONDS and
TTDR_INDEX_FILE_MEMORY_MB (read by SharedSettings, which holds their bounds; see
local_provider.budget_of); enforced by the reader process (documents/sandbox.py)."""

from __future__ import annotations

from dataclasses import dataclass

# The variables, named in a skipped file's reason; the defaults match SharedSettings' (a test
# says so) so a LocalIndex opened without settings reads as a worker would.
SECONDS_ENV = "TTDR_INDEX_FILE_SECONDS"
MEMORY_ENV = "TTDR_INDEX_FILE_MEMORY_MB"
DEFAULT_SECONDS = 60.0
DEFAULT_MEMORY_MIB = 1024


@dataclass(frozen=True)
class FileBudget:
    seconds: float = DEFAULT_SECONDS  # wall time to read and cut one file
    memory_mib: int = DEFAULT_MEMORY_MIB  # address space the reader may add for one file
