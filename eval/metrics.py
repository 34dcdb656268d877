"""Quality metrics of one research run against its question, computed without an LLM.

Pure functions over the report's Markdown, the sources it cites, the sources the run
retrieved and its usage figures:

- **gold retrieved / gold cited**: share of the question's gold passages that some retrieved
  (resp. cited) source matches (document + section, see eval/corpus.py);
- **fact recall**: share of key facts the report body contains;
- **citation validity**: share of the body's citations `[n]` that point at an entry of its
  Sources list;
- **citation support**: share of (claim, cited source) pairs whose support score (a pluggable
  scorer, eval/support.py) reaches the threshold, and the mean score;
- **claims cited**: share of the body's claims (sentences) that carry a citation;
- LLM calls, tokens and wall time, passed through.

A share with nothing to count (a report without citations has no citation validity) is None,
shown as "-", and left out of means.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from eval.corpus import Corpus, Document, flatten, section_name
from eval.questions import GoldPassage, Question
from eval.readability import LIST_ENTRY, readability, split_report
from eval.support import SUPPORT_THRESHOLD, SupportScorer, lexical_support
from workflows.text_checks import code_names

PASSAGE_MAX_CHARS = 1200  # the local index's largest passage
_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`", re.DOTALL)
# As the product parses them: runs like [1][2] or [1, 2], not `xs[1]` (glued to a word).
# `[1]`, `[1, 2]`, and the report's `[1, p. 2]` / `[1, §Diet]` (a number and the part cited).
_CITATION = re.compile(
    r"(?<![\w)\]])((?:\[\d{1,4}(?:\s*,\s*\d{1,4})*(?:, [^\[\]\d\n][^\[\]\n]{0,59})?\])+)"
)
_GROUP = re.compile(r"\[([\d,\s]+)(?:, [^\[\]\d\n][^\[\]\n]{0,59})?\]")
# A line that is all emphasis is a label the product writes (a notes question, a note), not a claim.
_LABEL_LINE = re.compile(r"^\s*(\*{1,2})[^*\n].*\1\s*$")
_MARKS_AFTER_STOP = re.compile(r"([.!?])((?:\[\d{1,4}(?:, [^\[\]\n]{1,60})?\])+)")
# Not after an abbreviation: "(e.g. IPython)" is inside one sentence.
_SENTENCE_END = re.compile(
    r"(?<=[.!?])(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\betc\.)(?<!\bcf\.)(?<!\bvs\.)\s+"
    r"(?=[A-Z0-9\"'(`*_\[])"
)
_MIN_CLAIM_WORDS = 4
_LOCATOR = re.compile(r"(?:^|,)\s*sections?\s+(.+)$")


class SourceRef(BaseModel):
    """What the eval needs of a source: where it is, and its quoted text."""

    model_config = ConfigDict(frozen=True)

    number: int | None = None  # its number in the report (cited sources; a document's
    # passages share one number)
    title: str = ""
    location: str = ""
    quote: str = ""
    evidence: str = ""  # the text the answering model saw, when the product keeps it
    anchor: str = ""  # "section A" / "sections A; B", when the product names them


class RunOutput(BaseModel):
    """One question's run as the batch hands it over."""

    question_id: str
    status: str = "completed"
    markdown: str = ""
    cited: list[SourceRef] = []
    retrieved: list[SourceRef] = []
    llm_calls: int = 0
    tokens: int = 0
    wall_seconds: float = 0.0
    iterations: int = 0


class QuestionScores(BaseModel):
    id: str
    kind: str
    status: str
    gold_retrieved: float | None
    gold_cited: float | None
    fact_recall: float | None
    citation_validity: float | None
    citation_support: float | None
    mean_support: float | None
    claims_cited: float | None
    claims: int
    citations: int
    llm_calls: int
    tokens: int
    wall_seconds: float
    missing_facts: list[str] = []
    missing_gold: list[str] = []
    # What the reader sees of the product's own text (issue 22): each should be 0.
    duplicate_headings: int = 0
    junk_shown: int = 0
    cut_quotes: int = 0


