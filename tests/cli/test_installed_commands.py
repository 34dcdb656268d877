"""The project installs like a tool: `pip install .` (or `pipx install .`) gives the `ttdr` and
`ttdr-worker` commands (pyproject.toml's [project.scripts]), and they run from the installed,
non-editable copy — the top-level modules client.py and worker.py included (py-modules).

A fresh venv, the project built from a copy of what pyproject.toml declares (so the build writes
nothing into the work tree), installed without its dependencies: those are the project venv's,
made visible by a path line (not the venv's own .pth files, so its editable install of this
work tree is not seen). The build runs offline from pip's configured indexes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIP_SECONDS = 600  # the build environment's setuptools comes from pip's indexes


def _project_copy(destination: Path) -> Path:
    """pyproject.toml, the README it names and every package and module it declares."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    destination.mkdir()
    for name in ("pyproject.toml", config["project"]["readme"]):
        shutil.copy2(ROOT / name, destination / name)
    for top in sorted({package.split(".")[0] for package in setuptools["packages"]}):
        shutil.copytree(ROOT / top, destination / top, ignore=shutil.ignore_patterns("__pycache__"))
    for module in setuptools["py-modules"]:
        shutil.copy2(ROOT / f"{module}.py", destination / f"{module}.py")
    return destination


def _run(argv: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.slow
def test_pip_install_gives_the_ttdr_and_ttdr_worker_commands(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
             tmp_path).stdout.strip()
    )  # fmt: skip
    (site / "_project_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    source = _project_copy(tmp_path / "source")
    installed = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         str(source)],
        tmp_path,
        timeout=PIP_SECONDS,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]

    # The modules are the installed copies, not this work tree's.
    where = _run(
        [str(python), "-c", "import client, worker, cli, desk; "
         "print(client.__file__, worker.__file__, cli.__file__, desk.__file__, sep='\\n')"],
        tmp_path,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    files = [Path(line) for line in where.stdout.splitlines()]
    assert len(files) == 4 and all(f.is_relative_to(site) for f in files), files
    # The desk's templates and styles are package data: `ttdr serve` needs them installed.
    assert (site / "desk" / "templates" / "base.html").is_file()
    assert (site / "desk" / "static" / "desk.css").is_file()

    ttdr = _run([str(venv / "bin" / "ttdr"), "--help"], tmp_path)
    assert ttdr.returncode == 0, ttdr.stderr
    assert ttdr.stdout.startswith("usage: ttdr "), ttdr.stdout
    assert "Start, follow, inspect and replay TTD-DR research runs." in ttdr.stdout
    for command in ("research", "follow-up", "replay", "serve"):
        assert command in ttdr.stdout

    worker = _run([str(venv / "bin" / "ttdr-worker"), "--help"], tmp_path)
    assert worker.returncode == 0, worker.stderr
    assert worker.stdout.startswith("usage: ttdr-worker [-h] [--processes N]"), worker.stdout
    assert "Run TTD-DR workers" in worker.stdout

    # With --processes N the supervisor starts each child as `python <installed worker.py>`.
    child = _run([str(python), str(site / "worker.py"), "--help"], tmp_path)
    assert child.returncode == 0, child.stderr
    assert child.stdout.startswith("usage: worker.py [-h] [--processes N]"), child.stdout
