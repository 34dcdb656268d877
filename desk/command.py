"""`client.py serve [--host 127.0.0.1] [--port 8400]`: the research desk in the browser."""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys

from cli.client_settings import client_settings
from common.temporal_connection import connect_from_env
from desk.settings import DeskSettingsError, desk_settings


def _check_free(host: str, port: int) -> None:
    """Say in one line, before connecting anywhere, when the address cannot be listened on."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as err:
            raise DeskSettingsError(f"cannot listen on {host}:{port}: {err.strerror}") from None


async def cmd_serve(args: argparse.Namespace) -> int:
    # From the ClientSettings cli/main.py checked; refuses a public address without a token.
    settings = desk_settings(args.host, args.port, client_settings(args), os.environ)
    _check_free(settings.host, settings.port)
    client = await connect_from_env()
    # Imported here: `client.py` stays quick for every other command.
    import uvicorn

    from desk.app import create_app

    app = create_app(client, settings)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="warning", access_log=False,
        server_header=False, proxy_headers=False,
    )  # fmt: skip
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"desk: http://{shown}:{settings.port}/  (Ctrl-C stops it)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        await uvicorn.Server(config).serve()
    print("desk stopped", file=sys.stderr)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser(
        "serve", help="the research desk in the browser: ask, steer, watch, read"
    )
    sub.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; any other needs TTDR_SERVE_TOKEN)",
    )
    sub.add_argument("--port", type=int, default=8400, help="port (default 8400)")
    sub.set_defaults(handler=cmd_serve)