# ---------------------------------------------------------------- report text


def citations_in(text: str) -> list[int]:
    """Every citation number in prose (code spans and blocks are not prose), with repeats."""
    prose = _CODE.sub(" ", text)
    return [
        int(n)
        for run in _CITATION.findall(prose)
        for group in _GROUP.findall(run)
        for n in group.split(",")
        if n.strip()
    ]


def listed_numbers(sources_section: str) -> set[int]:
    return {int(n) for n in LIST_ENTRY.findall(sources_section)}


def claims_of(body: str) -> list[str]:
    """Sentences of the body's prose: headings, code blocks, tables and rules left out."""
    prose = re.sub(r"```.*?(?:```|\Z)", "\n\n", body, flags=re.DOTALL)
    claims: list[str] = []
    for block in re.split(r"\n\s*\n", prose):
        lines = [
            re.sub(r"^\s*(?:[-*+]|\d+\.)\s+", "", line).strip()
            for line in block.splitlines()
            if line.strip()
            and not re.match(r"^\s*(#|\||>?\s*\[!|---|\*\*\*)", line)
            and not _LABEL_LINE.match(line)
        ]
        # "One.[1] Two.[2]" (markers after the full stop, as the product prints them) is two
        # claims: read it as "One [1]. Two [2]." before splitting at sentence ends.
        text = _MARKS_AFTER_STOP.sub(r" \2\1", " ".join(lines))
        for sentence in _SENTENCE_END.split(text):
            if len(re.findall(r"\w+", _CITATION.sub("", sentence))) >= _MIN_CLAIM_WORDS:
                claims.append(sentence.strip())
    return claims


def _normal(text: str) -> str:
    return flatten(text).lower()


def fact_found(fact: str, text: str) -> bool:
    normal = _normal(text)
    return any(alt.strip() and _normal(alt) in normal for alt in fact.split("|"))


# ---------------------------------------------------------------- sources in the corpus


@dataclass(frozen=True)
class Located:
    """Where a source's passage is: its quote's span, and the headings it names."""

    doc: Document
    start: int | None  # the quote's span, when the quote is found in the document
    end: int | None
    headings: tuple[int, ...]  # offsets of the section headings its location names

    def overlaps(self, a: int, b: int) -> bool:
        if self.start is not None and self.end is not None and self.start < b and a < self.end:
            return True
        return any(a <= h < b for h in self.headings)


def named_sections(location: str) -> list[str]:
    """Section names a location or anchor carries: "path, section A", "sections A; B"."""
    found = _LOCATOR.search(location)
    return [n.strip() for n in found.group(1).split(";") if n.strip()] if found else []


def locate(source: SourceRef, corpus: Corpus) -> Located | None:
    """The document a source's passage comes from and what of it is known: the quote's span
    (the first 300 characters) and the headings its location names (the passage's sections,
    when the product lists them), or None when the document is not in the corpus."""
    doc = corpus.document_of(source.location, source.title)
    if doc is None:
        return None
    start = end = None
    quote = flatten(source.quote).removesuffix("…").strip()
    for probe in (quote, quote[:80]) if quote else ():
        if (found := doc.text.find(probe)) >= 0:
            start, end = found, found + len(quote)
            break
    headings = []
    for name in named_sections(source.anchor) or named_sections(source.location):
        prefix = name.removesuffix("…")
        headings += [
            s.start
            for s in doc.sections
            if s.name == section_name(name) or (name.endswith("…") and s.heading.startswith(prefix))
        ]
    if start is None and not headings:
        return None
    return Located(doc, start, end, tuple(headings))


def passage_text(source: SourceRef, corpus: Corpus) -> str:
    """The cited passage's text: the evidence the product kept, else from its quote's position
    to the end of the section it starts in (at most one passage long), else the quote."""
    if source.evidence:
        return source.evidence
    where = locate(source, corpus)
    if where is None or where.start is None or where.end is None:
        return source.quote
    doc, start = where.doc, where.start
    inner = [s for s in doc.sections if s.start <= start < s.end]
    section_end = min((s.end for s in inner), default=len(doc.text))
    stop = max(where.end, min(section_end, start + PASSAGE_MAX_CHARS))
    return doc.text[start:stop]


