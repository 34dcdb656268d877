"""Client and worker against a real TLS endpoint on loopback (issue 15 item 5): the dev server
behind a TLS-terminating proxy with a private CA and client certificates (tests/support/tls.py).
Configured with the same TEMPORAL_TLS_* variables as the `temporal` CLI; a wrong CA, server
name or missing certificate is one line naming the setting to change."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client

from common.temporal_connection import TemporalUnreachable, connect_from_env, local_server_env
from testing.fake_llm import FakeLLMServer
from testing.processes import WorkerProcess, run_client_py, worker_env
from testing.scripted_llm import Script
from testing.settings import FAKE_KEY
from tests.support.tls import Certificates, TLSProxy, make_certificates, openssl_available

pytestmark = pytest.mark.skipif(not openssl_available(), reason="needs the openssl command")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest_asyncio.fixture
async def mtls(client: Client, certs: Certificates) -> AsyncIterator[TLSProxy]:
    """The test's dev server behind TLS that requires a client certificate."""
    upstream = client.service_client.config.target_host
    async with TLSProxy(upstream, certs, require_client_cert=True) as proxy:
        yield proxy


def tls_settings(certs: Certificates, *, client_cert: bool = True) -> dict[str, str]:
    settings = {"TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(certs.ca)}
    if client_cert:
        settings["TEMPORAL_TLS_CLIENT_CERT_PATH"] = str(certs.client_cert)
        settings["TEMPORAL_TLS_CLIENT_KEY_PATH"] = str(certs.client_key)
    return settings


@pytest.mark.slow  # a worker subprocess and a whole research: about 15-35 s on 2 cores
async def test_worker_and_client_run_a_research_over_mutual_tls(
    mtls: TLSProxy,
    certs: Certificates,
    fake_server: FakeLLMServer,
    script: Script,
    cache_dir: Path,
    tmp_path: Path,
) -> None:
    queue = f"tls-{uuid.uuid4().hex[:8]}"
    env = worker_env(
        temporal_address=mtls.address,
        task_queue=queue,
        llm_base_url=fake_server.base_url,
        api_key=FAKE_KEY,
        cache_dir=cache_dir,
        extra=tls_settings(certs),
    )
    worker = await WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        assert f"worker ready: {mtls.address} namespace=default tls=on" in worker.output()
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"max_iterations": 1, "evolution": "off"}))
        out_file = tmp_path / "report.md"
        client_env = {
            **local_server_env(mtls.address),
            **tls_settings(certs),
            "TTDR_TASK_QUEUE": queue,
        }
        code, _, err = await run_client_py(
            "research", "How do Python decorators work?", "--config", str(config),
            "--out", str(out_file), env=client_env,
        )  # fmt: skip
        assert code == 0, err
        assert out_file.read_text().startswith("# How do Python decorators work?\n")
    finally:
        worker.stop()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("wrong CA", "not signed by a trusted CA: set TEMPORAL_TLS_SERVER_CA_CERT_PATH"),
        ("wrong name", "not valid for other.example: set TEMPORAL_TLS_SERVER_NAME"),
        ("no client certificate", "set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY"),
        ("no TLS", "if it uses TLS, set TEMPORAL_TLS=true"),
    ],
)
async def test_a_wrong_tls_setting_names_what_to_change(
    mtls: TLSProxy, certs: Certificates, case: str, message: str
) -> None:
    env = {**local_server_env(mtls.address), **tls_settings(certs)}
    if case == "wrong CA":
        env["TEMPORAL_TLS_SERVER_CA_CERT_PATH"] = str(certs.other_ca)
    elif case == "wrong name":
        env["TEMPORAL_TLS_SERVER_NAME"] = "other.example"
    elif case == "no client certificate":
        del env["TEMPORAL_TLS_CLIENT_CERT_PATH"], env["TEMPORAL_TLS_CLIENT_KEY_PATH"]
    else:
        env = local_server_env(mtls.address)
    with pytest.raises(TemporalUnreachable) as failure:
        await connect_from_env(env)
    assert f"cannot reach the Temporal server at {mtls.address}: " in str(failure.value)
    assert message in str(failure.value)
    assert "\n" not in str(failure.value)


async def test_client_py_with_the_wrong_ca_is_one_line(mtls: TLSProxy, certs: Certificates) -> None:
    env = {
        **local_server_env(mtls.address),
        **tls_settings(certs),
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(certs.other_ca),
    }
    code, _, err = await run_client_py("progress", "some-run", env=env)
    assert code == 2
    assert err.startswith(f"error: cannot reach the Temporal server at {mtls.address}: TLS: ")
    assert "TEMPORAL_TLS_SERVER_CA_CERT_PATH" in err and err.count("\n") == 1
