"""Local-documents search: BM25 over passages of the files in one or more folders.

This is the product's embedded default search: no network, no service. Files (`.md`, `.txt`,
`.rst`, `.html`/`.htm`) are split into passages of roughly 400-1200 characters at headings
and paragraph breaks, ranked with `bm25s`, and the index is cached on disk.

Cache layout, under the caller's cache folder::

    local-index-<hash of the resolved roots>/
        gen-<hash of the manifest>/   bm25s files + corpus.jsonl (the passages) + manifest.json
        .tmp-*/                       a build in progress

A generation folder is only ever created by renaming a finished build into place, so a
reader never sees a half-written index, and two processes building at once each produce a
complete, identical folder (the second rename loses harmlessly). Opening computes the
manifest (relative path, size, mtime_ns of every file) and loads the matching generation if
there is one, else builds it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import bm25s
from pydantic import BaseModel, ConfigDict

from activities.search.documents.files import (
    DEFAULT_MAX_FILE_BYTES,
    CorpusFile,
    SkipFile,
    SkippedFile,
    is_pseudo_fs,
    list_files,
    read_bytes,
)
from activities.search.documents.secrets import Secret, secret_in

logger = logging.getLogger(__name__)

# Bump when chunking or ranking changes, so old caches are not reused.
_INDEX_FORMAT = 1
_MIN_CHARS = 400
_MAX_CHARS = 1200
_SUFFIXES = frozenset({".md", ".txt", ".rst", ".html", ".htm"})
_HTML_SUFFIXES = frozenset({".html", ".htm"})
_STOPWORDS = "en"
_MANIFEST = "manifest.json"
_SKIPPED = "skipped.json"
# A build folder untouched for this long belongs to a process that died.
_STALE_TMP_SECONDS = 3600.0


class Passage(BaseModel):
    """One searchable chunk of a file."""

    model_config = ConfigDict(frozen=True)

    id: str
    source_path: str
    title: str
    text: str


class SearchHit(BaseModel):
    """A passage and its BM25 score (higher is better)."""

    model_config = ConfigDict(frozen=True)

    passage: Passage
    score: float


class CorpusError(ValueError):
    """The folders to index are missing or hold nothing indexable."""


class LocalIndex:
    """A BM25 index over the passages of the files under some root folders."""

    def __init__(
        self,
        *,
        retriever: bm25s.BM25,
        passages: list[Passage],
        rebuilt: bool,
        skipped: list[SkippedFile],
    ) -> None:
        self._retriever = retriever
        self._passages = passages
        self._rebuilt = rebuilt
        self._skipped = skipped

    @classmethod
    def open(
        cls,
        roots: Sequence[Path],
        cache_dir: Path,
        *,
        secrets: tuple[Secret, ...] = (),
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    ) -> LocalIndex:
        """Load the cached index of `roots`, or (re)build it if the files changed. Files that
        cannot or must not be read are skipped, each with one warning line (see `skipped`)."""
        resolved = _resolve_roots(roots)
        cache_dir = cache_dir.expanduser().resolve()
        listing = list_files(resolved, _SUFFIXES, exclude=cache_dir, max_bytes=max_file_bytes)
        files = listing.files
        if not files:
            names = ", ".join(sorted(_SUFFIXES))
            raise CorpusError(
                f"no indexable files ({names}) under: {', '.join(map(str, resolved))}"
            )
        manifest = _manifest(files)
        base = cache_dir / f"local-index-{_digest(*map(str, resolved))}"
        generation = base / f"gen-{_digest(json.dumps(manifest, sort_keys=True))}"
        if generation.is_dir():
            loaded = _load(generation, manifest)
            if loaded is not None:
                skipped = listing.skipped + loaded[2]
                _warn(skipped)
                return cls(retriever=loaded[0], passages=loaded[1], rebuilt=False, skipped=skipped)
        retriever, passages, unread = _build(files, resolved, secrets, max_file_bytes)
        _save(base, generation, retriever, passages, manifest, unread)
        skipped = listing.skipped + unread
        _warn(skipped)
        return cls(retriever=retriever, passages=passages, rebuilt=True, skipped=skipped)

    def search(self, query: str, k: int = 5) -> list[SearchHit]:
        """The top `k` passages for `query`, best first; passages scoring <= 0 are dropped."""
        if k <= 0:
            return []
        vocab = self._retriever.vocab_dict
        words = bm25s.tokenize(query, stopwords=_STOPWORDS, return_ids=False, show_progress=False)
        tokens = [t for t in words[0] if t in vocab]
        if not tokens:
            return []
        docs, scores = self._retriever.retrieve(
            [tokens], k=min(k, len(self._passages)), show_progress=False, n_threads=0
        )
        return [
            SearchHit(passage=self._passages[int(doc)], score=float(score))
            for doc, score in zip(docs[0], scores[0], strict=True)
            if score > 0
        ]

    @property
    def passage_count(self) -> int:
        return len(self._passages)

    @property
    def skipped(self) -> list[SkippedFile]:
        """The files not indexed, each with the reason."""
        return list(self._skipped)

    @property
    def rebuilt(self) -> bool:
        """True if this open() (re)built the index, False if it was loaded from the cache."""
        return self._rebuilt


# --- corpus files -------------------------------------------------------------------------


def _resolve_roots(roots: Sequence[Path]) -> list[Path]:
    if not roots:
        raise CorpusError("no folders to index were given")
    resolved = []
    for root in roots:
        path = Path(root).expanduser().resolve()
        if not path.exists():
            raise CorpusError(f"folder to index does not exist: {root}")
        if not path.is_dir():
            raise CorpusError(f"folder to index is not a directory: {root}")
        if is_pseudo_fs(path):
            raise CorpusError(f"folder to index is on a kernel pseudo file system: {root}")
        resolved.append(path)
    # Sorted and deduplicated, so the cache key does not depend on argument order.
    return sorted(set(resolved))


def _warn(skipped: list[SkippedFile]) -> None:
    for skip in skipped:
        logger.warning("local index: %s", skip.line())


def _manifest(files: list[CorpusFile]) -> dict[str, Any]:
    """What the index was built from; any difference means it must be rebuilt."""
    return {
        "format": _INDEX_FORMAT,
        "bm25s": bm25s.__version__,
        "files": [
            {
                "root": f.root_index,
                "path": f.rel,
                "size": f.size,
                "mtime_ns": f.mtime_ns,
                "inode": f.inode,
            }
            for f in files
        ],
    }


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


# --- building, saving, loading ------------------------------------------------------------


def _build(
    files: list[CorpusFile], roots: list[Path], secrets: tuple[Secret, ...], max_bytes: int
) -> tuple[bm25s.BM25, list[Passage], list[SkippedFile]]:
    started = time.perf_counter()
    passages: list[Passage] = []
    unread: list[SkippedFile] = []
    for file in files:
        try:
            found = _file_passages(file, max_bytes)
            leaked = secret_in((p.text for p in found), secrets)
            if leaked:
                raise SkipFile(f"contains the value of the configured secret {leaked}")
        except SkipFile as skip:
            unread.append(SkippedFile(file.rel, str(skip)))
            continue
        passages.extend(found)
    if not passages:
        raise CorpusError(f"the files under {', '.join(map(str, roots))} contain no text")
    # The title is indexed with each passage: it names the topic the passage belongs to.
    tokenized = bm25s.tokenize(
        [f"{p.title}\n{p.text}" for p in passages], stopwords=_STOPWORDS, show_progress=False
    )
    retriever = bm25s.BM25()
    retriever.index(tokenized, show_progress=False)
    logger.info(
        "indexed %d passages from %d files in %.2fs",
        len(passages),
        len(files),
        time.perf_counter() - started,
    )
    return retriever, passages, unread


def _save(
    base: Path,
    generation: Path,
    retriever: bm25s.BM25,
    passages: list[Passage],
    manifest: dict[str, Any],
    unread: list[SkippedFile],
) -> None:
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=base))
    try:
        retriever.save(
            tmp,
            corpus=[p.model_dump() for p in passages],
            show_progress=False,
            raise_on_serialization_error=True,
        )
        (tmp / _MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        skipped = [{"rel": u.rel, "reason": u.reason} for u in unread]
        (tmp / _SKIPPED).write_text(json.dumps(skipped), encoding="utf-8")
        try:
            tmp.rename(generation)
        except OSError:
            # Another process renamed the same generation into place first; it is identical.
            logger.debug("index generation already present: %s", generation)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _prune(base, keep=generation)


def _prune(base: Path, keep: Path) -> None:
    """Drop superseded generations and builds abandoned by dead processes (best effort)."""
    for entry in base.iterdir():
        try:
            if _is_prunable(entry, keep):
                shutil.rmtree(entry)
        except OSError as exc:
            logger.debug("could not prune %s: %s", entry, exc)


def _is_prunable(entry: Path, keep: Path) -> bool:
    if entry.name.startswith("gen-"):
        return entry != keep
    # A build in progress is young; an old one belongs to a process that died.
    return (
        entry.name.startswith(".tmp-") and time.time() - entry.stat().st_mtime > _STALE_TMP_SECONDS
    )


def _load(
    generation: Path, manifest: dict[str, Any]
) -> tuple[bm25s.BM25, list[Passage], list[SkippedFile]] | None:
    """The cached index, or None if it is unreadable or not for these files."""
    try:
        stored = json.loads((generation / _MANIFEST).read_text(encoding="utf-8"))
        if stored != manifest:
            return None
        retriever = bm25s.BM25.load(generation, load_corpus=True, show_progress=False)
        passages = [Passage.model_validate(doc) for doc in retriever.corpus]
        unread = [
            SkippedFile(u["rel"], u["reason"])
            for u in json.loads((generation / _SKIPPED).read_text(encoding="utf-8"))
        ]
        if len(passages) != retriever.scores["num_docs"]:
            raise ValueError("passage count does not match the index")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # e.g. a concurrent process pruned it mid-read: rebuilding is always correct.
        logger.warning("ignoring unreadable index cache %s: %s", generation, exc)
        return None
    retriever.corpus = None  # the passages list is the one copy kept
    return retriever, passages, unread


# --- files to passages --------------------------------------------------------------------


@dataclass(frozen=True)
class _Block:
    text: str
    heading: str | None = None  # the heading's words, when this block is a heading


def _file_passages(source: CorpusFile, max_bytes: int) -> list[Passage]:
    data = read_bytes(source, max_bytes)
    raw = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    html_title = None
    if source.path.suffix.lower() in _HTML_SUFFIXES:
        html_title, raw = _html_to_text(raw)
    blocks = _blocks(raw)
    first_heading = next((b.heading for b in blocks if b.heading), None)
    title = html_title or first_heading or source.path.stem
    return [
        Passage(
            id=_digest(source.rel, str(ordinal), text),
            source_path=str(source.path),
            title=title,
            text=text,
        )
        for ordinal, text in enumerate(_chunks(blocks))
    ]


_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+:.<>_])\1{2,}\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def _blocks(text: str) -> list[_Block]:
    """Paragraphs and headings: markdown `#` headings, and underlined (setext / reST) ones."""
    blocks: list[_Block] = []
    para: list[str] = []
    in_fence = False

    def flush() -> None:
        if para:
            blocks.append(_Block("\n".join(para)))
            para.clear()

    for line in text.split("\n"):
        line = line.rstrip()
        if _FENCE.match(line):
            in_fence = not in_fence
        elif in_fence:
            pass  # code: no headings, blank lines do not end the block
        elif not line.strip():
            flush()
            continue
        elif atx := _ATX.match(line):
            flush()
            blocks.append(_Block(line.strip(), heading=atx.group(2)))
            continue
        elif _ADORNMENT.match(line) and _is_heading_text(para, line):
            heading = para[-2] if len(para) == 2 else para[0]
            blocks.append(_Block("\n".join([*para, line]), heading=heading.strip()))
            para.clear()
            continue
        para.append(line)
    flush()
    return blocks


def _is_heading_text(para: list[str], underline: str) -> bool:
    """Whether `para` + `underline` is a heading: one text line, optionally over-lined too."""
    if len(para) == 1:
        return not _ADORNMENT.match(para[0])
    return len(para) == 2 and para[0].strip() == underline.strip() and not _ADORNMENT.match(para[1])


def _chunks(blocks: list[_Block]) -> list[str]:
    """Pack blocks into ~400-1200 character chunks, starting a new one at a heading if the
    current chunk is already big enough."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for text, starts_section in _units(blocks):
        if current and (size + len(text) > _MAX_CHARS or (starts_section and size >= _MIN_CHARS)):
            chunks.append("\n\n".join(current))
            current, size = [], 0
        current.append(text)
        size += len(text) + 2
    if current:
        tail = "\n\n".join(current)
        # A short tail (end of file) reads better as part of the chunk before it.
        if chunks and size < _MIN_CHARS and len(chunks[-1]) + size <= _MAX_CHARS:
            chunks[-1] = f"{chunks[-1]}\n\n{tail}"
        else:
            chunks.append(tail)
    return [c for c in (c.strip() for c in chunks) if re.search(r"\w", c)]


