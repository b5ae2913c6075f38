"""Notifications fixtures: a database with every domain's schema at head (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from keeper.ledger.db import make_engine
from keeper.schema import upgrade_all


@pytest.fixture
def db_url(database: Callable[[str], str]) -> str:
    """A database with every domain's schema at head."""
    url = database("notifications")
    upgrade_all(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on ``db_url``."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()
