"""The error every client.py command raises for a one-line reason (exit code 2)."""


class CommandError(Exception):
    """Bad input or an unknown run: client.py prints the message on one line and exits 2."""
