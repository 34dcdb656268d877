"""Defence in depth: the worker never passes on the value of a secret it was configured with.

Keys should never reach a document, a page or a model in the first place (the corpus reader
refuses to read outside its folders). If one does anyway — a `.env` copied into the docs, a
page that prints a token, a model that repeats what it saw — the redactor replaces it with
`[secret]` wherever the worker hands text on: prompts (before they are sent), the model's
answers (before they are parsed, logged or traced) and every activity result and error
message (so neither the history nor `client.py state` can carry it).

A secret is the LLM key plus what the corpus reader calls one (search/documents/
secrets.py: the value of every environment variable whose name says it is one — …KEY, …TOKEN,
…SECRET, …PASSWORD, …CREDENTIALS — at least 8 characters long; shorter values such as
`TTDR_LLM_API_KEY=ollama` are ordinary words, and redacting them would garble reports without
protecting anything). The mask is never longer than a secret, so a redacted text still fits
any length bound.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio.exceptions import ApplicationError

from search.documents.secrets import secrets_from_env

MASK = "[secret]"
MIN_SECRET_CHARS = len(MASK)
M = TypeVar("M", bound=BaseModel)


def configured_secrets(env: Mapping[str, str]) -> list[str]:
    """The values of the environment variables whose names mark them as secrets."""
    return [secret.value for secret in secrets_from_env(env)]


class Redactor:
    """Replaces every configured secret in a text; one alternation, one pass (linear)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        values = sorted({s for s in secrets if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, values))) if values else None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, extra: Iterable[str] = ()) -> Redactor:
        """The worker's redactor: its environment's secrets (os.environ by default) and `extra`
        (the LLM key, whichever variable it came from)."""
        return cls([*configured_secrets(os.environ if env is None else env), *extra])

    @property
    def active(self) -> bool:
        return self._pattern is not None

    def text(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def value(self, value: Any) -> Any:
        """Every string inside a JSON-like value (dicts, lists) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value

    def model(self, model: M) -> M:
        """A pydantic result with every string field redacted (the same object when clean)."""
        if self._pattern is None:
            return model
        dumped = model.model_dump()
        cleaned = self.value(dumped)
        return model if cleaned == dumped else type(model).model_validate(cleaned)

    def error(self, err: Exception) -> ApplicationError:
        """An activity's failure with the secrets taken out of its message; the retryability and
        type are kept (any other exception becomes a retryable ApplicationError of its type)."""
        if isinstance(err, ApplicationError):
            return ApplicationError(
                self.text(err.message),
                *self.value(list(err.details)),
                type=err.type,
                non_retryable=err.non_retryable,
                next_retry_delay=err.next_retry_delay,
            )
        return ApplicationError(self.text(str(err)), type=type(err).__name__)
