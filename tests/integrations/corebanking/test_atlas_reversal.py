"""Reversing a buy's debit (``POST /atlas/debits/{posting_id}/reverse``) against the real ATLAS
process: the customer gets the debit and the fee back exactly, fee income and settlement lose
them, once per debit whatever the key; an unknown posting or a non-debit is refused; type 2 sees
the trade and its reversal net to nothing."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import httpx
import pytest

from keeper.integrations.corebanking import CoreBankingRejectedError
from scripts.services.atlas.store import FEE_INCOME, SETTLEMENT

USDC_UNIT = 10**6


def key() -> str:
    return str(uuid.uuid4())


def account_balance(db: Path, account: str) -> int:
    """``account``'s running balance (+ debit / - credit) read straight from ATLAS's file."""
    con = sqlite3.connect(db)
    try:
        row = con.execute("SELECT amount FROM atlas_balances WHERE account = ? AND currency = 'USD'",
                          (account,)).fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


def buy(client, cid: str, amount: int, fee: int, units: int, tid: str):
    return client.debit_for_buy(key(), cid, amount, fee_cents=fee, reference="buy", asset="USDC",
                                asset_units=units, ledger_transfer_id=tid)


def test_a_reversal_returns_debit_and_fee_exactly_once(client, funded, atlas, postings) -> None:
    cid = funded("REFUND", 200_000_00)
    debit = buy(client, cid, 100_000_00, 250_00, 100_000 * USDC_UNIT, "trade:r1")
    fee_before = account_balance(atlas.db, FEE_INCOME)
    settle_before = account_balance(atlas.db, SETTLEMENT)
    k, before = key(), postings()
    rev = client.reverse_debit(k, debit.posting_id, reference="refund ord-1")
    assert (rev.kind, rev.customer_id, rev.amount_cents, rev.fee_cents) == (
        "buy_reversal", cid, 100_000_00, 250_00)
    assert rev.balance_cents == 200_000_00 and client.customer(cid).balance_cents == 200_000_00
    assert account_balance(atlas.db, FEE_INCOME) == fee_before + 250_00  # the fee income is gone
    assert account_balance(atlas.db, SETTLEMENT) == settle_before + 100_000_00
    assert client.reverse_debit(k, debit.posting_id, reference="refund ord-1") == rev  # replay
    assert postings() == before + 1
    with pytest.raises(CoreBankingRejectedError) as exc:  # another key: already reversed
        client.reverse_debit(key(), debit.posting_id, reference="refund ord-1")
    assert (exc.value.status, exc.value.code) == (409, "already_reversed")
    with pytest.raises(CoreBankingRejectedError) as exc:  # the key spent on another request
        client.reverse_debit(k, debit.posting_id, reference="something else")
    assert exc.value.code == "idempotency_conflict"
    assert postings() == before + 1 and client.customer(cid).balance_cents == 200_000_00


def test_history_nets_the_trade_and_its_reversal(client, funded) -> None:
    cid = funded("NET", 5_000_00)
    debit = buy(client, cid, 1_000_00, 2_50, 1_000 * USDC_UNIT, "trade:r2")
    client.reverse_debit(key(), debit.posting_id, reference="refund")
    hist = client.history(cid)
    assert [e.kind for e in hist] == ["wire_in", "buy", "buy_reversal"]
    assert hist[-1].amount_cents == 1_002_50 and hist[-1].asset == "USDC"
    assert (hist[-1].asset_units, hist[-1].ledger_transfer_id) == (-1_000 * USDC_UNIT, "trade:r2")
    assert sum(e.amount_cents for e in hist) == 5_000_00


def test_unknown_and_non_debit_postings_are_refused(client, ops, funded, postings) -> None:
    cid = funded("NOTBUY", 1_000_00)
    sell = client.credit_for_sell(key(), cid, 500_00, fee_cents=1_25, reference="sell",
                                  asset="USDC", asset_units=500 * USDC_UNIT,
                                  ledger_transfer_id="trade:s1")
    wire = ops.wire_in(key(), cid, 10_00, "wire")
    before = postings()
    for pid in (sell.posting_id, wire.posting_id, "999999999"):
        with pytest.raises(CoreBankingRejectedError) as exc:
            client.reverse_debit(key(), pid, reference="refund")
        assert (exc.value.status, exc.value.code) == (404, "unknown_debit")
    assert postings() == before


@pytest.mark.parametrize("pid", ["0", "-1", "1e3", "x" * 30, "1" * 25])
def test_malformed_posting_ids_are_refused(client, atlas, pid, postings) -> None:
    before = postings()
    r = httpx.post(f"{atlas.url}/atlas/debits/{pid}/reverse", json={"reference": "r"},
                   headers={"Authorization": f"Bearer {atlas.api_key}", "Idempotency-Key": key()})
    assert r.status_code == 422, r.text
    assert postings() == before


def test_a_reversal_needs_the_platform_key_and_an_idempotency_key(client, funded, atlas) -> None:
    cid = funded("AUTH", 1_000_00)
    debit = buy(client, cid, 100_00, 0, 100 * USDC_UNIT, "trade:r3")
    url = f"{atlas.url}/atlas/debits/{debit.posting_id}/reverse"
    assert httpx.post(url, json={"reference": "r"}, headers={
        "Authorization": f"Bearer {atlas.ops_key}", "Idempotency-Key": key()}).status_code == 401
    assert httpx.post(url, json={"reference": "r"}, headers={
        "Authorization": f"Bearer {atlas.api_key}"}).status_code == 422
    assert client.customer(cid).balance_cents == 900_00
