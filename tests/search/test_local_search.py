"""The local-documents search: chunking, ranking, the on-disk cache, and the demo corpus."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from search import index_store, local_index
from search.demo_corpus import materialise_demo_corpus
from search.local_index import CorpusError, LocalIndex, SearchHit

_PHOTOSYNTHESIS = """# Photosynthesis

Photosynthesis is the process by which green plants convert light energy into chemical
energy. Chlorophyll in the chloroplasts absorbs sunlight, and the plant uses that energy to
turn carbon dioxide and water into glucose, releasing oxygen as a by-product.

## The light reactions

The light-dependent reactions take place in the thylakoid membranes and produce ATP and
NADPH, splitting water molecules and releasing oxygen.
"""

_VOLCANOES = """Volcanoes
=========

A volcano is a rupture in the crust of a planet that allows hot lava, volcanic ash and gases
to escape from a magma chamber below the surface. Stratovolcanoes are built from layers of
hardened lava and tephra.
"""

_TIDES = """Ocean tides are the rise and fall of sea levels caused by the gravitational pull of the
Moon and the Sun acting on the rotating Earth. Spring tides happen at new and full moon.
"""

_HTML = """<!doctype html>
<html><head><title>Glaciers &amp; ice</title>
<style>body { color: red; } .hidden-css-rule { display: none }</style>
<script>var trackingSecret = "zebracode"; function beacon() {}</script>
</head><body>
<h1>Glaciers</h1>
<p>A <b>glacier</b> is a persistent body of dense ice that moves under its own weight.</p>
<ul><li>Valley glaciers</li><li>Ice sheets</li></ul>
</body></html>
"""


def _write_corpus(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "photosynthesis.md").write_text(_PHOTOSYNTHESIS)
    (root / "volcanoes.rst").write_text(_VOLCANOES)
    (root / "sub" / "tides.txt").write_text(_TIDES)
    (root / "glaciers.html").write_text(_HTML)
    (root / "ignored.py").write_text("# not an indexable suffix\nphotosynthesis = 1\n")
    return root


def _rewrite(path: Path, text: str) -> None:
    """Rewrite `path`, making sure its mtime changes even on coarse-mtime filesystems."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def _top_file(hits: list[SearchHit]) -> str:
    assert hits, "expected at least one hit"
    return Path(hits[0].passage.source_path).name


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return _write_corpus(tmp_path / "docs")


def test_right_passage_ranks_first(corpus: Path, tmp_path: Path) -> None:
    index = LocalIndex.open([corpus], tmp_path / "cache")

    hits = index.search("how do plants turn light into chemical energy chlorophyll")
    assert _top_file(hits) == "photosynthesis.md"
    assert hits[0].passage.title == "Photosynthesis"
    assert hits[0].passage.source_path == str((corpus / "photosynthesis.md").resolve())
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.score > 0 for h in hits)

    volcano = index.search("magma lava ash", k=1)
    assert len(volcano) == 1
    assert _top_file(volcano) == "volcanoes.rst"
    assert volcano[0].passage.title == "Volcanoes"  # reST underlined heading
    assert _top_file(index.search("gravitational pull of the moon")) == "tides.txt"
    assert index.search("tides")[0].passage.title == "tides"  # no heading: the file stem


def test_no_match_and_nonpositive_k_return_nothing(corpus: Path, tmp_path: Path) -> None:
    index = LocalIndex.open([corpus], tmp_path / "cache")
    assert index.search("quasar neutrino") == []
    assert index.search("the and of") == []  # only stopwords
    assert index.search("volcano", k=0) == []
    assert 0 < len(index.search("glacier", k=100)) <= index.passage_count


