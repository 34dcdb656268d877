"""`client.py mcp`: the argument wiring only. The MCP SDK takes about a second to import, so
cli/mcp_server.py is imported when the command runs, not by every `client.py` call."""

from __future__ import annotations

import argparse


async def cmd_mcp(args: argparse.Namespace) -> int:
    from cli import mcp_server

    return await mcp_server.cmd_mcp(args)


def register(commands: argparse._SubParsersAction) -> None:
    sub = commands.add_parser(
        "mcp", help="serve research runs as MCP tools (stdio; --http for streamable HTTP)"
    )
    sub.add_argument(
        "--http",
        metavar="HOST:PORT",
        help="serve streamable HTTP at http://HOST:PORT/mcp (beyond loopback: set TTDR_MCP_TOKEN)",
    )
    sub.set_defaults(handler=cmd_mcp)
