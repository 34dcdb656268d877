"""The on-disk cache of a corpus's passages: one SQLite file per set of corpus folders.

Rows: one per file (its change signature, or why it was skipped) and one per passage (its text,
citation and BM25 term counts). A refresh compares the folder listing with the file rows and
re-reads only added and changed files, deleting the rows of removed ones, in one transaction:
concurrent workers serialise on SQLite's write lock (the second finds the work done), a reader
never sees a half-written refresh, and a crash mid-build leaves the previous state.

The BM25 postings built from the passage rows are cached beside it in `postings-<generation>/`
(the generation changes with every refresh that changed something); after a small change the
previous generation's postings are updated rather than rebuilt from every row.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from search.bm25 import Postings, TermHasher
from search.documents.extract import Passage
from search.documents.files import CorpusFile, SkipFile, SkippedFile

logger = logging.getLogger(__name__)

# Bump when reading, chunking or tokenising changes: older rows are then dropped and rebuilt.
SCHEMA_VERSION = 5
# A temporary postings folder untouched this long belongs to a process that died.
_STALE_TMP_SECONDS = 3600.0
# How long a worker waits for another one's refresh of the same corpus before giving up.
_LOCK_WAIT_SECONDS = 900.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    file_id INTEGER PRIMARY KEY AUTOINCREMENT,
    root INTEGER NOT NULL, rel TEXT NOT NULL, display TEXT NOT NULL, format TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL, skipped TEXT,
    UNIQUE (root, rel)
);
CREATE TABLE IF NOT EXISTS passages (
    pid INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id INTEGER NOT NULL, id TEXT NOT NULL, source_path TEXT NOT NULL,
    rel_path TEXT NOT NULL, locator TEXT NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL,
    length INTEGER NOT NULL, terms BLOB NOT NULL, counts BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_by_file ON passages (file_id);
"""

Extract = Callable[[CorpusFile], list[Passage]]
Progress = Callable[[int, int, str], None]  # (done, total, file name)


@dataclass
class Refresh:
    """What a refresh did."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)  # of the files read now
    # The change, for updating the previous generation's postings instead of rebuilding them.
    previous_generation: str | None = None
    generation: str | None = None
    removed_pids: list[int] = field(default_factory=list, repr=False)
    added_rows: list[tuple[int, int, bytes, bytes]] = field(default_factory=list, repr=False)

    @property
    def processed(self) -> int:
        return self.added + self.changed + self.removed


def is_busy(exc: BaseException) -> bool:
    """True for SQLite's "database is locked/busy": another connection holds the file, which
    says nothing about whether the cache is sound."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


