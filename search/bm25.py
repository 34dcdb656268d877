"""BM25 (Lucene's variant, as bm25s computes it) over hashed terms, scored at query time.

Why not bm25s's index: it precomputes every (term, passage) score, so one changed file means
recomputing the whole matrix in Python (seconds at 100k passages). Here each passage's terms
are stored once as 64-bit hashes with their counts (computed when its file is read, cached with
it), the postings are one numpy sort away, and scores are computed for the query's terms only:
an index refresh after one changed file costs a sort, and a query costs a few vectorised
operations over the postings of its terms.

Terms: lower-cased words of two or more characters, minus Lucene's 33 English stopwords (the
same tokens bm25s produces with stopwords="en"). A hash collision between two words of the
corpus has a probability around 1e-9 at a million distinct words; its cost would be one word
matching another's passages.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

K1 = 1.5
B = 0.75
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
# Lucene's English stopwords (the list bm25s uses for stopwords="en"): indexed and searched
# like any word (see tokens), but a query made of nothing else asks nothing.
STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
))  # fmt: skip

Hashes = npt.NDArray[np.uint64]


def tokens(text: str) -> list[str]:
    """Every word of two or more characters, stopwords included (as Lucene's standard
    analyser does): in documentation "with", "is", "for" and "not" name statements and
    operators, and dropping them turned the query "with statement" into "statement". A
    common word's low IDF keeps it from outweighing the rare ones."""
    return _TOKEN.findall(text.lower())


class TermHasher:
    """Stable 64-bit hashes of terms, memoised (a corpus repeats its words)."""

    def __init__(self) -> None:
        self._memo: dict[str, int] = {}

    def __call__(self, term: str) -> int:
        value = self._memo.get(term)
        if value is None:
            digest = hashlib.blake2b(term.encode(), digest_size=8).digest()
            value = self._memo[term] = int.from_bytes(digest, "little")
        return value

    def bag(self, text: str) -> tuple[bytes, bytes, int]:
        """(term hashes as little-endian u8, their counts as u4, length in terms) of `text`."""
        counts: dict[int, int] = {}
        words = tokens(text)
        for word in words:
            key = self(word)
            counts[key] = counts.get(key, 0) + 1
        hashes = np.fromiter(counts.keys(), dtype="<u8", count=len(counts))
        freqs = np.fromiter(counts.values(), dtype="<u4", count=len(counts))
        return hashes.tobytes(), freqs.tobytes(), len(words)


