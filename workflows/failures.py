"""The reason behind a failed activity or child, for a reader (the innermost message)."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError, FailureError

REASON_MAX_CHARS = 300


def innermost_message(err: BaseException) -> str:
    """The innermost failure's message: an ActivityError says only which activity failed, its
    cause says why (a workflow's failure, seen by a client, the same)."""
    messages: list[str] = []
    current: BaseException | None = err
    while current is not None:
        if isinstance(current, FailureError) and str(current):
            messages.append(str(current))
        current = current.__cause__
    return messages[-1] if messages else str(err)


def root_message(err: BaseException) -> str:
    """innermost_message cut to REASON_MAX_CHARS, for what the workflow keeps."""
    return innermost_message(err)[:REASON_MAX_CHARS]


def root_type(err: BaseException) -> str:
    """The innermost application error's type (`LLMInvalidOutput`, `LLMServerError`), or ""."""
    found = ""
    current: BaseException | None = err
    while current is not None:
        if isinstance(current, ApplicationError) and current.type:
            found = current.type
        current = current.__cause__
    return found
