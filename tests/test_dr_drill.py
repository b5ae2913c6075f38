"""The disaster-recovery drill, small: synchronous replication loses no acknowledged posting;
a restore from base backup + archived WAL brings back exactly what was archived.

Real local PostgreSQL clusters (primary and a ``pg_basebackup -R`` standby), the writer and the
API as their own processes under load, the primary site SIGKILLed, the standby promoted and the
services restarted on it (:mod:`scripts.dr.drill`). RTO is printed, never asserted.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from scripts.dr.drill import run_drill, table
from scripts.dr.pgcluster import Cluster, own_dir, primary_settings
from scripts.localnet import free_port
from strongroom_testkit import drsite

pytestmark = pytest.mark.slow


@pytest.fixture
def workdir() -> Path:
    yield from drsite.postgres_workdir()


def test_sync_failover_keeps_every_acknowledged_posting(workdir: Path) -> None:
    failover, = run_drill("sync", workdir / "sync", seconds=2, rate=100, settle_s=0.2,
                          progress=print)
    print(table([failover]))
    assert failover.acked > 0  # postings were acknowledged before the kill
    assert failover.missing == 0 and failover.rpo_s == 0  # RPO 0: all on the promoted standby
    assert failover.after > 0  # the promoted standby takes new postings
    assert failover.rto_posting_s is not None and failover.rto_read_s is not None


def test_restore_replays_the_archived_wal_and_nothing_after_it(workdir: Path) -> None:
    wal = own_dir(workdir / "wal")
    primary = Cluster(workdir / "pg", "primary", free_port())
    primary.init(primary_settings(wal, archive_timeout_s=0)).start()
    restored = None
    try:
        with psycopg.connect(primary.dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (i int)")
            primary.base_backup(workdir / "base")
            conn.execute("INSERT INTO t SELECT generate_series(1, 100)")
            segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
            while not (wal / segment).exists():  # archived by the archive_command
                time.sleep(0.05)
            conn.execute("INSERT INTO t SELECT generate_series(101, 150)")  # never archived
        primary.kill()
        restored = Cluster.restore(workdir / "pg", "restored", free_port(), workdir / "base",
                                   wal, timeline="1").start()
        while restored.in_recovery():
            time.sleep(0.05)
        with psycopg.connect(restored.dsn(), autocommit=True) as conn:
            assert conn.execute("SELECT count(*), max(i) FROM t").fetchone() == (100, 100)
            conn.execute("INSERT INTO t VALUES (101)")  # open for writes after recovery
    finally:
        primary.stop("immediate")
        if restored is not None:
            restored.stop("immediate")
