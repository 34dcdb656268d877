"""The hand-labelled claim/passage set for measuring a citation-support scorer
(eval/support_labels.jsonl, described in eval/support_labels.md) stays loadable, balanced and
true to the demo corpus it was cut from."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from search.demo_corpus import materialise_demo_corpus
from tests.support.paths import ROOT

LABELS = ROOT / "eval" / "support_labels.jsonl"
SUPPORTED_KINDS = frozenset({"paraphrase", "close"})
UNSUPPORTED_KINDS = frozenset({"same_topic_unsupported", "off_topic"})


class SupportLabel(BaseModel):
    """One hand-labelled pair: does `passage` (verbatim from `doc`) support `claim`?"""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: str = Field(min_length=1)
    doc: str = Field(pattern=r"^(topics|modules)/[^/]+\.(txt|md)$")
    passage: str = Field(min_length=200, max_length=1200)
    claim: str = Field(min_length=10, max_length=300)
    supported: bool
    kind: Literal["paraphrase", "close", "same_topic_unsupported", "off_topic"]

    @model_validator(mode="after")
    def _kind_matches_label(self) -> SupportLabel:
        if self.supported != (self.kind in SUPPORTED_KINDS):
            raise ValueError(f"kind {self.kind!r} contradicts supported={self.supported}")
        if "\n" in self.claim or not self.claim.endswith("."):
            raise ValueError("a claim is one sentence on one line, ending with '.'")
        return self


def load_support_labels(path: Path) -> list[SupportLabel]:
    """Parse the JSON Lines file; a bad line raises ValueError naming its line number."""
    labels = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            labels.append(SupportLabel.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as err:
            raise ValueError(f"{path.name} line {number}: {err}") from None
    return labels


@pytest.fixture(scope="module")
def labels() -> list[SupportLabel]:
    return load_support_labels(LABELS)


def test_every_line_parses_and_ids_are_unique(labels: list[SupportLabel]) -> None:
    ids = Counter(label.id for label in labels)
    assert [i for i, n in ids.items() if n > 1] == []
    assert len(labels) >= 120


def test_both_classes_and_all_kinds_are_represented(labels: list[SupportLabel]) -> None:
    by_class = Counter(label.supported for label in labels)
    assert by_class[True] >= 40 and by_class[False] >= 40, by_class
    kinds = Counter(label.kind for label in labels)
    assert set(kinds) == SUPPORTED_KINDS | UNSUPPORTED_KINDS, kinds
    # The hard negatives (same topic, shared vocabulary) are the point of the set.
    assert kinds["same_topic_unsupported"] >= kinds["off_topic"]


def test_every_passage_is_verbatim_in_the_demo_corpus_file_it_names(
    labels: list[SupportLabel], cache_dir: Path
) -> None:
    root = materialise_demo_corpus(cache_dir)
    texts: dict[str, str] = {}
    missing = []
    for label in labels:
        if label.doc not in texts:
            path = root / label.doc
            texts[label.doc] = path.read_text(encoding="utf-8") if path.is_file() else ""
        if label.passage not in texts[label.doc]:
            missing.append(f"{label.id} ({label.doc})")
    assert missing == [], (
        f"passages no longer found verbatim in the demo corpus of Python "
        f"{sys.version_info.major}.{sys.version_info.minor} (labels were cut from 3.11's): "
        f"{missing}"
    )


def test_a_malformed_line_is_rejected_with_its_line_number(
    labels: list[SupportLabel], tmp_path: Path
) -> None:
    good = labels[0].model_dump()
    bad = {**good, "id": "x-2", "supported": not good["supported"]}
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"(?s)labels\.jsonl line 2: .*contradicts supported"):
        load_support_labels(path)
    path.write_text(json.dumps(good) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 2"):
        load_support_labels(path)
