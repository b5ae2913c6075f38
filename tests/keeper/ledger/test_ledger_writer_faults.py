"""The group-commit writer under a locked database, failing hooks and callers that stop waiting.

A second connection (another process, as far as the writer can tell) holds the write lock with
``BEGIN IMMEDIATE`` on SQLite or a row lock on PostgreSQL. The writer must fail a whole batch fast
with the retryable :class:`LedgerUnavailable` after one attempt, instead of retrying every request
of the batch alone (each retry waiting out the busy timeout again). Attempts are counted as the
write transactions the engine begins (SQLAlchemy ``begin`` events), never by wall-clock.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy import Connection, Engine, event, text

from keeper.ledger import (
    InsufficientFunds,
    Ledger,
    LedgerError,
    LedgerTimeout,
    LedgerUnavailable,
    TransferSpec,
    make_engine,
    upgrade,
)
from keeper.ledger.batcher import GroupCommitter, Ticket
from strongroom_testkit.dbtemplate import fresh_url

Submit = Callable[..., Ticket]


@contextmanager
def paused_writer(submit: Submit, debit: int, credit: int) -> Iterator[None]:
    """Hold the writer thread between two batches until the block exits.

    A real request is committed whose hook waits until a done-callback is registered on its
    ticket; the callback (run by the writer thread after that commit) blocks until the block
    exits. Everything submitted meanwhile is queued and then taken as one batch.
    """
    in_hook, may_commit, in_callback, resume = (threading.Event() for _ in range(4))

    def hook(_conn: Connection) -> None:
        in_hook.set()
        may_commit.wait(30)

    def callback(_t: Ticket) -> None:
        in_callback.set()
        resume.wait(60)

    gate = submit([TransferSpec(f"gate-{uuid.uuid4().hex}", debit, credit, 1)], hook)
    try:
        assert in_hook.wait(30)
        gate.add_done_callback(callback)  # registered while the gate is still in its transaction
        may_commit.set()
        assert in_callback.wait(30)
        assert gate.exception(timeout=30) is None
        yield
    finally:
        may_commit.set()
        resume.set()


def count_write_attempts(engine: Engine) -> list[str]:
    """A list that grows by one every time ``engine`` starts a write transaction: SQLite's
    ``BEGIN IMMEDIATE`` statements (counted even when they fail), PostgreSQL's write ``begin``s."""
    attempts: list[str] = []
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "before_cursor_execute")
        def _stmt(_conn: Connection, _cur: object, statement: str, *_a: object) -> None:
            if statement == "BEGIN IMMEDIATE":
                attempts.append(statement)
    else:
        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            if conn.get_execution_options().get("ledger_write"):
                attempts.append("BEGIN")
    return attempts


@pytest.fixture
def sqlite_ledger(tmp_path) -> Iterator[tuple[Ledger, str]]:  # noqa: ANN001
    """A direct (non-group-committing) ledger on a fresh database (a SQLite file unless
    ``--db=postgresql``), and SQLite's file path (for the SQLite-only tests)."""
    path = str(tmp_path / "ledger.db")
    url = fresh_url(path)
    upgrade(url)
    lg = Ledger(make_engine(url), group_commit=False)
    yield lg, path
    lg.close()


@pytest.fixture
def pg_locked(pg_cluster) -> Iterator[tuple[Ledger, GroupCommitter, list[str], psycopg.Connection]]:  # noqa: ANN001
    """On a fresh PostgreSQL database: a direct ledger (seeded by :func:`_accounts`), a committer
    whose lock waits end after 50 ms, its attempt counter, and another process's connection."""
    url = pg_cluster.create_database(f"locked_{uuid.uuid4().hex[:8]}")
    upgrade(url)
    lg = Ledger(url, group_commit=False)
    committer = GroupCommitter(lg.engine, busy_timeout=0.05)
    blocker = psycopg.connect(url.replace("postgresql+psycopg", "postgresql"))
    try:
        yield lg, committer, count_write_attempts(lg.engine), blocker
    finally:
        blocker.close()
        committer.close()
        lg.close()


