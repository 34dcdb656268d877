"""Running the parts yourself (docs/operate/running-the-parts.md), as a new user types it in a
fresh clone: the commands before the worker (after `./scripts/setup-env`, which made .venv) bring
a Temporal dev server up with its database where the page says. A fresh clone has no .ttdr/:
without creating it, the dev server cannot open its database and exits."""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import time
from pathlib import Path

from embedded.process import free_port

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RUNNING = DOCS / "operate" / "running-the-parts.md"
SECTION = "\n# Running the parts yourself\n"


def readme_commands() -> list[str]:
    text = RUNNING.read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "the section starts with a bash block"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_the_dev_server_command_works_in_a_fresh_clone(tmp_path: Path) -> None:
    commands = readme_commands()
    server = next(i for i, c in enumerate(commands) if "temporal server start-dev" in c)
    assert commands[0].startswith("./scripts/setup-env")
    for command in commands[1:server]:  # what comes between setup and the server
        assert subprocess.run(command, shell=True, cwd=tmp_path, check=False).returncode == 0
    port, ui_port = free_port(), free_port()
    argv = shlex.split(commands[server])
    argv[0] = str(ROOT / argv[0])  # .venv/bin/temporal: the clone's .venv is this one
    argv += ["--port", str(port), "--ui-port", str(ui_port), "--headless", "--log-level", "error"]
    db_file = tmp_path / argv[argv.index("--db-filename") + 1]
    process = subprocess.Popen(argv, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not listening(port):
            assert process.poll() is None, f"the dev server exited: {process.stderr.read()}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the dev server did not come up"
            time.sleep(0.2)
        assert db_file.is_file(), "histories are kept where the page says"
    finally:
        process.terminate()
        process.wait(15)
