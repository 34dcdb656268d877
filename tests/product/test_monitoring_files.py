"""The compose stack's monitoring (Prometheus, Grafana), checked without Docker: the dashboard's
JSON and queries (each PromQL expression parsed by Debian's promtool), the provisioning files and
how docker-compose.yml wires them, and that every metric they use is documented on the Monitoring
page (docs/operate/monitoring.md)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.support.paths import ROOT

DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "ttdr.json"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = DEPLOY / "grafana" / "provisioning" / "dashboards" / "ttdr.yml"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
INSTALL = ROOT / "scripts" / "install-prometheus"
MONITORING_DOC = ROOT / "docs" / "operate" / "monitoring.md"
# What the issue asks the dashboard to show, as words of panel titles.
REQUIRED_PANELS = (
    "runs in flight",
    "llm calls / min",
    "tokens / min",
    "latency p95 by node",
    "retries",
    "schedule-to-start",
    "worker cpu",
    "worker memory",
)
METRIC = re.compile(r"\b((?:ttdr|gen_ai|temporal|process)_[a-z_]+)")
SUFFIXES = ("_bucket", "_sum", "_count")


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return load_yaml(ROOT / "docker-compose.yml")["services"]


def expressions(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """{host source: container target} of a service's bind mounts."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        found[source] = target
    return found


def test_the_dashboard_is_well_formed_and_shows_what_an_operator_watches(
    dashboard: dict[str, Any],
) -> None:
    assert dashboard["uid"] and dashboard["title"] and isinstance(dashboard["schemaVersion"], int)
    panels = dashboard["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    titles = " | ".join(panel["title"].lower() for panel in panels)
    for wanted in REQUIRED_PANELS:
        assert wanted in titles, wanted
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"])
                for y in range(pos["y"], pos["y"] + pos["h"])}  # fmt: skip
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
        assert panel["targets"], panel["title"]
        assert panel["description"], panel["title"]


def test_every_query_uses_the_provisioned_data_source(dashboard: dict[str, Any]) -> None:
    uid = load_yaml(DATASOURCES)["datasources"][0]["uid"]
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid, panel["title"]


def test_promtool_parses_every_dashboard_query(dashboard: dict[str, Any], tmp_path: Path) -> None:
    """Each expression, as a recording rule (Grafana's $__rate_interval becomes 1m), goes through
    `promtool check rules`, Prometheus's own parser."""
    if shutil.which("promtool") is None:
        result = subprocess.run([str(INSTALL)], capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            pytest.skip(f"cannot install Debian's prometheus package: {result.stderr.strip()}")
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": e.replace("$__rate_interval", "1m")}
                    for i, e in enumerate(expressions(dashboard))
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    result = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(json.dumps({"groups": [{"name": "x", "rules": [
        {"record": "x:y", "expr": "sum by (le (rate(x[1m]))"}]}]}))  # fmt: skip
    assert subprocess.run(["promtool", "check", "rules", str(broken)]).returncode != 0


def test_grafana_provisioning_matches_the_compose_stack(services: dict[str, Any]) -> None:
    source = load_yaml(DATASOURCES)["datasources"][0]
    assert source["type"] == "prometheus" and source["access"] == "proxy"
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in services
    assert "9090:9090" in services["prometheus"]["ports"][0]
    grafana = services["grafana"]
    mounted = mounts(grafana)
    assert mounted["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = load_yaml(PROVIDERS)["providers"][0]
    assert provider["type"] == "file"
    assert mounted["./deploy/grafana/dashboards"] == provider["options"]["path"]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD.name}"
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"


def test_prometheus_in_compose_loads_the_rules_and_scrapes_workers_and_temporal(
    services: dict[str, Any],
) -> None:
    prometheus = services["prometheus"]
    mounted = mounts(prometheus)
    assert mounted["./deploy/prometheus/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    assert mounted["./deploy/prometheus/alerts.yml"] == "/etc/prometheus/alerts.yml"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = load_yaml(PROMETHEUS_CONFIG)
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    worker_env = services["worker"]["environment"]
    ports = {"ttdr-worker": "TTDR_METRICS_PORT", "temporal-sdk": "TTDR_SDK_METRICS_PORT"}
    for job, variable in ports.items():
        discovery = jobs[job]["dns_sd_configs"][0]
        assert discovery["names"] == ["worker"] and discovery["type"] == "A"
        assert str(discovery["port"]) == worker_env[variable], job
    assert worker_env["TTDR_METRICS_HOST"] == "0.0.0.0", "reachable from the prometheus container"
    server_port = services["temporal"]["environment"]["PROMETHEUS_ENDPOINT"].rsplit(":", 1)[1]
    assert jobs["temporal-server"]["static_configs"][0]["targets"] == [f"temporal:{server_port}"]


def test_every_metric_on_the_dashboard_and_in_the_alerts_is_documented(
    dashboard: dict[str, Any],
) -> None:
    section = MONITORING_DOC.read_text(encoding="utf-8")
    assert "\n# Monitoring\n" in section, "the page is the README's former Monitoring section"
    used = set(METRIC.findall(" ".join(expressions(dashboard)) + ALERTS.read_text()))
    for name in sorted(used):
        base = next((name[: -len(s)] for s in SUFFIXES if name.endswith(s)), name)
        assert base in section, f"{base} is not described in docs/operate/monitoring.md"
