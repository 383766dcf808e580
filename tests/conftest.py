"""Shared fixtures, and the order tests are handed to pytest-xdist's workers (`make test` runs `pytest -n 3`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from astroquery import cache_conf

LONGEST_FIRST = ("test_slurm.py", "test_examples.py", "test_workflow.py")
"""End-to-end modules, handed out first. `make test` gives whole modules to its 3 workers (pytest-xdist --dist
loadfile) in collection order, so each starts on one of them: the Slurm run (~20 min, mostly waiting on its
scheduler), the seven example runs (~18 min) and the tiny workflow (~12 min); the unit tests fill in behind."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """End-to-end modules first, in the order of LONGEST_FIRST; everything else after them, in its own order."""
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)


@pytest.fixture(autouse=True)
def no_astroquery_cache() -> Iterator[None]:
    """Nothing may be written to ~/.astropy by any test."""
    with cache_conf.set_temp("cache_active", False):
        yield
