"""A pytest plugin for the mutation benchmark (bench/mutation.py): keep only the fast tests.

A mutant is tested by the tests that ran its function. Tests that start a Temporal dev server or
a worker (any test that asks, directly or through another fixture, for `temporal_env`) take
seconds to minutes each and are what the end-to-end suite is for; the mutation benchmark runs
the pure unit tests, so one mutant costs well under a second. Loaded with
`-p bench.mutation_select`.
"""

from __future__ import annotations

import pytest

from testing.tiers import is_integration


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slow = [item for item in items if is_integration(item)]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if item not in slow]