def _units(blocks: list[_Block]) -> Iterator[tuple[str, bool]]:
    """(text, starts a section) pieces no longer than the maximum; a heading is kept together
    with the paragraph that follows it, so it never ends a chunk on its own."""
    headings: list[str] = []
    for block in blocks:
        if block.heading is not None:
            headings.append(block.text)
            continue
        text = "\n\n".join([*headings, block.text])
        for i, piece in enumerate(_split_long(text)):
            yield piece, bool(headings) and i == 0
        headings = []
    if headings:
        yield "\n\n".join(headings), True


_SEPARATORS = ("\n", ". ", " ")


def _split_long(text: str, level: int = 0) -> list[str]:
    """Split `text` into pieces of at most the maximum size: at lines, then sentences, then
    words, and as a last resort anywhere."""
    if len(text) <= _MAX_CHARS:
        return [text]
    if level == len(_SEPARATORS):
        return [text[i : i + _MAX_CHARS] for i in range(0, len(text), _MAX_CHARS)]
    sep = _SEPARATORS[level]
    parts = text.split(sep)
    pieces = [p + sep for p in parts[:-1]] + [parts[-1]]
    out: list[str] = []
    current = ""
    for piece in pieces:
        if len(piece) > _MAX_CHARS:
            out.append(current)
            out.extend(_split_long(piece, level + 1))
            current = ""
            continue
        if len(current) + len(piece) > _MAX_CHARS:
            out.append(current)
            current = ""
        current += piece
    out.append(current)
    return [p.strip() for p in out if p.strip()]


