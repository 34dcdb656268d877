"""A latency-simulating OpenAI-compatible server for benchmarks.

It is the test suite's fake server (`testing.fake_llm.FakeLLMServer`) answering with the
scripted, schema-valid answers of `testing.scripted_llm.Script`, plus a simulated model
latency: either a fixed time per completion (`latency`) or a time per completion token
(`per_token_ms`, applied to the answer's token count at ~4 characters per token, as the fake
server counts usage), or both added. Every request is recorded with its start and finish
(`RecordedRequest.started_at` / `finished_at`, `time.monotonic()`), which the benchmark uses to
see when an LLM call of a run was in flight.

With `rpm`, it also enforces a provider's requests-per-minute limit: a request that would be
the (rpm+1)-th accepted within the last 60 s is answered at once with 429 and a Retry-After of
the seconds until the oldest of them leaves the window (a sliding window, as strict as any
provider's limiter).

Standalone, for pointing a worker at it by hand:

    .venv/bin/python -m bench.latency_llm --port 8099 --latency 1.0
    .venv/bin/python -m bench.latency_llm --port 8099 --per-token-ms 20
    .venv/bin/python -m bench.latency_llm --port 8099 --latency 1.0 --rpm 120
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from testing.fake_llm import FakeLLMServer, Fault, RecordedRequest, Responder, error_body
from testing.scripted_llm import Script


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


class RateLimitedServer(FakeLLMServer):
    """FakeLLMServer that answers 429 + Retry-After above `rpm` requests in any 60 s.

    The decision is made when a request arrives (the fake's first per-request hook, its delay
    lookup), and a rejected request is answered at once through the fake's fault path."""

    WINDOW_SECONDS = 60.0

    def __init__(self, rpm: int, *, port: int = 0) -> None:
        super().__init__(port=port)
        self.rpm = rpm
        self._accepted: collections.deque[float] = collections.deque()
        self._window_lock = threading.Lock()
        self._rejection = threading.local()  # the handler thread's pending 429, if any

    def reset(self) -> None:
        super().reset()
        with self._window_lock:
            self._accepted.clear()

    def _retry_after(self) -> int | None:
        """None when the request is accepted, else the seconds to wait."""
        now = time.monotonic()
        with self._window_lock:
            while self._accepted and self._accepted[0] <= now - self.WINDOW_SECONDS:
                self._accepted.popleft()
            if len(self._accepted) < self.rpm:
                self._accepted.append(now)
                return None
            return max(1, math.ceil(self._accepted[0] + self.WINDOW_SECONDS - now))

    def delay_for(self, name: str | None) -> float:
        self._rejection.retry_after = self._retry_after()
        if self._rejection.retry_after is not None:
            return 0.0  # rejected at once, like a provider's limiter
        return super().delay_for(name)

    def take_fault(self, name: str | None) -> Fault | None:
        retry_after = getattr(self._rejection, "retry_after", None)
        self._rejection.retry_after = None
        if retry_after is not None:
            return Fault(
                name,
                "status",
                1,
                status=429,
                body=error_body(429, f"Rate limit reached: {self.rpm} requests per minute"),
                headers={"Retry-After": str(retry_after)},
            )
        return super().take_fault(name)


class LatencyLLM:
    """FakeLLMServer + scripted answers + simulated latency (+ an optional requests-per-minute
    limit); a context manager."""

    def __init__(self, latency: Latency, *, port: int = 0, rpm: int | None = None) -> None:
        self.server = RateLimitedServer(rpm, port=port) if rpm else FakeLLMServer(port=port)
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
    parser.add_argument("--rpm", type=int, default=0, help="requests per minute (0: no limit)")
    args = parser.parse_args()
    latency = Latency(args.latency, args.per_token_ms)
    with LatencyLLM(latency, port=args.port, rpm=args.rpm or None) as llm:
        print(
            f"latency LLM on {llm.base_url} ({latency.label()} per call); Ctrl-C stops", flush=True
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
