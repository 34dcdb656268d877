"""Split page text into passages and rank them against the question (plain BM25), so the
answering model sees the parts of a page that bear on the question, not its first screen."""

from __future__ import annotations

import math
import re
from collections import Counter

CHUNK_CHARS = 700
_WORD = re.compile(r"\w+", re.UNICODE)


def chunks(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """Paragraph-aligned chunks of about `size` characters; over-long paragraphs are cut."""
    out: list[str] = []
    current = ""
    for para in re.split(r"\n\s*\n|\n", text):
        para = " ".join(para.split())
        while len(para) > size:
            cut = para.rfind(" ", 0, size)
            cut = cut if cut > size // 2 else size
            if current:
                out.append(current)
                current = ""
            out.append(para[:cut].strip())
            para = para[cut:].strip()
        if not para:
            continue
        if current and len(current) + 1 + len(para) > size:
            out.append(current)
            current = para
        else:
            current = f"{current} {para}".strip()
    if current:
        out.append(current)
    return out


def _terms(text: str) -> list[str]:
    # No stop-word list: BM25's IDF already gives words found in most passages little weight.
    return _WORD.findall(text.lower())


def bm25_scores(query: str, docs: list[str], k1: float = 1.5, b: float = 0.75) -> list[float]:
    """Okapi BM25 of each doc for `query`, with the docs themselves as the corpus."""
    tokenized = [_terms(d) for d in docs]
    if not tokenized:
        return []
    avg = sum(len(t) for t in tokenized) / len(tokenized) or 1.0
    df = Counter(term for toks in tokenized for term in set(toks))
    n = len(tokenized)
    scores = []
    for toks in tokenized:
        tf = Counter(toks)
        score = 0.0
        for term in set(_terms(query)):
            if term not in tf:
                continue
            idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
            freq = tf[term]
            score += idf * freq * (k1 + 1) / (freq + k1 * (1 - b + b * len(toks) / avg))
        scores.append(score)
    return scores


def best_passages(query: str, text: str, budget: int) -> str:
    """The best-ranked chunks of `text` for `query`, up to `budget` characters, in page order."""
    pieces = chunks(text)
    if not pieces:
        return ""
    scores = bm25_scores(query, pieces)
    ranked = sorted(range(len(pieces)), key=lambda i: (-scores[i], i))
    chosen: list[int] = []
    used = 0
    for i in ranked:
        if used + len(pieces[i]) > budget and chosen:
            continue
        chosen.append(i)
        used += len(pieces[i]) + 2
        if used >= budget:
            break
    return "\n\n".join(pieces[i] for i in sorted(chosen))[:budget]
