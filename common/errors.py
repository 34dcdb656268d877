"""The errors a user's input or setting gets: one line that says what to fix. client.py prints
it and exits 2; the worker and the desk say it their own way.

This module imports nothing from the project, so the connection helper, the command modules,
the worker and the desk can raise these without an import circle; lower layers raise their own
errors (inspection.history.HistoryError), which cli/main.py prints the same way.
"""


class CommandError(Exception):
    """Bad input or an unknown run: client.py prints the message on one line and exits 2."""


class UsageError(CommandError):
    """Bad input: reported in one line, exit code 2, no workflow started."""
