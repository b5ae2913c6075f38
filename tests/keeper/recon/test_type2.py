"""Type 2: each customer's fiat balance explained by its history, its trades posted in the
sub-ledger (against the in-memory core-banking test fixture)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keeper import clients
from keeper.ledger import TransferSpec
from keeper.prices import StaticPrices
from keeper.recon import Reconciler, SizeClass, Status

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
USDC = 10**6


@pytest.fixture
def rec(engine, book) -> Reconciler:
    return Reconciler(engine, book, StaticPrices({"ETH": 300_000}, NOW))


def buy(ledger, corebank, customer: str, entry: str, usd: int, units: int, post: int | None,
        asset: str = "USDC") -> None:
    """A buy by core-banking customer ``customer``: fiat out of its account, ``units`` in; the
    ledger posts ``post`` on the account of the client whose profile holds that customer id."""
    tid = f"trade:{entry}"
    corebank.add(customer, entry, "buy", -usd * 100, asset, units, tid)
    if post is not None:
        profile = clients.client_for_bank_customer(ledger.engine, customer)
        ledger.post(TransferSpec(tid, ledger.omnibus_account(asset, "vault:0x" + "11" * 20),
                                 ledger.client_account(profile.client_id, asset), post))


def test_histories_that_explain_everything_pass(ledger, corebank, rec, book, onboard) -> None:
    """The spec's example: deposited $500K, bought $300K USDC -> $200K fiat + 300K USDC. The
    core-banking customer id (7890) is not the client's id: matched through its profile."""
    client_id = onboard("7890")
    assert client_id != "7890"
    corebank.add("7890", "dep-1", "deposit", 500_000_00)
    buy(ledger, corebank, "7890", "ord-12345", 300_000, 300_000 * USDC, 300_000 * USDC)
    corebank.add("42", "dep-2", "deposit", 10_00)
    run = rec.run_type2(corebank, run_key="t2")
    assert corebank.fiat_balances()["7890"] == 200_000_00
    assert run.status == "PASS" and run.figures["exact"] == {"customers": "2", "legs_matched": "1"}


def test_every_unexplained_difference_is_a_break_of_its_size(ledger, corebank, rec, book,
                                                             engine, onboard) -> None:
    for customer in "abcd":
        onboard(customer)
    corebank.add("a", "dep", "deposit", 1_000_00)
    corebank.overrides["a"] = 1_000_50  # 50 cents nobody can explain: auto-resolved
    corebank.add("b", "dep", "deposit", 50_000_00)
    buy(ledger, corebank, "b", "o1", 20_000, 20_000 * USDC, None)  # the leg never posted
    corebank.add("c", "dep", "deposit", 9_000_00)
    buy(ledger, corebank, "c", "o2", 5_000, 5_000 * USDC, 4_900 * USDC)  # posted $100 short
    corebank.add("d", "dep", "deposit", 10**6)
    buy(ledger, corebank, "d", "o3", 3_000, 10**18, 10**18, asset="ETH")  # matches
    run = rec.run_type2(corebank, run_key="t2")
    got = {b.subject: b for b in book.breaks(run.id)}
    assert set(got) == {"a", "b o1", "c o2"}
    assert (got["a"].kind, got["a"].difference, got["a"].size_class, got["a"].status) == (
        "fiat", 50, SizeClass.AUTO, Status.AUTO_RESOLVED)
    assert (got["b o1"].difference, got["b o1"].usd_cents, got["b o1"].size_class) == (
        -20_000 * USDC, -2_000_000, SizeClass.CRITICAL)
    assert (got["c o2"].difference, got["c o2"].size_class) == (-100 * USDC,
                                                                 SizeClass.INVESTIGATE)
    assert "trade:o1" in got["b o1"].detail
    assert run.figures["exact"]["legs_matched"] == "1"


