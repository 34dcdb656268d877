"""Numeric settings and options take ASCII digits only; the LLM rate has a floor (issue 26 item 13).

Python's int() and float() read Arabic-Indic and full-width digits, and str.isdigit() accepts
them: `TTDR_LLM_MAX_RPM` in Arabic-Indic digits was 120 and a full-width `--priority 3` was 3.
`TTDR_LLM_MAX_RPM=0.0001` (about one call a week) was accepted. Each is now refused in one line
before anything starts.
"""

from __future__ import annotations

import argparse

import pytest

from activities.llm_settings import LLMConfigError, LLMSettings
from cli.main import parser
from cli.priority import priority_from_args
from common.errors import UsageError
from common.setting_numbers import ascii_float, ascii_int
from common.settings import ClientSettings, SettingsError, WorkerSettings
from desk.settings import DeskSettingsError, load_settings
from observability.metrics import MetricsConfigError, MetricsSettings
from worker import StartupError, llm_max_rpm_from_env

ARABIC_120 = "\u0661\u0662\u0660"
FULL_WIDTH_3 = "\uff13"


@pytest.mark.parametrize(
    "argv",
    [
        ["research", "q?", "--priority", FULL_WIDTH_3],
        ["research", "q?", "--max-iterations", ARABIC_120],
        ["research", "q?", "--fairness-key", "k", "--fairness-weight", FULL_WIDTH_3],
        ["batch", "questions.jsonl", "--concurrency", "\u0664"],
        ["top", "--interval", "\u0662"],
        ["search", "x", "-k", FULL_WIDTH_3],
    ],
)
def test_an_option_in_other_digits_is_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        parser().parse_args(argv)
    assert stopped.value.code == 2
    assert "in ASCII digits (0-9" in capsys.readouterr().err


def test_ascii_options_still_parse() -> None:
    args = parser().parse_args(
        ["research", "q?", "--priority", "2", "--max-iterations", "3", "--fairness-weight", "0.5"]
    )
    assert (args.priority, args.max_iterations, args.fairness_weight) == (2, 3, 0.5)
    assert parser().parse_args(["top", "--interval", "1.5"]).interval == 1.5


def test_a_priority_setting_in_other_digits_is_refused() -> None:
    options = argparse.Namespace(priority=None, fairness_key=None, fairness_weight=None)
    with pytest.raises(UsageError, match="TTDR_PRIORITY must be an integer from 1 to 5"):
        ClientSettings.load({"TTDR_PRIORITY": FULL_WIDTH_3})
    assert (
        priority_from_args(options, ClientSettings.load({"TTDR_PRIORITY": " 2 "})).priority_key == 2
    )


@pytest.mark.parametrize("raw", ["0.0001", "0.5", ARABIC_120, "\uff11\uff12\uff10", "1_000"])
def test_an_llm_rate_below_one_a_minute_or_in_other_digits_is_refused(raw: str) -> None:
    with pytest.raises(StartupError, match="from 1 to 1000000 in ASCII digits"):
        llm_max_rpm_from_env({"TTDR_LLM_MAX_RPM": raw})


def test_an_llm_rate_of_one_a_minute_is_the_floor() -> None:
    assert llm_max_rpm_from_env({"TTDR_LLM_MAX_RPM": "1"}) == 1.0
    assert llm_max_rpm_from_env({"TTDR_LLM_MAX_RPM": "120"}) == 120.0


@pytest.mark.parametrize("raw", ["\u0669\u0664\u0666\u0664", "\uff19\uff14\uff16\uff14"])
def test_a_metrics_port_in_other_digits_is_refused(raw: str) -> None:
    # The worker's settings model judges the port now (one line naming it, exit 2 at start).
    with pytest.raises(SettingsError, match="TTDR_METRICS_PORT must be an integer from 1"):
        MetricsSettings.from_env("ttdr-worker", {"TTDR_METRICS_PORT": raw})


def test_an_otlp_interval_in_other_digits_is_refused() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
           "OTEL_METRIC_EXPORT_INTERVAL": "\u0665"}  # fmt: skip
    with pytest.raises(MetricsConfigError, match="is not a"):
        MetricsSettings.from_env("ttdr-worker", env)


@pytest.mark.parametrize("raw", ["\u0663\u0660", "nan", "inf", "-1"])
def test_the_run_metrics_interval_takes_ascii_digits(raw: str) -> None:
    with pytest.raises(SettingsError, match="TTDR_RUN_METRICS_SECONDS must be a number"):
        WorkerSettings.load({"TTDR_RUN_METRICS_SECONDS": raw})


@pytest.mark.parametrize("name", ["TTDR_LLM_TIMEOUT_SECONDS", "TTDR_LLM_MAX_RESPONSE_BYTES"])
def test_llm_settings_in_other_digits_stay_refused(name: str) -> None:
    env = {"TTDR_LLM_BASE_URL": "http://127.0.0.1:1/v1", "TTDR_LLM_MODEL": "m", name: ARABIC_120}
    with pytest.raises(LLMConfigError, match=name):
        LLMSettings.from_env(env)


def test_the_readers() -> None:
    assert ascii_int(" -7 ") == -7 and ascii_float("1.5e2") == 150.0 and ascii_float(".5") == 0.5
    for bad in ("", "1 2", "0x10", "nan", "inf", "1_0", ARABIC_120, "9" * 31):
        with pytest.raises(ValueError, match="ASCII digits"):
            ascii_float(bad)
    with pytest.raises(ValueError, match="ASCII digits"):
        ascii_int("1.0")


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("TTDR_SERVE_RUNS_PER_MINUTE", "\u0666"),
        ("TTDR_SERVE_MAX_LLM_CALLS", FULL_WIDTH_3),
        ("TTDR_SERVE_MAX_COST_USD", "nan"),
    ],
)
def test_desk_settings_in_other_digits_are_refused(name: str, raw: str) -> None:
    with pytest.raises(DeskSettingsError, match=f"{name} must be an? [a-z]+ in ASCII digits"):
        load_settings("127.0.0.1", 8400, {name: raw})
