"""The settings models (common/settings/): defaults, one-line errors, secrets kept out of them,
the docs page generated from them, no product code reading a TTDR_* variable they lack, and
both processes refusing a bad value at start."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from common.settings import MODELS, ClientSettings, SettingsError, WorkerSettings, doc

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = (
    "workflows", "activities", "search", "observability", "inspection", "embedded", "cli",
    "common", "export", "desk", "worker_processes", "worker.py", "client.py",
)  # fmt: skip
VARIABLE = re.compile(r"TTDR_[A-Z0-9_]*[A-Z0-9]")


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    worker = WorkerSettings.load({})
    assert (worker.task_queue, worker.search, worker.log_level) == ("ttdr", "local", "INFO")
    assert worker.metrics_port is None and worker.llm_max_rpm is None
    assert (worker.llm_timeout_seconds, worker.run_metrics_seconds) == (600.0, 30.0)
    assert worker.fetch_pages and not worker.fetch_allow_private
    client = ClientSettings.load({})
    assert (client.mcp_max_runs, client.serve_runs_per_minute) == (3, 6)
    assert client.web_ui_url == "http://localhost:8233" and client.priority is None


def test_values_are_read_with_their_types_and_empty_means_unset() -> None:
    env = {"TTDR_METRICS_PORT": " 9464 ", "TTDR_LOG_LEVEL": "debug", "TTDR_FETCH_PAGES": "0",
           "TTDR_LLM_MAX_RPM": "", "TAVILY_API_KEY": "tvly-0123456789"}  # fmt: skip
    worker = WorkerSettings.load(env)
    assert (worker.metrics_port, worker.log_level, worker.fetch_pages) == (9464, "DEBUG", False)
    assert worker.llm_max_rpm is None
    assert worker.tavily_api_key is not None
    assert worker.tavily_api_key.get_secret_value() == "tvly-0123456789"


@pytest.mark.parametrize(
    ("model", "name", "raw", "message"),
    [
        (WorkerSettings, "TTDR_METRICS_PORT", "abc",
         "TTDR_METRICS_PORT must be an integer from 1 to 65535 in ASCII digits (got 'abc')"),
        (WorkerSettings, "TTDR_INDEX_FILE_MEMORY_MB", "١٠٢٤",  # Arabic-Indic digits
         "TTDR_INDEX_FILE_MEMORY_MB must be an integer from 64 to 1048576 in ASCII digits"),
        (WorkerSettings, "TTDR_LLM_MAX_RPM", "0.5",
         "TTDR_LLM_MAX_RPM must be a number from 1 to 1000000 in ASCII digits (got '0.5')"),
        (WorkerSettings, "TTDR_LLM_TIMEOUT_SECONDS", "nan", "TTDR_LLM_TIMEOUT_SECONDS must be a "
         "number in ASCII digits, more than 0 and at most 3600 (got 'nan')"),
        (WorkerSettings, "TTDR_LOG_LEVEL", "loud",
         "TTDR_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (got 'loud')"),
        (WorkerSettings, "TTDR_FETCH_PAGES", "maybe",
         "TTDR_FETCH_PAGES must be true or false (1 or 0) (got 'maybe')"),
        (WorkerSettings, "TTDR_DEPLOYMENT", "v1.2", "TTDR_DEPLOYMENT must not contain '.'"),
        (ClientSettings, "TTDR_PRIORITY", "9",
         "TTDR_PRIORITY must be an integer from 1 to 5 in ASCII digits (got '9')"),
        (ClientSettings, "TTDR_MCP_MAX_TOKENS", "1_000_000", "TTDR_MCP_MAX_TOKENS must be"),
    ],
)  # fmt: skip
def test_a_bad_value_is_one_line_naming_the_variable_and_changes_nothing(
    model: type[WorkerSettings] | type[ClientSettings], name: str, raw: str, message: str
) -> None:
    env = {name: raw, "TTDR_TASK_QUEUE": "q"}
    before = dict(env)
    with pytest.raises(SettingsError) as caught:
        model.load(env)
    text = str(caught.value)
    assert text.startswith(message) and "\n" not in text
    assert env == before


def test_a_secret_never_appears_in_an_error() -> None:
    token = "s3cret-short"
    with pytest.raises(SettingsError) as caught:
        ClientSettings.load({"TTDR_SERVE_TOKEN": token})
    assert str(caught.value) == (
        "TTDR_SERVE_TOKEN must be at least 16 characters long (its value is not shown)"
    )
    key = "sk-live-0123456789abcdef"
    with pytest.raises(SettingsError) as caught:  # another variable is wrong: the key stays out
        WorkerSettings.load({"TTDR_LLM_API_KEY": key, "TTDR_METRICS_PORT": "abc"})
    assert key not in str(caught.value) and "TTDR_METRICS_PORT" in str(caught.value)
    settings = WorkerSettings.load({"TTDR_LLM_API_KEY": key})
    assert key not in repr(settings) and key not in str(settings)


def test_the_docs_page_is_what_the_generator_writes() -> None:
    page = doc.PAGE.read_text(encoding="utf-8")
    assert doc.render(page) == page, "run `python -m common.settings.doc` and commit the page"
    for model in MODELS:  # every variable has a row
        for name in model.variables().values():
            assert f"| `{name}` |" in page


def _product_files() -> list[Path]:
    files: list[Path] = []
    for entry in PRODUCT:
        path = ROOT / entry
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return files


def test_every_ttdr_variable_product_code_names_is_in_a_model() -> None:
    declared = {name for model in MODELS for name in model.variables().values()}
    named: dict[str, str] = {}
    for path in _product_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and VARIABLE.fullmatch(text):
                named.setdefault(text, str(path.relative_to(ROOT)))
    # The scan finds variables (it would pass on finding none): names kept for messages
    # (PRICES_ENV, TOKEN_SETTING, ...) and writes of a child's environment (23 once the
    # desk and MCP took theirs from the models).
    assert len(named) > 15
    missing = {name: where for name, where in named.items() if name not in declared}
    assert not missing, f"read in code but declared by no settings model: {missing}"


def _environment_reads(tree: ast.Module, constants: dict[str, str]) -> set[str]:
    """The TTDR_* variables a module reads from an environment: `env.get(K)`, `getenv(K)`,
    `environ[K]`, `K in env`, or a helper handed the environment and K (`_number(env, K)`),
    K a literal or a module constant naming the variable."""

    def variable(node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value if VARIABLE.fullmatch(node.value) else None
        name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
        return constants.get(name) if isinstance(name, str) else None

    def environment(node: ast.expr) -> bool:
        name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
        return name in ("env", "environ")

    found: set[str | None] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            args = [*node.args, *(k.value for k in node.keywords)]
            method = getattr(node.func, "attr", "")
            if method in ("get", "getenv") and args:
                found.add(variable(args[0]))
            elif any(environment(a) for a in args):
                found.update(variable(a) for a in args)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            found.add(variable(node.slice))
        elif isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.In | ast.NotIn):
            found.add(variable(node.left))
    return {name for name in found if name is not None}


def test_only_the_settings_models_read_ttdr_variables_from_the_environment() -> None:
    trees = {
        str(path.relative_to(ROOT)): ast.parse(path.read_text(encoding="utf-8"))
        for path in _product_files()
    }
    constants = {  # PORT_ENV = "TTDR_METRICS_PORT", wherever it is defined
        target.id: node.value.value
        for tree in trees.values()
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str) and VARIABLE.fullmatch(node.value.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }  # fmt: skip
    reads = {
        where: names
        for where, tree in trees.items()
        if not where.startswith("common/settings/")
        and (names := _environment_reads(tree, constants))
    }
    # Writing a child's environment (worker_processes/children.py, the supervisor's metrics
    # ports and embedded model) is not a read: the scan does not count it.
    assert not reads, (
        f"read these from the process's settings model (common/settings/) instead: {reads}"
    )


def test_the_scan_sees_each_way_of_reading_a_variable() -> None:
    source = """