def test_a_leg_posted_on_another_customer_does_not_count(ledger, corebank, rec, book,
                                                         onboard) -> None:
    onboard("a")
    corebank.add("a", "dep", "deposit", 1_000_00)
    corebank.add("a", "o1", "buy", -500_00, "USDC", 500 * USDC, "trade:o1")
    ledger.post(TransferSpec("trade:o1", ledger.omnibus_account("USDC", "vault:0x" + "11" * 20),
                             ledger.client_account("mallory", "USDC"), 500 * USDC))
    run = rec.run_type2(corebank, run_key="t2")
    (brk,) = book.breaks(run.id)
    assert (brk.subject, brk.difference, brk.size_class) == ("a o1", -500 * USDC,
                                                             SizeClass.INVESTIGATE)


def test_a_ledger_client_named_like_the_bank_customer_is_not_its_account(
        ledger, corebank, rec, book, onboard) -> None:
    """Core-banking customer ``c-1`` is client X's bank account; a ledger client whose *id*
    is ``c-1`` is somebody else: a leg posted there is a break, and X's posting matches."""
    onboard("c-1")
    other = onboard("c-2")
    corebank.add("c-1", "dep", "deposit", 2_000_00)
    corebank.add("c-1", "o1", "buy", -500_00, "USDC", 500 * USDC, "trade:o1")
    ledger.post(TransferSpec("trade:o1", ledger.omnibus_account("USDC", "vault:0x" + "11" * 20),
                             ledger.client_account("c-1", "USDC"), 500 * USDC))
    corebank.add("c-2", "dep", "deposit", 2_000_00)
    corebank.add("c-2", "o2", "buy", -700_00, "USDC", 700 * USDC, "trade:o2")
    ledger.post(TransferSpec("trade:o2", ledger.omnibus_account("USDC", "vault:0x" + "11" * 20),
                             ledger.client_account(other, "USDC"), 700 * USDC))
    run = rec.run_type2(corebank, run_key="t2")
    (brk,) = book.breaks(run.id)
    assert (brk.subject, brk.difference) == ("c-1 o1", -500 * USDC)
    assert run.figures["exact"]["legs_matched"] == "1"


def test_a_trade_of_a_customer_no_client_holds_is_a_break(ledger, corebank, rec, book) -> None:
    """A trade leg for a core-banking customer that no client profile names cannot have been
    posted for it: a break that says so."""
    corebank.add("stray", "dep", "deposit", 1_000_00)
    corebank.add("stray", "o9", "buy", -100_00, "USDC", 100 * USDC, "trade:o9")
    run = rec.run_type2(corebank, run_key="t2")
    (brk,) = book.breaks(run.id)
    assert (brk.subject, brk.difference) == ("stray o9", -100 * USDC)
    assert "no client" in brk.detail


def test_a_reversed_trade_nets_to_nothing(ledger, corebank, rec, book, onboard) -> None:
    """A refunded buy: core banking reversed the debit (the leg negated, same ledger transfer
    id) and the sub-ledger never delivered: nothing to explain. A reversal of a delivered buy
    leaves the delivery unexplained: a break of the delivered amount."""
    onboard("r")
    corebank.add("r", "dep", "deposit", 5_000_00)
    corebank.add("r", "o1", "buy", -1_002_50, "USDC", 1_000 * USDC, "trade:o1")
    corebank.add("r", "o1-rev", "buy_reversal", 1_002_50, "USDC", -1_000 * USDC, "trade:o1")
    run = rec.run_type2(corebank, run_key="t2")
    assert run.status == "PASS" and book.breaks(run.id) == []
    assert run.figures["exact"]["legs_matched"] == "1"
    buy(ledger, corebank, "r", "o2", 300, 300 * USDC, 300 * USDC)
    corebank.add("r", "o2-rev", "buy_reversal", 300_00, "USDC", -300 * USDC, "trade:o2")
    run = rec.run_type2(corebank, run_key="t2b")
    (brk,) = book.breaks(run.id)
    assert (brk.subject, brk.difference) == ("r o2", 300 * USDC)
    assert "o2-rev" in brk.detail


@pytest.mark.parametrize("bad", [1.5, "100", None])
def test_a_non_integer_fiat_amount_is_refused_and_nothing_recorded(corebank, rec, book,
                                                                    bad) -> None:
    corebank.add("a", "dep", "deposit", 100)
    corebank.overrides["a"] = bad
    with pytest.raises(ValueError, match="not int cents"):
        rec.run_type2(corebank, run_key="t2")
    assert book.breaks() == []
