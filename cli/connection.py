"""The one Temporal connection helper: client.py, worker.py, bench/ and the tests connect here."""

from __future__ import annotations

import os
from collections.abc import Mapping

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from cli.errors import UsageError
from observability import tracing

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"
DEFAULT_TASK_QUEUE = "ttdr"


class TemporalUnreachable(UsageError):
    """The Temporal server did not answer at the configured address."""


def task_queue_from_env(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("TTDR_TASK_QUEUE", DEFAULT_TASK_QUEUE)


def _connect_reason(err: Exception) -> str:
    text = str(err)
    if "ConnectionRefused" in text or "Connection refused" in text:
        return "connection refused"
    if "dns error" in text.lower() or "failed to lookup" in text.lower():
        return "unknown host"
    return text.splitlines()[0][:200]


async def connect_temporal(address: str, namespace: str) -> Client:
    """A client with the pydantic data converter, or TemporalUnreachable with one clear line."""
    try:
        return await Client.connect(
            address,
            namespace=namespace,
            data_converter=pydantic_data_converter,
            # The run's root span (StartWorkflow); a no-op when no tracer provider is set.
            interceptors=[tracing.RunTracingInterceptor()],
        )
    except RuntimeError as err:
        raise TemporalUnreachable(
            f"cannot reach the Temporal server at {address} ({_connect_reason(err)}): start it "
            "(./scripts/demo starts the embedded dev server) or set TEMPORAL_ADDRESS"
        ) from None


async def connect_from_env(env: Mapping[str, str] | None = None) -> Client:
    env = os.environ if env is None else env
    return await connect_temporal(
        env.get("TEMPORAL_ADDRESS", DEFAULT_ADDRESS),
        env.get("TEMPORAL_NAMESPACE", DEFAULT_NAMESPACE),
    )
