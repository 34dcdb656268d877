"""The one Temporal connection helper: client.py, worker.py, bench/ and the tests connect here.

Built on the SDK's environment configuration (temporalio.envconfig), so the settings that
configure the `temporal` CLI configure this product, Temporal Cloud included:
TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_* (CA,
client certificate and key, server name), TEMPORAL_GRPC_META_*, and profiles in temporal.toml
(TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE). Environment variables override the profile.

Every wrong setting is a one-line ConnectionSettingsError (exit code 2) naming the setting,
raised before anything is contacted; a server that does not answer is TemporalUnreachable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.envconfig import ClientConfigProfile, ClientConfigTLS
from temporalio.service import TLSConfig

from activities.settings_file import SettingsFileError, read_bounded
from common.errors import UsageError
from common.settings import SharedSettings
from common.temporal_plugin import ResearchPlugin

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"
_TRUE_FALSE = {"true", "false", "1", "0"}
# ClientConfigTLS field -> (environment variable, temporal.toml key): named in errors.
_TLS_FILES = {
    "server_root_ca_cert": ("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "tls.server_ca_cert_path"),
    "client_cert": ("TEMPORAL_TLS_CLIENT_CERT_PATH", "tls.client_cert_path"),
    "client_private_key": ("TEMPORAL_TLS_CLIENT_KEY_PATH", "tls.client_key_path"),
}


class ConnectionSettingsError(UsageError):
    """A Temporal connection setting is wrong: the message names it."""


class TemporalUnreachable(UsageError):
    """The Temporal server did not answer at the configured address."""


@dataclass(frozen=True)
class TemporalSettings:
    """Where to connect, resolved from the environment and temporal.toml (secrets never shown)."""

    address: str
    namespace: str
    task_queue: str
    tls: bool | TLSConfig
    api_key: str | None
    rpc_metadata: Mapping[str, str]
    source: str  # "environment" or "profile NAME of FILE": said in errors

    def describe(self) -> str:
        """One line for logs: never the key or certificate contents."""
        tls = "on" if self.tls else "off"
        key = " api_key=set" if self.api_key else ""
        return f"{self.address} namespace={self.namespace} tls={tls}{key}"


def local_server_env(address: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default os.environ) pinned to a plain local server at `address`: every inherited
    TEMPORAL_* setting and any temporal.toml profile are left out (tests, bench, demo)."""
    base = os.environ if base is None else base
    env = {k: v for k, v in base.items() if not k.startswith("TEMPORAL_")}
    env.update({"TEMPORAL_ADDRESS": address, "TEMPORAL_CONFIG_FILE": os.devnull})
    return env


def task_queue_from_env(env: Mapping[str, str] | None = None) -> str:
    """TTDR_TASK_QUEUE through the settings model, for callers without their process's
    settings (bench, eval, tests); SettingsError is its one line."""
    env = os.environ if env is None else env
    return SharedSettings.load_only(env, ["task_queue"]).task_queue


def _read_pem(value: Any, setting: str) -> bytes | None:
    if not isinstance(value, Path):
        return value.encode() if isinstance(value, str) else value
    if not value.is_file():
        problem = "does not exist" if not value.exists() else "is not a regular file"
        raise ConnectionSettingsError(f"{setting}: {value} {problem}")
    try:
        data = read_bounded(value, f"{setting}: {value}")
    except SettingsFileError as err:
        raise ConnectionSettingsError(str(err)) from None
    if b"-----BEGIN " not in data:
        raise ConnectionSettingsError(f"{setting}: {value} is not a PEM file")
    return data


def _tls(tls: ClientConfigTLS, env: Mapping[str, str], source: str) -> TLSConfig:
    def setting(field: str) -> str:
        variable, toml_key = _TLS_FILES[field]
        return variable if variable in env else f"{toml_key} ({source})"

    read = {field: _read_pem(getattr(tls, field), setting(field)) for field in _TLS_FILES}
    if (read["client_cert"] is None) != (read["client_private_key"] is None):
        raise ConnectionSettingsError(
            "TLS client certificate and key go together: set both TEMPORAL_TLS_CLIENT_CERT_PATH "
            "and TEMPORAL_TLS_CLIENT_KEY_PATH (or neither)"
        )
    return TLSConfig(
        domain=tls.server_name,
        server_root_ca_cert=read["server_root_ca_cert"],
        client_cert=read["client_cert"],
        client_private_key=read["client_private_key"],
    )