def _accounts(lg: Ledger) -> tuple[int, int]:
    om, alice = lg.omnibus_account("USDC", "vault"), lg.client_account("alice", "USDC")
    lg.post(TransferSpec("seed", om, alice, 1_000))
    return om, alice


def _count(lg: Ledger, sql: str) -> int:
    with lg.engine.connect() as conn:
        return conn.scalar(text(sql))


@pytest.mark.sqlite_only(reason="locks the SQLite file")
def test_locked_sqlite_fails_the_whole_batch_after_one_attempt(sqlite_ledger) -> None:  # noqa: ANN001
    lg, path = sqlite_ledger
    om, alice = _accounts(lg)
    committer = GroupCommitter(lg.engine, busy_timeout=0.05)
    attempts = count_write_attempts(lg.engine)
    blocker = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        with paused_writer(committer.submit, om, alice):
            blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            attempts.clear()
            tickets = [committer.submit([TransferSpec(f"t{i}", om, alice, 1)]) for i in range(8)]
        errors = [t.exception(timeout=60) for t in tickets]
        assert all(isinstance(e, LedgerUnavailable) for e in errors), errors
        assert "locked" in str(errors[0])
        assert len(attempts) == 1  # one attempt for the batch, not 1 + 8 one-by-one retries
        assert _count(lg, "SELECT count(*) FROM ledger_transfers WHERE transfer_id LIKE 't%'") == 0
        blocker.execute("ROLLBACK")
        # retryable: the same requests commit once the lock is released
        again = [committer.submit([TransferSpec(f"t{i}", om, alice, 1)]) for i in range(8)]
        assert all(t.result(timeout=60)[0].created for t in again)
    finally:
        blocker.close()
        committer.close()
    assert lg.balance(alice).credit_balance == 1_000 + 1 + 8  # seed + gate + retried requests
    assert lg.verify_invariants() == []


@pytest.mark.sqlite_only(reason="SQLite's page limit stands in for a full disk")
def test_full_disk_fails_the_whole_batch_after_one_attempt(sqlite_ledger) -> None:  # noqa: ANN001
    """An I/O-class error (SQLITE_FULL, from SQLite's own page limit standing in for a full
    disk) is not the fault of any one request: one attempt, every request LedgerUnavailable."""
    lg, _ = sqlite_ledger
    om, alice = _accounts(lg)
    committer = GroupCommitter(lg.engine, busy_timeout=0.05)
    attempts = count_write_attempts(lg.engine)
    full = threading.Event()

    @event.listens_for(lg.engine, "before_cursor_execute")
    def _cap(conn: Connection, _cur: object, statement: str, *_a: object) -> None:
        if full.is_set() and statement == "BEGIN IMMEDIATE":  # no page may be added to the file
            raw = conn.connection.driver_connection
            raw.execute(f"PRAGMA max_page_count={raw.execute('PRAGMA page_count').fetchone()[0]}")

    try:
        with paused_writer(committer.submit, om, alice):
            full.set()
            attempts.clear()
            tickets = [committer.submit([TransferSpec(f"t{i}", om, alice, 1, reference="x" * 4000)])
                       for i in range(8)]
        errors = [t.exception(timeout=60) for t in tickets]
        assert all(isinstance(e, LedgerUnavailable) for e in errors), errors
        assert "full" in str(errors[0])
        assert len(attempts) == 1
    finally:
        committer.close()
    assert _count(lg, "SELECT count(*) FROM ledger_transfers WHERE transfer_id LIKE 't%'") == 0


