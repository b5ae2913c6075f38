"""Ledger fixtures: every ``ledger_url`` test runs on SQLite and on a throwaway PostgreSQL.

``pg_cluster`` (session scope, tests/conftest.py) is the one shared PostgreSQL fixture; it skips
with the printed reason only when the server binaries are absent (strongroom_testkit.postgres).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from keeper.ledger import Ledger, upgrade


@pytest.fixture
def ledger_url(database: Callable[[str], str]) -> str:
    """A freshly migrated, empty ledger database URL (SQLite and PostgreSQL)."""
    url = database("ledger")
    upgrade(url)
    return url


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    """A group-committing ``Ledger`` on ``ledger_url``."""
    lg = Ledger(ledger_url)
    yield lg
    lg.close()
