"""A fake OpenAI-compatible Chat Completions server for tests.

It speaks the real HTTP protocol on loopback so the product's LLM client is exercised end to end
(serialization, retries, timeouts) without a paid API. Which pipeline node is calling is told by
the *schema name* of the requested structured output; tests register a responder per name, or
rely on the default one, which generates a deterministic instance of the requested JSON schema.

    with FakeLLMServer(api_key="k") as llm:
        llm.respond("Plan", lambda req: {"sections": []})
        llm.inject_fault("Plan", 429, headers={"Retry-After": "1"})
        ...  # point the product at llm.base_url
        assert llm.count("Plan") == 2

Standalone (manual runs): ``python testing/fake_llm.py --port 8099``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import math
import re
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "ErrorReply",
    "FakeLLMServer",
    "RecordedRequest",
    "Responder",
    "default_response",
    "error_body",
    "find_schema_in_text",
    "sample_from_schema",
]

JSON = dict[str, Any]


# --------------------------------------------------------------------------- records


@dataclass
class RecordedRequest:
    """One request as the server saw it.

    ``status`` is 0 while the request is in flight and when the connection was dropped without a
    response (``inject_disconnect``); ``finished_at`` is None while in flight. Header names are
    lower-cased.
    """

    name: str | None
    body: JSON
    headers: dict[str, str]
    started_at: float
    finished_at: float | None = None
    status: int = 0
    method: str = "POST"
    path: str = "/v1/chat/completions"
    schema: JSON | None = None  # the schema the caller asked for, if any
    fault: str | None = None  # "status" | "disconnect" | "hang" when a fault was consumed
    response_content: str | None = None  # assistant content sent back (successful completions)

    @property
    def messages(self) -> list[JSON]:
        msgs = self.body.get("messages")
        return msgs if isinstance(msgs, list) else []

    @property
    def prompt(self) -> str:
        """All message texts joined, handy for ``assert "..." in req.prompt``."""
        return "\n".join(_message_text(m) for m in self.messages)


Responder = Callable[[RecordedRequest], Any]


@dataclass(frozen=True)
class ErrorReply:
    """What a responder returns to answer one request with an HTTP error (an OpenAI-shaped
    error body), where inject_fault would fail every request of the name."""

    status: int
    message: str | None = None


@dataclass
class Fault:
    """One injected failure: `remaining` more requests of `name` (None: any) meet it."""

    name: str | None
    kind: str  # "status" | "disconnect" | "hang" | "drip"
    remaining: int
    status: int = 0
    body: JSON | None = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


# --------------------------------------------------------------------------- schema -> instance

_MAX_DEPTH = 6  # beyond this, stop expanding optional parts so recursive schemas terminate
_HARD_DEPTH = 64

_FORMAT_SAMPLES = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "duration": "PT1S",
    "email": "fake@example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
}


def sample_from_schema(schema: JSON | bool, label: str | None = None) -> Any:
    """A deterministic instance of a JSON schema (pydantic v2 style ``$defs``/``$ref``).

    Strings read ``"<label>.<field path> sample text"`` so a test can tell where a value came
    from. Not supported (ignored): ``pattern``, ``uniqueItems`` for non-strings, ``not``,
    conditional keywords.
    """
    root = schema if isinstance(schema, dict) else {}
    if label is None:
        label = str(root.get("title") or "root")
    return _Sampler(root).gen(schema, label, 0)


class _Sampler:
    def __init__(self, root: JSON) -> None:
        self.root = root

    def resolve(self, ref: str) -> JSON:
        if not ref.startswith("#"):
            raise ValueError(f"only local $ref is supported, got {ref!r}")
        node: Any = self.root
        for part in ref.lstrip("#").strip("/").split("/"):
            if part:
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def gen(self, schema: JSON | bool, label: str, depth: int) -> Any:
        if depth > _HARD_DEPTH:
            raise ValueError(f"schema too deep (unsatisfiable recursion?) at {label}")
        if schema is True:
            return f"{label} sample text"
        if schema is False:
            return None
        deep = depth >= _MAX_DEPTH

        if "$ref" in schema:  # sibling keywords (description, default...) refine the target
            target = self.resolve(schema["$ref"])
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            return self.gen(schema, label, depth + 1)
        if "allOf" in schema:
            merged: JSON = {k: v for k, v in schema.items() if k != "allOf"}
            for sub in schema["allOf"]:
                sub = self.resolve(sub["$ref"]) if "$ref" in sub else sub
                props = {**merged.get("properties", {}), **sub.get("properties", {})}
                required = [*merged.get("required", []), *sub.get("required", [])]
                merged = {**merged, **sub, "properties": props, "required": required}
            return self.gen(merged, label, depth + 1)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = schema[key]
                non_null = [o for o in options if not _is_null(o)]
                if not non_null or (deep and len(non_null) < len(options)):
                    return None
                return self.gen(non_null[0], label, depth + 1)

        kind = schema.get("type")
        if isinstance(kind, list):
            non_null_types = [t for t in kind if t != "null"]
            if not non_null_types or (deep and "null" in kind):
                return None
            kind = non_null_types[0]
        if kind is None:
            if "properties" in schema:
                kind = "object"
            elif "items" in schema or "prefixItems" in schema:
                kind = "array"
            else:
                kind = "string"

        if kind == "object":
            props: JSON = schema.get("properties", {})
            required = set(schema.get("required", []))
            return {
                key: self.gen(sub, f"{label}.{key}", depth + 1)
                for key, sub in props.items()
                if not deep or key in required
            }
        if kind == "array":
            return self._array(schema, label, depth, deep)
        if kind == "string":
            return _string(schema, label)
        if kind in ("integer", "number"):
            return _number(schema, integer=kind == "integer")
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        raise ValueError(f"unsupported schema type {kind!r} at {label}")

    def _array(self, schema: JSON, label: str, depth: int, deep: bool) -> list[Any]:
        min_items = int(schema.get("minItems", 0))
        count = min_items if deep or "minItems" in schema else 1
        if "maxItems" in schema:
            count = min(count, int(schema["maxItems"]))
        prefix: list[Any] = schema.get("prefixItems", [])
        items = schema.get("items", True)
        if items is False:
            count = min(count, len(prefix))
        out = []
        for i in range(count):
            sub = prefix[i] if i < len(prefix) else items
            out.append(self.gen(sub, f"{label}[{i}]", depth + 1))
        return out


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


def _string(schema: JSON, label: str) -> str:
    fmt = schema.get("format")
    if fmt in ("uri", "url", "iri", "uri-reference"):
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        text = f"https://example.com/{slug}"
    else:
        text = _FORMAT_SAMPLES.get(fmt or "", f"{label} sample text")
    min_len = int(schema.get("minLength", 0))
    if len(text) < min_len:
        text += "x" * (min_len - len(text))
    if "maxLength" in schema:
        text = text[: int(schema["maxLength"])]
    return text


def _number(schema: JSON, *, integer: bool) -> int | float:
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    x_min, x_max = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    # draft-4 style booleans turn the inclusive bound exclusive
    if x_min is True:
        x_min, minimum = minimum, None
    if x_max is True:
        x_max, maximum = maximum, None
    if x_min is False:
        x_min = None
    if x_max is False:
        x_max = None

    if integer:
        lows = [math.ceil(minimum)] if minimum is not None else []
        lows += [math.floor(x_min) + 1] if x_min is not None else []
        highs = [math.floor(maximum)] if maximum is not None else []
        highs += [math.ceil(x_max) - 1] if x_max is not None else []
        low, high = (max(lows) if lows else None), (min(highs) if highs else None)
        value = low if low is not None else (min(0, high) if high is not None else 0)
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0 and value % step:
            value += step - value % step
        return int(value)

    upper = min((b for b in (maximum, x_max) if b is not None), default=None)
    if minimum is not None:
        return minimum
    if x_min is not None:
        value = x_min + 1
        if upper is not None and (value > upper or (x_max is not None and value >= x_max)):
            value = (x_min + upper) / 2
        return value
    if maximum is not None and maximum < 0:
        return maximum
    if x_max is not None and x_max <= 0:
        return x_max - 1
    return 0.0


# --------------------------------------------------------------------------- request parsing

_SCHEMA_NAME_RE = re.compile(r"^[ \t]*Schema name:[ \t]*`?([\w.\-]+)`?", re.MULTILINE)


def _message_text(message: Any) -> str:
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "\n".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _looks_like_schema(value: Any) -> bool:
    return isinstance(value, dict) and (
        isinstance(value.get("properties"), dict)
        or "$defs" in value
        or value.get("type") in ("object", "array")
    )


def find_schema_in_text(text: str) -> JSON | None:
    """The first JSON object embedded in ``text`` that looks like a JSON schema (prompt mode)."""
    decoder = json.JSONDecoder()
    pos = text.find("{")
    while pos != -1:
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            pos = text.find("{", pos + 1)
            continue
        if _looks_like_schema(value):
            return value
        if isinstance(value, dict) and _looks_like_schema(value.get("schema")):
            return value["schema"]
        pos = text.find("{", end)
    return None


def _name_and_schema(body: JSON) -> tuple[str | None, JSON | None]:
    """Which node is calling: from response_format, else from the prompt."""
    name: str | None = None
    schema: JSON | None = None
    fmt = body.get("response_format")
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_schema" and isinstance(fmt.get("json_schema"), dict):
            name = fmt["json_schema"].get("name")
            schema = fmt["json_schema"].get("schema")
        elif fmt.get("type") == "json_object" and isinstance(fmt.get("schema"), dict):
            schema = fmt["schema"]  # llama.cpp style: the schema's title is the name
            name = schema.get("title")
    messages = body.get("messages")
    # Prompt mode: the latest message that carries the marker / an embedded schema wins.
    texts = [_message_text(m) for m in reversed(messages)] if isinstance(messages, list) else []
    if name is None:
        for text in texts:
            if match := _SCHEMA_NAME_RE.search(text):
                name = match.group(1)
                break
    if schema is None:
        for text in texts:
            if (schema := find_schema_in_text(text)) is not None:
                break
    return (name if isinstance(name, str) else None), (schema if isinstance(schema, dict) else None)


def default_response(request: RecordedRequest) -> JSON | str:
    """What the server answers when no responder is registered for the request's name."""
    if request.schema is None:
        return "fake completion"
    return sample_from_schema(request.schema, request.name)


