"""`--priority` and `--fairness-key` of `client.py research` and `batch`: Temporal task Priority.

Set on the workflow start, the Priority is inherited by the run's workflow tasks, its node
activities and (for a batch) its child runs, so one user's big batch does not starve another's
single question:
- `--priority N` (1 highest … 5 lowest, default 3 as the server treats "unset"): tasks of a
  higher priority are dispatched before those of a lower one;
- `--fairness-key KEY` (e.g. the user's or team's name): within one priority, the server hands
  out tasks round-robin between keys, in proportion to `--fairness-weight` (default 1), instead
  of first come, first served.
Defaults come from the environment, so a shared deployment can give each user's client their
key: TTDR_PRIORITY, TTDR_FAIRNESS_KEY (the options win).
The embedded dev server enables both (embedded/temporal_server.py, DEV_SERVER_DYNAMIC_CONFIG);
on another cluster, its matching service needs the same dynamic config.
"""

from __future__ import annotations

import argparse

from temporalio.common import Priority

from cli.client_settings import client_settings
from common.errors import UsageError
from common.settings import ClientSettings

PRIORITY_LEVELS = 5
FAIRNESS_KEY_MAX_BYTES = 64  # the server's limit


def add_priority_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--priority",
        type=int,
        help=f"task priority, 1 (highest) to {PRIORITY_LEVELS} (lowest); default 3",
    )
    parser.add_argument(
        "--fairness-key",
        help="share the workers fairly between keys (e.g. your user or team name)",
    )
    parser.add_argument(
        "--fairness-weight",
        type=float,
        help="this key's share relative to other keys (default 1)",
    )


def priority_from_args(
    args: argparse.Namespace, settings: ClientSettings | None = None
) -> Priority:
    """The Priority the options (else TTDR_PRIORITY / TTDR_FAIRNESS_KEY, from the client's
    settings: cli/client_settings.py unless given) ask for; a bad value is a UsageError naming the
    option, before anything is started."""
    settings = settings if settings is not None else client_settings(args)
    level, key, weight = args.priority, args.fairness_key, args.fairness_weight
    if level is None:
        level = settings.priority  # the model has checked it: 1..5 in ASCII digits
    key_source = "--fairness-key"  # a bad key blames where it came from
    if key is None:
        key = settings.fairness_key
        key_source = "TTDR_FAIRNESS_KEY"
    if level is not None and not 1 <= level <= PRIORITY_LEVELS:
        raise UsageError(f"--priority must be 1..{PRIORITY_LEVELS}, not {level}")
    if key is not None:
        key = key.strip()
        if not key or not key.isprintable():
            raise UsageError(f"{key_source} must be printable text, not empty")
        if len(key.encode()) > FAIRNESS_KEY_MAX_BYTES:
            raise UsageError(f"{key_source} is over {FAIRNESS_KEY_MAX_BYTES} bytes")
    if weight is not None:
        if key is None:
            raise UsageError("--fairness-weight needs a --fairness-key")
        if not 0.001 <= weight <= 1000:
            raise UsageError(f"--fairness-weight must be 0.001..1000, not {weight}")
    return Priority(priority_key=level, fairness_key=key, fairness_weight=weight)
