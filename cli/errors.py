"""The errors every client.py command raises for a one-line reason (exit code 2).

This module imports nothing from the project, so any layer (observability/history.py, the
connection helper, the command modules) can raise these without an import circle.
"""


class CommandError(Exception):
    """Bad input or an unknown run: client.py prints the message on one line and exits 2."""


class UsageError(CommandError):
    """Bad input: reported in one line, exit code 2, no workflow started."""
