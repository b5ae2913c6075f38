"""Ledger fixtures: every ``ledger_url`` test runs on SQLite and on a throwaway PostgreSQL.

``pg_cluster`` (session scope, tests/conftest.py) is the one shared PostgreSQL fixture; it skips
with the printed reason only when the server binaries are absent (strongroom_testkit.postgres).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from keeper.ledger import Ledger, upgrade

_db_counter = itertools.count()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path) -> str:  # noqa: ANN001
    """A freshly migrated, empty ledger database URL (SQLite file or a new PG database)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        cluster = request.getfixturevalue("pg_cluster")
        url = cluster.create_database(f"ledger_{next(_db_counter)}")
    upgrade(url)
    return url


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    """A group-committing ``Ledger`` on ``ledger_url``."""
    lg = Ledger(ledger_url)
    yield lg
    lg.close()