@contextlib.contextmanager
def _setup_lock(path: Path) -> Iterator[None]:
    """Serialise opening connections on one cache file, across threads and processes.

    Until `journal_mode=WAL` has been set once, the file is in rollback-journal mode, where two
    connections creating it at once can deadlock; SQLite then answers "database is locked" at
    once instead of waiting out the busy timeout. An advisory lock beside the file makes the
    set-up one at a time (it is milliseconds; the refresh itself waits on SQLite's own lock)."""
    with open(path.with_name(path.name + ".lock"), "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


class IndexStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        with _setup_lock(path):
            self._db = sqlite3.connect(
                path, timeout=_LOCK_WAIT_SECONDS, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)  # outside any transaction: executescript commits

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _transaction(self, kind: str = "DEFERRED") -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute(f"BEGIN {kind}")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def refresh(
        self,
        files: list[CorpusFile],
        display: Callable[[CorpusFile], str],
        format_of: Callable[[CorpusFile], str],
        extract: Extract,
        progress: Progress | None = None,
    ) -> Refresh:
        """Bring the rows in line with `files`: read added and changed files, drop removed."""
        result = Refresh()
        with self._transaction("IMMEDIATE") as db:
            self._ensure_schema(db)
            stored = {
                (root, rel): (file_id, (size, mtime, ctime, inode))
                for file_id, root, rel, size, mtime, ctime, inode in db.execute(
                    "SELECT file_id, root, rel, size, mtime_ns, ctime_ns, inode FROM files"
                )
            }
            current = {(f.root_index, f.rel): f for f in files}
            gone = [stored[key][0] for key in stored.keys() - current.keys()]
            todo = [
                f
                for key, f in sorted(current.items())
                if key not in stored or stored[key][1] != f.signature
            ]
            result.removed = len(gone)
            result.changed = sum(1 for f in todo if (f.root_index, f.rel) in stored)
            result.added = len(todo) - result.changed
            stale = gone + [
                stored[(f.root_index, f.rel)][0] for f in todo if (f.root_index, f.rel) in stored
            ]
            result.previous_generation = _generation(db)
            for file_id in stale:
                result.removed_pids.extend(
                    pid for (pid,) in db.execute(
                        "SELECT pid FROM passages WHERE file_id = ?", (file_id,)
                    )
                )  # fmt: skip
                db.execute("DELETE FROM passages WHERE file_id = ?", (file_id,))
                db.execute("DELETE FROM files WHERE file_id = ?", (file_id,))
            hasher = TermHasher()
            new_files = []
            for done, file in enumerate(todo, 1):
                file_id, skipped = self._insert(
                    db, file, display(file), format_of(file), extract, hasher
                )
                new_files.append(file_id)
                if skipped is not None:
                    result.skipped.append(skipped)
                if progress is not None:
                    progress(done, len(todo), display(file))
            if result.processed:
                result.generation = uuid.uuid4().hex
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (result.generation,)
                )
                # Only worth reading back when the previous postings can be updated with them.
                previous = self.path.parent / f"postings-{result.previous_generation}"
                for file_id in new_files if previous.is_dir() else []:
                    result.added_rows.extend(
                        db.execute(
                            "SELECT pid, length, terms, counts FROM passages WHERE file_id = ? "
                            "ORDER BY pid",
                            (file_id,),
                        )
                    )
        return result

    @staticmethod
    def _insert(
        db: sqlite3.Connection,
        file: CorpusFile,
        display: str,
        format_name: str,
        extract: Extract,
        hasher: TermHasher,
    ) -> tuple[int, SkippedFile | None]:
        try:
            passages = extract(file)
            reason = None
        except SkipFile as skip:
            passages, reason = [], str(skip)
        except Exception as exc:  # a bug on one odd file must not stop the whole index
            logger.exception("local index: could not index %s", display)
            passages, reason = [], f"could not be indexed ({type(exc).__name__}: {exc})"[:300]
        cursor = db.execute(
            "INSERT INTO files (root, rel, display, format, size, mtime_ns, ctime_ns, inode, "
            "skipped) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (file.root_index, file.rel, display, format_name, *file.signature[:3], file.inode,
             reason),
        )  # fmt: skip
        rows = []
        for p in passages:
            terms, counts, length = hasher.bag(indexed_text(p))
            rows.append((cursor.lastrowid, p.id, p.source_path, p.rel_path, p.locator, p.title,
                         p.text, length, terms, counts))  # fmt: skip
        db.executemany(
            "INSERT INTO passages (file_id, id, source_path, rel_path, locator, title, text, "
            "length, terms, counts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        file_id = int(cursor.lastrowid or 0)
        return file_id, (SkippedFile(display, reason) if reason is not None else None)

    @staticmethod
    def _ensure_schema(db: sqlite3.Connection) -> None:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None or row[0] != str(SCHEMA_VERSION):
            if row is not None:
                logger.info("local index cache format changed: rebuilding it")
            db.execute("DELETE FROM passages")
            db.execute("DELETE FROM files")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    # --- reading -------------------------------------------------------------------------

    def postings(self, refresh: Refresh | None = None) -> tuple[Postings, np.ndarray, str | None]:
        """The BM25 postings of the current rows, the passage row id of each doc, and the
        generation they are of: the cached generation if there is one, else the previous
        generation updated with `refresh`'s change, else built from all rows."""
        with self._transaction() as db:
            current = _generation(db)
            generation = current or "empty"
            folder = self.path.parent / f"postings-{generation}"
            if folder.is_dir():
                try:
                    return (*Postings.load(folder), current)
                except (OSError, ValueError) as exc:
                    logger.warning("ignoring unreadable postings cache %s: %s", folder, exc)
            updated = self._updated(refresh, generation)
            if updated is not None:
                postings, keys = updated
            else:
                postings, keys = self._build_all(db)
        self._save_postings(folder, postings, keys)
        return postings, keys, current

    def generation(self) -> str | None:
        """The state the rows are in (it changes with every refresh that changed something)."""
        with self._lock:
            return _generation(self._db)

    def schema_is_current(self) -> bool:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        return row is not None and row[0] == str(SCHEMA_VERSION)

    def _updated(
        self, refresh: Refresh | None, generation: str
    ) -> tuple[Postings, np.ndarray] | None:
        if refresh is None or refresh.generation != generation or not refresh.previous_generation:
            return None
        previous = self.path.parent / f"postings-{refresh.previous_generation}"
        try:
            old, keys = Postings.load(previous)
        except (OSError, ValueError):
            return None  # not cached (or pruned by another process): build from the rows
        added, added_keys = _postings_of(refresh.added_rows)
        return old.updated(keys, np.array(refresh.removed_pids, dtype=np.int64), added, added_keys)

    @staticmethod
    def _build_all(db: sqlite3.Connection) -> tuple[Postings, np.ndarray]:
        return _postings_of(
            db.execute("SELECT pid, length, terms, counts FROM passages ORDER BY pid")
        )

    def _save_postings(self, target: Path, postings: Postings, keys: np.ndarray) -> None:
        """Write into a temporary folder renamed into place, then drop other generations
        (a process still using one keeps its memory map: the files live until unmapped)."""
        if not target.is_dir():
            tmp = Path(tempfile.mkdtemp(prefix=".postings-", dir=target.parent))
            try:
                postings.save(tmp, keys)
                os.rename(tmp, target)
            except OSError as exc:
                if not target.is_dir():
                    logger.warning("could not cache the postings in %s: %s", target, exc)
                    return
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        for old in target.parent.glob("postings-*"):
            if old != target:
                if old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    old.unlink(missing_ok=True)
        for tmp_dir in target.parent.glob(".postings-*"):
            with contextlib.suppress(OSError):
                if time.time() - tmp_dir.stat().st_mtime > _STALE_TMP_SECONDS:
                    shutil.rmtree(tmp_dir, ignore_errors=True)

    def passages(self, pids: list[int]) -> dict[int, Passage]:
        if not pids:
            return {}
        marks = ",".join("?" * len(pids))
        with self._transaction() as db:
            rows = db.execute(f"{_SELECT_PASSAGE} WHERE pid IN ({marks})", pids).fetchall()
        return {row[0]: _passage(row) for row in rows}

    def all_passages(self) -> list[Passage]:
        with self._transaction() as db:
            rows = db.execute(
                f"{_SELECT_PASSAGE} JOIN files USING (file_id) ORDER BY files.root, files.rel, pid"
            ).fetchall()
        return [_passage(row) for row in rows]

    def passages_per_file(self) -> dict[str, int]:
        """How many passages each file (by its path under its folder) holds."""
        with self._transaction() as db:
            rows = db.execute("SELECT rel_path, COUNT(*) FROM passages GROUP BY rel_path")
            return dict(rows.fetchall())

    def summary(self) -> tuple[dict[str, int], list[SkippedFile]]:
        """(indexed files per format, the files skipped when they were read)."""
        with self._transaction() as db:
            formats = dict(
                db.execute(
                    "SELECT format, COUNT(*) FROM files WHERE skipped IS NULL GROUP BY format"
                ).fetchall()
            )
            skipped = [
                SkippedFile(display, reason)
                for display, reason in db.execute(
                    "SELECT display, skipped FROM files WHERE skipped IS NOT NULL ORDER BY display"
                )
            ]
        return formats, skipped


_SELECT_PASSAGE = "SELECT pid, id, source_path, rel_path, locator, title, text FROM passages"


def indexed_text(passage: Passage) -> str:
    """What BM25 sees of a passage: its title, its section named twice more (a field boost,
    as BM25F weights titles: a passage under "The "with" statement" is about it more than one
    that says "with" in passing), then its text."""
    return f"{passage.title}\n{passage.locator}\n{passage.locator}\n{passage.text}"


def _passage(row: tuple[int, str, str, str, str, str, str]) -> Passage:
    _pid, passage_id, source_path, rel_path, locator, title, text = row
    return Passage(
        id=passage_id,
        source_path=source_path,
        rel_path=rel_path,
        locator=locator,
        title=title,
        text=text,
    )


def _generation(db: sqlite3.Connection) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    return str(row[0]) if row else None


def _postings_of(
    rows: Iterable[tuple[int, int, bytes, bytes]],
) -> tuple[Postings, np.ndarray]:
    """Postings of (pid, length, terms, counts) rows in pid order, and the pids. Rows are
    consumed one by one (a cursor is fine), keeping only their blobs."""
    keys: list[int] = []
    lengths: list[int] = []
    terms: list[bytes] = []
    counts: list[bytes] = []
    for pid, length, term_bytes, count_bytes in rows:
        keys.append(pid)
        lengths.append(length)
        terms.append(term_bytes)
        counts.append(count_bytes)
    per_doc = np.fromiter((len(t) // 8 for t in terms), dtype=np.int64, count=len(terms))
    # Little-endian storage read as native uint64/uint32 without a copy on x86 and ARM.
    all_terms = np.frombuffer(b"".join(terms), dtype="<u8").astype(np.uint64, copy=False)
    del terms
    all_counts = np.frombuffer(b"".join(counts), dtype="<u4").astype(np.uint32, copy=False)
    del counts
    postings = Postings.build(all_terms, all_counts, per_doc, np.array(lengths, dtype=np.float32))
    return postings, np.array(keys, dtype=np.int64)
