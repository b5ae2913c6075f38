"""Jobs fixtures: a database with every domain's schema at head, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keeper.schema import upgrade_all

_DBS = itertools.count()


def _pgcluster() -> Any:
    """The ledger tests' throwaway-PostgreSQL helper module (loaded from its file)."""
    path = Path(__file__).resolve().parents[1] / "ledger" / "pgcluster.py"
    spec = importlib.util.spec_from_file_location("strongroom_pgcluster_jobs", path)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


@pytest.fixture(scope="session")
def jobs_pg() -> Iterator[Any]:
    """A PostgreSQL 15 cluster for the session (skips, printing why, without the binaries)."""
    pg = _pgcluster()
    reason = pg.pg_unavailable_reason()
    if reason:
        print(f"SKIP postgres: {reason}")
        pytest.skip(reason)
    cluster = pg.PostgresCluster(fsync=False)
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with every domain's schema at head (SQLite file or a new PG database)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jobs.db'}"
    else:
        url = request.getfixturevalue("jobs_pg").create_database(f"jobs_{next(_DBS)}")
    upgrade_all(url)
    return url