def load_settings(env: Mapping[str, str] | None = None) -> TemporalSettings:
    """The connection settings, checked: a wrong one raises ConnectionSettingsError."""
    env = dict(os.environ if env is None else env)
    config_file = env.get("TEMPORAL_CONFIG_FILE")
    if config_file and not Path(config_file).exists():
        raise ConnectionSettingsError(f"TEMPORAL_CONFIG_FILE: {config_file} does not exist")
    tls_flag = env.get("TEMPORAL_TLS")
    if tls_flag is not None and tls_flag.strip().lower() not in _TRUE_FALSE:
        raise ConnectionSettingsError(f"TEMPORAL_TLS must be true or false, not {tls_flag!r}")
    profile_name = env.get("TEMPORAL_PROFILE")
    data = None  # no file named: the SDK looks in its default place
    if config_file:  # read here, with the bounds of every settings file (the SDK has none)
        try:
            data = read_bounded(Path(config_file), f"TEMPORAL_CONFIG_FILE {config_file}")
        except SettingsFileError as err:
            raise ConnectionSettingsError(str(err)) from None
    try:
        profile = ClientConfigProfile.load(profile_name, config_source=data, override_env_vars=env)
    except Exception as err:  # the SDK's ConfigError (TOML syntax, unknown profile, ...)
        where = f"TEMPORAL_CONFIG_FILE {config_file}" if config_file else "temporal.toml"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConnectionSettingsError(f"{where}: {first}") from None
    source = f"profile {profile_name or 'default'} of {config_file or 'temporal.toml'}"
    tls: bool | TLSConfig = bool(profile.api_key)  # an API key implies TLS (Temporal Cloud)
    if profile.tls is not None:
        tls = False if profile.tls.disabled else _tls(profile.tls, env, source)
    return TemporalSettings(
        address=profile.address or DEFAULT_ADDRESS,
        namespace=profile.namespace or DEFAULT_NAMESPACE,
        task_queue=task_queue_from_env(env),
        tls=tls,
        api_key=profile.api_key,
        rpc_metadata=dict(profile.grpc_meta),
        source=source,
    )


def _why_unreachable(err: Exception, settings: TemporalSettings) -> str:
    """The SDK's connect error (a Rust debug string) as a reason and the setting to change."""
    text = " ".join(str(err).split())
    lowered = text.lower()
    tls_on = settings.tls is not False
    client_cert = isinstance(settings.tls, TLSConfig) and settings.tls.client_cert is not None
    if "connectionrefused" in lowered or "connection refused" in lowered:
        return (
            "connection refused: start it (./scripts/demo starts the embedded dev server) or set "
            "TEMPORAL_ADDRESS"
        )
    if "dns error" in lowered or "failed to lookup" in lowered:
        return "unknown host: check TEMPORAL_ADDRESS"
    if "unknownissuer" in lowered:
        return (
            "TLS: the server's certificate is not signed by a trusted CA: set "
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH to the CA that signed it"
        )
    if name := re.search(r'NotValidForName\w*\s*\{\s*expected:\s*\w+\("([^"]+)"\)', text):
        return (
            f"TLS: the server's certificate is not valid for {name.group(1)}: set "
            "TEMPORAL_TLS_SERVER_NAME to a name it carries"
        )
    if certificate := re.search(r"InvalidCertificate\((\w+)", text):
        return f"TLS: the server's certificate is invalid ({certificate.group(1)})"
    # The server's refusal reaches the SDK as a transport error or, at times, as a cancelled
    # call carrying a tonic transport error (seen under load).
    transport = "transport error" in lowered or "transport::error" in lowered
    if transport and tls_on and not client_cert:
        return (
            "the server closed the TLS connection: if it requires a client certificate, set "
            "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH"
        )
    if "transport error" in lowered and not tls_on:
        return (
            "the server closed the connection: if it uses TLS, set TEMPORAL_TLS=true (and "
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH for a private CA) or TEMPORAL_API_KEY"
        )
    if "unauthenticated" in lowered or "permission" in lowered:
        return "not authorised: check TEMPORAL_API_KEY or the client certificate"
    return text[:200]


async def connect(settings: TemporalSettings) -> Client:
    """A client with the product's plugin, or TemporalUnreachable with one clear line."""
    try:
        return await Client.connect(
            settings.address,
            namespace=settings.namespace,
            api_key=settings.api_key,
            tls=settings.tls,
            rpc_metadata=dict(settings.rpc_metadata),
            # Converter, tracing and workflows, as every worker and Replayer has them.
            plugins=[ResearchPlugin()],
        )
    except RuntimeError as err:
        raise TemporalUnreachable(
            f"cannot reach the Temporal server at {settings.address}: "
            f"{_why_unreachable(err, settings)}"
        ) from None


async def connect_from_env(env: Mapping[str, str] | None = None) -> Client:
    return await connect(load_settings(env))
