"""The project's import graph: no import circle anywhere, and no I/O module under workflows/.

Both are read from the source (ast), so an import hidden inside a function counts too: that is
how the client.py <-> inspect_cli.py circle used to hide.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

from tests.support.paths import ROOT

PACKAGES = (
    "workflows",
    "activities",
    "search",
    "observability",
    "inspection",
    "embedded",
    "cli",
    "common",
    "bench",
    "export",
    "worker_processes",
    "desk",
    "testing",
)
TOP_MODULES = ("client", "worker")
# Modules that read files, the network, the environment, the clock or randomness: workflow code
# must stay deterministic (the SDK's sandbox would reject most of them at run time).
IO_MODULES = frozenset(
    {
        "glob", "http", "httpx", "io", "multiprocessing", "os", "pathlib", "random", "requests",
        "secrets", "shutil", "socket", "sqlite3", "ssl", "subprocess", "tempfile", "threading",
        "time", "urllib", "uuid", "opentelemetry",
    }
)  # fmt: skip


def project_modules() -> dict[str, Path]:
    modules = {name: ROOT / f"{name}.py" for name in TOP_MODULES}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imported_names(module: str, path: Path) -> set[str]:
    """Every dotted name an `import` or `from ... import` in the file may load."""
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            names.add(origin)
            names.update(f"{origin}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {
        name: {target for target in imported_names(name, path) if target in modules} - {name}
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> list[str] | None:
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target in on_stack:
                return [*stack[stack.index(target) :], target]
            if target not in done and (cycle := visit(target)):
                return cycle
        on_stack.discard(stack.pop())
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done and (cycle := visit(start)):
            return cycle
    return None


def test_the_checker_sees_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_circle_between_project_modules() -> None:
    graph = import_graph()
    assert "cli.main" in graph and "client" in graph, "the walk sees the project"
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_workflows_import_no_io_module() -> None:
    modules = project_modules()
    graph = import_graph()
    reached: set[str] = set()
    pending = [name for name in modules if name.split(".")[0] == "workflows"]
    assert pending, "workflows/ has modules"
    offenders: list[str] = []
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        reached.add(name)
        pending.extend(graph[name])
        for imported in imported_names(name, modules[name]):
            if imported.split(".")[0] in IO_MODULES:
                offenders.append(f"{name} imports {imported}")
    assert not offenders, "workflow code (or a project module it imports) does I/O: " + "; ".join(
        sorted(offenders)
    )


# The layers below the command line (common/ is what all entry points share): they raise their
# own errors or common.errors and take their settings as arguments, so a worker, the desk or a
# bench never needs the CLI to use them (issue 24).
BELOW_THE_CLI = (
    "common", "workflows", "activities", "search", "observability", "inspection", "embedded",
    "export", "worker", "worker_processes",
)  # fmt: skip


def test_no_layer_below_the_cli_imports_it() -> None:
    modules = project_modules()
    offenders = sorted(
        f"{name} imports {target}"
        for name, targets in import_graph().items()
        if name.split(".")[0] in BELOW_THE_CLI
        for target in targets
        if target.split(".")[0] == "cli"
    )
    assert any(m.startswith("observability.") for m in modules), "the walk sees observability"
    assert not offenders, "a layer below the CLI imports it: " + "; ".join(offenders)


def test_the_search_library_knows_nothing_of_temporal_or_its_callers() -> None:
    """search/ is a library: the CLI (`client.py index`/`search`) and the bench use it without
    a worker, and the activities adapt its errors (activities/search_failures.py)."""
    modules = project_modules()
    offenders = sorted(
        f"{name} imports {imported}"
        for name, path in modules.items()
        if name.split(".")[0] == "search"
        for imported in imported_names(name, path)
        if imported.split(".")[0] in ("temporalio", "activities", "cli", "worker", "desk")
    )
    assert any(m.startswith("search.providers.") for m in modules), "the walk sees search/"
    assert not offenders, "search/ reaches above itself: " + "; ".join(offenders)


# Code that runs only in development (tests, benchmarks, evaluation, scripts, and the fakes they
# share): it may import the dev extra. The product's packages may import only the dependencies.
DEV_ONLY = ("tests", "bench", "eval", "scripts", "testing")


def _declared(requirements: list[str]) -> set[str]:
    names = set()
    for requirement in requirements:
        name = re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0]
        names.add(re.sub(r"[-_.]+", "-", name).lower())
    return names


def test_every_imported_package_is_declared() -> None:
    """A fresh venv gets what the code imports: product code from the dependencies, tests from
    the dev extra (import names mapped to distributions by the installed metadata)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = _declared(project["dependencies"])
    dev = runtime | _declared(project["optional-dependencies"]["dev"])
    local_llm = _declared(project["optional-dependencies"].get("local-llm", []))
    providers = importlib.metadata.packages_distributions()
    own = {*PACKAGES, *TOP_MODULES, "tests", "eval", "scripts"}
    missing = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] not in own | {f"{m}.py" for m in TOP_MODULES}:
            continue  # .venv, caches
        allowed = dev if relative.parts[0] in DEV_ONLY else runtime
        for name in imported_names(".".join(relative.with_suffix("").parts), path):
            top = name.split(".")[0]
            if not top or top in sys.stdlib_module_names or top in own or top == "__future__":
                continue
            distributions = {re.sub(r"[-_.]+", "-", d).lower() for d in providers.get(top, [top])}
            if not distributions & (allowed | local_llm):
                missing.append(f"{relative}: {name} ({', '.join(sorted(distributions))})")
    assert not missing, "imported but not declared in pyproject.toml: " + "; ".join(
        sorted(set(missing))
    )


# Shared by tests, bench and eval: what the benchmarks and the evaluation use lives in testing/,
# so they never import the test suite (its modules move and are renamed freely).
NOT_FROM_TESTS = ("bench", "eval", "testing")


def test_bench_eval_and_testing_import_nothing_from_tests() -> None:
    offenders = []
    for package in NOT_FROM_TESTS:
        paths = sorted((ROOT / package).rglob("*.py"))
        assert paths, f"{package}/ has modules"
        for path in paths:
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            offenders += [
                f"{module} imports {name}"
                for name in imported_names(module, path)
                if name.split(".")[0] == "tests"
            ]
    assert not offenders, "import from the test suite: " + "; ".join(sorted(set(offenders)))


def test_every_product_package_is_installed() -> None:
    """`pip install .` (no editable mode, as `pipx install .` and the Dockerfile do) ships only
    the packages pyproject.toml lists: a package left out imports in the checkout and fails in
    the installed worker (common.settings was, for one commit)."""
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
            "packages"
        ]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for package in PACKAGES
        if package not in DEV_ONLY
        for init in (ROOT / package).rglob("__init__.py")
    }
    assert "common.settings" in found and "search.providers" in found, "the walk sees packages"
    assert not found - listed, f"not in pyproject.toml's packages: {sorted(found - listed)}"
