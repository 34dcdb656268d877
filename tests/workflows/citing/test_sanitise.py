"""The one sanitiser for model-written Markdown: what can and cannot reach a report's reader."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from activities.llm import LLMClient
from search.local_provider import LocalSearch
from testing.fake_llm import FakeLLMServer, RecordedRequest, sample_from_schema
from testing.scripted_llm import Script
from testing.settings import fake_llm_settings
from tests.support.runs import run_research
from worker import build_worker
from workflows.citing.sanitise import (
    cited_numbers,
    drop_source_lists,
    escape_inline,
    rewrite_citations,
    sanitise_markdown,
)

KNOWN = {1: 1, 2: 2, 3: 3, 7: 7, 8: 8}


def clean(text: str, known: dict[int, int] = KNOWN) -> str:
    return sanitise_markdown(text, known.get)[0]


# ------------------------------------------------------------------------------ raw HTML


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<iframe src="https://evil.example"></iframe>',
        '<a href="javascript:alert(1)">x</a>',
        "<svg/onload=alert(1)>",
        "<!-- hidden --><style>body{display:none}</style>",
    ],
)
def test_raw_html_is_escaped_not_passed_through(hostile: str) -> None:
    out = clean(f"Intro.\n\n{hostile}\n\nMore text [1].")
    assert "<" not in out
    assert "&lt;" in out
    assert "More text [1]." in out


def test_markdown_keeps_working_and_code_stays_literal() -> None:
    text = (
        "# Title\n\n- item one [1]\n- item **two**\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "> quoted\n\nUse `x < y and xs[2]` here.\n\n```python\nif a < b:\n    ys[12345]\n```\n"
    )
    out = clean(text)
    assert out.startswith("# Title\n\n- item one [1]\n- item **two**\n\n| a | b |\n|---|---|")
    assert "> quoted" in out
    assert "`x < y and xs[2]`" in out
    assert "```python\nif a < b:\n    ys[12345]\n```" in out


def test_html_inside_code_is_shown_literally_not_escaped_twice() -> None:
    out = clean("Write `<script>` and\n\n~~~\n<b>bold</b>\n~~~\n")
    assert "`<script>`" in out
    assert "<b>bold</b>" in out
    assert "&lt;" not in out


# ------------------------------------------------------------------------------ links


@pytest.mark.parametrize(
    ("link", "text"),
    [
        ("[click](javascript:alert(1))", "click"),
        ("[click](JavaScript:alert(document.cookie))", "click"),
        ("[click]( javascript:alert(1) )", "click"),
        ("[click](<javascript:alert(1)>)", "click"),
        ("[click](java&#115;cript:alert(1))", "click"),
        ("[click](java\\script:alert(1))", "click"),
        ("[click](javascript&#58;alert(1))", "click"),
        ("[pic](data:text/html;base64,PHNjcmlwdD4=)", "pic"),
        ("[vb](vbscript:msgbox(1))", "vb"),
        ('[t](javascript:alert(1) "title")', "t"),
        ("![alt](javascript:alert(1))", "alt"),
    ],
)
def test_dangerous_links_are_removed_but_their_text_kept(link: str, text: str) -> None:
    out = clean(f"See {link} now.")
    assert out == f"See {text} now."


def test_dangerous_link_with_nested_brackets_loses_its_target() -> None:
    out = clean("See [a [b] c](javascript:alert(1)) now.")
    assert "javascript" not in out
    assert "(" not in out


def test_safe_links_stay_and_images_become_plain_links() -> None:
    out = clean("[docs](https://docs.python.org/3/) and ![chart](https://x.example/c.png)")
    assert out == "[docs](https://docs.python.org/3/) and [chart](https://x.example/c.png)"


def test_reference_definitions_cannot_hijack_citations() -> None:
    out = clean("Fact [1].\n\n[1]: https://evil.example/steal\n[x]: javascript:alert(1)\n")
    assert "evil" not in out and "javascript" not in out
    assert out.strip() == "Fact [1]."


def test_a_link_whose_text_is_a_number_is_a_checked_citation() -> None:
    assert clean("Fact [3](https://evil.example). Bogus [9](https://evil.example).") == (
        "Fact [3]. Bogus."
    )


# ------------------------------------------------------------------------------ source lists


def test_a_model_written_source_list_is_dropped_even_when_a_heading_follows() -> None:
    text = (
        "# Report\n\nClaim [1].\n\n## Sources\n\n[99] https://evil.example/steal\n"
        "- [2] another fake\n\n## Results\n\nMore [2].\n"
    )
    out = clean(text)
    assert "evil" not in out and "another fake" not in out
    assert "## Sources" not in out
    assert "## Results\n\nMore [2]." in out


@pytest.mark.parametrize(
    "heading",
    [
        "## References",
        "### Bibliography",
        "## 5. References",
        "# Works Cited",
        "## **Sources**",
        "**Sources:**",
        "References:",
        "References\n----------",
    ],
)
def test_every_form_of_source_heading_is_dropped(heading: str) -> None:
    out = drop_source_lists(f"Body [1].\n\n{heading}\n\n1. https://evil.example\n2. fake\n")
    assert out.strip() == "Body [1]."


def test_a_pseudo_heading_drops_only_its_list() -> None:
    out = drop_source_lists("A.\n\nSources:\n- [1] fake\n- [2] fake\n\nLast paragraph.\n")
    assert out.strip() == "A.\n\nLast paragraph."


def test_sections_that_only_mention_sources_survive() -> None:
    text = "# R\n\n## Sources of error\n\nNoise.\n\n## Reference implementation\n\nX."
    assert drop_source_lists(text) == text


def test_a_sources_heading_inside_a_code_block_is_code() -> None:
    text = "Intro.\n\n```markdown\n## Sources\n[1] example\n```\n\nAfter."
    assert drop_source_lists(text) == text


def test_a_subsection_of_the_source_list_goes_with_it() -> None:
    out = drop_source_lists("A.\n\n## References\n\n### Books\n\n- fake\n\n## Next\n\nB.")
    assert out == "A.\n\n## Next\n\nB."


# ------------------------------------------------------------------------------ markers


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ("[12345]", ""),
        ("[-1]", ""),
        ("[ 7 ]", " [7]"),
        ("[7-8]", " [7][8]"),
        ("[7\u20138]", " [7][8]"),  # an en dash
        ("[^7]", " [7]"),
        ("[00001]", " [1]"),
        ("[7, 8]", " [7][8]"),
        ("[7; 9]", " [7]"),
        ("[1-400]", ""),
        ("[Source 2]", " [2]"),
        ("[#3]", " [3]"),
        ("[0]", ""),
    ],
)
def test_every_number_like_marker_is_checked_or_removed(marker: str, expected: str) -> None:
    assert clean(f"Claim {marker}.") == f"Claim{expected}."


def test_glued_markers_are_checked_too() -> None:
    assert clean("Claim[2]. Bogus[99].") == "Claim[2]. Bogus."


def test_markers_in_code_are_left_alone_and_not_counted() -> None:
    text = "Use `xs[99]` and\n```\nys[42]\n```\nthen claim [3] and [99]."
    assert cited_numbers(text) == [3, 99]
    out, removed = sanitise_markdown(text, KNOWN.get)
    assert "`xs[99]`" in out and "ys[42]" in out
    assert out.endswith("then claim [3] and.")
    assert removed == 1


def test_things_that_are_not_numbers_stay() -> None:
    text = "- [ ] todo\n- [x] done\n\n[… cut: 12 more characters were dropped]"
    assert clean(text) == text


def test_rewrite_renumbers_and_counts() -> None:
    text, removed = rewrite_citations("A [2, 3]. B [1][2]. C [9]. D [-4].", {2: 5, 3: 6}.get)
    assert text == "A [5][6]. B [5]. C. D."
    assert removed == 3


def test_escape_inline_makes_a_title_inert() -> None:
    title = "<script>x</script> [1](javascript:y) `z`\nnext"
    out = escape_inline(title)
    assert "<" not in out and "\n" not in out
    assert "\\[1\\]" in out and "\\`z\\`" in out


# ------------------------------------------------------------------------------ linear time


@pytest.mark.parametrize(
    "adversarial",
    [
        " " * 1_000_000 + "x",
        "[" * 500_000 + "]" * 500_000,
        "[1" * 500_000,
        "](" * 500_000,
        "[a](" + "(" * 1_000_000,
        "`" * 1_000_000,
        "`a" * 500_000,
        "``a`" * 250_000,
        "\n# Sources\n" * 90_000,
        "<" * 1_000_000,
        "[" + " ," * 500_000,
        "[1-" * 333_333,
        "```\n" * 250_000,
        "**Sources:**\n- x\n" * 60_000,
    ],
)
def test_a_megabyte_of_adversarial_text_returns(adversarial: str) -> None:
    out, _ = sanitise_markdown(adversarial, KNOWN.get)
    assert isinstance(out, str)
    cited_numbers(adversarial)


# ------------------------------------------------------------------------------ end to end

HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) "
    '<iframe src="https://evil.example/frame"></iframe> Bogus [12345] and [^7] and [ 9 ].'
)


async def test_a_hostile_document_echoed_by_the_model_never_reaches_the_report(
    client: Client, fake_server: FakeLLMServer, script: Script, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "page.md").write_text(
        "# Context managers\n\nThe with statement calls __enter__ and __exit__ on the context "
        f"manager. {HOSTILE}\n"
    )
    search = LocalSearch.from_env({"TTDR_CORPUS": str(corpus), "TTDR_CACHE_DIR": str(tmp_path)})

    def echo(request: RecordedRequest) -> Any:
        """Whatever the node asks for, every text says the documents and the hostile bits."""
        shown = re.findall(r"<document[^>]*>\n(.*?)\n</document>", request.prompt, re.S)
        said = f"{' '.join(shown)} {HOSTILE}\n\n## Sources\n\n[99] https://evil.example/steal"

        def fill(value: Any) -> Any:
            if isinstance(value, str) and value.endswith("sample text"):
                return said
            if isinstance(value, dict):
                return {key: fill(item) for key, item in value.items()}
            if isinstance(value, list):
                return [fill(item) for item in value]
            return value

        return fill(sample_from_schema(request.schema or {}, request.name))

    for name in ("RetrievalAnswer", "IntegratorAnswer", "ReportAnswer", "DraftAnswer"):
        fake_server.respond(name, echo)
    queue = f"ttdr-sanitise-{uuid.uuid4().hex[:8]}"
    llm = LLMClient(fake_llm_settings(fake_server))
    try:
        async with build_worker(client, queue, llm, search):
            report = await run_research(client, queue, max_iterations=1, questions_per_iteration=1)
    finally:
        await llm.aclose()

    assert "__enter__" in fake_server.calls("RetrievalAnswer")[0].prompt  # the page was read
    markdown = report.markdown
    for bad in ("<script", "<img", "<iframe", "javascript:", "evil.example/steal", "[12345]"):
        assert bad not in markdown, bad
    body = markdown.split("\n## Sources\n")[0]
    assert set(cited_numbers(body)) <= {s.number for s in report.sources}
    # One Sources heading, the product's (a model's "## Sources" flattened into a line is text).
    assert len(re.findall(r"^ {0,3}#{1,6}\s*Sources", markdown, re.M | re.I)) == 1, markdown
