"""The suite's backend switch (``--db``): ``strongroom_testkit.dbtemplate.fresh_url`` and the
helpers that do on PostgreSQL what a SQLite file operation does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from strongroom_testkit import dbtemplate
from strongroom_testkit.dbtemplate import copy_database, fresh_url, read_only_engine


@pytest.fixture
def on_backend() -> Iterator[Callable[[str], None]]:
    """``on_backend(name)`` switches :func:`fresh_url` for this test; restored afterwards."""
    before = dbtemplate.backend()
    yield dbtemplate.set_backend
    dbtemplate.set_backend(before)


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_sqlite_mode_gives_the_file_at_the_path(tmp_path: Path, on_backend) -> None:  # noqa: ANN001
    on_backend("sqlite")
    assert fresh_url(tmp_path / "a.db") == f"sqlite:///{tmp_path / 'a.db'}"
    migrated = fresh_url(tmp_path / "b.db", migrated=True)
    assert (tmp_path / "b.db").stat().st_size > 0 and "ledger_transfers" in _tables(migrated)


@pytest.mark.postgres
def test_postgresql_mode_gives_a_new_database_in_the_session_cluster(
        tmp_path: Path, on_backend, pg_cluster) -> None:  # noqa: ANN001
    on_backend("postgresql")
    first, second = fresh_url(tmp_path / "Same.db"), fresh_url(tmp_path / "Same.db")
    assert first != second and not (tmp_path / "Same.db").exists()
    for url in (first, second):
        parsed = make_url(url)
        assert parsed.get_backend_name() == "postgresql" and parsed.port == pg_cluster.port
        assert parsed.database.startswith("same_") and _tables(url) == set()
    modules = ("keeper.ledger.migrate",)
    migrated = fresh_url(tmp_path / "m.db", migrated=True, modules=modules)
    assert "ledger_transfers" in _tables(migrated) and "clients_clients" not in _tables(migrated)
    with pytest.raises(ValueError, match="unknown"):
        dbtemplate.set_backend("mysql")


def test_a_copy_is_independent_and_a_read_only_engine_cannot_write(database, tmp_path: Path) -> None:  # noqa: ANN001
    url = database("orig")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (v INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    engine.dispose()
    copy = copy_database(url, tmp_path / "copy.db")
    ro = read_only_engine(copy)
    try:
        with ro.connect() as conn:
            assert conn.execute(text("SELECT v FROM t")).scalar_one() == 1
        with pytest.raises(DBAPIError), ro.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
    finally:
        ro.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:  # the original changes; the copy does not
        conn.execute(text("INSERT INTO t VALUES (3)"))
    engine.dispose()
    engine = create_engine(copy)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT v FROM t")).scalars().all() == [1]
    engine.dispose()


@pytest.mark.postgres
def test_the_session_server_is_not_on_utc(pg_cluster) -> None:  # noqa: ANN001
    """Reads must convert timestamptz values, not relabel them: the server's zone says so."""
    from strongroom_testkit.postgres import SERVER_TIMEZONE

    engine = create_engine(pg_cluster.url())
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW timezone")).scalar_one() == SERVER_TIMEZONE != "UTC"
            offset = conn.execute(text("SELECT extract(timezone FROM now())")).scalar_one()
            assert offset != 0
    finally:
        engine.dispose()
