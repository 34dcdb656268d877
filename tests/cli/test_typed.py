"""Installed as `ttdr`, the CLI's hints name `ttdr`, not `client.py` (cli/typed.py): a user who
typed `ttdr schedule pause` and is told to run `client.py schedule pause ID` has no such file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cli.main import main
from cli.typed import as_typed, set_typed


@pytest.fixture(autouse=True)
def typed_as_in_a_checkout() -> Iterator[None]:
    yield
    set_typed("client.py")


def test_a_hint_names_the_command_as_it_was_typed() -> None:
    hint = "the run goes on: `client.py watch r-1` follows it; python client.py report r-1"
    assert as_typed(hint) == hint  # from a checkout
    set_typed("ttdr")
    assert as_typed(hint) == "the run goes on: `ttdr watch r-1` follows it; ttdr report r-1"


@pytest.mark.parametrize(("typed", "named"), [("ttdr", "ttdr"), ("client.py", "client.py")])
def test_an_error_line_names_the_command_as_typed(
    typed: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as leaving:
        main(["schedule", "two", "words"], prog=typed)
    assert leaving.value.code == 2
    err = capsys.readouterr().err
    assert (
        err.strip() == f'error: give one question in quotes: {named} schedule "question" --every 7d'
    )