def test_request_specific_failure_is_isolated_from_its_batch(sqlite_ledger) -> None:  # noqa: ANN001
    lg, _ = sqlite_ledger
    om, alice = _accounts(lg)
    committer = GroupCommitter(lg.engine, busy_timeout=0.05)
    attempts = count_write_attempts(lg.engine)

    def bad_hook(_conn: Connection) -> None:
        raise RuntimeError("hook failed")

    try:
        with paused_writer(committer.submit, om, alice):
            attempts.clear()
            good = [committer.submit([TransferSpec(f"g{i}", om, alice, 1)]) for i in range(3)]
            bad = committer.submit([TransferSpec("bad", om, alice, 1)], bad_hook)
            refused = committer.submit([TransferSpec("over", alice, om, 10**9)])
        assert all(t.result(timeout=60)[0].created for t in good)
        with pytest.raises(RuntimeError, match="hook failed"):
            bad.result(timeout=60)
        with pytest.raises(InsufficientFunds):  # a refusal stays a refusal
            refused.result(timeout=60)
        # one batch attempt, then each of the 5 requests alone
        assert len(attempts) == 1 + 5
    finally:
        committer.close()
    assert _count(lg, "SELECT count(*) FROM ledger_transfers WHERE transfer_id = 'bad'") == 0
    assert lg.balance(alice).credit_balance == 1_000 + 1 + 3


@pytest.mark.postgres
def test_isolation_retries_stop_at_the_first_lock_error(pg_locked) -> None:  # noqa: ANN001
    """A hook error makes the writer retry one by one; when another process takes a lock the
    retries need, the first locked attempt fails every remaining request fast (no wait each)."""
    lg, committer, attempts, blocker = pg_locked
    om, alice = _accounts(lg)
    bob = lg.client_account("bob", "USDC")
    calls: list[int] = []

    def lock_then_fail(_conn: Connection) -> None:
        calls.append(1)
        if len(calls) == 2:  # its own retry: another process locks the row the others credit
            blocker.execute("SELECT * FROM ledger_accounts WHERE id = %s FOR UPDATE", (bob,))
        raise RuntimeError("hook failed")

    with paused_writer(committer.submit, om, alice):
        attempts.clear()
        bad = committer.submit([TransferSpec("bad", om, alice, 1)], lock_then_fail)
        rest = [committer.submit([TransferSpec(f"r{i}", om, bob, 1)]) for i in range(6)]
    with pytest.raises(RuntimeError, match="hook failed"):
        bad.result(timeout=60)
    errors = [t.exception(timeout=60) for t in rest]
    assert all(isinstance(e, LedgerUnavailable) for e in errors), errors
    assert len(attempts) == 3  # the batch, "bad" alone, then the first locked attempt
    blocker.rollback()
    assert _count(lg, "SELECT count(*) FROM ledger_transfers WHERE transfer_id LIKE 'r%'") == 0


@pytest.mark.postgres
def test_locked_postgres_rows_fail_the_batch_after_one_attempt(pg_locked) -> None:  # noqa: ANN001
    lg, committer, attempts, blocker = pg_locked
    om, alice = _accounts(lg)
    with paused_writer(committer.submit, om, alice):
        blocker.execute("SELECT * FROM ledger_accounts WHERE id = %s FOR UPDATE", (om,))
        attempts.clear()
        tickets = [committer.submit([TransferSpec(f"t{i}", om, alice, 1)]) for i in range(5)]
    errors = [t.exception(timeout=60) for t in tickets]
    assert all(isinstance(e, LedgerUnavailable) for e in errors), errors
    assert "LockNotAvailable" in str(errors[0])
    assert len(attempts) == 1
    blocker.rollback()
    assert committer.submit([TransferSpec("t0", om, alice, 1)]).result(timeout=60)[0].created


def test_result_times_out_and_a_queued_request_is_withdrawn(sqlite_ledger) -> None:  # noqa: ANN001
    lg, _ = sqlite_ledger
    om, alice = _accounts(lg)
    committer = GroupCommitter(lg.engine, result_timeout=0.05)
    try:
        with paused_writer(committer.submit, om, alice):
            ticket = committer.submit([TransferSpec("late", om, alice, 5)])
            with pytest.raises(LedgerTimeout) as info:
                ticket.result()  # the committer's default timeout
            assert isinstance(info.value, TimeoutError) and isinstance(info.value, LedgerError)
            assert info.value.in_flight is False
            assert ticket.done()
        # the writer skips the withdrawn request: it never commits
        after = committer.submit([TransferSpec("after", om, alice, 1)])
        assert after.result(timeout=60)[0].created
        assert isinstance(ticket.exception(), LedgerTimeout)
    finally:
        committer.close()
    assert _count(lg, "SELECT count(*) FROM ledger_transfers WHERE transfer_id = 'late'") == 0
    assert lg.balance(alice).credit_balance == 1_000 + 1 + 1


