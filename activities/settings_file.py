"""Files named by a setting, read with bounds: `--config`, TTDR_LLM_PRICES, TEMPORAL_CONFIG_FILE.

One reader for all of them, so each gets the same limits and the same one-line errors: at most
MAX_SETTINGS_FILE_BYTES (a full config is about 2 KB; `/dev/zero` or a huge file ends in an
error after 1 MB is read, not in an endless read), UTF-8 text, and for JSON at most MAX_DEPTH
levels of nesting, counted before the parser runs (a file nested 100,000 deep was a
RecursionError traceback). `what` names the file in every message: "config x.json",
"TTDR_LLM_PRICES=/path".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

MAX_SETTINGS_FILE_BYTES = 1_000_000
MAX_DEPTH = 64  # a config is 3 levels deep, a price table 2
# A JSON string (skipped whole, so brackets inside it do not count) or one bracket.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class SettingsFileError(ValueError):
    """The file cannot be used; the message names it and says why, in one line."""


def read_bounded(path: Path, what: str) -> bytes:
    """The file's bytes, at most MAX_SETTINGS_FILE_BYTES of them (read no further)."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_SETTINGS_FILE_BYTES + 1)
    except OSError as err:
        raise SettingsFileError(f"{what} cannot be read: {err.strerror}") from None
    if len(data) > MAX_SETTINGS_FILE_BYTES:
        raise SettingsFileError(f"{what} is over the {MAX_SETTINGS_FILE_BYTES}-byte limit")
    return data


def read_text(path: Path, what: str) -> str:
    data = read_bounded(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SettingsFileError(
            f"{what} is not UTF-8 text (byte {err.start} is 0x{data[err.start]:02x})"
        ) from None


def json_depth(text: str) -> int:
    """How deeply the JSON text nests arrays and objects (linear, no recursion)."""
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def read_json(path: Path, what: str) -> object:
    """The JSON value in the file, or SettingsFileError with one line saying what is wrong."""
    text = read_text(path, what)
    if json_depth(text) > MAX_DEPTH:
        raise SettingsFileError(f"{what} is nested too deeply (over {MAX_DEPTH} levels)")
    try:
        return json.loads(text)
    except RecursionError:  # cannot happen below MAX_DEPTH; kept as the last line of defence
        raise SettingsFileError(f"{what} is nested too deeply") from None
    except json.JSONDecodeError as err:
        raise SettingsFileError(f"{what} is not valid JSON: {err}") from None
    except ValueError as err:  # e.g. an integer of thousands of digits
        raise SettingsFileError(f"{what} is not valid JSON: {str(err).split(':')[0]}") from None
