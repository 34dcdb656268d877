"""The bug recipes bench/bug_recipes.py applies: each a line located by its content and the
plausible wrong version a person could write, with the tests that should notice it.

`origin` says where the recipe comes from: a class of bug issue 28 found the tests blind to, or
the commit that fixed a real bug (the recipe puts that bug back). Add one for every bug fixed.
Keep `tests` narrow (a file, or a file and -k), so that a recipe costs seconds, not minutes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    name: str
    kind: str  # the class of bug
    origin: str  # "issue 28" or the commit that fixed the real bug
    path: str
    find: str  # must occur exactly once in the file
    replace: str
    tests: tuple[str, ...]


SCORER = (
    "tests/workflows/citing/test_support_scorer.py",
    "tests/workflows/citing/test_grounding.py",
)
INDEX = (
    "tests/search/test_index_bounds.py",
    "tests/search/test_documents.py",
)
CONTROL = "tests/workflows/test_control_sequences.py"
COUNTERS = ("tests/observability/test_counters.py",)

RECIPES: tuple[Recipe, ...] = (
    # ------------------------------------------------------------ a number too small to notice
    Recipe(
        "number-rule-skips-one-digit",
        "scorer",
        "issue 28",
        "workflows/citing/support.py",
        "if any(_NUMBER.match(w) and w not in ready.words for w in said.words):",
        "if any(_NUMBER.match(w) and w not in ready.words for w in said.content):",
        SCORER,
    ),
    Recipe(
        "number-pattern-two-digits",
        "scorer",
        "issue 28",
        "workflows/citing/support.py",
        '_NUMBER = re.compile(r"^\\d+(?:\\.\\d+)?$")',
        '_NUMBER = re.compile(r"^\\d\\d+(?:\\.\\d+)?$")',
        SCORER,
    ),
    Recipe(
        "negation-rule-reads-content",
        "scorer",
        "issue 28",
        "workflows/citing/support.py",
        "if any(w in _NEGATIONS for w in said.words) and not ready.negated:",
        "if any(w in _NEGATIONS for w in said.content) and not ready.negated:",
        SCORER,
    ),
    Recipe(
        "stem-needs-one-more-letter",
        "scorer",
        "issue 28",
        "workflows/citing/support.py",
        "if len(word) > len(suffix) + 3 and word.endswith(suffix):",
        "if len(word) > len(suffix) + 4 and word.endswith(suffix):",
        SCORER,
    ),
    Recipe(
        "scored-length-one-short",
        "scorer",
        "issue 28",
        "workflows/citing/support.py",
        'return _WORD.findall(text[:MAX_SCORED_CHARS].lower().replace("n\'t", " not"))',
        'return _WORD.findall(text[: MAX_SCORED_CHARS - 1].lower().replace("n\'t", " not"))',
        SCORER,
    ),
    # ------------------------------------------------------------ control sequences
    Recipe(
        "resume-keeps-pending-step",
        "control",
        "issue 28",
        "workflows/control.py",
        "        self._c.paused = False\n        self._c.pause_at_next = False\n",
        "        self._c.paused = False\n",
        (CONTROL,),
    ),
    Recipe(
        "applied-feedback-stays-pending",
        "control",
        "issue 28",
        "workflows/control.py",
        "        self._c.pending_feedback = []\n",
        "",
        (CONTROL, "-k", "feedback"),
    ),
    Recipe(
        "step-only-releases",
        "control",
        "issue 28",
        "workflows/control.py",
        "        self._c.pause_at_next = True\n",
        "",
        (CONTROL, "-k", "step_sent_while or second_step or pause_while"),
    ),
    # ------------------------------------------------------------ sizes of what the index stores
    Recipe(
        "row-chunk-size-not-reset",
        "sizes",
        "issue 28",
        "search/documents/chunking.py",
        "            current, size = [], 0\n",
        "            current = []\n",
        INDEX,
    ),
    Recipe(
        "row-chunk-flushes-when-exactly-full",
        "sizes",
        "issue 28",
        "search/documents/chunking.py",
        "if current and size + len(line) > MAX_CHARS:",
        "if current and size + len(line) >= MAX_CHARS:",
        INDEX,
    ),
    Recipe(
        "long-row-not-cut",
        "sizes",
        "issue 28",
        "search/documents/chunking.py",
        "        line = line[:MAX_CHARS]\n",
        "",
        INDEX,
    ),
    Recipe(
        "no-column-cap",
        "sizes",
        "issue 28",
        "search/documents/sheets.py",
        "cells = [_cell(v) for v in islice(row, _MAX_COLUMNS)]",
        "cells = [_cell(v) for v in row]",
        INDEX,
    ),
    Recipe(
        "paragraphs-flush-when-exactly-full",
        "sizes",
        "issue 28",
        "search/documents/chunking.py",
        "if current and (size + len(text) > MAX_CHARS or",
        "if current and (size + len(text) >= MAX_CHARS or",
        INDEX,
    ),
    Recipe(
        "heading-of-80-cut",
        "sizes",
        "issue 28",
        "search/documents/extract.py",
        "if len(heading) > _MAX_LOCATOR_HEADING:",
        "if len(heading) >= _MAX_LOCATOR_HEADING:",
        INDEX,
    ),
    # ------------------------------------------------------------ counters
    Recipe(
        "first-attempt-counted-as-retry",
        "counters",
        "issue 28",
        "observability/node_metrics.py",
        "if info.attempt > 1:",
        "if info.attempt >= 1:",
        COUNTERS,
    ),
    Recipe(
        "errors-counted-on-every-attempt",
        "counters",
        "issue 28",
        "observability/node_metrics.py",
        "        if (usage := _usage_of(result)) is not None:\n",
        "        instruments.activity_errors.add(1, {**labels, 'error.type': 'none'})\n"
        "        if (usage := _usage_of(result)) is not None:\n",
        COUNTERS,
    ),
    # ------------------------------------------------------------ duplicates and agent-read fields
    Recipe(
        "duplicates-by-id-only",
        "duplicates",
        "issue 28",
        "search/local_index.py",
        "if passage.id in seen or content in seen:",
        "if passage.id in seen:",
        ("tests/search/test_search_results.py",),
    ),
    Recipe(
        "no-refill-when-copies-crowd",
        "duplicates",
        "issue 28",
        "search/local_index.py",
        "            wanted *= 4\n",
        "            return hits\n",
        ("tests/search/test_search_results.py",),
    ),
    Recipe(
        "mcp-status-first-score",
        "fields",
        "issue 28",
        "cli/mcp_status.py",
        '"quality": report.quality_history[-1] if report.quality_history else None,',
        '"quality": report.quality_history[0] if report.quality_history else None,',
        ("tests/cli/test_mcp.py",),
    ),
    Recipe(
        "mcp-list-drops-limit",
        "fields",
        "issue 28",
        "cli/mcp_tools.py",
        "client.list_workflows(f'WorkflowType = \"{WORKFLOW_NAME}\"', limit=limit)",
        "client.list_workflows(f'WorkflowType = \"{WORKFLOW_NAME}\"')",
        ("tests/cli/test_mcp.py",),
    ),
    # ------------------------------------------------------------ real bugs, put back
    Recipe(
        "report-retry-never-counted",
        "counters",
        "556b64f",
        "observability/node_metrics.py",
        "                self._owner.forget_run(info.workflow_run_id)  # its retry asks again\n",
        "",
        COUNTERS,
    ),
    Recipe(
        "batch-out-id-not-trimmed",
        "resume",
        "2cfc1dd",
        "cli/batch_files.py",
        'done.add(question_key(item["id"]))',
        'done.add(str(item["id"]))',
        ("tests/cli/test_batch_files.py",),
    ),
    Recipe(
        "idna-error-escapes",
        "fetch",
        "77744ba",
        "search/fetch.py",
        "except (OSError, UnicodeError) as err:",
        "except OSError as err:",
        ("tests/search/test_fetch_addresses.py",),
    ),
    Recipe(
        "page-of-exactly-max-bytes-truncated",
        "sizes",
        "a085fdc",
        "search/fetch.py",
        "if size > self.settings.max_bytes:",
        "if size >= self.settings.max_bytes:",
        ("tests/search/test_page_fetch.py",),
    ),
    Recipe(
        "citation-glued-to-word-unchecked",
        "grounding",
        "aa32280",
        "workflows/citing/claim_text.py",
        '_MARKERS = re.compile(r"((?:\\[\\d{1,4}(?:\\s*,\\s*\\d{1,4})*\\])+)")',
        '_MARKERS = re.compile(r"(?<![\\w)\\]])((?:\\[\\d{1,4}(?:\\s*,\\s*\\d{1,4})*\\])+)")',
        ("tests/workflows/citing/test_grounding.py",),
    ),
    Recipe(
        "unknown-citations-not-counted",
        "grounding",
        "edbe49d",
        "workflows/sources.py",
        "        figures.citations_removed += unknown\n",
        "",
        ("tests/workflows/test_sources.py", "tests/workflows/citing/test_grounding.py"),
    ),
    Recipe(
        "section-fill-repeats-a-claim",
        "grounding",
        "1707084",
        "workflows/citing/evidence_fill.py",
        "(index not in used, support_score(claim.text, section), -index)",
        "(support_score(claim.text, section), index not in used, -index)",
        ("tests/workflows/citing/test_grounding.py",),
    ),
    Recipe(
        "section-fill-takes-unsupported-claims",
        "grounding",
        "2155e02",
        "workflows/citing/evidence_fill.py",
        # The code before the fix: the answer read whole, any claim with a source taken (a
        # marked claim glued to a quote came with it). Dropping only the mark test is
        # equivalent now that blocks are read one by one.
        '    for block in answer.split("\\n\\n"):\n'
        '        text = block.strip().removeprefix(">").strip()\n'
        "        for claim in claims_of(text):\n"
        "            if claim.sources and UNSUPPORTED_MARK not in claim.text:\n"
        "                backed.append(claim)\n",
        "    for claim in claims_of(answer):\n"
        "        if claim.sources:\n"
        "            backed.append(claim)\n",
        ("tests/workflows/citing/test_grounding.py",),
    ),
    Recipe(
        "report-titled-by-the-model",
        "report",
        "83ca22c",
        "workflows/reporting.py",
        "body = strip_own_sources_section(titled(text, question))",
        "body = strip_own_sources_section(text)",
        ("tests/workflows/test_research_workflow.py", "-k", "full_run"),
    ),
    # ------------------------------------------------------------ real bugs fixed for issue 28
    Recipe(
        "negation-penalty-x0.6",
        "scorer",
        "d1f944b",
        "workflows/citing/support.py",
        "        score *= _negation_penalty()\n",
        "        score *= 0.6\n",
        (*SCORER, "tests/workflows/citing/test_negation_patch.py"),
    ),
    Recipe(
        "negation-penalty-unguarded",
        "replay",
        "d1f944b",
        "workflows/citing/support.py",
        "        and not workflow.patched(NEGATION_HALVES_PATCH)\n",
        "        and False\n",
        ("tests/workflows/citing/test_negation_patch.py",),
    ),
    Recipe(
        "long-critique-refused",
        "sizes",
        "a072857",
        "activities/prompts/_common.py",
        "Critique = Annotated[str, BeforeValidator(cut_critique)]",
        "Critique = str",
        ("tests/activities/test_critique_cut.py",),
    ),
    Recipe(
        "critique-cut-mid-word",
        "sizes",
        "a072857",
        "activities/prompts/_common.py",
        "end = space.start() if space is not None and space.start() > 0 else len(head) - 1",
        "end = len(head) - 1",
        ("tests/activities/test_critique_cut.py", "-k", "not run_whose"),
    ),
    # ------------------------------------------------------- real bugs fixed for issue 22
    Recipe(
        "keywords-dropped-as-stopwords",
        "search",
        "6bdcf0d",
        "search/bm25.py",
        "    return _TOKEN.findall(text.lower())\n",
        "    return [t for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]\n",
        ("tests/search/test_local_search.py", "-k", "stopwords"),
    ),
    Recipe(
        "definition-term-ends-a-passage",
        "sizes",
        "6bdcf0d",
        "search/documents/chunking.py",
        "        if term is None and _is_term(block, found[at + 1 : at + 2]):\n",
        "        if False:\n",
        ("tests/search/test_index_bounds.py", "-k", "definition_term"),
    ),
    Recipe(
        "invalid-answer-fails-the-run",
        "fallback",
        "4206b16",
        "activities/fallbacks.py",
        "info.attempt < policy.maximum_attempts",
        "info.attempt <= policy.maximum_attempts",
        ("tests/activities/test_node_fallbacks.py",),
    ),
    Recipe(
        "lead-answers-every-part",
        "coverage",
        "4938cf0",
        "workflows/reporting.py",
        "texts = [(words_of(_prose(parts[0])), 1.0)] + [",
        "texts = [(words_of(_prose(parts[0])), 2 / 3)] + [",
        ("tests/workflows/test_report_coverage.py", "-k", "lead_that_defines"),
    ),
    Recipe(
        "anchors-fuse-out-the-definition",
        "search",
        "4938cf0",
        "search/fusion.py",
        "    return [entry, *(r for r in ranked if r.id != entry.id)]",
        "    return [*ranked]",
        ("tests/workflows/test_report_text.py", "-k", "entry_that_defines"),
    ),
    Recipe(
        "sentence-cut-inside-parentheses",
        "text",
        "ec8461f",
        "workflows/citing/sentences.py",
        '        elif last.count("(") > last.count(")"):',
        "        elif False:",
        ("tests/workflows/test_report_text.py", "-k", "inside_parentheses"),
    ),
    Recipe(
        "another-owners-entry-defines-the-name",
        "coverage",
        "ec8461f",
        "workflows/citing/extractive.py",
        "                continue  # another owner's entry of the same name: about something else",
        "                pass",
        ("tests/workflows/test_report_coverage.py", "-k", "another_owner"),
    ),
)
