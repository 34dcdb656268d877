"""Start and follow research runs: `python client.py research "QUESTION" [options]`.

The commands live in cli/ (see cli/__init__.py); `python client.py --help` lists them.
Installed (`pipx install .`), the same commands are the `ttdr` command (pyproject.toml's
[project.scripts] calls main() below).
Exit codes: 0 success, 1 the research failed, 2 bad input or unreachable server (nothing started).
"""

import sys
from pathlib import Path
from typing import NoReturn

from cli.main import entry


def main() -> NoReturn:
    """`python client.py ...` or `ttdr ...`: usage lines name the command as it was typed."""
    entry(prog=Path(sys.argv[0]).name or "client.py")


if __name__ == "__main__":
    main()
