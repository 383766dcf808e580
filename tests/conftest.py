"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from astroquery import cache_conf


@pytest.fixture(autouse=True)
def no_astroquery_cache() -> Iterator[None]:
    """Nothing may be written to ~/.astropy by any test."""
    with cache_conf.set_temp("cache_active", False):
        yield