@dataclass
class Postings:
    """The inverted index: for vocab[i], the docs docs[indptr[i]:indptr[i+1]] with their
    term frequencies; doc lengths for the BM25 length normalisation."""

    vocab: Hashes
    indptr: npt.NDArray[np.int64]
    docs: npt.NDArray[np.int32]
    freqs: npt.NDArray[np.float32]
    lengths: npt.NDArray[np.float32]

    @classmethod
    def build(cls, terms: Hashes, counts: npt.NDArray[np.uint32], per_doc: npt.NDArray[np.int64],
              lengths: npt.NDArray[np.float32]) -> Postings:  # fmt: skip
        """From each doc's distinct terms and counts, concatenated in doc order (`per_doc` is how
        many terms each doc has)."""
        docs = np.repeat(np.arange(len(per_doc), dtype=np.int32), per_doc)
        order = np.argsort(terms, kind="stable")  # within a term, docs stay in ascending order
        return cls._from_sorted(terms[order], docs[order], counts[order], lengths)

    @classmethod
    def _from_sorted(cls, terms: Hashes, docs: npt.NDArray[np.int32], freqs: npt.NDArray[Any],
                     lengths: npt.NDArray[Any]) -> Postings:  # fmt: skip
        if len(terms):
            starts = np.flatnonzero(np.r_[True, terms[1:] != terms[:-1]])
        else:
            starts = np.zeros(0, dtype=np.int64)
        return cls(
            vocab=terms[starts],
            indptr=np.r_[starts, len(terms)].astype(np.int64),
            docs=docs.astype(np.int32, copy=False),
            freqs=freqs.astype(np.float32, copy=False),
            lengths=lengths.astype(np.float32, copy=False),
        )

    def updated(self, keys: npt.NDArray[np.int64], removed: npt.NDArray[np.int64],
                added: Postings, added_keys: npt.NDArray[np.int64],
                ) -> tuple[Postings, npt.NDArray[np.int64]]:  # fmt: skip
        """These postings without the docs whose key is in `removed`, plus the docs of `added`
        (keys larger than all kept ones): the same arrays a full build of the result gives,
        without sorting everything again."""
        keep = ~np.isin(keys, removed)
        new_index = (np.cumsum(keep) - 1).astype(np.int32)
        old_docs = np.asarray(self.docs)
        entry_kept = keep[old_docs]
        terms = np.repeat(np.asarray(self.vocab), np.diff(self.indptr))[entry_kept]
        docs = new_index[old_docs[entry_kept]]
        freqs = np.asarray(self.freqs)[entry_kept]
        base = int(keep.sum())
        new_terms = np.repeat(added.vocab, np.diff(added.indptr))
        # After the kept entries of the same term: docs stay ascending within each term.
        at = np.searchsorted(terms, new_terms, side="right")
        slots = at + np.arange(len(at))  # where the new entries land in the merged arrays
        merged = Postings._from_sorted(
            _insert_at(terms, slots, new_terms),
            _insert_at(docs, slots, added.docs + base),
            _insert_at(freqs, slots, added.freqs),
            np.concatenate([np.asarray(self.lengths)[keep], added.lengths]),
        )
        return merged, np.concatenate([keys[keep], added_keys]).astype(np.int64)

    def df(self, term: int) -> int:
        """How many docs hold `term` (a hash)."""
        at = int(np.searchsorted(self.vocab, np.uint64(term)))
        if at == len(self.vocab) or int(self.vocab[at]) != term:
            return 0
        return int(self.indptr[at + 1] - self.indptr[at])

    @property
    def doc_count(self) -> int:
        return len(self.lengths)

    def top(self, query_terms: Hashes, k: int) -> list[tuple[int, float]]:
        """The best `k` (doc, score) for the query's terms, best first; ties by doc order."""
        n = self.doc_count
        if n == 0 or k <= 0 or len(query_terms) == 0:
            return []
        query_terms = np.unique(query_terms)
        where = np.searchsorted(self.vocab, query_terms)
        inside = where < len(self.vocab)
        where, query_terms = where[inside], query_terms[inside]
        where = where[self.vocab[where] == query_terms]
        if len(where) == 0:
            return []
        average = float(self.lengths.mean()) or 1.0
        starts, ends = self.indptr[where], self.indptr[where + 1]
        df = (ends - starts).astype(np.float64)
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        slices = [np.arange(s, e) for s, e in zip(starts, ends, strict=True)]
        positions = np.concatenate(slices)
        docs = self.docs[positions]
        tf = self.freqs[positions]
        weights = np.repeat(idf, ends - starts)
        norm = K1 * (1.0 - B + B * self.lengths[docs] / average)
        scores = np.bincount(docs, weights=weights * tf * (K1 + 1.0) / (tf + norm), minlength=n)
        k = min(k, n)
        best = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
        best = best[np.lexsort((best, -scores[best]))]
        return [(int(d), float(scores[d])) for d in best if scores[d] > 0]

    def save(self, folder: Path, keys: npt.NDArray[np.int64]) -> None:
        """Write the arrays and each doc's key (its row id in the store) as .npy files, which
        load() maps into memory: opening costs no read, and workers share the pages."""
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {**{f: getattr(self, f) for f in _FIELDS}, "keys": keys}
        for name, array in arrays.items():
            np.save(folder / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> tuple[Postings, npt.NDArray[np.int64]]:
        def read(name: str) -> npt.NDArray[Any]:
            with _NPY_HEADER_LOCK:
                return np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)

        return cls(**{f: read(f) for f in _FIELDS}), read("keys")


_FIELDS = ("vocab", "indptr", "docs", "freqs", "lengths")
# np.load parses a .npy header with ast.literal_eval, and CPython 3.11 before 3.11.9 can raise
# "SystemError: AST constructor recursion depth mismatch" when two threads parse at once
# (gh-106905): four threads opening one index failed so in the test suite, and a worker's
# background refresh can load while a search reloads. Loads are a few ms; one at a time.
_NPY_HEADER_LOCK = threading.Lock()


def _insert_at(old: npt.NDArray[Any], slots: npt.NDArray[np.int64], new: npt.NDArray[Any]
               ) -> npt.NDArray[Any]:  # fmt: skip
    """`old` with `new` placed at the (ascending) output positions `slots`: np.insert without
    its general-purpose sorting, for a few new entries among millions."""
    out = np.empty(len(old) + len(new), dtype=old.dtype)
    is_new = np.zeros(len(out), dtype=bool)
    is_new[slots] = True
    out[slots] = new
    out[~is_new] = old
    return out


def query_hashes(hasher: TermHasher, query: str) -> Hashes:
    words = tokens(query)
    if all(w in STOPWORDS for w in words):
        words = []
    return np.array(sorted({hasher(t) for t in words}), dtype=np.uint64)
