"""argparse wiring and exit codes for `python client.py COMMAND ...`.

Exit codes: 0 success, 1 the research (or a replay) failed, 2 bad input or unreachable server
(nothing started), 130 interrupted, 141 the output's reader went away (`| head`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from types import ModuleType
from typing import NoReturn

from cli import (
    batch,
    corpus,
    export,
    follow_up,
    inspection,
    mcp_command,
    plan_review,
    replay,
    report,
    research,
    schedule,
    top,
)
from cli.typed import as_typed, set_typed
from common.errors import CommandError
from common.setting_numbers import AsciiNumberParser
from common.settings import ClientSettings, SettingsError
from desk import command as serve
from inspection.history import HistoryError
from observability import tracing

# Each module registers its subcommands with `register(commands)`; add a new module here.
COMMAND_MODULES: tuple[ModuleType, ...] = (
    research,
    follow_up,
    schedule,
    plan_review,
    report,
    export,
    batch,
    inspection,
    replay,
    top,
    corpus,
    mcp_command,
    serve,
)

DESCRIPTION = "Start, follow, inspect and replay TTD-DR research runs."
BROKEN_PIPE = 141  # as a shell reports a process ended by SIGPIPE (`... | head -1`)


def parser(prog: str = "client.py") -> argparse.ArgumentParser:
    # ASCII digits only in every numeric option (a full-width digit is refused, not read).
    top = AsciiNumberParser(prog=prog, description=DESCRIPTION)
    commands = top.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.register(commands)
    return top


def _fail(message: str, code: int) -> NoReturn:
    print(f"error: {as_typed(message)}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: list[str] | None = None, prog: str = "client.py") -> int:
    set_typed(prog)  # hints name the command as it was typed (cli/typed.py)
    args = parser(prog).parse_args(argv)
    try:  # every variable the client reads, before any command connects (one line, exit 2)
        args.settings = ClientSettings.load(os.environ)
    except SettingsError as err:
        _fail(str(err), 2)
    tracing.capture_content(args.settings.trace_content)
    try:
        provider = tracing.configure_tracing(
            tracing.CLIENT_SERVICE, os.environ, announce=lambda line: print(line, file=sys.stderr)
        )
    except tracing.TracingConfigError as err:
        _fail(str(err), 2)
    try:
        return asyncio.run(args.handler(args))
    except (CommandError, HistoryError) as err:  # every command's one-line failure
        _fail(str(err), 2)
    except KeyboardInterrupt:
        # A command that started or follows a run says how to pick it up again.
        hint = getattr(args, "interrupt_hint", None) or "the run goes on in Temporal"
        print(f"\ninterrupted: {as_typed(hint)}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `client.py state ID | head -1`: the reader has all it wanted
        _silence_stdout()
        return BROKEN_PIPE
    finally:
        tracing.shutdown_tracing(provider)  # export the root span before the process ends


def entry(argv: list[str] | None = None, prog: str = "client.py") -> NoReturn:
    """Run main() as a process: leave with its exit code, without interpreter finalisation.
    `prog` names the command in usage lines (`client.py`, or `ttdr` when installed)."""
    try:
        exit_code = main(argv, prog)
    except SystemExit as leaving:  # argparse and the one-line error path
        exit_code = leaving.code if isinstance(leaving.code, int) else 1
    # The Temporal SDK's native threads can still be winding down during finalisation, and an
    # update's late callback has aborted the process then (seen in tests): skip it.
    try:
        sys.stdout.flush()  # output still buffered meets a closed pipe here
    except BrokenPipeError:
        _silence_stdout()
        exit_code = exit_code or BROKEN_PIPE
    sys.stderr.flush()
    os._exit(exit_code)


def _silence_stdout() -> None:
    """Point stdout at /dev/null: the buffered rest, written at exit, has no reader."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
