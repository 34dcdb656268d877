"""The errors every client.py command raises for a one-line reason (exit code 2).

This module imports nothing from the project, so the connection helper and the command
modules can raise these without an import circle; lower layers raise their own errors
(observability.history.HistoryError), which cli/main.py prints the same way.
"""


class CommandError(Exception):
    """Bad input or an unknown run: client.py prints the message on one line and exits 2."""


class UsageError(CommandError):
    """Bad input: reported in one line, exit code 2, no workflow started."""
