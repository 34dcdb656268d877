"""HTML to text: the visible text, with headings as markdown `#` lines (stdlib parser)."""

from __future__ import annotations

import re
from html.parser import HTMLParser


def html_to_text(html: str) -> tuple[str | None, str]:
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