def test_post_has_a_default_timeout(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from keeper.ledger import batcher

    monkeypatch.setattr(batcher, "DEFAULT_RESULT_TIMEOUT", 0.05)
    url = fresh_url(tmp_path / "ledger.db")
    upgrade(url)
    lg = Ledger(url)
    try:
        om, alice = lg.omnibus_account("USDC", "vault"), lg.client_account("alice", "USDC")
        with paused_writer(lg.submit, om, alice):
            with pytest.raises(LedgerTimeout, match="not committed"):
                lg.post(TransferSpec("p1", om, alice, 1))
            with pytest.raises(LedgerTimeout):
                lg.post_all([TransferSpec("p2", om, alice, 1), TransferSpec("p3", om, alice, 1)])
        # (explicit long waits below: the 50 ms default must not make a busy machine flaky)
        assert lg.submit(TransferSpec("p4", om, alice, 1)).result(timeout=60)[0].created
        assert lg.balance(alice).credit_balance == 1 + 1  # gate + p4: p1..p3 were withdrawn
    finally:
        lg.close()


def _busy_waits(engine: Engine) -> list[int]:
    """The SQLite busy timeout (ms) in force at every write transaction ``engine`` begins."""
    waits: list[int] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _stmt(conn: Connection, _cur: object, statement: str, *_a: object) -> None:
        if statement == "BEGIN IMMEDIATE":
            waits.append(conn.connection.driver_connection.execute("PRAGMA busy_timeout").fetchone()[0])
    return waits


@pytest.mark.sqlite_only(reason="SQLite's busy timeout")
@pytest.mark.parametrize("source", ["default", "caller"])
def test_direct_post_waits_the_writer_busy_timeout_not_a_minute(tmp_path, monkeypatch,  # noqa: ANN001
                                                                source: str) -> None:
    """Without group commit (e.g. the API's ledger) a post on a locked database also fails after
    one attempt of the writer's busy timeout, with LedgerUnavailable, nothing written. The wait is
    the caller's ``busy_timeout`` (what it read from Settings), else the module default."""
    from keeper.ledger import db

    path = str(tmp_path / "ledger.db")
    upgrade(f"sqlite:///{path}")
    if source == "default":
        monkeypatch.setattr(db, "WRITER_BUSY_TIMEOUT", 0.05)
        lg = Ledger(f"sqlite:///{path}", group_commit=False)
    else:
        lg = Ledger(f"sqlite:///{path}", group_commit=False, busy_timeout=0.04)
    try:
        om, alice = _accounts(lg)
        waits = _busy_waits(lg.engine)
        blocker = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            with pytest.raises(LedgerUnavailable, match="database is locked"):
                lg.post(TransferSpec("x", om, alice, 1))
            assert waits == [50 if source == "default" else 40]
        finally:
            blocker.close()
        assert lg.balance(alice).credit_balance == 1_000
        assert lg.post(TransferSpec("x", om, alice, 1)).created
    finally:
        lg.close()


@pytest.mark.sqlite_only(reason="SQLite's busy timeout")
def test_group_committed_ledger_takes_its_timeouts_from_the_caller(tmp_path) -> None:  # noqa: ANN001
    """``Ledger(busy_timeout=, result_timeout=)`` (what a caller reads from Settings) reach the
    group committer: its writes wait that long for a lock, its callers that long for a ticket."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(url)
    lg = Ledger(url, busy_timeout=0.25, result_timeout=0.05)
    try:
        om, alice = lg.omnibus_account("USDC", "vault"), lg.client_account("alice", "USDC")
        waits = _busy_waits(lg.engine)  # (opening accounts is not the committer's write)
        with paused_writer(lg.submit, om, alice):
            with pytest.raises(LedgerTimeout, match="within 0.05 s"):
                lg.post(TransferSpec("p1", om, alice, 1))
        assert waits and set(waits) == {250}
        assert lg.submit(TransferSpec("p2", om, alice, 1)).result(timeout=60)[0].created
    finally:
        lg.close()
