"""Mutation testing of the modules whose logic users depend on, one module group at a time.

    .venv/bin/python -m bench.mutation                # every target below
    .venv/bin/python -m bench.mutation stopping config  # some of them
    .venv/bin/python -m bench.mutation --list

Tool: mutmut 3 (pyproject.toml's dev extra says why). Each target is measured in a scratch copy
of the commit HEAD (`--worktree`: of the files as they are now; never the tree itself, which
other people may be testing in), with only the target's files mutated and only its fast test
files run: tests that need a Temporal server or are marked slow are deselected
(bench/mutation_select.py), so one mutant costs well under a second. mutmut runs, for each
mutant, the tests that executed the mutated function, in a forked child of a process that has
imported everything already.

mutmut 3 mutates code inside functions and methods only (not properties): class-level
constants such as pydantic `Field(ge=..., le=...)` bounds are not mutated.
tests/workflows/test_config.py checks every bounded field at both edges and the table of bounds
of docs/use/configuration.md against the model instead.

Output: per mutated file, mutants / killed / survived / timeout / no tests and the score
(killed + timeout over all), the wall time of the target, and the diff of every survivor, which
bench/RESULTS.md then explains (equivalent) or a new test kills.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Every top-level package is copied into mutmut's `mutants/` tree (mutated or not), so the tests
# import the copy and never the work tree.
PACKAGES = (
    "workflows", "activities", "observability", "embedded", "cli", "export", "eval", "testing",
)  # fmt: skip
MODULES = ("worker.py", "client.py")
# Files tests read that are not Python packages (tests/ itself is copied by mutmut).
ALSO_COPY = ("README.md", "docs", "deploy", "docker-compose.yml", "scripts", "Dockerfile", ".ci")


@dataclass(frozen=True)
class Target:
    name: str
    files: tuple[str, ...]  # mutated
    tests: tuple[str, ...]  # run against each mutant (only those that ran its function)
    functions: tuple[str, ...] = ()  # mutant-name globs; empty: every function of `files`
    # A mutant is stopped after this many times its tests' clean time (CPU; half that in wall
    # time) and counted as caught. mutmut's 15 suits a loaded machine; the sanitiser's regex
    # loops need less, or one looping mutant holds a worker for many minutes.
    timeout_multiplier: float = 15.0

    def describe(self) -> str:
        scope = ", ".join(self.functions) if self.functions else "all functions"
        return f"{self.name}: {', '.join(self.files)} [{scope}] <- {', '.join(self.tests)}"


TARGETS: tuple[Target, ...] = (
    Target(
        "citations",
        ("workflows/citing/citations.py", "workflows/citing/sanitise.py"),
        ("tests/workflows/citing/test_citations.py", "tests/workflows/citing/test_sanitise.py"),
        timeout_multiplier=3.0,
    ),
    Target(
        "grounding",
        (
            "workflows/citing/grounding.py",
            "workflows/citing/support.py",
            "workflows/citing/claim_text.py",
        ),
        (
            "tests/workflows/citing/test_grounding.py",
            "tests/workflows/citing/test_support_scorer.py",
            "tests/workflows/citing/test_claim_text.py",
        ),
    ),
    Target(
        "config",
        ("workflows/config.py",),
        ("tests/workflows/test_config.py", "tests/workflows/test_stopping.py"),
    ),
    Target(
        "stopping",
        ("workflows/stopping.py",),
        ("tests/workflows/test_stopping.py",),
    ),
    Target(
        "sources",
        ("workflows/sources.py",),
        ("tests/workflows/test_sources.py",),
    ),
    Target("state", ("workflows/state.py",), ("tests/workflows/test_run_state.py",)),
    Target(
        "llm_errors",
        ("activities/llm.py",),
        ("tests/activities/test_llm_errors.py",),
        (
            "activities.llm.x_retry_after_seconds*",
            "activities.llm.xǁLLMClientǁ_http_error*",
            "activities.llm.x__provider_message*",
            "activities.llm.x__mentions_format*",
        ),
    ),
    Target(
        "fetch",
        ("search/fetch.py",),
        (
            "tests/search/test_page_fetch.py",
            "tests/search/test_fetch_addresses.py",
        ),
        (
            "search.fetch.x_is_public_address*",
            "search.fetch.x_address_allowed*",
            "search.fetch.x_resolve_checked*",
            # the client (no redirects, no proxies from the environment), the redirect limit and
            # the size cap; _fetch_once's plumbing (default ports, TLS SNI, decoding, logging)
            # needs TLS or a non-loopback network to observe and is left out
            "search.fetch.xǁPageFetcherǁ__init__*",
            "search.fetch.xǁPageFetcherǁfetch*",
            "search.fetch.xǁPageFetcherǁ_read_capped*",
        ),
    ),
    Target(
        "index_changes",
        ("search/index_store.py", "search/documents/files.py"),
        (
            "tests/search/test_local_search.py",
            "tests/search/test_index_changes.py",
        ),
        # CorpusFile.signature is a property, which mutmut does not mutate; _check reads the
        # stat fields the signature is made of.
        (
            "search.index_store.xǁIndexStoreǁrefresh*",
            "search.documents.files.x__check*",
        ),
    ),
    Target(
        "corpus_reader",
        ("search/documents/files.py",),
        (
            "tests/search/test_corpus_reader.py",
            "tests/search/test_index_changes.py",
        ),
        (
            "search.documents.files.x_list_files*",
            "search.documents.files.x__walk*",
            "search.documents.files.x__check*",
            "search.documents.files.x__follow*",
            "search.documents.files.x__inside*",
            "search.documents.files.x_read_bytes*",
        ),
    ),
)
BY_NAME = {t.name: t for t in TARGETS}
CAUGHT = {"killed", "timeout"}


def project_files() -> list[str]:
    """Tracked and new (not ignored) files of the work tree."""
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return [p for p in out.split("\0") if p and (ROOT / p).is_file()]


def mutmut_section(target: Target) -> str:
    tests = [t for t in target.tests if (ROOT / t).exists()]
    lines = [
        "",
        "[tool.mutmut]",
        f"source_paths = {json.dumps([*PACKAGES, *MODULES, 'bench'])}",
        f"only_mutate = {json.dumps(list(target.files))}",
        f"also_copy = {json.dumps(list(ALSO_COPY))}",
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
        'pytest_add_cli_args = ["-p", "bench.mutation_select", "-p", "no:cacheprovider"]',
        f"timeout_multiplier = {target.timeout_multiplier}",
        "",
    ]
    return "\n".join(lines)


def head_commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True, capture_output=True,
        text=True,
    ).stdout.strip()  # fmt: skip


def prepare(target: Target, scratch: Path, worktree: bool) -> Path:
    """A copy of the committed tree (HEAD), or with `worktree` of the files as they are now."""
    work = scratch / target.name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    if worktree:
        for rel in project_files():
            dest = work / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest)
    else:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-xf", "-"], cwd=work, input=archive, check=True)
    pyproject = (ROOT / "pyproject.toml").read_text()
    pyproject = re.sub(r"\n\[tool\.mutmut\][^\[]*", "\n", pyproject)
    (work / "pyproject.toml").write_text(pyproject + mutmut_section(target))
    return work


def mutmut(work: Path, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("mutmut")
    return subprocess.run(
        [str(exe), *args],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def statuses(work: Path) -> dict[str, str]:
    out = mutmut(work, "results", "--all", "true").stdout
    found = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name:
            found[name] = status
    return found


_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
print(json.dumps({name: get_diff_for_mutant(name) for name in json.load(sys.stdin)}))
"""


