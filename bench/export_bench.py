"""How long exporting a long report takes: `python -m bench.export_bench [--parts N]`.

A synthetic report (N copies of a section with headings, nested lists, a table, a code block,
a quote and citations, through the product's own citation check) rendered to every format
from one parse; prints the Markdown size and the time of the parse and of each format.
"""

from __future__ import annotations

import argparse
import time

import export
from export.document import build_document
from workflows.citing.citations import finalise_report
from workflows.models import LLMUsage, NumberedSource, ResearchPlan, Source
from workflows.results import ResearchReport

SECTION = """## Part {i}

The with statement calls `__enter__` first [1]. Its `__exit__` runs on the way out [2][3].

- a bullet with **bold** text [1]
- a bullet with a [link](https://docs.python.org/3/library/contextlib.html)
  1. nested step one
  2. nested step two

| Method | Returns |
|---|---|
| `__enter__` | the target [2] |
| `__exit__` | a flag |

```python
with open("f") as handle:
    data = handle.read()
```

> A quoted remark [3].
"""


def synthetic_report(parts: int) -> ResearchReport:
    known = [
        NumberedSource(
            number=n,
            source=Source(
                id=f"s{n}",
                title=f"Source {n}",
                location=f"https://example.org/{n}",
                provider="web",
                retrieved_at="2026-11-30T00:00:00Z",
            ),
        )
        for n in (1, 2, 3)
    ]
    body = "# A long report\n\n" + "\n".join(SECTION.format(i=i) for i in range(parts))
    markdown, cited, removed = finalise_report(body, known)
    return ResearchReport(
        question="How do context managers work?",
        markdown=markdown,
        plan=ResearchPlan(sections=[]),
        sources=cited,
        sources_retrieved=3,
        removed_citations=removed,
        iterations=1,
        quality_history=[0.5],
        stop_reason="max_iterations",
        usage_by_node={},
        usage_total=LLMUsage(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=120)
    args = parser.parse_args()
    report = synthetic_report(args.parts)
    print(f"report: {len(report.markdown) / 1000:.0f} kB of Markdown, {args.parts} sections")
    started = time.perf_counter()
    document = build_document(report)
    print(f"parse: {time.perf_counter() - started:.2f} s")
    for name in ("html", "pdf", "docx"):
        started = time.perf_counter()
        data = export.render(report, name, document)
        print(f"{name}: {time.perf_counter() - started:.2f} s, {len(data) / 1000:.0f} kB")


if __name__ == "__main__":
    main()
