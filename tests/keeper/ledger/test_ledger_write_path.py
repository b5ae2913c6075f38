"""The group commit's write path: reads in one pipeline, writes with the COMMIT, a held connection.

On PostgreSQL a batch is two round trips (every read with the account row locks; every write with
the COMMIT) on a connection the writer keeps while batches follow each other. These tests pin what
must not change with that: a dry run commits nothing, a hook still runs before the commit (and its
failure still commits nothing), a post/void that names no account still locks the hold's accounts,
and a connection lost under the writer costs at most the batch that was on it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Connection, text

from keeper.ledger import Kind, Ledger, LedgerUnavailable, TransferSpec, bulk, make_engine, upgrade
from keeper.ledger.batcher import GroupCommitter
from keeper.ledger.db import WRITE
from keeper.ledger.engine import Request, apply_requests


def _count(lg: Ledger) -> int:
    with lg.engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM ledger_transfers"))


def _seeded(lg: Ledger) -> tuple[int, int]:
    om, alice = lg.omnibus_account("USDC", "vault"), lg.client_account("alice", "USDC")
    lg.post(TransferSpec("seed", om, alice, 1_000))
    return om, alice


def test_a_dry_run_commits_nothing(ledger: Ledger) -> None:
    om, alice = _seeded(ledger)
    before = _count(ledger)
    with ledger.engine.connect().execution_options(**WRITE) as conn:
        txn = conn.begin()
        req = Request([TransferSpec("dry", om, alice, 5)])
        apply_requests(conn, [req])
        assert req.error is None and req.results is not None
        txn.rollback()
    assert _count(ledger) == before
    assert ledger.balance(alice).credits_posted == 1_000


def test_a_failing_hook_commits_nothing_even_on_the_committing_path(ledger: Ledger) -> None:
    om, alice = _seeded(ledger)
    seen: list[int] = []

    def hook(conn: Connection) -> None:  # runs after the writes, before the commit
        seen.append(conn.scalar(text("SELECT count(*) FROM ledger_transfers "
                                     "WHERE transfer_id = 'hooked'")))
        raise RuntimeError("hook refuses")

    with pytest.raises(RuntimeError, match="hook refuses"):
        ledger.post_all([TransferSpec("hooked", om, alice, 5)], hook)
    assert seen == [1]  # the hook saw the batch's own row, uncommitted
    assert _count(ledger) == 1
    assert ledger.balance(alice).credits_posted == 1_000
    ledger.post(TransferSpec("after", om, alice, 5))  # the writer carries on
    assert ledger.balance(alice).credits_posted == 1_005


@pytest.fixture
def pg_ledger(pg_cluster) -> Iterator[tuple[Ledger, str]]:  # noqa: ANN001
    """A direct ledger on a fresh PostgreSQL database and its libpq URL."""
    url = pg_cluster.create_database(f"wp_{uuid.uuid4().hex[:8]}")
    upgrade(url)
    lg = Ledger(url, group_commit=False)
    yield lg, url.replace("postgresql+psycopg", "postgresql")
    lg.close()


def test_a_post_naming_no_account_locks_the_holds_accounts(pg_ledger) -> None:  # noqa: ANN001
    lg, dsn = pg_ledger
    om, alice = _seeded(lg)
    lg.post(TransferSpec("hold", alice, om, 100, Kind.PENDING))
    committer = GroupCommitter(lg.engine, busy_timeout=0.05)
    try:
        with psycopg.connect(dsn) as other:  # another process holds alice's row
            other.execute("SELECT 1 FROM ledger_accounts WHERE id = %s FOR UPDATE", (alice,))
            err = committer.submit([TransferSpec("settle", 0, 0, 0, Kind.POST,
                                                 pending_id="hold")]).exception(timeout=60)
            assert isinstance(err, LedgerUnavailable), err
        assert committer.submit([TransferSpec("settle", 0, 0, 0, Kind.POST,
                                              pending_id="hold")]).result(timeout=60)[0].created
    finally:
        committer.close()
    assert lg.balance(alice).debits_posted == 100 and lg.balance(alice).debits_pending == 0
    assert lg.verify_invariants() == []


def _backend_pid(conn: Connection) -> int:
    return int(conn.scalar(text("SELECT pg_backend_pid()")))


def test_a_lost_connection_costs_only_the_batch_on_it(pg_ledger) -> None:  # noqa: ANN001
    lg, dsn = pg_ledger
    om, alice = _seeded(lg)
    committer = GroupCommitter(lg.engine)
    pids: list[int] = []
    in_hook, registered, queued = threading.Event(), threading.Event(), threading.Event()

    def hook(conn: Connection) -> None:
        pids.append(_backend_pid(conn))
        in_hook.set()
        assert registered.wait(30)

    def kill(_ticket: object) -> None:  # in the writer, between two back-to-back batches
        assert queued.wait(30)
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pids[0],))
            while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                (pids[0],)).fetchone():
                pass

    try:
        first = committer.submit([TransferSpec("first", om, alice, 1)], hook)
        assert in_hook.wait(30)
        first.add_done_callback(kill)
        registered.set()
        lost = [committer.submit([TransferSpec(f"lost{i}", om, alice, 1)]) for i in range(3)]
        queued.set()
        assert all(isinstance(t.exception(timeout=60), LedgerUnavailable) for t in lost)
        later = [committer.submit([TransferSpec(f"later{i}", om, alice, 1)]) for i in range(3)]
        assert [t.exception(timeout=60) for t in later] == [None] * 3
    finally:
        committer.close()
    assert first.exception() is None
    assert lg.balance(alice).credits_posted == 1_004  # seed + first + later; no "lost"
    assert lg.verify_invariants() == []


def test_a_connection_killed_while_the_writer_idles_costs_nothing(pg_ledger) -> None:  # noqa: ANN001
    lg, dsn = pg_ledger
    om, alice = _seeded(lg)
    committer = GroupCommitter(lg.engine)
    pids: list[int] = []
    try:
        committer.submit([TransferSpec("a", om, alice, 1)],
                         lambda conn: pids.append(_backend_pid(conn))).result(timeout=60)
        with psycopg.connect(dsn, autocommit=True) as admin:  # e.g. an idle-session timeout
            for pid in pids:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert committer.submit([TransferSpec("b", om, alice, 1)]).result(timeout=60)[0].created
    finally:
        committer.close()
    assert lg.balance(alice).credits_posted == 1_002


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # no thread dies
@pytest.mark.parametrize("url", ["sqlite:///{tmp}/no/such/dir/ledger.db",
                                 "postgresql+psycopg://postgres@127.0.0.1:{port}/ledger"])
def test_an_unreachable_database_fails_the_batch_as_unavailable(url: str, tmp_path) -> None:  # noqa: ANN001
    from strongroom_testkit import free_port

    kw = {"connect_args": {"connect_timeout": 2}} if "postgresql" in url else {}
    engine = make_engine(url.format(tmp=tmp_path, port=free_port()), **kw)
    committer = GroupCommitter(engine)
    try:
        err = committer.submit([TransferSpec("t", 1, 2, 1)]).exception(timeout=60)
        assert isinstance(err, LedgerUnavailable), err
    finally:
        committer.close()
        engine.dispose()


def test_the_batch_lookups_never_scan_a_table_whose_statistics_lag(pg_ledger) -> None:  # noqa: ANN001
    """A freshly loaded ledger (autovacuum has not analysed it yet) must not get its idempotency
    lookup planned as a full scan with the key list as a filter (its cost grows with the table);
    hooks, after the batch's own statements, get the planner's defaults back."""
    lg, _dsn = pg_ledger
    om, alice = _seeded(lg)
    lg.post_all([TransferSpec(f"load{i}", om, alice, 1) for i in range(20_000)])
    keys = [f"new{i}" for i in range(64)]
    lookup = ("EXPLAIN SELECT transfer_id, fingerprint, amount, created_at FROM ledger_transfers "
              "WHERE transfer_id = ANY(%s)")
    with lg.engine.connect().execution_options(**WRITE) as conn:
        txn = conn.begin()
        reads = bulk.read_batch(conn, set(keys), set(), set(), {om, alice})
        assert reads.existing == [] and set(reads.accounts) == {om, alice}
        plan = [r[0] for r in conn.exec_driver_sql(lookup, (keys,))]  # as the batch planned it
        assert not any("Seq Scan" in line for line in plan), plan
        bulk.write_batch(conn, [], [])  # the transaction goes on: a hook would run now
        assert conn.exec_driver_sql("SHOW enable_seqscan").scalar() == "on"
        txn.rollback()
