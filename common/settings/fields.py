"""`setting()`: a field with what the docs page shows of it (common/settings/doc.py)."""

from __future__ import annotations

from typing import Any

from pydantic import Field


def setting(
    default: Any,
    description: str,
    *,
    shown: str | None = None,
    env: str | None = None,
    **bounds: Any,
) -> Any:
    """A settings field: `description` says what it does and its unit; `shown` is the default
    in words when the value alone would not say it (None = 'unset: ...'); `env` names a
    variable without the TTDR_ prefix (TAVILY_API_KEY)."""
    extra = {"shown": shown} if shown is not None else None
    return Field(
        default,
        description=description,
        validation_alias=env,
        json_schema_extra=extra,
        **bounds,
    )
