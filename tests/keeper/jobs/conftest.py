"""Jobs fixtures: a database with every domain's schema at head, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from keeper.schema import upgrade_all


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with every domain's schema at head (SQLite file or a new PG database)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jobs.db'}"
    else:
        # a unique name: the alerts tests load this fixture too, on the same shared cluster
        url = request.getfixturevalue("pg_cluster").create_database(f"jobs_{uuid.uuid4().hex[:12]}")
    upgrade_all(url)
    return url
