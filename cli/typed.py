"""The command as the user typed it, for the hints the CLI prints: `client.py` from a checkout,
`ttdr` when installed (`pipx install .`). Hints are written with `client.py`; cli/main.py says
once how the command was typed, and as_typed() says a hint that way."""

from __future__ import annotations

import re

CHECKOUT = "client.py"
_CLIENT = re.compile(r"(?:python )?\bclient\.py\b")
_typed = [CHECKOUT]  # set once per process by cli/main.py


def set_typed(command: str) -> None:
    _typed[0] = command or CHECKOUT


def as_typed(text: str) -> str:
    command = _typed[0]
    return text if command == CHECKOUT else _CLIENT.sub(command, text)
