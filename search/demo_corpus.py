"""The demo corpus: Python's own bundled documentation, written out as plain files.

It gives the local search something real to index with no network and no download: the
language-reference topics that ship with `pydoc` plus the docstrings of the pure-Python
standard library. Modules are read with `ast`, never imported, because some stdlib modules
have side effects on import (`antigravity` opens a browser, `this` prints).
"""

from __future__ import annotations

import ast
import logging
import os
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path
from pydoc_data.topics import topics as _PYDOC_TOPICS

logger = logging.getLogger(__name__)

# The demo corpus's folder name starts with this (local_provider names its documents).
DEMO_PREFIX = "demo-corpus-py"
# Written last, so a folder that has it is complete.
_MARKER = ".complete"

# Folders of the stdlib tree that are not documentation-worthy modules (tests, tools, vendored
# or third-party code).
_SKIP_DIRS = frozenset(
    {
        "site-packages",
        "dist-packages",
        "test",
        "tests",
        "idlelib",
        "lib2to3",
        "turtledemo",
        "__pycache__",
        "ensurepip",
    }
)

_FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def materialise_demo_corpus(cache_dir: Path) -> Path:
    """Write the demo corpus under `cache_dir` on first use and return its folder."""
    target = cache_dir / f"{DEMO_PREFIX}{sys.version_info.major}.{sys.version_info.minor}"
    if (target / _MARKER).is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    if target.exists():
        # A folder without the marker is a leftover from an older, non-atomic layout.
        shutil.rmtree(target, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=cache_dir))
    try:
        topic_count = _write_topics(tmp / "topics")
        module_count = _write_modules(tmp / "modules")
        (tmp / _MARKER).write_text(f"{topic_count} topics, {module_count} modules\n")
        try:
            tmp.rename(target)
        except OSError:
            # Another process finished first; its copy is identical.
            if not (target / _MARKER).is_file():
                raise
            logger.debug("demo corpus already written by another process: %s", target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _write_topics(folder: Path) -> int:
    folder.mkdir()
    for topic, text in sorted(_PYDOC_TOPICS.items()):
        body = f"# {topic} (Python language reference)\n\n{text.strip()}\n"
        (folder / f"{topic}.txt").write_text(body, encoding="utf-8")
    return len(_PYDOC_TOPICS)


def _write_modules(folder: Path) -> int:
    folder.mkdir()
    count = 0
    for name, path in _stdlib_modules(Path(sysconfig.get_paths()["stdlib"])):
        markdown = _module_markdown(name, path)
        if markdown is not None:
            (folder / f"{name}.md").write_text(markdown, encoding="utf-8")
            count += 1
    return count


def _stdlib_modules(stdlib: Path) -> Iterator[tuple[str, Path]]:
    """Yield (dotted name, source path) for the public pure-Python stdlib modules."""
    for dirpath, dirnames, filenames in os.walk(stdlib):
        here = Path(dirpath)
        package = here.relative_to(stdlib).parts
        # Prune in place so os.walk does not descend; only real packages are importable.
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in _SKIP_DIRS
            and d.isidentifier()
            and not d.startswith("_")
            and (here / d / "__init__.py").is_file()
        )
        for filename in sorted(filenames):
            stem, ext = os.path.splitext(filename)
            if ext != ".py" or not stem.isidentifier():
                continue
            if stem == "__init__":
                if package:
                    yield ".".join(package), here / filename
            elif not stem.startswith("_"):
                yield ".".join((*package, stem)), here / filename


def _module_markdown(name: str, path: Path) -> str | None:
    """Render one module's docstrings as markdown, or None if it has none or cannot parse."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError) as exc:
        logger.debug("skipping unparsable module %s: %s", path, exc)
        return None
    sections = []
    module_doc = ast.get_docstring(tree)
    if module_doc:
        sections.append(module_doc)
    exported = _literal_all(tree)
    for node in tree.body:
        if not isinstance(node, _FunctionNode | ast.ClassDef) or not _is_public(
            node.name, exported
        ):
            continue
        if isinstance(node, ast.ClassDef):
            sections.extend(_class_sections(node))
        else:
            doc = ast.get_docstring(node)
            if doc:
                sections.append(f"## {node.name}({_signature(node)})\n\n{doc}")
    if not sections:
        return None
    return f"# {name} (Python standard library module)\n\n" + "\n\n".join(sections) + "\n"


def _class_sections(node: ast.ClassDef) -> list[str]:
    bases = ", ".join(ast.unparse(b) for b in node.bases)
    heading = f"## class {node.name}({bases})" if bases else f"## class {node.name}"
    methods = []
    for child in node.body:
        if not isinstance(child, _FunctionNode):
            continue
        # __init__ is where constructor arguments are usually documented.
        if child.name.startswith("_") and child.name != "__init__":
            continue
        doc = ast.get_docstring(child)
        if doc:
            methods.append(f"### {node.name}.{child.name}({_signature(child)})\n\n{doc}")
    class_doc = ast.get_docstring(node)
    if not class_doc and not methods:
        return []
    head = f"{heading}\n\n{class_doc}" if class_doc else heading
    return [head, *methods]


def _signature(node: _FunctionNode) -> str:
    return ast.unparse(node.args)


def _literal_all(tree: ast.Module) -> frozenset[str] | None:
    """The module's `__all__` when it is a plain literal list/tuple of strings."""
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            and isinstance(node.value, ast.List | ast.Tuple)
        ):
            names = [e.value for e in node.value.elts if isinstance(e, ast.Constant)]
            if all(isinstance(n, str) for n in names):
                return frozenset(names)
    return None


def _is_public(name: str, exported: frozenset[str] | None) -> bool:
    if exported is not None:
        return name in exported
    return not name.startswith("_")
