"""Ledger behaviour on SQLite and PostgreSQL (each test runs on both via ``ledger_url``)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text, update

from keeper.ledger import (
    AccountKind,
    AlreadyReversed,
    AssetMismatch,
    HoldExpired,
    HoldResolved,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidTransfer,
    Kind,
    Ledger,
    TransferSpec,
    make_engine,
)
from keeper.ledger.db import WRITE
from keeper.ledger.engine import Request, apply_requests
from keeper.ledger.migrate import VERSION_TABLE, include_name
from keeper.ledger.models import Account, Base

WEI = 10**18


def _setup(lg: Ledger, asset: str = "USDC"):
    return (
        lg.omnibus_account(asset, "vault"),
        lg.client_account("alice", asset),
        lg.client_account("bob", asset),
    )


def test_migration_matches_models(ledger_url: str) -> None:
    engine = make_engine(ledger_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE, "include_name": include_name}
        )
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    assert diff == []


def test_gl_codes_and_kinds(ledger: Ledger) -> None:
    ids = {
        AccountKind.CLIENT: ledger.client_account("7890", "USDC"),
        AccountKind.OMNIBUS: ledger.omnibus_account("USDC", "hot"),
        AccountKind.FEE: ledger.fee_account("USDC"),
        AccountKind.SUSPENSE: ledger.suspense_account("USDC"),
    }
    with ledger.engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT id, gl_code FROM ledger_accounts")).all())
    assert rows[ids[AccountKind.CLIENT]] == "1100-CUSTOMER-USDC-WALLET"
    assert rows[ids[AccountKind.OMNIBUS]] == "2100-USDC-OMNIBUS-WALLET"
    assert rows[ids[AccountKind.FEE]] == "4500-FEE-REVENUE"
    assert ledger.client_account("7890", "USDC") == ids[AccountKind.CLIENT]


def test_uint256_amounts_are_exact(ledger: Ledger) -> None:
    om, alice, _ = _setup(ledger, "ETH")
    big = 2**256 - 1
    ledger.post(TransferSpec("d1", om, alice, big))
    ledger.post(TransferSpec("w1", alice, om, 2**64 + 1))
    bal = ledger.balance(alice)
    assert bal.credits_posted == big and isinstance(bal.credits_posted, int)
    assert bal.credit_balance == big - 2**64 - 1
    assert ledger.verify_invariants() == []


def test_overdraft_refused_and_changes_nothing(ledger: Ledger) -> None:
    om, alice, bob = _setup(ledger)
    ledger.post(TransferSpec("dep", om, alice, 100))
    before = (ledger.balance(alice), ledger.balance(bob))
    with pytest.raises(InsufficientFunds, match="has 100 available, transfer needs 101"):
        ledger.post(TransferSpec("x", alice, bob, 101))
    assert (ledger.balance(alice), ledger.balance(bob)) == before
    with ledger.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM ledger_transfers")) == 1
    # the refused id was not consumed: a later valid transfer may use it
    assert ledger.post(TransferSpec("x", alice, bob, 100)).created


def test_idempotent_retry_returns_first_result(ledger: Ledger) -> None:
    om, alice, _ = _setup(ledger)
    first = ledger.post(TransferSpec("dep-1", om, alice, 500, reference="wire 1"))
    again = ledger.post(TransferSpec("dep-1", om, alice, 500, reference="wire 1"))
    assert first.created and not again.created
    assert (again.amount, again.created_at) == (first.amount, first.created_at)
    assert ledger.balance(alice).credits_posted == 500
    with pytest.raises(IdempotencyConflict):
        ledger.post(TransferSpec("dep-1", om, alice, 501, reference="wire 1"))
    # duplicates inside one batch: one posting
    res = ledger.post_all([TransferSpec("dep-2", om, alice, 7)] * 3)
    assert [r.created for r in res] == [True, False, False]
    assert ledger.balance(alice).credits_posted == 507


def test_atomic_group_all_or_nothing(ledger: Ledger) -> None:
    om, alice, bob = _setup(ledger)
    fee = ledger.fee_account("USDC")
    ledger.post(TransferSpec("dep", om, alice, 1000))
    with pytest.raises(InsufficientFunds):
        ledger.post_all([TransferSpec("s1", alice, bob, 900), TransferSpec("f1", alice, fee, 200)])
    assert ledger.balance(alice).credit_balance == 1000 and ledger.balance(bob).credits_posted == 0
    ledger.post_all([TransferSpec("s1", alice, bob, 900), TransferSpec("f1", alice, fee, 100)])
    assert ledger.balance(alice).credit_balance == 0
    with pytest.raises(AssetMismatch):
        ledger.post(TransferSpec("eth", ledger.omnibus_account("ETH", "vault"), bob, 1))


def test_two_phase_holds(ledger: Ledger) -> None:
    om, alice, _ = _setup(ledger)
    ledger.post(TransferSpec("dep", om, alice, 1000))
    ledger.post(TransferSpec("h1", alice, om, 600, Kind.PENDING))
    assert ledger.balance(alice).available == 400
    with pytest.raises(InsufficientFunds):
        ledger.post(TransferSpec("h2", alice, om, 401, Kind.PENDING))
    ledger.post(TransferSpec("p1", 0, 0, 250, Kind.POST, pending_id="h1"))  # partial post
    bal = ledger.balance(alice)
    assert (bal.debits_posted, bal.debits_pending, bal.available) == (250, 0, 750)
    with pytest.raises(HoldResolved):
        ledger.post(TransferSpec("v1", 0, 0, 0, Kind.VOID, pending_id="h1"))
    ledger.post(TransferSpec("h3", alice, om, 700, Kind.PENDING))
    ledger.post(TransferSpec("v3", 0, 0, 0, Kind.VOID, pending_id="h3"))
    assert ledger.balance(alice).available == 750
    assert ledger.verify_invariants() == []


def test_hold_expiry(ledger: Ledger) -> None:
    om, alice, _ = _setup(ledger)
    ledger.post(TransferSpec("dep", om, alice, 100))
    past = datetime.now(UTC) - timedelta(seconds=1)
    ledger.post(TransferSpec("h", alice, om, 60, Kind.PENDING, expires_at=past))
    ledger.post(TransferSpec("h-live", alice, om, 10, Kind.PENDING,
                             expires_at=datetime.now(UTC) + timedelta(hours=1)))
    with pytest.raises(HoldExpired):
        ledger.post(TransferSpec("p", 0, 0, 0, Kind.POST, pending_id="h"))
    assert ledger.balance(alice).available == 30
    assert ledger.expire_holds() == 1
    assert ledger.expire_holds() == 0
    assert ledger.balance(alice).available == 90
    assert ledger.verify_invariants() == []


def test_reversing_corrections(ledger: Ledger) -> None:
    om, alice, bob = _setup(ledger)
    ledger.post(TransferSpec("dep", om, alice, 100))
    ledger.post(TransferSpec("oops", alice, bob, 40))
    ledger.reverse("oops", "fix-oops")
    assert ledger.balance(alice).credit_balance == 100 and ledger.balance(bob).credit_balance == 0
    with pytest.raises(AlreadyReversed):
        ledger.reverse("oops", "fix-oops-2")
    with pytest.raises(InvalidTransfer):  # a reversal must mirror the original exactly
        ledger.post(TransferSpec("bad", om, alice, 99, reverses_id="dep"))
    ledger.post(TransferSpec("spend", alice, bob, 100))
    with pytest.raises(InsufficientFunds):  # corrections cannot push a client negative either
        ledger.reverse("dep", "fix-dep")
    assert ledger.verify_invariants() == []


def test_hook_runs_in_same_transaction(ledger: Ledger) -> None:
    om, alice, _ = _setup(ledger)

    def bad_hook(conn) -> None:  # noqa: ANN001
        conn.execute(text("INSERT INTO ledger_cursors (name, position, position_hash, generation, "
                          "updated_at) VALUES ('c', 1, '0x1', 0, '2026-01-01')"))
        raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        ledger.post_all([TransferSpec("dep", om, alice, 5)], hook=bad_hook)
    assert ledger.balance(alice).credits_posted == 0
    with ledger.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM ledger_cursors")) == 0


def test_concurrent_callers_share_group_commits(ledger: Ledger) -> None:
    om, *_ = _setup(ledger)
    clients = [ledger.client_account(f"c{i}", "USDC") for i in range(20)]
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            futs = [
                ledger.submit(TransferSpec(f"w{w}-{i}", om, clients[i % 20], i + 1))
                for i in range(300)
            ]
            for f in futs:
                f.result()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert ledger.balance(om).debits_posted == 8 * sum(range(1, 301))
    assert ledger._committer is not None and ledger._committer.batches < 8 * 300
    assert ledger.verify_invariants() == []


def test_verify_invariants_detects_tampering(ledger: Ledger) -> None:
    om, alice, _ = _setup(ledger)
    ledger.post(TransferSpec("dep", om, alice, 100))
    assert ledger.verify_invariants() == []
    with ledger.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        conn.execute(update(Account.__table__).where(Account.id == alice).values(credits_posted=99))
    problems = ledger.verify_invariants()
    assert any("sum of entries" in p for p in problems)
    assert any("posted debits 100 != posted credits 99" in p for p in problems)


def test_monthly_statement_running_balance(ledger: Ledger) -> None:
    om, alice, bob = _setup(ledger)
    plan = [
        (datetime(2026, 1, 20, tzinfo=UTC), TransferSpec("jan", om, alice, 1000)),
        (datetime(2026, 2, 1, tzinfo=UTC), TransferSpec("feb1", alice, bob, 300, reference="pay")),
        (datetime(2026, 2, 14, tzinfo=UTC), TransferSpec("feb2", om, alice, 50)),
        (datetime(2026, 3, 1, tzinfo=UTC), TransferSpec("mar", alice, om, 10)),
    ]
    for at, spec in plan:
        with ledger.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            req = Request([spec])
            apply_requests(conn, [req], now=at)
            assert req.error is None
    st = ledger.statement("alice", "USDC", 2026, 2)
    assert st.opening_balance == 1000
    assert [(ln.transfer_id, ln.amount, ln.balance) for ln in st.lines] == [
        ("feb1", -300, 700), ("feb2", 50, 750)]
    assert st.lines[0].reference == "pay"
    assert st.closing_balance == 750
    assert ledger.statement("alice", "USDC", 2026, 3).closing_balance == 740
    assert ledger.statement("alice", "USDC", 2025, 12).lines == []
