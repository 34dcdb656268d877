"""The client's settings as a command reads them.

cli/main.py loads ClientSettings once, before any command runs, and puts it on the parsed
arguments. Callers that parse the arguments themselves and call a command directly (eval.run
drives `batch` this way) have no such attribute: they get the settings from os.environ here,
checked the same way (a bad value is one SettingsError line)."""

from __future__ import annotations

import argparse
import os

from common.settings import ClientSettings


def client_settings(args: argparse.Namespace) -> ClientSettings:
    settings = getattr(args, "settings", None)
    if settings is None:
        settings = ClientSettings.load(os.environ)
        args.settings = settings
    return settings
