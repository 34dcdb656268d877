"""Hand-written bug recipes: would the tests notice the bugs a person writes?

    .venv/bin/python -m bench.bug_recipes              # every recipe
    .venv/bin/python -m bench.bug_recipes NAME ...     # some of them
    .venv/bin/python -m bench.bug_recipes --list

A recipe is one source line located by its content (never by line number, so it survives edits
around it) and a plausible wrong version of it: a number rule that skips one-digit numbers, a
`resume` that leaves a pending step, a chunk size never reset, a first attempt counted as a
retry; and every real bug fixed in the history, put back. bench/mutation.py (mutmut) is the
standing measure of mutmut's operators; this one measures the classes of bug its operators do
not write (issue 28).

Each recipe is applied alone in a scratch copy of the commit HEAD (`--worktree`: of the files as
they are now), never in the work tree itself, which other people edit and test in. The copy's
tests named by the recipe run first unchanged (they must pass, or the recipe says nothing), then
with the bug; the bug is *caught* when a test fails. A recipe whose line is no longer in the file
is reported *stale*: rewrite it against the new code. One whose first failure is a test's set-up
or tear-down (ERROR: a dev server slow to start on a loaded machine) is reported *error* and not
counted: rerun it. When a real bug is fixed, add its recipe here so that it stays caught.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.bug_recipe_list import RECIPES, Recipe

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
TIMEOUT_SECONDS = 900


@dataclass
class Outcome:
    recipe: Recipe
    result: str  # caught | missed | stale | baseline-fails | timeout | error (rerun it)
    seconds: float
    detail: str = ""


def head_commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True, capture_output=True
    )
    return out.stdout.decode().strip()


def copy_tree(dest: Path, worktree: bool) -> None:
    """The committed tree (HEAD), or with `worktree` the tracked and new files as they are."""
    if worktree:
        listed = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout.decode()
        for rel in filter(None, listed.split("\0")):
            if (ROOT / rel).is_file():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / rel, dest / rel)
        return
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-xf", "-"], cwd=dest, input=archive, check=True)


def pytest(work: Path, tests: tuple[str, ...]) -> tuple[int | None, str]:
    """Exit code (None on timeout) and the last lines of a pytest run in the copy."""
    env = {**os.environ, "PYTHONPATH": str(work), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [str(PYTHON), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(
            command, cwd=work, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired:
        return None, f"no result after {TIMEOUT_SECONDS} s"
    failed = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    tail = failed[:1] or done.stdout.strip().splitlines()[-1:] or [done.stderr.strip()[-300:]]
    return done.returncode, tail[0] if tail else ""


def imports_the_copy(work: Path) -> bool:
    """The copy's tests must import the copy's code, not the work tree's (editable install)."""
    env = {**os.environ, "PYTHONPATH": str(work)}
    found = subprocess.run(
        [str(PYTHON), "-c", "import workflows; print(workflows.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return found.startswith(str(work))


def run_recipe(work: Path, recipe: Recipe, baseline: dict[tuple[str, ...], bool]) -> Outcome:
    started = time.monotonic()
    path = work / recipe.path
    original = path.read_text() if path.exists() else ""
    if original.count(recipe.find) != 1:
        found = original.count(recipe.find)
        return Outcome(recipe, "stale", 0.0, f"the line occurs {found} times in {recipe.path}")
    if recipe.tests not in baseline:
        code, detail = pytest(work, recipe.tests)
        baseline[recipe.tests] = code == 0
        if code != 0:
            print(f"  baseline fails: {' '.join(recipe.tests)}: {detail}", file=sys.stderr)
    if not baseline[recipe.tests]:
        return Outcome(recipe, "baseline-fails", time.monotonic() - started)
    path.write_text(original.replace(recipe.find, recipe.replace, 1))
    try:
        code, detail = pytest(work, recipe.tests)
    finally:
        path.write_text(original)
    seconds = time.monotonic() - started
    if code is None:
        return Outcome(recipe, "timeout", seconds, detail)
    if code != 0 and detail.startswith("ERROR"):
        # A fixture failed (a dev server slow to start on a loaded machine): not a verdict.
        return Outcome(recipe, "error", seconds, detail)
    return Outcome(recipe, "caught" if code != 0 else "missed", seconds, detail)


def table(outcomes: list[Outcome]) -> str:
    lines = [
        "| recipe | class | origin | result | s | first failure |",
        "|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        detail = o.detail.replace("|", "\\|")[:110]
        lines.append(
            f"| {o.recipe.name} | {o.recipe.kind} | {o.recipe.origin} | {o.result} | "
            f"{o.seconds:.0f} | {detail} |"
        )
    counted = [o for o in outcomes if o.result in ("caught", "missed", "timeout")]
    caught = sum(o.result == "caught" for o in counted)
    share = f"{100 * caught / len(counted):.0f}%" if counted else "n/a"
    lines.append("")
    lines.append(f"caught {caught} of {len(counted)} ({share})")
    others = [o for o in outcomes if o not in counted]
    if others:
        lines.append("not counted: " + ", ".join(f"{o.recipe.name} ({o.result})" for o in others))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="recipes to apply (default: all)")
    parser.add_argument("--list", action="store_true", help="list the recipes and exit")
    parser.add_argument(
        "--worktree", action="store_true", help="copy the files as they are now, not HEAD"
    )
    args = parser.parse_args(argv)
    if args.list:
        for recipe in RECIPES:
            print(f"{recipe.name:28} {recipe.kind:10} {recipe.path}  <- {' '.join(recipe.tests)}")
        return 0
    by_name = {r.name: r for r in RECIPES}
    unknown = [n for n in args.names if n not in by_name]
    if unknown:
        print(f"unknown recipe(s): {', '.join(unknown)} (see --list)", file=sys.stderr)
        return 2
    chosen = [by_name[n] for n in args.names] if args.names else list(RECIPES)

    scratch = Path(tempfile.mkdtemp(prefix="ttdr-recipes-"))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    commit = head_commit() + (" + work tree" if args.worktree else "")
    try:
        copy_tree(scratch, args.worktree)
        if not imports_the_copy(scratch):
            print("the copy's tests would import the work tree: not measuring", file=sys.stderr)
            return 1
        baseline: dict[tuple[str, ...], bool] = {}
        outcomes = []
        for recipe in chosen:
            outcome = run_recipe(scratch, recipe, baseline)
            print(f"{recipe.name}: {outcome.result} ({outcome.seconds:.0f} s)", file=sys.stderr)
            outcomes.append(outcome)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    load = os.getloadavg()
    print(f"commit {commit}, started {started}, load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(table(outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
