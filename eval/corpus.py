"""Documents of the demo corpus cut into sections, and where a retrieved passage falls in them.

Gold passages are named by *document and section heading* (`modules/asyncio.queues.md` +
`class Queue`), never by a passage id: ids depend on how the index chunks files, which may
change, while the documents and their headings only change with the Python version.

A section runs from its heading to the next heading of the same or a higher level, so
`class Queue` contains its methods' `### Queue.put(...)` sections. Headings are Markdown `#`
lines and reStructuredText underlines (the pydoc topics); a heading is compared without its
parenthesised signature (`## gather(*coros, ...)` is the section `gather`).

`python -m eval.corpus modules/asyncio.queues.md` lists a document's sections (used to write
the question set).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+:.<>_])\1{2,}\s*$")
_SIGNATURE = re.compile(r"\(.*\)\s*$")
_FILE_PATH = re.compile(r"[^\s,;:]+\.(?:md|txt|rst|html?)\b")


def flatten(text: str) -> str:
    """Whitespace collapsed to single spaces: how the product quotes a passage."""
    return re.sub(r"\s+", " ", text).strip()


def section_name(heading: str) -> str:
    """A heading without its signature: `class Queue(mixins.X)` → `class Queue`."""
    return _SIGNATURE.sub("", heading.strip()).strip()


@dataclass(frozen=True)
class Section:
    name: str  # heading without signature
    heading: str  # heading as written
    level: int
    start: int  # offsets in the document's flattened text
    end: int


@dataclass(frozen=True)
class Document:
    path: str  # relative to the corpus root, posix: "topics/with.txt"
    title: str  # the first heading: what the local index uses as the passage title
    text: str  # flattened
    sections: tuple[Section, ...]

    def find(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)


def parse_document(path: str, raw: str) -> Document:
    """Headings with their spans in the flattened text."""
    lines = raw.replace("\r\n", "\n").split("\n")
    # (heading text, level, flattened offset of the heading)
    found: list[tuple[str, int, int]] = []
    rest_levels: list[str] = []  # reST: a level per adornment character, in order of use
    flat_parts: list[str] = []
    length = 0

    def offset_of_next() -> int:
        return length + (1 if length else 0)

    for i, line in enumerate(lines):
        stripped = line.strip()
        if atx := _ATX.match(line):
            found.append((atx.group(2).strip(), len(atx.group(1)), offset_of_next()))
        elif (
            i + 1 < len(lines)
            and stripped
            and not _ADORNMENT.match(line)
            and (under := _ADORNMENT.match(lines[i + 1]))
            and len(lines[i + 1].strip()) >= len(stripped)
        ):
            char = under.group(1)
            if char not in rest_levels:
                rest_levels.append(char)
            # Level 1 is the file's own `# title` line; reST headings sit below it.
            found.append((stripped, 1 + rest_levels.index(char) + 1, offset_of_next()))
        if stripped:
            piece = flatten(stripped)
            length = offset_of_next() + len(piece)
            flat_parts.append(piece)
    text = " ".join(flat_parts)
    sections = []
    for index, (heading, level, start) in enumerate(found):
        end = next((s for _, lv, s in found[index + 1 :] if lv <= level), len(text))
        sections.append(Section(section_name(heading), heading, level, start, end))
    title = found[0][0] if found else Path(path).stem
    return Document(path=path, title=title, text=text, sections=tuple(sections))


class Corpus:
    """The documents under a corpus root, parsed on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @cache  # noqa: B019 - one Corpus per run; documents are small and read once
    def document(self, path: str) -> Document | None:
        file = self.root / path
        if not file.is_file():
            return None
        return parse_document(path, file.read_text(encoding="utf-8", errors="replace"))

    @cache  # noqa: B019
    def titles(self) -> dict[str, str]:
        """First heading → document path, for sources that carry a title but no usable path."""
        out: dict[str, str] = {}
        for file in sorted(self.root.rglob("*")):
            if file.suffix in (".md", ".txt") and file.is_file():
                rel = file.relative_to(self.root).as_posix()
                first = file.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
                if atx := _ATX.match(first):
                    out.setdefault(atx.group(2).strip(), rel)
        return out

    def document_of(self, location: str, title: str) -> Document | None:
        """The document a retrieved source comes from: by the end of its path, else by title."""
        # A path, or a path inside a longer location ("topics/with.txt, section ...").
        for path in reversed(_FILE_PATH.findall(location.replace("\\", "/"))):
            for depth in (2, 1):
                rel = "/".join(path.split("/")[-depth:])
                if (doc := self.document(rel)) is not None:
                    return doc
        path = self.titles().get(title.strip())
        return self.document(path) if path else None


def demo_corpus_root() -> Path:
    """The demo corpus folder of this interpreter (written on first use, as the worker does)."""
    import os

    from search.demo_corpus import materialise_demo_corpus
    from search.local_provider import cache_dir_from_env

    return materialise_demo_corpus(cache_dir_from_env(os.environ))


def main(argv: list[str]) -> int:
    corpus = Corpus(demo_corpus_root())
    for path in argv or ["topics/with.txt"]:
        doc = corpus.document(path)
        if doc is None:
            print(f"no document {path} under {corpus.root}", file=sys.stderr)
            return 2
        print(f"{doc.path}: {doc.title}")
        for s in doc.sections:
            print(f"{'  ' * (s.level - 1)}{s.name}  [{s.end - s.start} chars]")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
