"""The report body as the reader gets it. Pure code over the run's state (workflow-safe).

Whatever the model wrote, the product makes it readable and backed:
1. the title is the question (short), junk or repeated headings are replaced
   (workflows/topics.py);
2. every claim is checked against the sources it cites; a claim no source supports is not
   printed in the body (counted, and listed in a marked appendix when the config asks);
3. a section left with nothing supported is written from the best evidence sentences for its
   topic, each cited (the extractive floor, workflows/citing/extractive.py); a report the model
   could not write at all is built that way from the plan and the draft;
4. the Research notes (every question asked and its supported answer) follow when the body
   leaves most of the evidence out, then the Sources list, in the question's language.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from workflows.citing.citations import cited_numbers, finalise_report, strip_own_sources_section
from workflows.citing.claim_text import cited_in, claims_of
from workflows.citing.extractive import EvidencePool, words_of
from workflows.citing.grounding import cites_enough
from workflows.citing.shown_text import cited_sentences
from workflows.citing.support import content_words
from workflows.config import ResearchConfig
from workflows.headings import fixed_headings, headings_shown_as_code, known_code_names
from workflows.labels import Labels, labels_for
from workflows.models import ResearchPlan
from workflows.notes import research_notes
from workflows.results import GroundingSummary, ResearchReport
from workflows.sources import SourceRegistry
from workflows.state import RunState
from workflows.text_checks import CJK, one_line
from workflows.topics import (
    aspects,
    heading_of,
    key_terms,
    section_query,
    section_served,
    usable_sections,
)

AppendixRule = Literal["auto", "always", "never"]
TITLE_MAX_CHARS = 180
SENTENCES_PER_SECTION = 3
# A report with no section: its lead says at least this much, from the evidence if need be.
LEAD_ALONE_SENTENCES = 6
_SECTION = re.compile(r"^(#{2,6} .*)$", re.MULTILINE)


def short_title(question: str) -> str:
    """The question as a title: whole when short, else its first aspect, cut at a word."""
    title = one_line(question)
    if len(title) <= TITLE_MAX_CHARS:
        return title
    first = aspects(title)[0]
    if len(first) <= TITLE_MAX_CHARS:
        return first
    return first[: TITLE_MAX_CHARS - 1].rsplit(" ", 1)[0] + "…"


def titled(text: str, question: str) -> str:
    """The report is titled with the user's question, not a title the model made up (a weak
    model has titled it with the text of a re-ask prompt)."""
    first, _, rest = text.lstrip().partition("\n")
    body = rest if first.startswith("# ") else text
    return f"# {short_title(question)}\n\n{body.strip()}"


def fallback_text(draft: str, plan: ResearchPlan, question: str) -> str:
    """When the model gave no report: the draft as the summary, then one empty section per
    plan item (or aspect of the question), for the floor to write from the evidence."""
    headings = [one_line(s.title) for s in usable_sections(plan)] or aspects(question)
    sections = "\n\n".join(f"## {h}" for h in headings)
    draft = re.sub(r"^#{1,6} .*$", "", draft, flags=re.MULTILINE)  # the plan gives the headings
    return f"{draft.strip()}\n\n{sections}"


def without_repeats(body: str) -> tuple[str, int]:
    """Each claim of the body's paragraphs printed once: a weak model repeats one supported
    sentence in every section. A paragraph left empty goes (its section may then be written
    from the evidence). Returns the body and how many repeats were left out."""
    seen: set[str] = set()
    removed = 0
    out: list[str] = []
    for block in body.split("\n\n"):
        if not block.strip() or _NOT_PROSE.match(block.lstrip()):
            out.append(block)
            continue
        kept = []
        for claim in claims_of(" ".join(block.split())):
            key = " ".join(re.findall(r"\w+", claim.text.casefold()))
            if key and key in seen:
                removed += 1
                continue
            seen.add(key)
            kept.append(claim.text + "".join(f"[{n}]" for n in claim.sources))
        if kept:
            out.append(" ".join(kept))
    return "\n\n".join(out), removed


_NOT_PROSE = re.compile(r"#|```|~~~|\||>|[-*+] |\d{1,3}[.)] |    ")


def extractive_floor(
    body: str, pool: EvidencePool, plan: ResearchPlan, question: str
) -> tuple[str, int, int]:
    """Every part of the body (the lead, each section) that cites nothing is written from the
    evidence sentences best matching its topic; a section with no such sentence is dropped.
    Returns the body, how many parts were written so, and how many sections were dropped."""
    parts = _SECTION.split(body)  # [lead, heading, text, heading, text, ...]
    _mark_said(parts[::2], pool)  # what the model backed is not repeated by the floor
    lead_title, _, lead = parts[0].partition("\n")
    filled = dropped = 0
    if not cited_in(lead):
        picked = pool.take(question, question, SENTENCES_PER_SECTION, lead=True)
        if picked:
            lead, filled = cited_sentences(picked), 1
    out = [f"{lead_title}\n\n{lead.strip()}".strip()]
    for at in range(1, len(parts), 2):
        heading, text = parts[at], parts[at + 1].strip()
        following = parts[at + 2] if at + 2 < len(parts) else ""
        if not text and _level(following) > _level(heading):
            out.append(heading)  # it heads subsections: they are checked on their own
            continue
        if not cited_in(text):
            name = heading.lstrip("#").strip()
            served = section_served(name, plan, at // 2)
            if served and not content_words(name) & content_words(section_query(served)):
                served = None  # the heading's own words, not another section's
            topic = f"{name} {section_query(served) if served else ''}"
            off_topic = _off_the_question(name, topic, question, pool)
            picked = [] if off_topic else pool.take(topic, question, SENTENCES_PER_SECTION)
            if not picked:
                dropped += 1
                continue
            text, filled = cited_sentences(picked), filled + 1
        out.append(f"{heading}\n\n{text}")
    return "\n\n".join(part for part in out if part.strip()), filled, dropped


def _off_the_question(name: str, topic: str, question: str, pool: EvidencePool) -> bool:
    """A section headed with a question or a sentence whose topic shares no word with the
    question but what every source is about: the embedded model's plan for the with-statement
    question held "What are the different ways to handle exceptions in a Python program?", and
    the floor quoted augmented assignment's "With the exception of …" under it. The product
    does not write such a section; the parts of the question still unanswered get sections of
    their own (answered_aspects). "The protocol" shares no word either and is a heading a
    strong model may choose: only a question or sentence is judged."""
    if not one_line(name).rstrip("*_ ").endswith(("?", ".", "？", "。")):  # noqa: RUF001
        return False
    said = words_of(topic) | set(CJK.findall(topic))
    asked = words_of(question) | set(CJK.findall(question))
    return not (said & asked) - pool.shared_subject()


def fuller_lead(body: str, pool: EvidencePool, question: str) -> tuple[str, int]:
    """A report that is its lead alone (no section) with fewer than LEAD_ALONE_SENTENCES cited
    sentences gets the best unused evidence sentences for the question after them. A weak
    model's one backed sentence was the whole report on "How does exception chaining with
    raise … from work?", and the passage it cited says what `__cause__` holds three sentences
    on. Returns the body and how many sentences were added."""
    if _SECTION.search(body):
        return body, 0
    title, _, lead = body.partition("\n")
    said = [c for c in claims_of(" ".join(_prose(lead).split())) if c.sources]
    wanted = LEAD_ALONE_SENTENCES - len(said)
    if wanted <= 0:
        return body, 0
    _mark_said([lead], pool)
    picked = pool.take(question, question, wanted, lead=True)
    if not picked:
        return body, 0
    lead = f"{lead.strip()} {cited_sentences(picked)}".strip()
    return f"{title}\n\n{lead}", len(picked)


def parts_asked(question: str) -> list[str]:
    """What a reader expects an answer to, each: the parts of a compound question, or the
    things a question compares ("shutil.copy and shutil.copy2", "asyncio.Queue rather than
    queue.Queue")."""
    asked = aspects(question)
    return asked if len(asked) > 1 else key_terms(question)


def uncovered_aspects(body: str, question: str) -> list[str]:
    """The parts of a compound question that the body (the model's backed text, before the
    floor) does not answer: no heading names the part, and no text but a section's that
    answers another part — the lead (with all the part's words), a section under a heading
    of its own — speaks of it."""
    asked = parts_asked(question)
    if len(asked) < 2:
        return []  # the whole report is about the one thing asked
    parts = _SECTION.split(body)
    headings = [words_of(h.lstrip("#")) for h in parts[1::2]]
    named: set[int] = set()
    missing: list[str] = []
    for aspect in asked:
        words = words_of(aspect)
        hits = {i for i, heading in enumerate(headings) if _shares(words, heading, 0.5)}
        named |= hits
        if words and not hits:
            missing.append(aspect)
    # The lead speaks of the question's subject, so of every part's subject words: it answers
    # a part only when it has all of the part's words ("A context manager is an object that
    # defines the runtime context" does not say what one must implement).
    texts = [(words_of(_prose(parts[0])), 1.0)] + [
        (words_of(_prose(t)), 2 / 3) for i, t in enumerate(parts[2::2]) if i not in named
    ]
    return [a for a in missing if not any(_shares(words_of(a), t, share) for t, share in texts)]


def answered_aspects(
    body: str, pool: EvidencePool, question: str, missing: list[str] | None = None
) -> tuple[str, int]:
    """A section for each part of the question the body does not answer (`missing`, else
    uncovered_aspects of `body`), written from the evidence sentences that speak of it more
    than of the other parts, from passages about the question. The reader asked it: a report
    that answers one of three questions has not answered. Returns the body and how many
    sections were added."""
    missing = uncovered_aspects(body, question) if missing is None else missing
    if not missing:
        return body, 0
    _mark_said(_SECTION.split(body)[::2], pool)  # what the body says is not said again
    asked_words = {aspect: words_of(aspect) for aspect in parts_asked(question)}
    relevant = pool.sources_about(question)
    added: list[str] = []
    for at, aspect in enumerate(missing):
        # A sentence goes to the part of the question it speaks of most (on a tie, to a part
        # still to come): "use a decorator instead of a class" answers "when contextlib".
        wanted = asked_words[aspect]
        later = [asked_words[a] for a in missing[at + 1 :]]
        others = [words for a, words in asked_words.items() if words != wanted]
        # A document the part names by name is about it, whatever its words share with the
        # question (contextlib's entries, for "when should contextlib be used…"); its name
        # counts among its sentences' words.
        named = pool.named_documents(aspect)  # once per part, not per sentence
        named_sources = set().union(*named.values())
        fitting = [
            s
            for s in pool.ranked(aspect, question)
            if (s.number in relevant or s.number in named_sources)
            and (words := pool.words_about(s, named))
            and all(len(words & wanted) >= len(words & o) for o in others)
            and all(len(words & wanted) > len(words & o) for o in later)
        ]
        if picked := pool.claim(fitting[:SENTENCES_PER_SECTION]):
            added.append(f"## {heading_of(aspect)}\n\n{cited_sentences(picked)}")
    return "\n\n".join([body.rstrip(), *added]), len(added)


def _mark_said(texts: list[str], pool: EvidencePool) -> None:
    for text in texts:
        for claim in claims_of(" ".join(_prose(text).split())):
            pool.mark_used(claim.text)


def _prose(text: str) -> str:
    """`text` without its heading lines (the lead's part opens with the title)."""
    return "\n".join(line for line in text.split("\n") if not line.startswith("#"))


def _shares(wanted: set[str], words: set[str], share: float) -> bool:
    return len(wanted & words) >= max(1, math.ceil(share * len(wanted) - 1e-9))


def _level(heading: str) -> int:
    return len(heading) - len(heading.lstrip("#")) if heading.startswith("#") else 0


def unsupported_appendix(statements: list[str], labels: Labels) -> str:
    items = "\n".join(f"- {one_line(s)}" for s in dict.fromkeys(statements) if one_line(s))
    return f"## {labels.unsupported}\n\n*{labels.unsupported_intro}*\n\n{items}"


def final_report(
    question: str,
    config: ResearchConfig,
    state: RunState,
    text: str,
    sources: SourceRegistry,
    note: str,
) -> ResearchReport:
    """The workflow's result: the body made readable and backed (see the module docstring),
    the note on top, the Sources list the product writes, and every figure of the run."""
    labels = labels_for(question)
    plan = state.plan or ResearchPlan(sections=[])
    fallback = state.report_fallback or ("" if text.strip() else "the model wrote no report")
    if fallback:
        text = fallback_text(state.draft, plan, question)
    body = strip_own_sources_section(titled(text, question))
    known = known_code_names(question, sources.all())
    body, headings_replaced = fixed_headings(body, plan, question, known)
    unsupported: list[str] = []
    policy = "keep" if config.report.unsupported == "keep" else "drop"
    body, body_grounding = sources.ground(
        body, policy=policy, dropped=unsupported, strict=True, asked=[question]
    )
    body, repeats = without_repeats(body)
    missing = uncovered_aspects(body, question)  # by the model's backed text alone
    # The appendix rule reads what the model's own text cites, before the floor fills it in.
    findings_cited = {n for qa in state.findings for n in qa.source_numbers}
    rule = config.report.appendix
    wanted = rule == "always" or (
        rule == "auto" and not cites_enough(set(cited_numbers(body)), findings_cited)
    )
    pool = EvidencePool(sources.all())
    body, filled, sections_dropped = extractive_floor(body, pool, plan, question)
    body, aspects_added = answered_aspects(body, pool, question, missing)
    body, lead_added = fuller_lead(body, pool, question)
    filled += 1 if lead_added else 0
    if filled or aspects_added:
        body = f"{body}\n\n*{labels.extracted_note}*"
    body = headings_shown_as_code(body)
    appendix = bool(wanted and state.findings)
    if appendix:
        notes = research_notes(state.findings, labels, question, sources.evidence, known)
        body = f"{body}\n\n{notes}"
    if config.report.show_unsupported and unsupported:
        body = f"{body}\n\n{unsupported_appendix(unsupported, labels)}"
    markdown, cited, removed = finalise_report(body, sources.all(), note, labels)
    return ResearchReport(
        question=question,
        markdown=markdown,
        plan=plan,
        sources=cited,
        sources_retrieved=len(state.retrieved_ids),
        removed_citations=removed + body_grounding.citations_removed,
        iterations=state.iteration,
        quality_history=state.quality_history,
        stop_reason=state.stop_reason or "max_iterations",
        usage_by_node=state.usage_by_node,
        usage_total=state.total_usage(),
        evolution=state.evolution,
        findings=state.findings,
        grounding=GroundingSummary(
            threshold=config.report.support_threshold,
            body=body_grounding,
            findings=state.findings_grounding,
            appendix=appendix,
            sections_filled=filled,
            aspects_added=aspects_added,
            notes=state.grounding_notes,
            unsupported_omitted=len(unsupported),
            headings_replaced=headings_replaced,
            sections_dropped=sections_dropped,
            extractive_fallback=fallback,
            repeats_omitted=repeats,
            language=labels.language,
        ),
    )
