"""Start and follow research runs: `python client.py research "QUESTION" [options]`.

The commands live in cli/ (see cli/__init__.py); `python client.py --help` lists them.
Exit codes: 0 success, 1 the research failed, 2 bad input or unreachable server (nothing started).
"""

from cli.main import entry

if __name__ == "__main__":
    entry()
