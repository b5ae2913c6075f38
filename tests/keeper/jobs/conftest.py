"""Jobs fixtures: a database with every domain's schema at head, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def db_url(database: Callable[[str], str]) -> str:
    """A database with every domain's schema at head (SQLite and PostgreSQL)."""
    url = database("jobs", migrated=True)
    return url
