"""The shared test helpers do what they say, on the fork (``strongroom_testkit``)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

import strongroom_testkit as kit

pytestmark = pytest.mark.fork


def test_constants_and_free_port() -> None:
    assert (kit.HOUR, kit.DAY) == (3600, 86400)
    assert int(kit.ZERO_ADDRESS, 16) == 0 and len(kit.ZERO_ADDRESS) == 42
    port = kit.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # really free: binding it succeeds


def test_mine_and_time_travel_then_revert(w3: Any) -> None:
    snap = kit.snapshot(w3)
    head = w3.eth.get_block("latest")
    assert kit.mine(w3, 3) == head.number + 3
    target = w3.eth.get_block("latest").timestamp + kit.DAY
    kit.set_next_timestamp(w3, target)
    kit.mine(w3)
    assert w3.eth.get_block("latest").timestamp == target
    kit.increase_time(w3, kit.HOUR)
    kit.mine(w3)
    assert w3.eth.get_block("latest").timestamp >= target + kit.HOUR
    kit.revert(w3, snap)
    assert w3.eth.block_number == head.number
    with pytest.raises(RuntimeError, match="evm_revert"):
        kit.revert(w3, snap)  # a snapshot is used up by reverting to it



def _versions(url: str) -> dict[str, list[Any]]:
    """Every domain's Alembic version rows: the heads a migration reached."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: sorted(conn.execute(text(f"SELECT * FROM {t}")).all())
                    for t in inspect(conn).get_table_names() if t.endswith("alembic_version")}
    finally:
        engine.dispose()


def _schema_of(url: str) -> dict[str, Any]:
    """Every table's columns, indexes, unique constraints and foreign keys: what a migration
    leaves in a database."""
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    try:
        insp = inspect(engine)
        return {table: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)],
            sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                   for i in insp.get_indexes(table)),
            sorted(str(u["column_names"]) for u in insp.get_unique_constraints(table)),
            sorted(str((f["constrained_columns"], f["referred_table"]))
                   for f in insp.get_foreign_keys(table)),
        ) for table in sorted(insp.get_table_names())}
    finally:
        engine.dispose()


def test_migrate_fresh_gives_what_the_migrations_give(database: Any) -> None:
    from sqlalchemy import create_engine, text

    from keeper.schema import SCHEMA_MODULES, upgrade_all
    from strongroom_testkit.dbtemplate import migrate_fresh

    real, first, second = database("real"), database("copy1"), database("copy2")
    upgrade_all(real)
    migrate_fresh(first)
    migrate_fresh(second)
    third = database("copy3", migrated=True)
    heads = _versions(real)
    assert len(heads) == len(SCHEMA_MODULES)
    assert _versions(first) == heads and _versions(second) == heads and _versions(third) == heads
    assert _schema_of(first) == _schema_of(real)
    engine = create_engine(first)  # copies are independent databases
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_alembic_version"))
    engine.dispose()
    assert _versions(second) == heads and _versions(first) != heads


def test_migrate_fresh_migrates_a_used_database_for_real(database: Any) -> None:
    from sqlalchemy import create_engine, text

    from keeper.ledger.migrate import SCHEMA as LEDGER
    from keeper.schema import upgrade_all
    from strongroom_testkit.dbtemplate import migrate_fresh

    real, used = database("real"), database("used")
    upgrade_all(real)
    LEDGER.upgrade(used)
    engine = create_engine(used)
    with engine.begin() as conn:  # a row the template does not have must survive
        conn.execute(text("CREATE TABLE zz_keep (v INTEGER)"))
        conn.execute(text("INSERT INTO zz_keep VALUES (7)"))
    migrate_fresh(used)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT v FROM zz_keep")).scalar_one() == 7
    engine.dispose()
    assert _versions(used) == _versions(real)


def test_a_cluster_stopped_without_waiting_is_down_and_its_files_go() -> None:
    import time

    from strongroom_testkit.postgres import PostgresCluster, pg_unavailable_reason

    if pg_unavailable_reason():
        pytest.skip(pg_unavailable_reason())
    pg = PostgresCluster(fsync=False).start()
    pg.create_database("one")
    folder, trash = pg.dir, pg.dir.with_name(f"{pg.dir.name}.removing")
    pg.stop(wait_for_removal=False)
    assert not folder.exists()  # moved away at once
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", pg.port)) != 0  # the server is down
    deadline = time.monotonic() + 120  # a liveness wait, not a speed assert
    while trash.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not trash.exists()