PORT_ENV = "TTDR_A"
a = os.environ.get("TTDR_B"); b = env["TTDR_C"]; c = "TTDR_D" in env
d = os.getenv(PORT_ENV); e = _number(env, "TTDR_E", 6, int)
env["TTDR_WRITTEN"] = "1"; f = {"TTDR_NOT_READ": 1}
"""
    found = _environment_reads(ast.parse(source), {"PORT_ENV": "TTDR_A"})
    assert found == {"TTDR_A", "TTDR_B", "TTDR_C", "TTDR_D", "TTDR_E"}


@pytest.mark.parametrize(
    ("script", "args", "prefix"),
    [
        ("worker.py", [], "worker: "),
        ("worker.py", ["--processes", "2"], "worker: "),  # the supervisor, before its children
        ("client.py", ["stats"], "error: "),
    ],
)
def test_a_process_with_a_bad_value_stops_at_start_with_one_line(
    script: str, args: list[str], prefix: str
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "TEMPORAL_ADDRESS": "127.0.0.1:9",  # nothing listens: connecting first would say so
        "TTDR_WORKER_PROCESSES": "1",
        "TTDR_LLM_API_KEY": "sk-never-shown-0123456789",
        "TTDR_LLM_TIMEOUT_SECONDS": "ten",
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"{prefix}TTDR_LLM_TIMEOUT_SECONDS must be a number in ASCII digits, more than 0 and at "
        "most 3600 (got 'ten')\n"
    )
