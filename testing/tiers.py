"""Which tests are integration tests: the rule the suite's marker and the mutation bench share."""

from __future__ import annotations

import pytest

# A test that asks for one of these (directly or through another fixture) runs against the
# Temporal dev server.
SERVER_FIXTURES = frozenset({"temporal_env"})
# Markers of tests that start processes or a model of their own.
INTEGRATION_MARKERS = ("slow", "local_llm")


def is_integration(item: pytest.Item) -> bool:
    """True if `item` needs the dev server, starts processes, or runs a model."""
    if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    return any(item.get_closest_marker(name) for name in INTEGRATION_MARKERS)
