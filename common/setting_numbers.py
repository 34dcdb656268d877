"""Numbers in settings and options: ASCII digits only.

Python's int() and float() read any script's digits (Arabic-Indic U+0661..U+0663 read as 123,
a full-width U+FF13 as 3) and str.isdigit() says yes to them, so such a number slipped through
as a value that looks like nothing the user typed. Every numeric setting (TTDR_*, the worker's
and the client's) and every numeric option of client.py is read here instead: an optional sign,
ASCII digits, for a float an optional ASCII decimal part and exponent; nothing else (no `nan`,
`inf`, `1_000`, spaces inside).
"""

from __future__ import annotations

import argparse
import re

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
MAX_DIGITS = 30  # far above any setting's range; keeps a 5,000-digit value cheap to refuse


def ascii_int(raw: str) -> int:
    """The whole number `raw` spells in ASCII digits (outer spaces ignored), else ValueError."""
    text = raw.strip()
    if len(text) > MAX_DIGITS or not _INT.fullmatch(text):
        raise ValueError(f"{raw!r} is not a whole number in ASCII digits (0-9)")
    return int(text)


def ascii_float(raw: str) -> float:
    """The number `raw` spells in ASCII digits (outer spaces ignored), else ValueError."""
    text = raw.strip()
    if len(text) > MAX_DIGITS or not _FLOAT.fullmatch(text):
        raise ValueError(f"{raw!r} is not a number in ASCII digits (0-9, optional .fraction)")
    return float(text)


def _option_type(parse: type[int] | type[float]) -> object:
    reader = ascii_int if parse is int else ascii_float

    def option(raw: str) -> int | float:
        try:
            return reader(raw)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    option.__name__ = parse.__name__
    return option


class AsciiNumberParser(argparse.ArgumentParser):
    """An ArgumentParser whose `type=int` and `type=float` options take ASCII digits only; its
    subcommands' parsers are made of the same class, so one parser covers every option."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for parse in (int, float):
            self.register("type", parse, _option_type(parse))