def test_ids_are_stable_across_rebuilds(corpus: Path, tmp_path: Path) -> None:
    first = LocalIndex.open([corpus], tmp_path / "cache-a")
    second = LocalIndex.open([corpus], tmp_path / "cache-b")
    assert first.rebuilt and second.rebuilt
    query = "volcano glacier photosynthesis tides oxygen"
    ids_a = [h.passage.id for h in first.search(query, k=10)]
    ids_b = [h.passage.id for h in second.search(query, k=10)]
    assert ids_a == ids_b
    assert len(set(ids_a)) == len(ids_a) == first.passage_count
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids_a)


def test_cache_is_reused_when_nothing_changed(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    built = LocalIndex.open([corpus], cache)
    assert built.rebuilt

    def no_reading(*_args: object) -> None:
        raise AssertionError("the files were re-read although nothing changed")

    monkeypatch.setattr(local_index.SandboxedReader, "extract", no_reading)
    loaded = LocalIndex.open([corpus], cache)
    assert not loaded.rebuilt
    assert loaded.passage_count == built.passage_count
    query = "glacier ice photosynthesis"
    assert loaded.search(query) == built.search(query)


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the index reads from now on (by name relative to their folder)."""
    read: list[str] = []
    real = local_index.SandboxedReader.extract  # the parent's side of the reader process

    def counting(reader: object, file: object, display: str, *args: object) -> object:
        read.append(display)
        return real(reader, file, display, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(local_index.SandboxedReader, "extract", counting)
    return read


def test_only_added_changed_and_removed_files_are_processed(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = LocalIndex.open([corpus], cache)
    ids_before = {h.passage.id for h in first.search("photosynthesis glacier volcano", k=20)}
    read = _reads(monkeypatch)

    _rewrite(corpus / "sub" / "tides.txt", "Tidal bores: a wave of quicksilver surf.\n")
    changed = LocalIndex.open([corpus], cache)
    assert read == ["sub/tides.txt"]
    assert (changed.refresh.added, changed.refresh.changed, changed.refresh.removed) == (0, 1, 0)
    assert _top_file(changed.search("quicksilver surf")) == "tides.txt"
    assert changed.search("gravitational pull moon") == []
    # The passages of the files not re-read keep their ids.
    assert {h.passage.id for h in changed.search("photosynthesis glacier volcano", k=20)} == (
        ids_before
    )

    (corpus / "sub" / "comets.md").write_text("# Comets\n\nComets have icy nuclei and tails.\n")
    added = LocalIndex.open([corpus], cache)
    assert read == ["sub/tides.txt", "sub/comets.md"]
    assert _top_file(added.search("icy nuclei tails")) == "comets.md"
    assert added.passage_count == changed.passage_count + 1

    (corpus / "volcanoes.rst").unlink()
    removed = LocalIndex.open([corpus], cache)
    assert len(read) == 2 and removed.refresh.removed == 1
    assert removed.search("magma lava") == []
    again = LocalIndex.open([corpus], cache)
    assert not again.rebuilt and len(read) == 2
    # The postings updated change by change rank exactly like a build from scratch.
    fresh = LocalIndex.open([corpus], tmp_path / "fresh-cache")
    for query in ("quicksilver surf", "icy nuclei", "glacier ice oxygen", "plants light energy"):
        assert again.search(query, k=10) == fresh.search(query, k=10)
    # One store and the postings of the current state only.
    assert len(list(cache.glob("local-index-*/index.sqlite"))) == 1
    assert len(list(cache.glob("local-index-*/postings-*"))) == 1


def test_a_query_asked_again_is_answered_from_the_newest_store(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every retrieval searches the run's anchors again, so a query's answer is kept per
    generation of the store: asked again, the same hits without scoring; once another process
    has refreshed the store, the new passages."""
    cache = tmp_path / "cache"
    served = LocalIndex.open([corpus], cache)
    first = served.search("gravitational pull of the moon", k=3)
    monkeypatch.setattr(
        local_index.Postings, "top", lambda *_: pytest.fail("scored again, nothing changed")
    )
    again = served.search("gravitational pull of the moon", k=3)
    assert again == first and again is not first  # the caller's own list
    again.clear()
    assert served.search("gravitational pull of the moon", k=3) == first
    monkeypatch.undo()

    _rewrite(corpus / "sub" / "tides.txt", "The Moon's gravitational pull lifts quicksilver.\n")
    LocalIndex.open([corpus], cache)  # another process (`client.py index`) refreshes the store
    fresh = served.search("gravitational pull of the moon", k=3)
    assert "quicksilver" in fresh[0].passage.text
    assert served.search("gravitational pull of the moon", k=1) == fresh[:1]


def test_a_change_that_keeps_size_and_mtime_is_still_seen(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    LocalIndex.open([corpus], cache)
    tides = corpus / "sub" / "tides.txt"
    before = tides.stat()
    tides.write_text(_TIDES.replace("Moon", "Mars"))  # same size
    os.utime(tides, ns=(before.st_atime_ns, before.st_mtime_ns))  # same mtime, as rsync -t does
    assert tides.stat().st_size == before.st_size
    assert tides.stat().st_mtime_ns == before.st_mtime_ns
    read = _reads(monkeypatch)
    index = LocalIndex.open([corpus], cache)
    assert read == ["sub/tides.txt"]
    assert "Mars" in index.search("gravitational pull", k=1)[0].passage.text


def test_two_builds_in_different_caches_give_identical_passages(
    corpus: Path, tmp_path: Path
) -> None:
    """Workers on two hosts: same files, separate caches -> the same passages and ids."""
    copy = tmp_path / "elsewhere" / "docs"
    shutil.copytree(corpus, copy)  # another path, other inodes and mtimes
    first = LocalIndex.open([corpus], tmp_path / "cache-a")
    second = LocalIndex.open([copy], tmp_path / "cache-b")

    def passages(index: LocalIndex) -> list[tuple[str, str, str, str, str]]:
        return [(p.id, p.rel_path, p.locator, p.title, p.text) for p in index.passages()]

    assert passages(first) == passages(second)
    assert len(passages(first)) == first.passage_count >= 4
    query = "volcano glacier photosynthesis tides oxygen"
    assert [h.passage.id for h in first.search(query)] == [
        h.passage.id for h in second.search(query)
    ]


def test_concurrent_opens_share_one_complete_cache(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    read = _reads(monkeypatch)
    with ThreadPoolExecutor(max_workers=4) as pool:
        indexes = list(pool.map(lambda _: LocalIndex.open([corpus], cache), range(4)))
    assert len({i.passage_count for i in indexes}) == 1
    assert sorted(read) == sorted(set(read))  # each file read once, by whichever came first
    assert sum(i.rebuilt for i in indexes) == 1
    assert not LocalIndex.open([corpus], cache).rebuilt


def test_a_cache_held_by_another_process_is_waited_for_never_deleted_as_corrupt(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    LocalIndex.open([corpus], cache).close()
    [store] = cache.glob("local-index-*/index.sqlite")
    monkeypatch.setattr(index_store, "_LOCK_WAIT_SECONDS", 0.2)
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another worker's refresh, taking longer than the wait
    try:
        with pytest.raises(CorpusError, match=r"held by another process"):
            LocalIndex.open([corpus], cache)
        assert store.is_file()
        assert holder.execute("SELECT count(*) FROM passages").fetchone()[0] > 0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not LocalIndex.open([corpus], cache).rebuilt


def test_html_is_converted_to_text(corpus: Path, tmp_path: Path) -> None:
    index = LocalIndex.open([corpus], tmp_path / "cache")
    hits = index.search("glacier dense ice weight")
    assert _top_file(hits) == "glaciers.html"
    passage = hits[0].passage
    assert passage.title == "Glaciers & ice"
    assert "A glacier is a persistent body of dense ice" in passage.text
    assert "Valley glaciers" in passage.text
    for leaked in ("<", ">", "trackingSecret", "zebracode", "color: red", "hidden-css-rule"):
        assert leaked not in passage.text
    assert index.search("zebracode trackingSecret beacon") == []


def test_long_files_are_split_into_bounded_passages(tmp_path: Path) -> None:
    root = tmp_path / "long"
    root.mkdir()
    paragraphs = [f"Paragraph {i} talks about topic{i} " + "filler words " * 40 for i in range(30)]
    (root / "long.md").write_text("# Long\n\n" + "\n\n".join(paragraphs) + "\n")
    (root / "one-line.txt").write_text("word " * 2000)
    index = LocalIndex.open([root], tmp_path / "cache")
    assert index.passage_count > 10
    hit = index.search("topic17", k=1)[0]
    assert "Paragraph 17" in hit.passage.text
    assert 400 <= len(hit.passage.text) <= 1200


def test_missing_root_raises(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(CorpusError, match="does not exist") as info:
        LocalIndex.open([missing], tmp_path / "cache")
    assert str(missing) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_empty_corpus_raises(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "code.py").write_text("print('not indexable')\n")
    with pytest.raises(CorpusError, match="no indexable files"):
        LocalIndex.open([empty], tmp_path / "cache")
    (empty / "blank.md").write_text("\n\n   \n")
    with pytest.raises(CorpusError, match="contain no text"):
        LocalIndex.open([empty], tmp_path / "cache")
    with pytest.raises(CorpusError, match="no folders"):
        LocalIndex.open([], tmp_path / "cache")


# --- the demo corpus: Python's bundled documentation --------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LocalIndex]:
    cache = tmp_path_factory.mktemp("demo-cache")
    root = materialise_demo_corpus(cache)
    return root, LocalIndex.open([root], cache)


def _top_paths(demo: tuple[Path, LocalIndex], query: str, k: int = 3) -> list[str]:
    root, index = demo
    return [
        Path(h.passage.source_path).relative_to(root).as_posix() for h in index.search(query, k)
    ]


def test_demo_corpus_layout(demo: tuple[Path, LocalIndex]) -> None:
    root, index = demo
    assert root.name.startswith("demo-corpus-py3.")
    assert (
        (root / "topics" / "with.txt")
        .read_text()
        .startswith("# with (Python language reference)\n")
    )
    assert (
        (root / "modules" / "json.md")
        .read_text()
        .startswith("# json (Python standard library module)\n")
    )
    assert "## dumps(" in (root / "modules" / "json.md").read_text()
    modules = {p.stem for p in (root / "modules").iterdir()}
    assert {"json", "json.decoder", "collections", "pathlib"} <= modules
    assert not any(m.startswith(("test.", "idlelib", "lib2to3", "ensurepip")) for m in modules)
    assert index.passage_count > 1000
    # Second call: already complete, nothing rewritten.
    assert materialise_demo_corpus(root.parent) == root


def test_demo_with_statement_query(demo: tuple[Path, LocalIndex]) -> None:
    top = _top_paths(demo, "context manager __enter__ __exit__ with statement")
    assert any(p in {"topics/with.txt", "topics/context-managers.txt"} for p in top), top


def test_keywords_that_are_stopwords_elsewhere_still_search(demo: tuple[Path, LocalIndex]) -> None:
    """ "with" and "is" are statements and operators in documentation: the query "with
    statement" once searched "statement" alone and ranked `timeit` first."""
    assert _top_paths(demo, "with statement", k=2)[0] in {"topics/with.txt", "topics/compound.txt"}
    top = _top_paths(demo, "async with statement", k=3)
    assert any(p in {"topics/async.txt", "topics/compound.txt"} for p in top), top


def test_a_quoted_name_and_its_kind_are_searched_as_a_phrase(
    demo: tuple[Path, LocalIndex],
) -> None:
    """ "How does Python's `with` statement work?" weighed as "python statement work" and
    ranked timeit, pass and format_helpers first; quoted, `with` statement is one thing."""
    top = _top_paths(demo, "How does Python's `with` statement work?", k=3)
    assert {"topics/with.txt", "topics/compound.txt"} & set(top), top
    assert "modules/timeit.md" not in top
    _, index = demo
    for hit in index.search('the "async with" statement', 3):  # in its text or its section
        said = f"{hit.passage.locator} {hit.passage.text}"
        assert re.search(r'async with"? statement', said, re.I), hit.passage.locator


def test_a_quoted_api_name_finds_the_entry_that_defines_it_first(
    demo: tuple[Path, LocalIndex],
) -> None:
    """ "The `__exit__` method" ranked the with statement's prose (which calls `__exit__`)
    above the entry that says what it does."""
    _, index = demo
    for query, entry in (
        ("The `__exit__` method", "object.__exit__(self"),
        ("The `__enter__` method", "object.__enter__(self"),
        ("What does `ExitStack` do?", "class ExitStack("),
    ):
        top = index.search(query, 3)[0].passage.text
        assert entry in top[:2000], (query, top[:200])
    # A keyword is no API entry: `with` still ranks its statement's sections first.
    assert _top_paths(demo, "the `with` statement", k=1)[0] in {
        "topics/with.txt",
        "topics/compound.txt",
        "topics/context-managers.txt",
    }


def test_a_document_the_question_names_brings_its_best_passage_and_no_more(
    demo: tuple[Path, LocalIndex],
) -> None:
    """ "contextlib" is in every passage of contextlib's page once, in its title: "class",
    "writing" and "hand" ranked the assignment statement's page first. A named document gets
    its best passage in the top, one per name, so a second named thing is not crowded out; a
    name that is a common word ("time") names nothing."""
    top = _top_paths(demo, "When should contextlib be used instead of writing the class by hand?")
    assert "modules/contextlib.md" in top, top
    both = _top_paths(demo, "Should I use heapq or bisect to keep a list sorted while inserting?")
    assert {"modules/heapq.md", "modules/bisect.md"} <= set(both), both
    assert "modules/time.md" not in _top_paths(demo, "What time complexity does list sort have?", 5)


def test_a_query_of_stopwords_alone_finds_nothing(demo: tuple[Path, LocalIndex]) -> None:
    _, index = demo
    assert index.search("with the and of it", 5) == []


def test_a_definition_is_retrieved_with_the_name_it_defines(
    demo: tuple[Path, LocalIndex],
) -> None:
    """A reST entry (`object.__exit__(…)` then its indented definition) is never cut between
    the name and what it does."""
    _, index = demo
    for hit in index.search("exit the runtime context related to this object", 5):
        text = hit.passage.text
        if "Exit the runtime context" in text:
            assert "object.__exit__(self" in text.split("Exit the runtime context")[0]
            break
    else:
        pytest.fail("no passage defines __exit__")


def test_demo_json_query(demo: tuple[Path, LocalIndex]) -> None:
    top = _top_paths(demo, "json dumps serialize object to a JSON formatted str")
    assert "modules/json.md" in top, top


def test_demo_index_loads_from_cache(demo: tuple[Path, LocalIndex]) -> None:
    root, index = demo
    reopened = LocalIndex.open([root], root.parent)
    assert not reopened.rebuilt
    assert reopened.passage_count == index.passage_count


def test_a_corrupt_cache_is_rebuilt_and_an_unusable_one_is_a_clear_error(
    corpus: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    LocalIndex.open([corpus], cache).close()
    [store] = cache.glob("local-index-*/index.sqlite")
    for extra in store.parent.glob("index.sqlite-*"):
        extra.unlink()
    store.write_bytes(b"this is not a database" * 100)
    rebuilt = LocalIndex.open([corpus], cache)
    assert rebuilt.rebuilt and rebuilt.search("magma lava", k=1)
    rebuilt.close()

    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    with pytest.raises(CorpusError, match=r"the index cache .* cannot be used"):
        LocalIndex.open([corpus], blocked)
