"""Evidence recall of the local search on eval/'s question set, without an LLM.

For each of the 45 questions of eval/questions.jsonl, the question itself is the query over
the demo corpus; recall@k is the share of its gold passages (eval/metrics.py matching: same
document, overlapping section) found among the top k passages, averaged over questions.

    .venv/bin/python -m bench.retrieval_recall                 # BM25
    .venv/bin/python -m bench.retrieval_recall --dense         # + MiniLM dense and hybrid

Dense: all-MiniLM-L6-v2 in numpy (bench/minilm_numpy.py), passages truncated to --max-tokens,
re-ranking each question's BM25 top --pool; hybrid: reciprocal rank fusion (k=60) of the two.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from eval.corpus import Corpus, demo_corpus_root
from eval.metrics import SourceRef, gold_recall
from eval.questions import Question, load_questions
from search.local_index import LocalIndex, SearchHit

Ranker = Callable[[str, int], list[SearchHit]]


def recall_at(ranker: Ranker, questions: list[Question], corpus: Corpus, k: int) -> float:
    scores = []
    for question in questions:
        hits = ranker(question.prompt, k)
        sources = [
            SourceRef(
                location=h.passage.citation, title=h.passage.title, quote=h.passage.text[:300]
            )
            for h in hits
        ]
        scores.append(gold_recall(question.gold, sources, corpus)[0])
    return statistics.fmean(scores)


RRF_K = 60


def dense_rankers(
    index: LocalIndex, questions: list[Question], max_tokens: int, pool: int
) -> dict[str, Ranker]:
    """Dense re-ranking and hybrid fusion over each question's BM25 top `pool` passages.

    Embedding the whole demo corpus with MiniLM in numpy costs about 0.66 s of CPU per passage
    on the 2-core machine (half an hour for 2,746 passages), so the dense side only sees the
    candidates BM25 found: "dense" re-ranks them by cosine similarity, "hybrid" fuses the two
    rankings with reciprocal rank fusion (k=60). Neither can find a passage BM25's top `pool`
    missed, so their recall@10 is bounded by BM25's recall@pool."""
    from bench import minilm_numpy as dense

    dense.MAX_TOKENS = max_tokens
    model = dense.MiniLM()
    candidates = {q.prompt: index.search(q.prompt, pool) for q in questions}
    unique = {h.passage.id: h.passage for hits in candidates.values() for h in hits}
    ids = sorted(unique)
    cache = Path(tempfile.gettempdir()) / f"ttdr-recall-minilm-{max_tokens}-{pool}.npz"
    if cache.is_file() and list(np.load(cache)["ids"]) == ids:
        matrix = np.load(cache)["vectors"]
    else:
        started = time.perf_counter()
        matrix = model.encode([f"{unique[i].title}\n{unique[i].text}" for i in ids])
        print(f"embedded {len(ids)} passages in {time.perf_counter() - started:.0f} s",
              file=sys.stderr)  # fmt: skip
        np.savez(cache, ids=np.array(ids), vectors=matrix)
    vectors = dict(zip(ids, matrix, strict=True))

    def by_dense(query: str, k: int) -> list[SearchHit]:
        found = candidates[query]
        q = model.encode([query])[0]
        scored = sorted(found, key=lambda h: -float(vectors[h.passage.id] @ q))
        return scored[:k]

    def hybrid(query: str, k: int) -> list[SearchHit]:
        fused: dict[str, float] = {}
        for ranked in (candidates[query], by_dense(query, pool)):
            for rank, hit in enumerate(ranked):
                fused[hit.passage.id] = fused.get(hit.passage.id, 0.0) + 1 / (RRF_K + rank + 1)
        best = sorted(candidates[query], key=lambda h: -fused[h.passage.id])[:k]
        return [SearchHit(passage=h.passage, score=fused[h.passage.id]) for h in best]

    changed = sum(
        {h.passage.id for h in hybrid(q.prompt, 5)}
        != {h.passage.id for h in candidates[q.prompt][:5]}
        for q in questions
    )
    print(f"hybrid top 5 differs from BM25's for {changed} of {len(questions)} questions",
          file=sys.stderr)  # fmt: skip
    return {f"dense (MiniLM re-rank of BM25 top {pool})": by_dense,
            f"hybrid (RRF of BM25 and dense, top {pool})": hybrid}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dense", action="store_true")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--pool", type=int, default=20, help="BM25 candidates per question")
    args = parser.parse_args()
    root = demo_corpus_root()
    corpus = Corpus(root)
    questions = load_questions()
    with tempfile.TemporaryDirectory(prefix="recall-") as cache:
        index = LocalIndex.open([root], Path(cache))
        rankers: dict[str, Ranker] = {"BM25": index.search}
        if args.dense:
            rankers |= dense_rankers(index, questions, args.max_tokens, args.pool)
        rows = []
        for name, ranker in rankers.items():
            started = time.perf_counter()
            at5 = recall_at(ranker, questions, corpus, 5)
            at10 = recall_at(ranker, questions, corpus, 10)
            per_query = (time.perf_counter() - started) / (2 * len(questions)) * 1000
            rows.append((name, at5, at10, per_query))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"{len(questions)} questions, {index.passage_count} passages (demo corpus)\n")
    print("| retrieval | evidence recall@5 | evidence recall@10 | ms / query |")
    print("|---|---|---|---|")
    for name, at5, at10, ms in rows:
        print(f"| {name} | {at5:.3f} | {at10:.3f} | {ms:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
