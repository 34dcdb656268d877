"""The Temporal connection comes from the SDK's environment configuration (the variables and
temporal.toml profiles the `temporal` CLI reads); a wrong setting is one line that names it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from temporalio.client import Client

from common.temporal_connection import ConnectionSettingsError, load_settings, local_server_env
from testing.processes import ROOT, run_client_py

PROFILES = """
[profile.default]
address = "default-host:7233"

[profile.cloud]
address = "my-ns.a1b2c.tmprl.cloud:7233"
namespace = "my-ns.a1b2c"
api_key = "profile-key"

[profile.broken]
address = "x:7233"
[profile.broken.tls]
server_ca_cert_path = "/nonexistent/ca.pem"
"""


@pytest.fixture
def toml(tmp_path: Path) -> Path:
    path = tmp_path / "temporal.toml"
    path.write_text(PROFILES)
    return path


def test_defaults_are_the_local_dev_server() -> None:
    settings = load_settings({"TEMPORAL_CONFIG_FILE": "/dev/null"})
    assert (settings.address, settings.namespace, settings.task_queue) == (
        "localhost:7233",
        "default",
        "ttdr",
    )
    assert settings.tls is False and settings.api_key is None


def test_environment_variables_as_the_temporal_cli_reads_them() -> None:
    settings = load_settings(
        {
            "TEMPORAL_CONFIG_FILE": "/dev/null",
            "TEMPORAL_ADDRESS": "my-ns.a1b2c.tmprl.cloud:7233",
            "TEMPORAL_NAMESPACE": "my-ns.a1b2c",
            "TEMPORAL_API_KEY": "SECRET-KEY-123",
            "TTDR_TASK_QUEUE": "q1",
        }
    )
    assert settings.address == "my-ns.a1b2c.tmprl.cloud:7233"
    assert settings.namespace == "my-ns.a1b2c" and settings.task_queue == "q1"
    assert settings.api_key == "SECRET-KEY-123"
    assert settings.tls, "an API key implies TLS, as for Temporal Cloud"
    assert "SECRET-KEY-123" not in settings.describe()


def test_a_temporal_toml_profile_and_environment_overrides(toml: Path) -> None:
    default = load_settings({"TEMPORAL_CONFIG_FILE": str(toml)})
    assert default.address == "default-host:7233"
    cloud = load_settings({"TEMPORAL_CONFIG_FILE": str(toml), "TEMPORAL_PROFILE": "cloud"})
    assert (cloud.address, cloud.namespace, cloud.api_key) == (
        "my-ns.a1b2c.tmprl.cloud:7233",
        "my-ns.a1b2c",
        "profile-key",
    )
    assert cloud.tls
    overridden = load_settings(
        {"TEMPORAL_CONFIG_FILE": str(toml), "TEMPORAL_PROFILE": "cloud", "TEMPORAL_NAMESPACE": "n2"}
    )
    assert overridden.namespace == "n2" and overridden.address == cloud.address


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"TEMPORAL_TLS_SERVER_CA_CERT_PATH": "/nonexistent/ca.pem"},
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH: /nonexistent/ca.pem does not exist",
        ),
        (
            {"TEMPORAL_TLS_CLIENT_CERT_PATH": "/nonexistent/c.pem"},
            "TEMPORAL_TLS_CLIENT_CERT_PATH: /nonexistent/c.pem does not exist",
        ),
        (
            {"TEMPORAL_TLS_SERVER_CA_CERT_PATH": "/etc/hostname"},
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH: /etc/hostname is not a PEM file",
        ),
        ({"TEMPORAL_TLS_SERVER_CA_CERT_PATH": "/tmp"}, "/tmp is not a regular file"),
        ({"TEMPORAL_TLS": "maybe"}, "TEMPORAL_TLS must be true or false, not 'maybe'"),
        ({"TEMPORAL_PROFILE": "nope"}, "Profile 'nope' not found"),
        ({"TEMPORAL_PROFILE": "broken"}, "tls.server_ca_cert_path (profile broken of "),
        ({"TEMPORAL_CONFIG_FILE": "/nonexistent.toml"}, "TEMPORAL_CONFIG_FILE: /nonexistent"),
        ({"TEMPORAL_CONFIG_FILE": "/etc/passwd"}, "TEMPORAL_CONFIG_FILE /etc/passwd: "),
    ],
)
def test_a_wrong_setting_is_named(toml: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConnectionSettingsError) as caught:
        load_settings({"TEMPORAL_CONFIG_FILE": str(toml), **env})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value), "one line"


@pytest.mark.parametrize("program", ["client.py", "worker.py"])
async def test_client_and_worker_refuse_a_missing_ca_file_in_one_line(
    client: Client, program: str
) -> None:
    env = local_server_env(client.service_client.config.target_host)
    env["TEMPORAL_TLS_SERVER_CA_CERT_PATH"] = "/nonexistent/ca.pem"
    args = ["progress", "some-run"] if program == "client.py" else []
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / program),
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, raw_err = await asyncio.wait_for(process.communicate(), timeout=60)
    err = raw_err.decode()
    assert process.returncode == 2, err
    assert "TEMPORAL_TLS_SERVER_CA_CERT_PATH: /nonexistent/ca.pem does not exist" in err
    assert err.count("\n") == 1, err


async def test_the_inspection_commands_use_the_same_connection(client: Client) -> None:
    env = local_server_env(client.service_client.config.target_host)
    env["TEMPORAL_NAMESPACE"] = "no-such-namespace"
    code, _, err = await run_client_py("progress", "some-run", env=env)
    assert code == 2, err
    assert "no-such-namespace" in err and err.count("\n") == 1, err
