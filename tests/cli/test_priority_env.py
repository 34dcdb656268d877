"""A bad fairness key from the environment blames the variable, not an option the user never
typed (issue 28)."""

from __future__ import annotations

import argparse

import pytest

from cli.priority import priority_from_args
from common.errors import UsageError
from common.settings import ClientSettings, SettingsError


def no_options() -> argparse.Namespace:
    return argparse.Namespace(priority=None, fairness_key=None, fairness_weight=None)


@pytest.mark.parametrize(
    ("value", "message"),
    [(" \t ", "TTDR_FAIRNESS_KEY must be printable text"), ("k" * 65, "TTDR_FAIRNESS_KEY is over")],
)
def test_a_bad_fairness_key_variable_is_named(value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        priority_from_args(no_options(), ClientSettings.load({"TTDR_FAIRNESS_KEY": value}))


def test_a_bad_fairness_key_option_is_named_even_with_the_variable_set() -> None:
    args = no_options()
    args.fairness_key = " "
    with pytest.raises(UsageError, match="--fairness-key must be printable text"):
        priority_from_args(args, ClientSettings.load({"TTDR_FAIRNESS_KEY": "bob"}))


def test_a_command_called_without_cli_main_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """eval.run parses `batch`'s arguments itself and calls the command: there is no settings
    attribute cli/main.py would have set, and the run must still start (it failed with an
    AttributeError at 7793791)."""
    monkeypatch.setenv("TTDR_PRIORITY", "4")
    assert priority_from_args(no_options()).priority_key == 4
    monkeypatch.setenv("TTDR_PRIORITY", "9")
    with pytest.raises(SettingsError, match="TTDR_PRIORITY must be an integer from 1 to 5"):
        priority_from_args(no_options())
