"""Benchmark: the local-documents index on a synthetic corpus of >= 100,000 passages.

The corpus is the bundled demo corpus (Python's own documentation, search/
demo_corpus.py) replicated with varied text, so it exists on every machine: replica r of a file
keeps its structure, rotates the sentences of each paragraph by r, and adds replica-specific
made-up words, so the vocabulary grows as in a real corpus and no two replicas are identical.

Each phase runs in a fresh process (peak RSS is per phase, from getrusage):
  build      a first index into an empty cache: time, passages/s, peak RSS, size on disk
  reopen     nothing changed: time to open the cached index
  change     one file rewritten: time to refresh (read that file, rebuild the postings)
  query      p50 / p95 / max latency of LocalIndex.search over N questions (k=5)

    .venv/bin/python -m bench.index_scale                 # >= 100k passages
    .venv/bin/python -m bench.index_scale --replicas 4    # smoke check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_GOALS = {"build_s": 60.0, "change_s": 2.0, "query_p95_ms": 50.0}


def _synthetic_word(rng: random.Random) -> str:
    return "".join(rng.choice("bcdfghjklmnpqrstvwxz") + rng.choice("aeiou") for _ in range(3))


def _vary(text: str, replica: int, rng: random.Random) -> str:
    """The same document, another wording: sentences rotated, replica-specific words added."""
    if replica == 0:
        return text
    out = []
    for para in text.split("\n\n"):
        if para.lstrip().startswith(("#", "```", "    ")):
            out.append(para)
            continue
        sentences = para.split(". ")
        shift = replica % len(sentences)
        sentences = sentences[shift:] + sentences[:shift]
        words = ". ".join(sentences).split(" ")
        for _ in range(max(1, len(words) // 25)):
            words.insert(rng.randrange(len(words) + 1), _synthetic_word(rng))
        out.append(" ".join(words))
    return "\n\n".join(out)


def make_corpus(target: Path, replicas: int) -> tuple[int, int]:
    """Write `replicas` varied copies of the demo corpus under `target`; (files, bytes)."""
    sys.path.insert(0, str(ROOT))
    from search.demo_corpus import materialise_demo_corpus

    demo = materialise_demo_corpus(target.parent / "demo-cache")
    sources = sorted(p for p in demo.rglob("*") if p.is_file() and not p.name.startswith("."))
    files = size = 0
    for replica in range(replicas):
        rng = random.Random(replica)
        for source in sources:
            rel = source.relative_to(demo)
            out = target / f"r{replica:03d}" / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            text = _vary(source.read_text(encoding="utf-8"), replica, rng)
            out.write_text(text, encoding="utf-8")
            files += 1
            size += len(text.encode())
    return files, size


# --- phases, each in its own process ---------------------------------------------------------


def _phase(name: str, corpus: Path, cache: Path, queries: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from search.local_index import LocalIndex

    result: dict[str, float] = {}
    if name == "change":
        changed = next(iter(sorted(corpus.rglob("*.md"))))
        changed.write_text(
            changed.read_text(encoding="utf-8") + "\n\nA new paragraph about quokkas.\n",
            encoding="utf-8",
        )
    started, cpu = time.perf_counter(), _cpu_seconds()
    index = LocalIndex.open([corpus], cache)
    result["open_s"] = time.perf_counter() - started
    result["open_cpu_s"] = _cpu_seconds() - cpu
    result["passages"] = index.passage_count
    result["files_read"] = index.refresh.added + index.refresh.changed
    if name == "change":
        result["found_change"] = float(bool(index.search("quokkas", k=1)))
    if name == "query":
        rng = random.Random(7)
        texts = [p.text for p in index.passages()[:: max(1, index.passage_count // 2000)]]
        words = [w for t in texts for w in t.split() if w.isalpha() and len(w) > 3]
        questions = [" ".join(rng.sample(words, rng.randint(3, 12))) for _ in range(queries)]
        index.search(questions[0])  # warm the page cache and numpy
        latencies = []
        for question in questions:
            t0 = time.perf_counter()
            index.search(question, k=5)
            latencies.append((time.perf_counter() - t0) * 1000)
        latencies.sort()
        result["p50_ms"] = statistics.median(latencies)
        result["p95_ms"] = latencies[int(0.95 * (len(latencies) - 1))]
        result["max_ms"] = latencies[-1]
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run_phase(name: str, corpus: Path, cache: Path, queries: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.index_scale", "--phase", name, "--corpus", str(corpus),
         "--cache", str(cache), "--queries", str(queries)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def _disk_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=40, help="copies of the demo corpus")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="build the corpus here and keep it")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(_phase(args.phase, args.corpus, args.cache, args.queries)))
        return 0

    with tempfile.TemporaryDirectory(prefix="index-scale-") as tmp:
        work = args.keep or Path(tmp)
        corpus, cache = work / "corpus", work / "cache"
        t0 = time.perf_counter()
        files, size = make_corpus(corpus, args.replicas)
        print(f"corpus: {files} files, {size / 2**20:.0f} MiB in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr)  # fmt: skip
        build = _run_phase("build", corpus, cache, args.queries)
        index_mb = _disk_mb(cache)
        reopen = _run_phase("reopen", corpus, cache, args.queries)
        change = _run_phase("change", corpus, cache, args.queries)
        query = _run_phase("query", corpus, cache, args.queries)

    passages = int(build["passages"])
    rows = [
        ("files / passages", f"{files:,} / {passages:,}", ""),
        ("corpus size", f"{size / 2**20:.0f} MiB", ""),
        ("build (empty cache), wall / CPU",
         f"{build['open_s']:.1f} s / {build['open_cpu_s']:.1f} s", f"< {_GOALS['build_s']:.0f} s"),
        ("passages / s", f"{passages / build['open_s']:,.0f}", ""),
        ("peak RSS, build", f"{build['peak_rss_mb']:.0f} MiB", ""),
        ("index size on disk", f"{index_mb:.0f} MiB", ""),
        ("reopen, nothing changed, wall / CPU",
         f"{reopen['open_s']:.2f} s / {reopen['open_cpu_s']:.2f} s", ""),
        ("peak RSS, reopen", f"{reopen['peak_rss_mb']:.0f} MiB", ""),
        ("refresh after 1 changed file, wall / CPU", f"{change['open_s']:.2f} s / "
         f"{change['open_cpu_s']:.2f} s ({int(change['files_read'])} file read)",
         f"< {_GOALS['change_s']:.0f} s"),
        ("query p50 / p95 / max (k=5)", f"{query['p50_ms']:.1f} / {query['p95_ms']:.1f} / "
         f"{query['max_ms']:.1f} ms", f"p95 < {_GOALS['query_p95_ms']:.0f} ms"),
    ]  # fmt: skip
    assert change["found_change"], "the changed file's new text is not searchable"
    load = os.getloadavg()[0]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load average {load:.1f} at the end")  # fmt: skip
    print(f"command: python -m bench.index_scale --replicas {args.replicas} "
          f"--queries {args.queries}")  # fmt: skip
    print()
    print("| measure | BM25 | goal |")
    print("|---|---|---|")
    for name, value, goal in rows:
        print(f"| {name} | {value} | {goal} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
