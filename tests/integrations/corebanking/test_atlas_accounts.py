"""Customers, wires, buy debits, sell credits, issuer reserves and the reads reconciliation
uses -- all through the clients against the real ATLAS process."""

from __future__ import annotations

import uuid

import pytest

from keeper.integrations.corebanking import (
    CoreBankingRejectedError,
    InsufficientFundsError,
)
from keeper.recon import FiatEntry

USDC_UNIT = 10**6


def key() -> str:
    return str(uuid.uuid4())


def test_customer_opening_is_idempotent_and_a_taken_id_is_refused(ops, client) -> None:
    cid = f"CUST-{uuid.uuid4().hex[:8]}"
    first = ops.create_customer(cid, "Acme Ltd")
    assert (first.customer_id, first.balance_cents) == (cid, 0)
    assert ops.create_customer(cid, "Acme Ltd") == first
    with pytest.raises(CoreBankingRejectedError) as exc:
        ops.create_customer(cid, "Someone Else")
    assert (exc.value.status, exc.value.code) == (409, "customer_exists")
    assert client.customer(cid) == first


def test_a_wire_credits_the_customer_once_per_key(ops, client, funded, postings) -> None:
    cid = funded("CUST")
    k, before = key(), postings()
    p1 = ops.wire_in(k, cid, 123_456_78, "wire 1")
    p2 = ops.wire_in(k, cid, 123_456_78, "wire 1")
    assert p1 == p2 and p1.balance_cents == 123_456_78 and p1.kind == "wire_in"
    assert postings() == before + 1
    assert client.customer(cid).balance_cents == 123_456_78
    with pytest.raises(CoreBankingRejectedError) as exc:  # same key, another wire
        ops.wire_in(k, cid, 1, "wire 1")
    assert exc.value.code == "idempotency_conflict"
    assert postings() == before + 1


