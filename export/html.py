"""The report as one self-contained HTML page: inline CSS, no script, nothing loaded.

Every piece of text goes through html.escape (attributes included); the only links are the
citations' `#source-n` anchors and http(s) URLs (export/document.py decides which), opened with
rel="noopener noreferrer". A Content-Security-Policy meta tag forbids scripts and remote
loads as a second line of defence, should a reader's tool ever add something.
"""

from __future__ import annotations

from html import escape

from export.document import (
    Block,
    CodeBlock,
    Document,
    Heading,
    ListBlock,
    Paragraph,
    Quote,
    Rule,
    Run,
    Table,
)

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; line-height: 1.55;
       max-width: 50rem; margin: 2rem auto; padding: 0 1rem; color: #1f2328; }
h1 { font-size: 1.9rem; border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; }
h2 { font-size: 1.4rem; border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; margin-top: 2rem; }
h3, h4, h5, h6 { margin-top: 1.5rem; }
.question { color: #59636e; font-style: italic; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
code { background: #eff1f3; padding: .1rem .3rem; border-radius: 4px; font-size: 90%; }
pre { background: #f6f8fa; padding: .8rem 1rem; overflow-x: auto; border-radius: 6px; }
pre code { background: none; padding: 0; }
blockquote { margin: 1rem 0; padding: .2rem 1rem; border-left: 4px solid #d0d7de; color: #59636e; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #d0d7de; padding: .35rem .7rem; vertical-align: top; }
th { background: #f6f8fa; }
a { color: #0969da; }
a.citation { text-decoration: none; font-size: 85%; vertical-align: super; }
ol.sources li { margin: .3rem 0; word-break: break-word; }
.location { color: #59636e; }
""".strip()

# No script, no remote resource, no form: only the inline style above.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


class HtmlBody:
    """The report's blocks as HTML, every text escaped. The desk's report page subclasses it
    (desk/report_view.py): its citations open the evidence they were checked against, and its
    CSP allows no inline style, so alignment is a class there."""

    def citation(self, run: Run) -> str:
        return f'<a class="citation" href="#source-{run.citation}">{escape(run.text)}</a>'

    def cell_attributes(self, align: str) -> str:
        return f' style="text-align:{align}"'

    def table_frame(self, table_html: str) -> str:
        return table_html

    def run(self, run: Run) -> str:
        if run.citation is not None:
            return self.citation(run)
        text = escape(run.text).replace("\n", "<br>\n")
        if run.code:
            text = f"<code>{text}</code>"
        if run.strike:
            text = f"<del>{text}</del>"
        if run.italic:
            text = f"<em>{text}</em>"
        if run.bold:
            text = f"<strong>{text}</strong>"
        if run.href:
            href = escape(run.href, quote=True)
            text = f'<a href="{href}" rel="noopener noreferrer">{text}</a>'
        return text

    def runs(self, runs: list[Run]) -> str:
        return "".join(self.run(run) for run in runs)

    def block(self, block: Block) -> str:
        if isinstance(block, Heading):
            level = min(block.level + 1, 6)  # one h1: the title (or the desk's question)
            return f"<h{level}>{self.runs(block.runs)}</h{level}>"
        if isinstance(block, Paragraph):
            return f"<p>{self.runs(block.runs)}</p>"
        if isinstance(block, ListBlock):
            items = "\n".join(f"<li>{self.blocks(item)}</li>" for item in block.items)
            if not block.ordered:
                return f"<ul>\n{items}\n</ul>"
            start = f' start="{block.start}"' if block.start != 1 else ""
            return f"<ol{start}>\n{items}\n</ol>"
        if isinstance(block, CodeBlock):
            language = (
                f' class="language-{escape(block.language, quote=True)}"' if block.language else ""
            )
            return f"<pre><code{language}>{escape(block.text)}</code></pre>"
        if isinstance(block, Quote):
            return f"<blockquote>\n{self.blocks(block.blocks)}\n</blockquote>"
        if isinstance(block, Rule):
            return "<hr>"
        if isinstance(block, Table):
            return self.table(block)
        raise TypeError(f"unknown block {block!r}")

    def blocks(self, blocks: list[Block]) -> str:
        return "\n".join(self.block(block) for block in blocks)

    def table(self, table: Table) -> str:
        def cell(tag: str, runs: list[Run], column: int) -> str:
            align = table.align[column] if column < len(table.align) else ""
            known = align in ("left", "center", "right")
            attributes = self.cell_attributes(align) if known else ""
            return f"<{tag}{attributes}>{self.runs(runs)}</{tag}>"

        head = "".join(cell("th", runs, i) for i, runs in enumerate(table.header))
        body = "\n".join(
            "<tr>" + "".join(cell("td", runs, i) for i, runs in enumerate(row)) + "</tr>"
            for row in table.rows
        )
        return self.table_frame(
            f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"
        )


def _sources(document: Document) -> str:
    if not document.sources:
        return '<h2 id="sources">Sources</h2>\n<p>No source was cited.</p>'
    items = []
    for source in document.sources:
        location = escape(source.location)
        if source.link:
            href = escape(source.link, quote=True)
            location = f'<a href="{href}" rel="noopener noreferrer">{location}</a>'
        parts = f"; cited: {escape('; '.join(source.parts))}" if source.parts else ""
        items.append(
            f'<li id="source-{source.number}" value="{source.number}">{escape(source.title)} — '
            f'<span class="location">{location}</span>{parts}</li>'
        )
    return '<h2 id="sources">Sources</h2>\n<ol class="sources">\n' + "\n".join(items) + "\n</ol>"


def render_html(document: Document) -> bytes:
    title = escape(document.title)
    question = ""
    if document.question and document.question != document.title:
        question = f'<p class="question">{escape(document.question)}</p>\n'
    page = (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="ttdr export">\n'
        f"<title>{title}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n<article>\n"
        f"<h1>{title}</h1>\n{question}{HtmlBody().blocks(document.blocks)}\n{_sources(document)}\n"
        "</article>\n</body>\n</html>\n"
    )
    return page.encode("utf-8")
