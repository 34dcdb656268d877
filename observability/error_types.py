"""The `error.type` of a failure, shared by spans and metrics (one name for one kind of error)."""

from __future__ import annotations


def error_type(err: BaseException) -> str:
    """ApplicationError's own type (e.g. LLMServerError), else the exception's class name."""
    kind = getattr(err, "type", None)
    return kind if isinstance(kind, str) and kind else type(err).__name__.lstrip("_")
