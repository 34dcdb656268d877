"""Reading a model's answer: a bounded read of the body, secrets masked, tolerant JSON parsing,
repair of cut-off answers, and the words a re-ask uses to tell the model what was wrong."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from activities.redaction import Redactor

T = TypeVar("T", bound=BaseModel)
OVERSIZE = "ttdr_oversize"  # marks an answer whose body was cut at max_response_bytes


def parse_structured(content: str, schema: type[T], *, truncated: bool = False) -> T:
    """Validate a model's answer, tolerating Markdown fences and prose around the JSON object.

    An answer cut off at the token limit is repaired by closing its open string and brackets;
    if that still does not validate, the caller re-asks.
    """
    text = content.strip()
    # Unwrap a fenced block only around the answer: fences inside a JSON string (Markdown in
    # an answer) are content.
    fenced = (
        None if text.startswith("{") else re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    )
    if fenced:
        text = fenced.group(1).strip()
    start = text.find("{")
    # A cut-off answer ends mid-object (and mid-fence): all from its first brace is the JSON.
    tail = text[start:] if start != -1 else text
    if not text.startswith("{"):
        end = text.rfind("}")
        if start != -1 and end > start:
            text = text[start : end + 1]
    try:
        try:
            # strict=False: small models put raw newlines inside JSON strings; that is harmless.
            data = json.loads(text, strict=False)
        except json.JSONDecodeError:
            if not truncated:
                raise
            data = json.loads(close_truncated_json(tail), strict=False)
        return schema.model_validate(data)
    except RecursionError:
        # json and pydantic recurse per nesting level: a hostile answer nests thousands deep.
        raise ValueError("the JSON is nested too deeply") from None


def close_truncated_json(text: str) -> str:
    """Close the string, arrays and objects a cut-off JSON text left open."""
    closers: list[str] = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            closers.append("}" if ch == "{" else "]")
        elif ch in "}]" and closers:
            closers.pop()
    if escaped:
        text = text[:-1]
    if in_string:
        text += '"'
    text = re.sub(r"[,:]\s*$", "", text.rstrip())
    return text + "".join(reversed(closers))


_CUT_ESCAPE = re.compile(r"\\u[0-9a-fA-F]{0,3}$")


def oversize_answer(raw: bytes) -> dict[str, Any]:
    """The first bytes of an over-long answer as a cut-off completion (finish_reason "length"),
    its envelope closed like a truncated answer; an empty one when nothing can be read back
    (the caller then re-asks, saying the answer was too long)."""
    text = _CUT_ESCAPE.sub("", raw.decode("utf-8", errors="ignore"))
    try:
        data = json.loads(close_truncated_json(text), strict=False)
        choice = data["choices"][0]
        content = choice["message"]["content"]
        if not isinstance(content, str):
            raise TypeError
    except (ValueError, RecursionError, LookupError, TypeError):
        content = ""
    return {
        "choices": [{"message": {"content": content}, "finish_reason": "length"}],
        OVERSIZE: len(raw),
    }


def describe_invalid(
    err: Exception, content: str, finish_reason: str | None, oversize: int | None = None
) -> str:
    if oversize:
        return f"the answer was over {oversize} bytes and was cut off; it must be much shorter"
    if not content.strip():
        return "the completion was empty"
    cut = " (cut off at the token limit)" if finish_reason == "length" else ""
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the answer"
        return f"{where}: {first['msg']}{cut}"
    return f"not JSON ({err}){cut}"


async def read_bounded(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of the body, and whether that was all of it. Stopping early
    closes the connection, so the rest is never transferred."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], False
    return b"".join(chunks), True


def mask_content(data: dict[str, Any], redactor: Redactor) -> None:
    for choice in data.get("choices") or []:
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            message["content"] = redactor.text(message["content"])