def matches_gold(source: SourceRef, gold: GoldPassage, corpus: Corpus) -> bool:
    where = locate(source, corpus)
    if where is None or where.doc.path != gold.doc:
        return False
    return any(where.overlaps(a, b) for a, b in gold.spans(corpus))


def gold_recall(
    gold: list[GoldPassage], sources: Iterable[SourceRef], corpus: Corpus
) -> tuple[float, list[str]]:
    sources = list(sources)
    missing = [g.label() for g in gold if not any(matches_gold(s, g, corpus) for s in sources)]
    return (len(gold) - len(missing)) / len(gold), missing


# ---------------------------------------------------------------- one run


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def score_run(
    question: Question,
    run: RunOutput,
    corpus: Corpus,
    scorer: SupportScorer = lexical_support,
    threshold: float = SUPPORT_THRESHOLD,
) -> QuestionScores:
    body, sources_section = split_report(run.markdown)
    ok = run.status == "completed"
    cited_numbers = citations_in(body)
    listed = listed_numbers(sources_section) | {s.number for s in run.cited if s.number}
    by_number: dict[int, list[SourceRef]] = {}
    for source in run.cited:
        if source.number is not None:
            by_number.setdefault(source.number, []).append(source)

    claims = claims_of(body)
    cited_claims = [c for c in claims if citations_in(c)]
    supports = [
        # A number names a document; the claim is supported by its best-supporting passage.
        max(scorer(_CITATION.sub("", claim), passage_text(p, corpus)) for p in by_number[n])
        for claim in cited_claims
        for n in dict.fromkeys(citations_in(claim))
        if n in by_number
    ]
    gold_retrieved, _ = gold_recall(question.gold, run.retrieved, corpus)
    gold_cited, missing_gold = gold_recall(question.gold, run.cited, corpus)
    missing_facts = [f for f in question.facts if not fact_found(f, body)]
    known = code_names(
        " ".join([question.prompt, *(passage_text(p, corpus) for p in run.retrieved)])
    )
    duplicates, junk, cut = readability(run.markdown, known)
    return QuestionScores(
        id=question.id,
        kind=question.kind,
        status=run.status,
        gold_retrieved=gold_retrieved if ok else 0.0,
        gold_cited=gold_cited if ok else 0.0,
        fact_recall=(len(question.facts) - len(missing_facts)) / len(question.facts) if ok else 0.0,
        citation_validity=_share(sum(n in listed for n in cited_numbers), len(cited_numbers)),
        citation_support=_share(sum(s >= threshold for s in supports), len(supports)),
        mean_support=sum(supports) / len(supports) if supports else None,
        claims_cited=_share(len(cited_claims), len(claims)),
        claims=len(claims),
        citations=len(cited_numbers),
        llm_calls=run.llm_calls,
        tokens=run.tokens,
        wall_seconds=run.wall_seconds,
        missing_facts=missing_facts,
        missing_gold=missing_gold,
        duplicate_headings=duplicates,
        junk_shown=junk,
        cut_quotes=cut,
    )


METRIC_COLUMNS = (
    "gold_retrieved",
    "gold_cited",
    "fact_recall",
    "citation_validity",
    "citation_support",
    "mean_support",
    "claims_cited",
    "duplicate_headings",
    "junk_shown",
    "cut_quotes",
    "llm_calls",
    "tokens",
    "wall_seconds",
)


def summarise(scores: list[QuestionScores]) -> dict[str, float | None]:
    """Mean of each metric over the questions where it is defined; `completed` is a share."""
    summary: dict[str, float | None] = {}
    for column in METRIC_COLUMNS:
        values = [v for s in scores if (v := getattr(s, column)) is not None]
        summary[column] = sum(values) / len(values) if values else None
    summary["completed"] = _share(sum(s.status == "completed" for s in scores), len(scores))
    return summary
