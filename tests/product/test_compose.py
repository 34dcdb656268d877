"""The production-like stack (docker-compose.yml, Dockerfile, deploy/), checked without Docker.

CI has no Docker engine, so the stack is not started here. Instead: the compose file is validated
against the Compose specification's JSON schema by check-jsonschema (its vendored copy of the
schema: nothing is downloaded), and the properties a user relies on are asserted on the parsed
files — pinned images, a worker that scales, a start-up order that holds, no inline secrets, the
product's search attributes, the image built from pyproject.toml, traces routed to Jaeger.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML  # a dependency of check-jsonschema (dev extra)

from tests.support.paths import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
COLLECTOR_CONFIG = ROOT / "deploy" / "otel-collector.yaml"
NAMESPACE_SCRIPT = ROOT / "deploy" / "temporal-namespace.sh"

# The custom search attributes the product registers, with their Temporal types.
SEARCH_ATTRIBUTES = {
    "TtdrPhase": "Keyword",
    "TtdrIteration": "Int",
    "TtdrQuality": "Double",
    "TtdrParent": "Keyword",
}
# Variables the worker takes from the host environment / .env, unchanged.
LLM_VARIABLES = (
    "TTDR_LLM_BASE_URL",
    "TTDR_LLM_API_KEY",
    "TTDR_LLM_MODEL",
    "TTDR_LLM_JUDGE_MODEL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "TTDR_CORPUS",
)
SECRET_NAME = re.compile(r"KEY|PASSWORD|PWD|SECRET|TOKEN")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
INTERPOLATION = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):  # the `- NAME=value` form
        raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {name: "" if value is None else str(value) for name, value in raw.items()}


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):  # the short form means service_started
        return dict.fromkeys(raw, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in raw.items()}


def check_jsonschema(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    result = check_jsonschema(str(COMPOSE_FILE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_compose_file(tmp_path: Path) -> None:
    """The validation has teeth: a misspelt condition and an unknown key are errors."""
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(
        "services:\n"
        "  worker:\n"
        "    image: ttdr:local\n"
        "    depends_on:\n"
        "      temporal: {condition: service_ready}\n"
        "    replicas: 2\n",
        encoding="utf-8",
    )
    result = check_jsonschema(str(broken))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "service_ready" in result.stdout
    assert "replicas" in result.stdout


def test_every_image_is_pinned_to_an_exact_version(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service.get("image")
        assert image, f"{name}: no image"
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image} is not pinned"
        if "build" in service:
            continue  # built from this repository's Dockerfile, tagged locally
        # An exact release (PostgreSQL's are major.minor; Prometheus's start with v), optionally
        # with a variant such as -alpine3.23; not a moving tag like `16` or `2`.
        assert re.fullmatch(r"v?\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?", tag), f"{name}: {image}"


def test_the_dockerfile_base_image_is_pinned() -> None:
    base = re.search(r"^FROM\s+(\S+)", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert base is not None
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base.group(1)), base.group(1)


def test_the_worker_can_be_scaled(services: dict[str, dict[str, Any]]) -> None:
    """`docker compose up --scale worker=N` needs replicas that do not clash on the host."""
    for name in ("worker", "client"):
        assert "container_name" not in services[name], name
        assert "ports" not in services[name], name


def test_every_dependency_exists_and_its_condition_can_be_met(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        for dependency, condition in depends_on(service).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            target = services[dependency]
            if condition == "service_healthy":
                check = target.get("healthcheck")
                assert check and not check.get("disable"), f"{dependency} has no health check"
            if condition == "service_completed_successfully":
                # A one-shot job: `always`/`unless-stopped` would keep it from ever completing.
                restart = str(target.get("restart", "no"))
                assert restart == "no" or restart.startswith("on-failure"), dependency


def test_compose_up_starts_the_stack_in_order(services: dict[str, dict[str, Any]]) -> None:
    """The chain a worker relies on, from the database to a registered namespace."""
    expected = {
        "temporal-schema": {"postgresql": "service_healthy"},
        "temporal": {
            "postgresql": "service_healthy",
            "temporal-schema": "service_completed_successfully",
        },
        "temporal-namespace": {"temporal": "service_healthy"},
        "temporal-ui": {"temporal": "service_healthy"},
        "otel-collector": {"jaeger": "service_healthy"},
    }
    for name, dependencies in expected.items():
        assert depends_on(services[name]) == dependencies, name
    for name in ("worker", "client"):
        assert (
            depends_on(services[name])["temporal-namespace"] == "service_completed_successfully"
        ), name


def test_no_secret_is_written_into_the_compose_file(services: dict[str, dict[str, Any]]) -> None:
    """Secrets come from .env or the shell; the compose file holds only references to them."""
    for name, service in services.items():
        for variable, value in environment(service).items():
            if not SECRET_NAME.search(variable):
                continue
            reference = INTERPOLATION.fullmatch(value)
            assert reference, f"{name}: {variable} is set inline"
            if reference["op"] in (":-", "-"):
                assert reference["arg"] == "", f"{name}: {variable} has an inline default"


def test_env_example_lists_every_variable_without_real_secrets() -> None:
    compose_text = COMPOSE_FILE.read_text(encoding="utf-8")
    referenced = {match["name"] for match in INTERPOLATION.finditer(compose_text)}
    listed: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            variable, _, value = line.partition("=")
            listed[variable.strip()] = value.strip()
    assert referenced <= listed.keys(), f"missing from .env.example: {referenced - listed.keys()}"
    for variable, value in listed.items():
        if SECRET_NAME.search(variable):
            assert value in ("", "change-me"), f".env.example holds a value for {variable}"
    assert ".env" in (ROOT / ".dockerignore").read_text(encoding="utf-8").split()


def test_the_worker_reaches_temporal_the_collector_and_the_llm(
    services: dict[str, dict[str, Any]],
) -> None:
    worker = services["worker"]
    env = environment(worker)
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4317"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"
    assert env["OTEL_SERVICE_NAME"] == "ttdr-worker"
    for variable in LLM_VARIABLES:
        # Passed through from the host environment / .env under the same name.
        reference = INTERPOLATION.fullmatch(env[variable])
        assert reference and reference["name"] == variable, variable
    # Ollama on the host, as http://host.docker.internal:11434/v1 (also on Linux).
    assert "host.docker.internal:host-gateway" in worker["extra_hosts"]
    assert worker["build"] in (".", {"context": "."})


def test_the_client_runs_on_demand_and_writes_reports_to_the_host(
    services: dict[str, dict[str, Any]],
) -> None:
    client = services["client"]
    assert client.get("profiles"), "the client must not start with `docker compose up`"
    assert client["entrypoint"] == ["python", "client.py"]
    env = environment(client)
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert INTERPOLATION.fullmatch(env["TTDR_WEB_UI_URL"])["arg"] == "http://localhost:8080"
    mounts = {
        (volume["source"], volume["target"])
        if isinstance(volume, dict)
        else tuple(volume.split(":")[:2])
        for volume in client["volumes"]
    }
    assert ("./reports", "/app/reports") in mounts


def test_the_namespace_job_registers_the_products_search_attributes(
    services: dict[str, dict[str, Any]],
) -> None:
    job = services["temporal-namespace"]
    assert job["image"].startswith("temporalio/admin-tools:")
    assert job["entrypoint"][-1] == "/deploy/temporal-namespace.sh"
    assert f"./deploy/{NAMESPACE_SCRIPT.name}:/deploy/{NAMESPACE_SCRIPT.name}:ro" in job["volumes"]
    script = NAMESPACE_SCRIPT.read_text(encoding="utf-8")
    assert "temporal operator search-attribute create" in script
    registered = dict(re.findall(r"--name\s+(\w+)\s+--type\s+(\w+)", script))
    assert registered == SEARCH_ATTRIBUTES


def test_every_mounted_config_file_exists(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith("./deploy/"):
                # A file, or a folder of them (Grafana's provisioning and dashboards).
                path = ROOT / source
                assert path.is_file() or any(path.rglob("*.*")), f"{name}: {source} is missing"


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX shell")
def test_the_setup_scripts_are_valid_posix_shell() -> None:
    for script in sorted((ROOT / "deploy").glob("*.sh")):
        result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script.name}: {result.stderr}"


def test_the_image_installs_the_project_from_pyproject() -> None:
    """The image gets the same dependency list the tests install, from pyproject.toml."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"\bpip install \.(\s|$)", text), "the image must `pip install .`"
    assert "COPY pyproject.toml" in text
    assert not re.search(r"requirements[\w.-]*\.txt", text), "no separate requirements file"
    assert not list(ROOT.glob("requirements*.txt"))
    user = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert user and user[-1] not in ("root", "0"), "the image must run as a non-root user"
    assert 'CMD ["python", "worker.py"]' in text
    # `pip install .` needs every package pyproject.toml lists (it failed without cli/, desk/…).
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for top in {name.split(".")[0] for name in packages["packages"]}:
        assert re.search(rf"^COPY {top}/ {top}/$", text, re.MULTILINE), f"COPY {top}/ is missing"
    # No credentials baked in: no ENV or ARG with a secret-like name.
    for declared in re.findall(r"^(?:ENV|ARG)\s+([^\n]+)", text, re.MULTILINE):
        assert not SECRET_NAME.search(declared), declared


def test_the_collector_exports_traces_to_jaeger(services: dict[str, dict[str, Any]]) -> None:
    config = load_yaml(COLLECTOR_CONFIG)
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    traces = config["service"]["pipelines"]["traces"]
    assert "otlp" in traces["receivers"]
    assert "batch" in traces["processors"]
    to_jaeger = [
        exporter
        for exporter in traces["exporters"]
        # `otlp_grpc` is the OTLP gRPC exporter; `otlp` its older name.
        if exporter.split("/")[0] in ("otlp_grpc", "otlp")
        and config["exporters"][exporter]["endpoint"] == "jaeger:4317"
    ]
    assert to_jaeger, "no traces exporter sends to jaeger:4317"
    assert config["exporters"][to_jaeger[0]]["tls"]["insecure"] is True
    assert "jaeger" in services
    collector = services["otel-collector"]
    assert (
        f"./deploy/{COLLECTOR_CONFIG.name}:/etc/otelcol-contrib/config.yaml:ro"
        in (collector["volumes"])
    )
