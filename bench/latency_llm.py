"""A latency-simulating OpenAI-compatible server for benchmarks.

It is the test suite's fake server (`tests.support.fake_llm.FakeLLMServer`) answering with the scripted,
schema-valid answers of `tests.support.scripted_llm.Script`, plus a simulated model latency: either a
fixed time per completion (`latency`) or a time per completion token (`per_token_ms`, applied
to the answer's token count at ~4 characters per token, as the fake server counts usage), or
both added. Every request is recorded with its start and finish (`RecordedRequest.started_at`
/ `finished_at`, `time.monotonic()`), which the benchmark uses to see when an LLM call of a
run was in flight.

Standalone, for pointing a worker at it by hand:

    .venv/bin/python -m bench.latency_llm --port 8099 --latency 1.0
    .venv/bin/python -m bench.latency_llm --port 8099 --per-token-ms 20
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
from dataclasses import dataclass
from typing import Any

from tests.support.fake_llm import FakeLLMServer, RecordedRequest, Responder
from tests.support.scripted_llm import Script


@dataclass(frozen=True)
class Latency:
    """Simulated model time of one completion: fixed seconds plus milliseconds per token."""

    seconds: float = 0.0
    per_token_ms: float = 0.0

    def label(self) -> str:
        parts = [f"{self.seconds:g} s"] if self.seconds else []
        parts += [f"{self.per_token_ms:g} ms/token"] if self.per_token_ms else []
        return " + ".join(parts) or "0 s"


def completion_tokens(result: Any) -> int:
    """The answer's token count as the fake server bills it (~4 characters per token)."""
    text = result if isinstance(result, str) else json.dumps(result)
    return max(1, (len(text) + 3) // 4)


class _PerTokenDelay:
    """Stands in for the server while a Script installs its responders: wraps each one so it
    sleeps per completion token after computing the answer (the handler thread sleeps, as a
    slow model would keep the connection open)."""

    def __init__(self, server: FakeLLMServer, per_token_ms: float, stop: threading.Event):
        self.server, self.per_token_ms, self.stop = server, per_token_ms, stop

    def respond(self, name: str | None, fn: Responder) -> None:
        def slow(request: RecordedRequest) -> Any:
            result = fn(request)
            self.stop.wait(completion_tokens(result) * self.per_token_ms / 1000)
            return result

        self.server.respond(name, slow)


class LatencyLLM:
    """FakeLLMServer + scripted answers + simulated latency; a context manager."""

    def __init__(self, latency: Latency, *, port: int = 0) -> None:
        self.server = FakeLLMServer(port=port)
        self._stop = threading.Event()
        self.configure(latency)

    def configure(self, latency: Latency, script: Script | None = None) -> None:
        """Forget recorded requests; install fresh scripted answers and this latency."""
        self.latency = latency
        self.server.reset()
        target: Any = self.server
        if latency.per_token_ms:
            target = _PerTokenDelay(self.server, latency.per_token_ms, self._stop)
        (script or Script()).install(target)
        if latency.seconds:
            self.server.set_delay(None, latency.seconds)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.server.requests

    def __enter__(self) -> LatencyLLM:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per completion")
    parser.add_argument("--per-token-ms", type=float, default=0.0, help="ms per completion token")
    args = parser.parse_args()
    latency = Latency(args.latency, args.per_token_ms)
    with LatencyLLM(latency, port=args.port) as llm:
        print(
            f"latency LLM on {llm.base_url} ({latency.label()} per call); Ctrl-C stops", flush=True
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