def diffs(work: Path, names: list[str]) -> dict[str, str]:
    """The diff of each mutant, read in one process (`mutmut show` would start one per mutant)."""
    if not names:
        return {}
    done = subprocess.run(
        [sys.executable, "-c", _DIFFS], cwd=work, input=json.dumps(sorted(names)),
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def changed_lines(diff: str) -> str:
    """The -/+ lines of a diff, for a short listing."""
    return "\n".join(
        line for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )  # fmt: skip


def file_of(mutant: str, target: Target) -> str:
    for path in target.files:
        if mutant.startswith(path[:-3].replace("/", ".") + "."):
            return path
    return "?"


def run_target(
    target: Target, scratch: Path, max_children: int, timeout: float, worktree: bool
) -> dict:
    work = prepare(target, scratch, worktree)
    started = time.monotonic()
    run = mutmut(work, "run", "--max-children", str(max_children), *target.functions,
                 timeout=timeout)  # fmt: skip
    seconds = time.monotonic() - started
    log = run.stdout + run.stderr
    (work / "mutmut-run.log").write_text(log)
    if run.returncode != 0:
        # Typically the clean run failed: a test fails without any mutant. Say so, count nothing.
        return {
            "target": target.name,
            "seconds": round(seconds, 1),
            "exit_code": run.returncode,
            "error": log[-2000:],
            "per_file": {},
            "survivors": {},
            "work": str(work),
        }
    found = statuses(work)
    if target.functions:  # `results` lists every mutant of the file, run or not
        found = {
            name: status
            for name, status in found.items()
            if any(fnmatch.fnmatch(name, pattern) for pattern in target.functions)
        }
    per_file: dict[str, Counter] = {}
    for name, status in sorted(found.items()):
        per_file.setdefault(file_of(name, target), Counter())[status] += 1
    survivors = diffs(work, [name for name, status in found.items() if status not in CAUGHT])
    return {
        "target": target.name,
        "seconds": round(seconds, 1),
        "exit_code": run.returncode,
        "per_file": {path: dict(counts) for path, counts in per_file.items()},
        "survivors": survivors,
        "work": str(work),
    }


def score(counts: dict[str, int]) -> tuple[int, int, float]:
    total = sum(counts.values())
    caught = sum(n for status, n in counts.items() if status in CAUGHT)
    return total, caught, (100.0 * caught / total if total else 100.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=", ".join(BY_NAME))
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per target")
    parser.add_argument("--scratch", type=Path, help="where the copies go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copies")
    parser.add_argument(
        "--worktree",
        action="store_true",
        help="measure the files as they are in the work tree (default: the commit HEAD)",
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    if args.list:
        for target in TARGETS:
            print(target.describe())
        return 0
    unknown = [n for n in args.targets if n not in BY_NAME]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}: use {', '.join(BY_NAME)}")
    chosen = [BY_NAME[n] for n in args.targets] if args.targets else list(TARGETS)
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="ttdr-mutation-"))
    results = []
    source = "work tree" if args.worktree else f"commit {head_commit()}"
    print(f"measuring the {source}; scratch copies in {scratch}", flush=True)
    try:
        for target in chosen:
            print(f"== {target.describe()}", flush=True)
            result = run_target(target, scratch, args.max_children, args.timeout, args.worktree)
            results.append(result)
            for path, counts in result["per_file"].items():
                total, caught, pct = score(counts)
                detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                print(f"   {path}: {caught}/{total} caught ({pct:.1f}%): {detail}")
            print(f"   {result['seconds']:.0f} s, mutmut exit {result['exit_code']}")
            if "error" in result:
                print(f"   mutmut failed, nothing counted; the end of its log:\n{result['error']}")
            for name, diff in result["survivors"].items():
                print(f"   -- not caught: {name}\n{changed_lines(diff)}")
    finally:
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
        if not args.keep and args.scratch is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
