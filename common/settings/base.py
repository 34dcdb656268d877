"""The machinery every settings model shares: reading a given mapping (not os.environ behind
the caller's back), ASCII-only numbers, and one-line errors that name the variable.

A model's field `x` is the variable `TTDR_X` unless the field names another (`validation_alias`,
e.g. `TAVILY_API_KEY`). An empty variable counts as unset, as it always did in this project.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BeforeValidator, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict
from pydantic_settings.sources import PydanticBaseSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from common.errors import UsageError
from common.setting_numbers import ascii_float, ascii_int

PREFIX = "TTDR_"


class SettingsError(UsageError):
    """A variable holds a value its process cannot use: one line naming it (exit code 2)."""


def _ascii(read: Callable[[str], object]) -> Callable[[object], object]:
    # int() reads other scripts' digits and `1_000`, float() reads nan: settings take ASCII
    # digits only. _one_line says what a number field expects instead of this message.
    def check(raw: object) -> object:
        if not isinstance(raw, str):
            return raw
        try:
            return read(raw)
        except ValueError:
            raise ValueError("not a number in ASCII digits") from None

    return check


def _upper(raw: object) -> object:
    return raw.strip().upper() if isinstance(raw, str) else raw


AsciiInt = Annotated[int, BeforeValidator(_ascii(ascii_int))]
AsciiFloat = Annotated[float, BeforeValidator(_ascii(ascii_float))]
UpperCase = BeforeValidator(_upper)


class _MappingSource(EnvSettingsSource):
    """EnvSettingsSource over the mapping given to load(), so a test or a supervisor can hand
    a process its environment without touching os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._given = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._given, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class EnvSettings(BaseSettings):
    """Base of the per-process models; build one with `load(env)`."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        # Names are matched without case: with case_sensitive the field `metrics_port` would
        # be the variable `TTDR_metrics_port`.
        case_sensitive=False,
        env_ignore_empty=True,  # VAR= means unset
        extra="ignore",  # every other variable of the process is none of ours
        frozen=True,
    )
    process: ClassVar[str] = "process"  # the heading of this model's table in the docs

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # load() reads the environment it is given, nothing else

    @classmethod
    def load(cls, env: Mapping[str, str]) -> Self:
        """The settings `env` holds; SettingsError (one line, first bad variable) otherwise."""
        values = _MappingSource(cls, env)()
        try:
            return cls(**values)
        except ValidationError as err:
            raise SettingsError(_one_line(cls, err, env)) from None

    @classmethod
    def load_only(cls, env: Mapping[str, str], fields: Iterable[str]) -> Self:
        """Like load(), reading only these fields' variables (the others keep their defaults):
        for a helper called without its process's settings (a test, eval, the demo) that
        must not fail on a variable it does not use."""
        names = cls.variables()
        wanted = {names[field] for field in fields}
        return cls.load({key: value for key, value in env.items() if key.upper() in wanted})

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Each field's variable name, by field name."""
        return {name: env_name(name, info) for name, info in cls.model_fields.items()}


def env_name(name: str, info: FieldInfo) -> str:
    alias = info.validation_alias
    return alias if isinstance(alias, str) else PREFIX + name.upper()


def _one_line(cls: type[EnvSettings], err: ValidationError, env: Mapping[str, str]) -> str:
    first = err.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    info = cls.model_fields.get(field)
    if info is None:  # a check across fields: its message names the variables itself
        return str(first["msg"]).removeprefix("Value error, ")
    name = env_name(field, info)
    secret = is_secret(info)
    raw = env.get(name, "")
    own = first["type"] == "value_error" and base_type(info.annotation) not in (int, float)
    if own:  # a field's own check says what is wrong
        what = str(first["msg"]).removeprefix("Value error, ")
    else:
        what = f"must be {expectation(info)}"
    got = "its value is not shown" if secret else f"got {raw!r}"
    return f"{name} {what} ({got})"


def is_secret(info: FieldInfo) -> bool:
    return SecretStr in typing.get_args(info.annotation) or info.annotation is SecretStr


def bounds(info: FieldInfo) -> dict[str, Any]:
    """The field's ge/gt/le/lt/min_length constraints (annotated_types objects, one each)."""
    return {
        key: getattr(meta, key)
        for meta in info.metadata
        for key in ("ge", "gt", "le", "lt", "min_length")
        if getattr(meta, key, None) is not None
    }


def base_type(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is Annotated:
        return base_type(args[0])
    if args and typing.get_origin(annotation) is not Literal:
        return base_type(args[0]) if len(args) == 1 else annotation
    return annotation


def number_text(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def expectation(info: FieldInfo) -> str:
    """What a variable must hold, in words: 'an integer from 0 to 65535'."""
    kind = base_type(info.annotation)
    if typing.get_origin(kind) is Literal:
        return "one of " + ", ".join(str(v) for v in typing.get_args(kind))
    if kind is bool:
        return "true or false (1 or 0)"
    if kind in (int, float):
        what = "an integer" if kind is int else "a number"
        b = {key: number_text(value) for key, value in bounds(info).items()}
        if "ge" in b and "le" in b:
            return f"{what} from {b['ge']} to {b['le']} in ASCII digits"
        words = {"gt": "more than", "ge": "at least", "le": "at most", "lt": "less than"}
        parts = [f"{words[key]} {b[key]}" for key in words if key in b]
        return f"{what} in ASCII digits" + (f", {' and '.join(parts)}" if parts else "")
    shortest = bounds(info).get("min_length", 0)
    if shortest > 1:
        return f"at least {shortest} characters long"
    if shortest == 1:
        return "non-empty text"
    return "text"