# --- HTML ---------------------------------------------------------------------------------


def _html_to_text(html: str) -> tuple[str | None, str]:
    """(the <title>, the visible text with headings as markdown `#` lines)."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return parser.title, parser.text()


class _HtmlText(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "svg"})
    _BLOCK = frozenset(
        {
            "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption",
            "figure", "footer", "form", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
            "section", "table", "tr", "ul", "body", "caption",
        }
    )  # fmt: skip
    _HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._skip = 0
        self._pre = 0
        self._in_title = False
        self._title: list[str] = []

    @property
    def title(self) -> str | None:
        title = " ".join("".join(self._title).split())
        return title or None

    def text(self) -> str:
        text = "".join(self._out)
        lines = [line.rstrip() for line in text.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in self._HEADINGS:
            self._out.append(f"\n\n{'#' * int(tag[1])} ")
        elif tag == "br":
            self._out.append("\n")
        elif tag in self._BLOCK:
            self._out.append("\n\n- " if tag == "li" else "\n\n")
            if tag == "pre":
                self._pre += 1
        elif tag in ("td", "th"):
            self._out.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in self._HEADINGS or tag in self._BLOCK:
            self._out.append("\n\n")
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self._title.append(data)
        elif self._pre:
            self._out.append(data)
        else:
            text = re.sub(r"\s+", " ", data)
            if not self._out or self._out[-1].endswith(("\n", "- ", "# ")):
                text = text.lstrip()
            self._out.append(text)
