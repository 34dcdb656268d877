"""Citation support scorers: how well a cited passage backs a claim, 0..1, with no LLM.

A scorer is any `(claim, passage_text) -> float`. The default is lexical: the share of the
claim's content words found in the passage. It is a stand-in; when the product's own scorer
(issue "grounded") lands, pass it to `eval.metrics.score_run(..., scorer=...)` or name it with
`python -m eval.run --scorer module:function`.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable

SupportScorer = Callable[[str, str], float]

SUPPORT_THRESHOLD = 0.5  # a (claim, citation) pair at or above this counts as supported
_WORD = re.compile(r"[a-z0-9_]+")
_STOPWORDS_TEXT = """
a an and are as at be been but by can could do does for from has have how if in into is it its
may might must not of on or so such that the their then there these this those to was were when
which while will with would you your also than other more most only same used use using each any
all one two
"""
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def content_words(text: str) -> set[str]:
    """Lower-case words of 3+ characters that are not stop words."""
    return {w for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in _STOPWORDS}


def lexical_support(claim: str, passage: str) -> float:
    """Share of the claim's content words that the passage contains (1.0 for a claim with
    none: nothing in it needs support)."""
    words = content_words(claim)
    if not words:
        return 1.0
    return len(words & content_words(passage)) / len(words)


def load_scorer(spec: str) -> SupportScorer:
    """`module:function` → the function; `lexical` → the default."""
    if spec in ("", "lexical"):
        return lexical_support
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise ValueError(f"scorer {spec!r}: use module:function or 'lexical'")
    try:
        scorer = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"scorer {spec!r} cannot be loaded: {err}") from None
    if not callable(scorer):
        raise ValueError(f"scorer {spec!r} is not callable")
    return scorer
