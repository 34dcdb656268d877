"""Defence in depth: the values of configured secrets never become passages.

Containment (documents/files.py) already keeps /proc/self/environ and files outside the corpus
out; this catches a secret that reached the corpus some other way (a `.env` copied into the
docs, a notebook that printed its key). A secret is the value of an environment variable whose
name says it is one (…KEY, …TOKEN, …SECRET, …PASSWORD, …CREDENTIALS) and is long enough not to
match ordinary words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.IGNORECASE)
_MIN_SECRET_CHARS = 8


@dataclass(frozen=True)
class Secret:
    name: str
    value: str


def secrets_from_env(env: Mapping[str, str]) -> tuple[Secret, ...]:
    return tuple(
        Secret(name, value.strip())
        for name, value in sorted(env.items())
        if _SECRET_NAME.search(name) and len(value.strip()) >= _MIN_SECRET_CHARS
    )


def secret_in(texts: Iterable[str], secrets: tuple[Secret, ...]) -> str | None:
    """The name of the first secret whose value occurs in `texts`, or None."""
    if not secrets:
        return None
    for text in texts:
        for secret in secrets:
            if secret.value in text:
                return secret.name
    return None
