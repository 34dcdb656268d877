"""`client.py index` and `client.py search`: build and check the local-documents index.

`index` refreshes the index a worker with the same TTDR_CORPUS / TTDR_CACHE_DIR would open (only
added, changed and removed files are read), with a progress bar, and prints the files per
format, the passages, the files skipped with their reasons, and the time. `search` prints the
passages a research would see for a query: rank, score, file and place, title, first line.
Neither needs Temporal or an LLM. File names, titles and text come from the corpus (untrusted):
they are printed inert — control characters escaped, no rich markup or `:emoji:` codes.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cli.client_settings import client_settings
from cli.typed import as_typed
from common.errors import UsageError
from search.documents.secrets import secrets_from_env
from search.local_index import CorpusError, LocalIndex
from search.local_provider import budget_of, cache_dir_of, corpus_roots

MAX_K = 100
_FIRST_LINE_CHARS = 100


def register(commands: argparse._SubParsersAction) -> None:
    index = commands.add_parser(
        "index", help="build or refresh the local-documents index (TTDR_CORPUS or --corpus)"
    )
    _corpus_argument(index)
    index.set_defaults(handler=cmd_index)

    search = commands.add_parser("search", help="rank local passages for a query, as a run would")
    search.add_argument("query", help="what to search for")
    _corpus_argument(search)
    search.add_argument("-k", type=int, default=5, help=f"passages to show (1-{MAX_K}, default 5)")
    search.set_defaults(handler=cmd_search)


def _corpus_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--corpus",
        action="append",
        metavar="DIR",
        help="a folder to index (repeatable; default TTDR_CORPUS, else the demo corpus)",
    )


@contextmanager
def _quiet_index_log() -> Iterator[None]:
    """The commands print skipped files themselves: no duplicate warning lines."""
    log = logging.getLogger("search.local_index")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def inert(text: str) -> str:
    """`text` safe to print: every character a terminal would act on (ESC and CSI sequences,
    newlines, bidi overrides, zero-width characters) written as its escape, e.g. `\\x1b`."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _print(console: Console, text: str, **style: str) -> None:
    """`text` as it is: no markup, no highlighting, no `:emoji:` codes (`root:x:0:0`)."""
    console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True, **style)


def corpus_folders(values: list[str] | None) -> list[Path] | None:
    """--corpus values; an empty one is refused, as an empty TTDR_CORPUS entry is (it would
    silently index the current folder)."""
    if values is None:
        return None
    if any(not value.strip() for value in values):
        raise UsageError("--corpus is empty: name a folder to index (or leave --corpus out)")
    return [Path(value) for value in values]


def _open(args: argparse.Namespace, progress: Progress | None = None) -> LocalIndex:
    settings = client_settings(args)  # cli/main.py loaded it at start
    cache = cache_dir_of(settings, os.environ)
    budget = budget_of(settings)
    try:
        roots = corpus_folders(args.corpus) or corpus_roots(settings.corpus, cache)
    except CorpusError as err:
        raise UsageError(str(err)) from None
    task = progress.add_task("reading", total=None) if progress is not None else None

    def advance(done: int, total: int, name: str) -> None:
        if progress is not None and task is not None:
            progress.update(task, completed=done, total=total, description=inert(name)[-40:])

    try:
        with _quiet_index_log():
            return LocalIndex.open(
                roots,
                cache / "index",
                secrets=secrets_from_env(os.environ),
                progress=advance,
                budget=budget,
            )
    except CorpusError as err:
        raise UsageError(str(err)) from None


async def cmd_index(args: argparse.Namespace) -> int:
    console = Console()
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description:<40}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        index = _open(args, progress)
    seconds = time.perf_counter() - started
    try:
        for line in index_summary(index, seconds):
            _print(console, line)
    finally:
        index.close()
    return 0


def index_summary(index: LocalIndex, seconds: float) -> list[str]:
    files = sum(index.files_by_format.values())
    formats = ", ".join(
        f"{count} {name}" for name, count in Counter(index.files_by_format).most_common()
    )
    refresh = index.refresh
    lines = [
        f"index of {inert(', '.join(map(str, index.roots)))}",
        f"files: {files} ({formats})",
        f"passages: {index.passage_count}",
        f"read now: {refresh.added} added, {refresh.changed} changed, "
        f"{refresh.removed} removed" + ("" if index.rebuilt else " (all from the cache)"),
        f"skipped: {_files(len(index.skipped))}",
        *(f"  {inert(skip.rel)}: {inert(skip.reason)}" for skip in index.skipped),
        f"time: {seconds:.2f} s",
    ]
    return lines


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


async def cmd_search(args: argparse.Namespace) -> int:
    if not 1 <= args.k <= MAX_K:
        raise UsageError(f"-k must be between 1 and {MAX_K}, got {args.k}")
    if not args.query.strip():
        raise UsageError("the query is empty")
    index = _open(args)
    console = Console()
    try:
        hits = index.search(args.query, args.k)
        if index.skipped:
            _print(
                console,
                as_typed(f"({_files(len(index.skipped))} skipped: `client.py index` lists them)"),
                style="dim",
            )
        if not hits:
            _print(console, "no passage matches")
        for rank, hit in enumerate(hits, 1):
            passage = hit.passage
            first = next((line for line in passage.text.splitlines() if line.strip()), "")
            first = " ".join(first.split())
            if len(first) > _FIRST_LINE_CHARS:
                first = first[: _FIRST_LINE_CHARS - 1] + "…"
            _print(
                console,
                f"{rank}. {hit.score:.2f}  {inert(passage.citation)} — {inert(passage.title)}\n"
                f"    {inert(first)}",
            )
    finally:
        index.close()
    return 0