def _tokens(chars: int) -> int:
    return max(1, (chars + 3) // 4)  # the usual ~4 characters per token


_DEFAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to access this resource.", "permission_denied", None),
    404: ("The requested resource does not exist.", "invalid_request_error", "not_found"),
    408: ("Request timed out.", "timeout", None),
    409: ("Conflict.", "conflict", None),
    422: ("Unprocessable entity.", "invalid_request_error", None),
    429: ("Rate limit reached. Please try again later.", "requests", "rate_limit_exceeded"),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        "server_error",
    ),
    502: ("Bad gateway.", "server_error", "bad_gateway"),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
    504: ("Gateway timeout.", "server_error", "timeout"),
}


def error_body(
    status: int, message: str | None = None, type_: str | None = None, code: str | None = None
) -> JSON:
    """An OpenAI-shaped error object; unspecified parts default by HTTP status."""
    d_message, d_type, d_code = _DEFAULT_ERRORS.get(
        status,
        (f"HTTP {status}", "server_error" if status >= 500 else "invalid_request_error", None),
    )
    return {
        "error": {
            "message": message or d_message,
            "type": type_ or d_type,
            "param": None,
            "code": code if code is not None else d_code,
        }
    }


# --------------------------------------------------------------------------- HTTP plumbing


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # default backlog of 5 would stall bursts of concurrent clients

    def __init__(self, address: tuple[str, int], fake: FakeLLMServer) -> None:
        self.fake = fake
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (timeouts in tests) are normal here; stay quiet about them.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API (clients pool connections)
    server_version = "FakeLLM/1.0"
    timeout = 60  # idle keep-alive connections release their thread eventually
    # Headers and body go out in two writes: without TCP_NODELAY the body waits ~40 ms for the
    # client's delayed ACK (measured in bench/RESULTS.md), a latency no real API adds.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: no line per request

    def do_GET(self) -> None:
        self.server.fake._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.fake._handle(self, "POST")

    def read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length))
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        return b""

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, str(value))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (e.g. timed out during a hang)
            self.close_connection = True

    def drop(self) -> None:
        """Close without a response; SO_LINGER 0 makes the close a TCP reset."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


# --------------------------------------------------------------------------- the server


class FakeLLMServer:
    """OpenAI-compatible Chat Completions on loopback, with per-node responders and faults."""

    def __init__(
        self,
        *,
        model: str = "fake-model",
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.model = model
        self.api_key = api_key
        self._address = (host, port)
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # wakes sleeping handlers on stop()
        # Requests that arrived before a reset() must not reach the new responders: a late
        # answer to a cancelled test's request would consume a later test's scripted answers.
        self._generation = 0
        self._wakeup = threading.Event()
        self._records: list[RecordedRequest] = []
        self._responders: dict[str | None, Responder] = {}
        self._faults: list[Fault] = []
        self._delays: dict[str | None, float] = {}
        self._ids = itertools.count(1)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> FakeLLMServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(self._address, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-llm",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()
        self._wakeup.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeLLMServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self._address[0]}:{self.port}/v1"

    # -- configuration

    def respond(self, name: str | None, fn: Responder) -> None:
        """Answer requests for ``name`` with ``fn(request)``: a dict (or pydantic model) is sent
        as JSON content, a str verbatim. ``name=None`` is a fallback for names without one."""
        with self._lock:
            self._responders[name] = fn

    def inject_fault(
        self,
        name: str | None,
        status: int,
        *,
        body: JSON | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` requests for ``name`` (None = any) get this HTTP error.
        ``body`` replaces the whole default OpenAI error body."""
        self._add_fault(
            Fault(name, "status", times, status=status, body=body, headers=dict(headers or {}))
        )

    def inject_disconnect(self, name: str | None, times: int = 1) -> None:
        """The next ``times`` requests for ``name`` get their connection reset, no response."""
        self._add_fault(Fault(name, "disconnect", times))

    def inject_hang(self, name: str | None, seconds: float, times: int = 1) -> None:
        """The next ``times`` requests for ``name`` stall ``seconds`` before being answered."""
        self._add_fault(Fault(name, "hang", times, seconds=seconds))

    def inject_drip(self, name: str | None, every_seconds: float, times: int = 1) -> None:
        """The next ``times`` requests for ``name`` get a 200 whose body never ends: one space
        (valid leading JSON whitespace) every ``every_seconds``, until the client hangs up or the
        server is reset, so a per-read timeout never fires."""
        self._add_fault(Fault(name, "drip", times, seconds=every_seconds))

    def set_delay(self, name: str | None, seconds: float) -> None:
        """Latency for every request for ``name`` (None = all); per-name wins over global."""
        with self._lock:
            self._delays[name] = seconds

    def reset(self) -> None:
        with self._lock:
            self._generation += 1
            self._wakeup.set()  # sleeping handlers of the old generation give up now
            self._wakeup = threading.Event()
            self._records.clear()
            self._responders.clear()
            self._faults.clear()
            self._delays.clear()

    # -- inspection

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [dataclasses.replace(r) for r in self._records]

    def calls(self, name: str | None) -> list[RecordedRequest]:
        return [r for r in self.requests if r.name == name]

    def count(self, name: str | None = None) -> int:
        with self._lock:
            if name is None:
                return len(self._records)
            return sum(1 for r in self._records if r.name == name)

    # -- hooks a subclass may override (bench/latency_llm.py's rate limiter)

    def take_fault(self, name: str | None) -> Fault | None:
        """The fault this request of `name` meets, if any (consumes one of its `times`)."""
        with self._lock:
            for fault in self._faults:
                if fault.name is None or fault.name == name:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def delay_for(self, name: str | None) -> float:
        """Seconds to wait before answering a request of `name`: the first per-request hook."""
        with self._lock:
            if name is not None and name in self._delays:
                return self._delays[name]
            return self._delays.get(None, 0.0)

    # -- internals

    def _add_fault(self, fault: Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.append(fault)

    def _drip(
        self,
        h: _Handler,
        record: RecordedRequest,
        every: float,
        generation: int,
        wakeup: threading.Event,
    ) -> None:
        try:
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(1 << 40))
            h.end_headers()
            while generation == self._generation and not self._stopping.is_set():
                h.wfile.write(b" ")
                h.wfile.flush()
                wakeup.wait(every)
        except OSError:  # the client gave up: what a total-time bound does
            pass
        h.close_connection = True
        self._finish(record, 200)

    def _finish(self, record: RecordedRequest, status: int, content: str | None = None) -> None:
        with self._lock:
            record.status = status
            record.response_content = content
            record.finished_at = time.monotonic()

    def _handle(self, h: _Handler, method: str) -> None:
        started = time.monotonic()
        path = h.path.split("?", 1)[0].rstrip("/")
        raw = h.read_body() if method == "POST" else b""
        body: Any = None
        bad_json = False
        if raw:
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                bad_json = True
        if not isinstance(body, dict):
            bad_json = bad_json or method == "POST"
            body = {}
        name, schema = _name_and_schema(body)
        record = RecordedRequest(
            name=name,
            body=body,
            headers={k.lower(): v for k, v in h.headers.items()},
            started_at=started,
            method=method,
            path=h.path,
            schema=schema,
        )
        with self._lock:
            self._records.append(record)

        # Each record is completed before its response goes out, so a client that has its
        # answer always sees the finished record (no race with this handler thread).
        def fail(status: int, payload: JSON, headers: dict[str, str] | None = None) -> None:
            self._finish(record, status)
            h.send_json(status, payload, headers)

        if self.api_key is not None and h.headers.get("Authorization") != f"Bearer {self.api_key}":
            return fail(401, error_body(401))
        is_chat = path.endswith("/chat/completions") and method == "POST"
        is_models = path.endswith("/models") and method == "GET"
        if not (is_chat or is_models):
            return fail(404, error_body(404, f"Unknown route: {method} {path}"))
        if is_chat and bad_json:
            return fail(400, error_body(400, "We could not parse the JSON body of your request."))
        if is_chat and not isinstance(body.get("messages"), list):
            return fail(400, error_body(400, "'messages' is a required property"))
        if body.get("stream"):
            return fail(400, error_body(400, "stream=true is not supported by the fake server"))

        with self._lock:
            generation, wakeup = self._generation, self._wakeup
        if (delay := self.delay_for(name)) > 0:
            wakeup.wait(delay)
        if generation != self._generation or self._stopping.is_set():
            return fail(503, error_body(503, "the fake server was reset during this request"))
        if (fault := self.take_fault(name)) is not None:
            record.fault = fault.kind
            if fault.kind == "disconnect":
                h.drop()
                return self._finish(record, 0)
            if fault.kind == "status":
                return fail(fault.status, fault.body or error_body(fault.status), fault.headers)
            if fault.kind == "drip":
                return self._drip(h, record, fault.seconds, generation, wakeup)
            wakeup.wait(fault.seconds)  # hang, then answer normally
            if generation != self._generation or self._stopping.is_set():
                return fail(503, error_body(503, "the fake server was reset during this request"))

        if is_models:
            models = {"object": "list", "data": [_model_entry(self.model)]}
            self._finish(record, 200)
            return h.send_json(200, models)

        with self._lock:
            responder = self._responders.get(name) or self._responders.get(None)
        try:
            result = (responder or default_response)(record)
            if isinstance(result, ErrorReply):
                return fail(result.status, error_body(result.status, result.message))
            content = _content_of(result)
        except Exception as exc:  # a broken responder is a test bug: make it loud and visible
            traceback.print_exc()
            message = f"fake responder for {name!r} raised {type(exc).__name__}: {exc}"
            return fail(500, error_body(500, message))

        prompt_chars = sum(len(_message_text(m)) for m in body["messages"])
        prompt_tokens, completion_tokens = _tokens(prompt_chars), _tokens(len(content))
        completion = {
            "id": f"chatcmpl-fake{next(self._ids):08d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        self._finish(record, 200, content)
        h.send_json(200, completion)


def _model_entry(model: str) -> JSON:
    return {"id": model, "object": "model", "owned_by": "fake"}


def _content_of(result: Any) -> str:
    if isinstance(result, str):
        return result
    if hasattr(result, "model_dump_json"):  # a pydantic model instance
        return str(result.model_dump_json())
    return json.dumps(result)


# --------------------------------------------------------------------------- standalone


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible Chat Completions server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--model", default="fake-model")
    parser.add_argument("--api-key", default=None, help="require this bearer token")
    parser.add_argument("--delay", type=float, default=0.0, help="latency for every request (s)")
    args = parser.parse_args(argv)

    server = FakeLLMServer(model=args.model, api_key=args.api_key, host=args.host, port=args.port)
    server.set_delay(None, args.delay)
    with server:
        print(f"fake LLM serving {args.model!r} at {server.base_url} (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    print(f"stopped after {server.count()} requests")


if __name__ == "__main__":
    main()
