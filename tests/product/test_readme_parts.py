"""The README and docs/ as a reader follows them.

"Running the parts yourself" (docs/operate/running-the-parts.md), as a new user types it in a
fresh clone: the commands before the worker (after `./scripts/setup-env`, which made .venv) bring
a Temporal dev server up with its database where the page says. A fresh clone has no .ttdr/:
without creating it, the dev server cannot open its database and exits.

And the documentation as a whole: the README stays short and keeps the two commands CI runs,
every relative link of README.md and docs/**/*.md reaches a file (and, with an #anchor into a
Markdown file, one of its headings), and docs/index.md and the README link every docs page."""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import time
from pathlib import Path

from embedded.process import free_port
from tests.support.paths import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
RUNNING = DOCS / "operate" / "running-the-parts.md"
SECTION = "\n# Running the parts yourself\n"
README_MAX_LINES = 260


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


# ---------------------------------------------------------------- the documentation as a whole

FENCE = re.compile(r"^ *```")
HEADING = re.compile(r"^(#{1,6}) +(.+?) *#* *$")
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?: +\"[^\"]*\")?\)")


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def prose(path: Path) -> tuple[str, list[str]]:
    """The file's text outside fenced code blocks, and its headings (ATX, outside fences)."""
    kept, headings, fenced = [], [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        kept.append(line)
        if match := HEADING.match(line):
            headings.append(match.group(2))
    assert not fenced, f"{path}: a code fence is not closed"
    return "\n".join(kept), headings


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: the rendered text (no backticks) in lower case, without
    punctuation, spaces as hyphens."""
    text = heading.replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in prose(path)[1]:
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links(path: Path) -> list[str]:
    """The targets of the file's Markdown links and images, outside code, that are not URLs."""
    text = CODE_SPAN.sub("", prose(path)[0])
    targets = LINK.findall(text)
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t, re.IGNORECASE)]


def test_the_readme_is_short_and_keeps_the_two_commands() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"
    text = "\n".join(lines)
    block = re.search(r"## Two commands\n.*?```bash\n(.*?)```", text, re.DOTALL)
    assert block, "the README's Two commands section starts with a bash block"
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert commands == ["./scripts/demo", "./scripts/test"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci[-1].startswith("./scripts/test"), "CI runs the README's test command"


def test_every_relative_link_reaches_a_file_and_heading() -> None:
    checked, broken = 0, []
    for path in [README, *pages()]:
        for target in relative_links(path):
            checked += 1
            file_part, _, anchor = target.partition("#")
            goal = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(ROOT)}: {target}"
            if not goal.exists():
                broken.append(f"{where} (no such file)")
            elif anchor and goal.suffix == ".md" and anchor not in anchors(goal):
                broken.append(f"{where} (no such heading)")
    assert checked >= 100, checked  # the links are found at all
    assert not broken, "\n".join(broken)


def test_every_docs_page_is_in_the_index_and_the_readme() -> None:
    index = DOCS / "index.md"
    every = {p for p in pages() if p != index}
    assert len(every) >= 20, every
    for source in (index, README):
        linked = {(source.parent / t.partition("#")[0]).resolve() for t in relative_links(source)}
        missing = sorted(str(p.relative_to(ROOT)) for p in every - linked)
        assert not missing, f"{source.relative_to(ROOT)} does not link {missing}"


def test_the_link_checker_sees_headings_and_code_as_github_does(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# `client.py`: commands, ids\n\n## Fair sharing: priority and fairness keys\n\n"
        "## Fair sharing: priority and fairness keys\n\n"
        "[a](other.md#x) `[b](in-code.md)`\n```\n[c](in-fence.md)\n# not a heading\n```\n",
        encoding="utf-8",
    )
    assert anchors(page) == {
        "clientpy-commands-ids",
        "fair-sharing-priority-and-fairness-keys",
        "fair-sharing-priority-and-fairness-keys-1",
    }
    assert relative_links(page) == ["other.md#x"]
