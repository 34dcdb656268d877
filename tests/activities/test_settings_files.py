"""Every file named by a setting is read with the bounds of `--config` (issue 26 item 3).

`TTDR_LLM_PRICES=/dev/zero` grew the worker to 6.7 GB and never reached an error; a prices
file nested 100,000 deep was a RecursionError traceback; `TEMPORAL_CONFIG_FILE=/dev/zero` made
every client and worker read forever. Each is now one line: the 1 MB cap and a depth limit.

The endless-file cases run in a child process with a memory and time limit, so the unbounded
read they test for cannot take the machine with it when it comes back.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from activities.prices import PriceConfigError, PriceTable
from activities.settings_file import MAX_DEPTH, SettingsFileError, json_depth, read_json
from common.temporal_connection import ConnectionSettingsError, load_settings
from tests.support.paths import ROOT

LIMIT = "over the 1000000-byte limit"


_LIMIT_MEMORY = "import resource\nresource.setrlimit(resource.RLIMIT_AS, (1 << 31, 1 << 31))\n"


def run_bounded(code: str) -> str:
    """`code` in a child Python (2 GiB, 60 s): what it printed, or why it was stopped."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _LIMIT_MEMORY + code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "still reading after 60 s"
    return done.stdout + done.stderr[-300:]


def test_a_prices_file_from_an_endless_device_is_one_line() -> None:
    out = run_bounded(
        "from activities.prices import PriceTable, PriceConfigError\n"
        "try:\n"
        "    PriceTable.from_env({'TTDR_LLM_PRICES': '/dev/zero'})\n"
        "except PriceConfigError as err:\n"
        "    print('refused:', err)\n"
    )
    assert out.strip() == f"refused: TTDR_LLM_PRICES=/dev/zero is {LIMIT}", out


def test_a_temporal_config_file_from_an_endless_device_is_one_line() -> None:
    out = run_bounded(
        "from common.temporal_connection import load_settings, ConnectionSettingsError\n"
        "try:\n"
        "    load_settings({'TEMPORAL_CONFIG_FILE': '/dev/zero'})\n"
        "except ConnectionSettingsError as err:\n"
        "    print('refused:', err)\n"
    )
    assert out.strip() == f"refused: TEMPORAL_CONFIG_FILE /dev/zero is {LIMIT}", out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"m": ' * 5_000 + b"1" + b"}" * 5_000, "nested too deeply"),
        (b" " * 1_000_001, LIMIT),
        (b'{"m": {"input_per_million": 1, "output_per_million": \xff}}', "is not UTF-8 text"),
    ],
)
def test_a_hostile_prices_file_is_one_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "prices.json"
    path.write_bytes(content)
    with pytest.raises(PriceConfigError) as caught:
        PriceTable.from_env({"TTDR_LLM_PRICES": str(path)})
    message = str(caught.value)
    assert message.startswith(f"TTDR_LLM_PRICES={path}") and expected in message
    assert "\n" not in message


def test_a_huge_temporal_config_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "temporal.toml"
    path.write_bytes(b"# comment\n" * 200_000)
    with pytest.raises(ConnectionSettingsError, match=f"TEMPORAL_CONFIG_FILE {path} is {LIMIT}"):
        load_settings({"TEMPORAL_CONFIG_FILE": str(path)})


def test_a_temporal_config_file_still_works(tmp_path: Path) -> None:
    path = tmp_path / "temporal.toml"
    path.write_text('[profile.default]\naddress = "example.org:7233"\nnamespace = "research"\n')
    settings = load_settings({"TEMPORAL_CONFIG_FILE": str(path)})
    assert (settings.address, settings.namespace) == ("example.org:7233", "research")


def test_nesting_is_counted_without_recursion_and_strings_do_not_count(tmp_path: Path) -> None:
    assert json_depth('{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert json_depth("[" * 1_000_000) == 1_000_000
    path = tmp_path / "ok.json"
    nested = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    path.write_text(nested)
    assert read_json(path, "x") is not None
    path.write_text("[" + nested + "]")
    with pytest.raises(SettingsFileError, match="x is nested too deeply"):
        read_json(path, "x")
