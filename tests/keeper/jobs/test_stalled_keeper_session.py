"""A keeper stalled inside a database transaction (SIGSTOP, a paused VM) must not keep its row
locks past its lease: on PostgreSQL the server ends such a session (``stall_bounded``), so a
standby waiting for the scheduler lease's row gets it (real PostgreSQL, two engines)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from keeper.jobs.runner import stall_bounded
from keeper.jobs.scheduler import LEASE
from keeper.ledger import Ledger, make_engine
from strongroom_testkit.dbtemplate import create_migrated

pytestmark = pytest.mark.postgres


def test_a_session_stalled_in_its_transaction_is_ended_and_the_standby_takes_the_lease(
        pg_cluster):
    url = create_migrated(pg_cluster.url(), "stalled_session")
    leader = Ledger(stall_bounded(url, 0.5, floor=0.5), group_commit=False)
    standby = Ledger(url, group_commit=False)
    try:
        assert leader.acquire_lease(LEASE, "leader", 0.5) is not None
        conn = leader.engine.connect()
        tx = conn.begin()
        # the leader stalls in the middle of renewing: its transaction holds the lease's row
        conn.execute(text("SELECT token FROM ledger_leases WHERE name = :n FOR UPDATE"),
                     {"n": LEASE})
        time.sleep(1.0)  # past its lease and its session's idle-in-transaction bound
        got: list = []
        taker = threading.Thread(target=lambda: got.append(
            standby.acquire_lease(LEASE, "standby", 5)), daemon=True)
        taker.start()
        taker.join(30)  # without the bound it waits for the stalled row lock forever
        assert got and got[0] is not None and got[0].token == 2  # taken over, fenced
        with pytest.raises(DBAPIError):  # the stalled session was ended by the server
            conn.execute(text("SELECT 1"))
        tx.close()
        conn.close()
        assert leader.acquire_lease(LEASE, "leader", 0.5) is None  # it must stand by now
    finally:
        leader.close()
        standby.close()


def test_only_postgresql_urls_get_the_bound():
    assert stall_bounded("sqlite:////tmp/x.db", 3) == "sqlite:////tmp/x.db"
    pg = stall_bounded("postgresql+psycopg://u:p@h:5/db?options=-c%20work_mem%3D4MB", 7)
    assert "idle_in_transaction_session_timeout=7000" in make_engine(pg).url.query["options"]
    assert "work_mem=4MB" in make_engine(pg).url.query["options"]
