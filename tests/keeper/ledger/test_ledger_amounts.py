"""Amounts are uint256: anything above 2**256-1 (not representable on chain) is refused everywhere,
with an ``InvalidTransfer`` and nothing written; 2**256-1 itself is stored exactly.

Runs on SQLite and PostgreSQL (``ledger`` fixture).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, text, update
from sqlalchemy.exc import StatementError

from keeper.ledger import InvalidTransfer, Kind, Ledger, TransferSpec, upgrade
from keeper.ledger.db import WRITE
from keeper.ledger.models import Account, Transfer

MAX = 2**256 - 1
TOO_BIG = "above 2\\*\\*256-1"


def _transfers(lg: Ledger) -> int:
    with lg.engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM ledger_transfers"))


def _state(lg: Ledger, *accounts: int) -> tuple:
    return _transfers(lg), tuple(lg.balance(a) for a in accounts)


def test_transfer_amounts_above_uint256_are_refused(ledger: Ledger) -> None:
    om, alice, bob = (ledger.omnibus_account("ETH", "v"), ledger.client_account("alice", "ETH"),
                      ledger.client_account("bob", "ETH"))
    ledger.post(TransferSpec("dep", om, alice, 10))
    ledger.post(TransferSpec("hold", alice, om, 5, Kind.PENDING))
    before = _state(ledger, om, alice, bob)
    refused = [
        TransferSpec("big", om, alice, MAX + 1),
        TransferSpec("huge", om, alice, 2**512),
        TransferSpec("big-hold", om, bob, MAX + 1, Kind.PENDING),
        TransferSpec("big-post", 0, 0, MAX + 1, Kind.POST, pending_id="hold"),
        TransferSpec("big-rev", alice, om, MAX + 1, reverses_id="dep"),
    ]
    for spec in refused:
        with pytest.raises(InvalidTransfer, match=TOO_BIG):
            ledger.post(spec)
    with pytest.raises(InvalidTransfer, match=TOO_BIG):  # one bad leg refuses the whole request
        ledger.post_all([TransferSpec("ok", om, bob, 1), TransferSpec("big2", om, bob, MAX + 1)])
    assert _state(ledger, om, alice, bob) == before
    assert ledger.verify_invariants() == []


def test_account_totals_cannot_pass_uint256(ledger: Ledger) -> None:
    om, alice, bob = (ledger.omnibus_account("ETH", "v"), ledger.client_account("alice", "ETH"),
                      ledger.client_account("bob", "ETH"))
    sus = ledger.suspense_account("ETH")
    ledger.post(TransferSpec("max", om, alice, MAX))  # om debits and alice credits now at MAX
    ledger.post(TransferSpec("hold", alice, om, MAX, Kind.PENDING))  # om pending credits at MAX
    before = _state(ledger, om, alice, bob, sus)
    for spec in (TransferSpec("one-more", om, bob, 1),  # om's posted debits would pass MAX
                 TransferSpec("hold-more", sus, om, 1, Kind.PENDING)):  # om's pending credits
        with pytest.raises(InvalidTransfer, match=TOO_BIG):
            ledger.post(spec)
    assert _state(ledger, om, alice, bob, sus) == before
    ledger.post(TransferSpec("settle", 0, 0, 0, Kind.POST, pending_id="hold"))
    assert ledger.balance(om).credits_posted == MAX and ledger.balance(alice).available == 0
    assert ledger.verify_invariants() == []


def test_uint256_max_is_stored_exactly(ledger: Ledger) -> None:
    om, alice = ledger.omnibus_account("ETH", "v"), ledger.client_account("alice", "ETH")
    ledger.post(TransferSpec("max", om, alice, MAX))
    with ledger.engine.connect() as conn:
        if conn.dialect.name == "sqlite":  # wider than 64 bits: decimal text, never a REAL
            assert conn.execute(text("SELECT typeof(amount), amount FROM ledger_transfers")).one() \
                == ("text", str(MAX))
        else:
            assert conn.execute(text(
                "SELECT numeric_precision, numeric_scale FROM information_schema.columns "
                "WHERE table_name = 'ledger_transfers' AND column_name = 'amount'")).one() == (78, 0)
            assert conn.scalar(text("SELECT amount::text FROM ledger_transfers")) == str(MAX)
    assert ledger.balance(alice).credits_posted == MAX


def test_amount_column_refuses_values_outside_uint256(ledger: Ledger) -> None:
    """The column type itself refuses, for any write that does not go through the engine."""
    om = ledger.omnibus_account("ETH", "v")
    before = _state(ledger, om)
    row = {"transfer_id": "raw", "kind": "single", "debit_account_id": om,
           "credit_account_id": om, "asset": "ETH", "fingerprint": "x",
           "created_at": datetime.now(UTC)}
    for bad in (MAX + 1, -1):
        with pytest.raises(StatementError) as info:
            with ledger.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                conn.execute(update(Account.__table__).where(Account.id == om)
                             .values(credits_posted=bad))
        assert isinstance(info.value.orig, InvalidTransfer)
        with pytest.raises(StatementError) as info:
            with ledger.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                conn.execute(insert(Transfer.__table__).values(amount=bad, **row))
        assert isinstance(info.value.orig, InvalidTransfer)
    assert _state(ledger, om) == before


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=st.integers(MAX - 2**64, MAX + 2**64))
def test_amounts_near_the_bound(ledger: Ledger, amount: int) -> None:
    om, alice = ledger.omnibus_account("ETH", f"v{amount}"), ledger.client_account(f"a{amount}", "ETH")
    ticket = ledger.submit(TransferSpec(f"t{amount}", om, alice, amount))
    if amount <= MAX:
        assert ticket.result()[0].created and ledger.balance(alice).credits_posted == amount
    else:
        assert isinstance(ticket.exception(), InvalidTransfer)
        assert ledger.balance(alice).credits_posted == 0


@pytest.mark.sqlite_only(reason="SQLite's dynamic typing (a REAL in an amount column)")
def test_a_float_in_an_amount_column_is_refused_on_every_read_path(tmp_path) -> None:  # noqa: ANN001
    """One SQLite amount codec: a REAL (a value that lost digits) is never read back as money,
    neither by the column type (balances, statements) nor by the group commit's bulk reads."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(url)
    lg = Ledger(url)
    try:
        om, alice, bob = (lg.omnibus_account("ETH", "v"), lg.client_account("alice", "ETH"),
                          lg.client_account("bob", "ETH"))
        lg.post(TransferSpec("dep", om, alice, 10**20))
        with lg.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            conn.execute(text("UPDATE ledger_accounts SET credits_posted = 1e20 WHERE id = :i"),
                         {"i": alice})
            assert conn.scalar(text("SELECT typeof(credits_posted) FROM ledger_accounts "
                                    "WHERE id = :i"), {"i": alice}) == "real"
        with pytest.raises(TypeError, match="unexpected stored amount"):
            lg.balance(alice)
        with pytest.raises(TypeError, match="unexpected stored amount"):
            lg.post(TransferSpec("spend", alice, bob, 1))
        assert _transfers(lg) == 1
    finally:
        lg.close()