def test_buy_debit_is_idempotent_on_its_key(client, funded, postings) -> None:
    cid = funded("BUYER", 100_000_00)
    k, before = key(), postings()
    args = dict(fee_cents=250, reference="USDC Buy Order 789", asset="USDC",
                asset_units=999_75 * USDC_UNIT // 100, ledger_transfer_id="lt-" + k[:8])
    first = client.debit_for_buy(k, cid, 99_975_00 - 250, **args)
    again = client.debit_for_buy(k, cid, 99_975_00 - 250, **args)
    assert first == again
    assert first.balance_cents == 100_000_00 - 99_975_00
    assert postings() == before + 1
    assert client.fiat_balances()[cid] == 100_000_00 - 99_975_00
    with pytest.raises(CoreBankingRejectedError) as exc:
        client.debit_for_buy(k, cid, 1, **args)
    assert exc.value.status == 409
    assert postings() == before + 1


def test_insufficient_funds_is_refused_and_changes_nothing(client, funded, postings) -> None:
    cid = funded("POOR", 500_00)
    before = postings()
    with pytest.raises(InsufficientFundsError) as exc:
        client.debit_for_buy(key(), cid, 500_00, fee_cents=1, reference="too much", asset="USDC",
                             asset_units=500 * USDC_UNIT, ledger_transfer_id="lt-poor")
    assert exc.value.status == 422 and exc.value.code == "insufficient_funds"
    assert postings() == before
    assert client.customer(cid).balance_cents == 500_00
    exact = client.debit_for_buy(key(), cid, 499_99, fee_cents=1, reference="exactly", asset="USDC",
                                 asset_units=1, ledger_transfer_id="lt-exact")
    assert exact.balance_cents == 0


def test_sell_credits_proceeds_less_fee(client, funded, postings) -> None:
    cid = funded("SELLER")
    before = postings()
    p = client.credit_for_sell(key(), cid, 10_000_00, fee_cents=25_00, reference="sell 1",
                               asset="USDT", asset_units=10_000 * USDC_UNIT, ledger_transfer_id="lt-s1")
    assert (p.kind, p.amount_cents, p.fee_cents, p.balance_cents) == ("sell", 10_000_00, 25_00, 9_975_00)
    assert postings() == before + 1
    with pytest.raises(CoreBankingRejectedError):  # a fee above the proceeds
        client.credit_for_sell(key(), cid, 10, fee_cents=11, reference="bad", asset="USDT",
                               asset_units=1, ledger_transfer_id="lt-s2")
    assert postings() == before + 1


def test_history_explains_the_balance_and_carries_crypto_legs(client, ops, funded) -> None:
    cid = funded("HIST", 50_000_00)
    client.debit_for_buy(key(), cid, 20_000_00, fee_cents=50_00, reference="b", asset="USDC",
                         asset_units=20_000 * USDC_UNIT, ledger_transfer_id="lt-hist-buy")
    client.credit_for_sell(key(), cid, 5_000_00, fee_cents=0, reference="s", asset="USDC",
                           asset_units=5_000 * USDC_UNIT, ledger_transfer_id="lt-hist-sell")
    hist = client.history(cid)
    assert all(isinstance(e, FiatEntry) for e in hist)
    assert [e.kind for e in hist] == ["wire_in", "buy", "sell"]
    assert [e.amount_cents for e in hist] == [50_000_00, -20_050_00, 5_000_00]
    assert sum(e.amount_cents for e in hist) == client.fiat_balances()[cid]
    buy, sell = hist[1], hist[2]
    assert (buy.asset, buy.asset_units, buy.ledger_transfer_id) == ("USDC", 20_000 * USDC_UNIT,
                                                                      "lt-hist-buy")
    assert (sell.asset_units, sell.ledger_transfer_id) == (-5_000 * USDC_UNIT, "lt-hist-sell")
    assert hist[0].asset is None and hist[0].asset_units == 0


def test_every_customer_balance_equals_its_history(client) -> None:
    balances = client.fiat_balances()
    assert balances
    for cid, bal in balances.items():
        assert type(bal) is int
        assert sum(e.amount_cents for e in client.history(cid)) == bal


def test_issuer_reserves_fund_and_release(client, funded, postings) -> None:
    cid = funded("RES", 2_000_00)
    client.debit_for_buy(key(), cid, 2_000_00, fee_cents=0, reference="b", asset="USDC",
                         asset_units=2_000 * USDC_UNIT, ledger_transfer_id="lt-res")
    start = client.issuer_reserves("USDC")
    k = key()
    assert client.fund_reserves(k, "USDC", 2_000_00, "wire to issuer").balance_cents == start + 2_000_00
    client.fund_reserves(k, "USDC", 2_000_00, "wire to issuer")  # replay
    assert client.issuer_reserves("USDC") == start + 2_000_00
    before = postings()
    with pytest.raises(InsufficientFundsError):
        client.release_reserves(key(), "USDC", start + 2_000_00 + 1, "more than held")
    assert postings() == before
    client.release_reserves(key(), "USDC", 1_000_00, "redemption")
    assert client.issuer_reserves("USDC") == start + 1_000_00
    assert client.issuer_reserves("USDT") >= 0


def test_unknown_customer_is_a_404(client) -> None:
    with pytest.raises(CoreBankingRejectedError) as exc:
        client.customer("NOPE-" + uuid.uuid4().hex[:6])
    assert (exc.value.status, exc.value.code) == (404, "unknown_customer")
    with pytest.raises(CoreBankingRejectedError):
        client.debit_for_buy(key(), "NOPE-x", 1, reference="r", asset="USDC", asset_units=1,
                             ledger_transfer_id="lt")


def test_a_key_spent_on_one_movement_cannot_start_another(client, ops, funded, postings) -> None:
    """An idempotency key names one money movement whatever the endpoint: reused for a sell
    after a buy (a caller's bug) it is refused, not taken as a new credit."""
    cid = funded("ONEKEY", 1_000_00)
    k = key()
    client.debit_for_buy(k, cid, 100_00, reference="b", asset="USDC", asset_units=1,
                         ledger_transfer_id="lt-onekey")
    before = postings()
    with pytest.raises(CoreBankingRejectedError) as exc:
        client.credit_for_sell(k, cid, 100_00, reference="b", asset="USDC", asset_units=1,
                               ledger_transfer_id="lt-onekey")
    assert exc.value.code == "idempotency_conflict"
    with pytest.raises(CoreBankingRejectedError):
        client.fund_reserves(k, "USDC", 100_00, "b")
    with pytest.raises(CoreBankingRejectedError):
        ops.wire_in(k, cid, 100_00, "b")
    assert postings() == before
    assert client.customer(cid).balance_cents == 900_00
