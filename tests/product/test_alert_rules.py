"""The Prometheus alerting rules (deploy/prometheus/alerts.yml), checked by Prometheus's own
tool from Debian's `prometheus` package: syntax (`promtool check rules`), behaviour
(`promtool test rules`, a firing and a quiet case per alert), the scrape configuration of the
compose stack (`promtool check config`), and the thresholds `client.py top` warns with."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from inspection.runs import BUDGET_WARN_RATIO, STALL_SECONDS, WORKER_WAIT_SECONDS
from tests.support.paths import ROOT

RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
INSTALL = ROOT / "scripts" / "install-prometheus"


@pytest.fixture(scope="module")
def promtool() -> str:
    """Debian's promtool, installed by scripts/install-prometheus (as CI does) when missing."""
    if shutil.which("promtool") is None:
        result = subprocess.run([str(INSTALL)], capture_output=True, text=True, timeout=600)
        if result.returncode != 0 or shutil.which("promtool") is None:
            pytest.skip(f"cannot install Debian's prometheus package: {result.stderr.strip()}")
    found = shutil.which("promtool")
    assert found
    return found


def load(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def alerts() -> dict[str, dict[str, Any]]:
    return {
        rule["alert"]: rule
        for group in load(RULES)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def test_promtool_accepts_the_rules(promtool: str) -> None:
    result = run(promtool, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


def test_every_alert_fires_in_its_unit_test_and_the_tests_pass(promtool: str) -> None:
    tested = load(RULE_TESTS)
    firing = {
        case["alertname"]
        for test in tested["tests"]
        for case in test["alert_rule_test"]
        if case.get("exp_alerts")
    }
    assert firing == set(alerts()), "each alert needs a unit test where it fires"
    result = run(promtool, "test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_notices_a_broken_rule(promtool: str, tmp_path: Path) -> None:
    """The checks have teeth: a wrong threshold fails the unit tests, bad PromQL the syntax."""
    shifted = tmp_path / "alerts.yml"
    shifted.write_text(RULES.read_text().replace("(ttdr_run_budget_used) >= 0.8", "(x) >= 0.8"))
    (tmp_path / "alerts.test.yml").write_text(RULE_TESTS.read_text())
    assert run(promtool, "test", "rules", str(tmp_path / "alerts.test.yml")).returncode != 0
    shifted.write_text(RULES.read_text().replace("rate(", "rate((", 1))
    assert run(promtool, "check", "rules", str(shifted)).returncode != 0


def test_the_alerts_and_client_top_use_the_same_thresholds() -> None:
    rules = alerts()

    def threshold(name: str) -> float:
        found = re.findall(r"[<>]=?\s*([\d.]+)", rules[name]["expr"])
        assert len(set(found)) == 1, (name, found)
        return float(found[0])

    assert threshold("TtdrRunStalled") == STALL_SECONDS
    assert threshold("TtdrRunNearBudget") == BUDGET_WARN_RATIO
    assert threshold("TtdrWorkersSaturated") == WORKER_WAIT_SECONDS
    for rule in rules.values():
        assert rule["labels"]["severity"] in ("info", "warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_promtool_accepts_the_compose_scrape_configuration(promtool: str) -> None:
    result = run(promtool, "check", "config", str(PROMETHEUS_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    config = load(PROMETHEUS_CONFIG)
    assert config["rule_files"] == [RULES.name], "the alert rules are loaded"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {"ttdr-worker", "temporal-sdk", "temporal-server"} <= set(jobs)
