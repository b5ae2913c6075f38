"""Type 1 without a chain: exact ledger totals, the internal identity, BTC wallets' UTXO view."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from keeper.btc import REGTEST, LocalChain, MultisigDescriptor, MultisigWallet, ranged_key
from keeper.keys.hd import ExtendedPrivateKey
from keeper.ledger import TransferSpec, client_postings, ledger_totals
from keeper.ledger.models import Account
from keeper.prices import StaticPrices
from keeper.recon import Reconciler, SizeClass, Status, TransactionsHalted, ensure_open_for_business

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PRICES = StaticPrices({"ETH": 300_000, "BTC": 9_000_000}, NOW)  # $3,000 / $90,000
BIP48 = "m/48h/1h/0h/2h"


@pytest.fixture
def wallet() -> MultisigWallet:
    """A 2-of-3 watch-only P2WSH wallet over the project's local script-checking chain."""
    masters = [ExtendedPrivateKey.from_seed(hashlib.sha256(b"recon-%d" % i).digest())
               for i in range(3)]
    keys = tuple(ranged_key(m.fingerprint(), BIP48, m.derive(BIP48).public().serialize())
                 for m in masters)
    return MultisigWallet(MultisigDescriptor(2, keys, REGTEST), LocalChain())


def deposit(ledger, client: str, asset: str, location: str, amount: int, tid: str) -> None:
    """Credit ``client`` with ``amount`` held at omnibus ``location``."""
    ledger.post(TransferSpec(tid, ledger.omnibus_account(asset, location),
                             ledger.client_account(client, asset), amount))


def test_totals_are_exact_past_64_bits(ledger, engine) -> None:
    """Wide amounts (stored as text on SQLite) and a 64-bit SUM overflow are summed exactly."""
    big = 2**62 + 7
    for i in range(3):  # 3 * (2**62 + 7) overflows a signed 64-bit SUM on SQLite
        deposit(ledger, f"c{i}", "ETH", "vault:0x" + "11" * 20, big, f"d{i}")
    deposit(ledger, "whale", "ETH", "tier2:0x" + "22" * 20, 10**30, "w")  # > 2**64
    deposit(ledger, "c0", "USDC", "vault:0x" + "11" * 20, 5, "u")
    t = ledger_totals(engine)
    eth = t.assets["ETH"]
    assert eth.clients == 3 * big + 10**30 and eth.client_accounts == 4
    assert eth.omnibus == {"vault:0x" + "11" * 20: 3 * big, "tier2:0x" + "22" * 20: 10**30}
    assert eth.omnibus_total == eth.liabilities
    assert (t.assets["USDC"].clients, t.assets["USDC"].client_accounts) == (5, 1)


def test_client_postings_sign_and_scope(ledger, engine) -> None:
    deposit(ledger, "alice", "USDC", "vault:0x" + "11" * 20, 700, "t1")
    deposit(ledger, "bob", "USDC", "vault:0x" + "11" * 20, 900, "t2")
    ledger.post(TransferSpec("t3", ledger.client_account("alice", "USDC"),
                             ledger.fee_account("USDC"), 30))
    ledger.post(TransferSpec("t4", ledger.client_account("alice", "USDC"),
                             ledger.client_account("bob", "USDC"), 200))
    got = client_postings(engine, ["t1", "t2", "t3", "t4", "nope", "t1"])
    assert got == {"t1": [("alice", "USDC", 700)], "t2": [("bob", "USDC", 900)],
                   "t3": [("alice", "USDC", -30)],
                   "t4": [("bob", "USDC", 200), ("alice", "USDC", -200)]}
    assert client_postings(engine, []) == {}


def test_a_corrupted_client_total_breaks_the_identity(ledger, engine, book) -> None:
    deposit(ledger, "alice", "USDC", "vault:0x" + "11" * 20, 1_000 * 10**6, "t1")
    rec = Reconciler(engine, book, PRICES)
    clean = rec.run_type1(None, run_key="before", now=NOW)
    # no reader: the EVM location cannot be read, which alone is a (critical) finding
    assert [b.kind for b in book.breaks(clean.id)] == ["unverifiable"]
    assert book.breaks(clean.id)[0].size_class is SizeClass.CRITICAL
    acc = ledger.client_account("alice", "USDC")
    with engine.begin() as conn:  # someone edits a stored total behind the ledger's back
        conn.execute(update(Account).where(Account.id == acc).values(credits_posted=1_250 * 10**6))
    run = rec.run_type1(None, run_key="after", now=NOW)
    ident = [b for b in book.breaks(run.id) if b.kind == "identity"]
    assert len(ident) == 1
    assert (ident[0].difference, ident[0].usd_cents) == (-250 * 10**6, -25_000)
    assert ident[0].size_class is SizeClass.INVESTIGATE


def test_btc_wallet_utxos_against_the_ledger(ledger, engine, book, wallet, resolver) -> None:
    chain = wallet.source
    chain.fund(bytes(wallet.descriptor.script_pubkey(0, 0)), 150_000_000)
    chain.fund(bytes(wallet.descriptor.script_pubkey(1, 3)), 50_000_000)
    deposit(ledger, "alice", "BTC", "btc:warm", 200_000_000, "b1")
    rec = Reconciler(engine, book, PRICES)
    run = rec.run_type1(None, run_key="btc-1", btc_wallets={"warm": wallet}, now=NOW)
    assert run.status == "PASS", book.breaks(run.id)
    assert run.figures["exact"]["BTC"]["locations"]["btc:warm"]["chain"] == "200000000"
    chain.fund(bytes(wallet.descriptor.script_pubkey(0, 1)), 20_000_000)  # 0.2 BTC = $18,000
    run = rec.run_type1(None, run_key="btc-2", btc_wallets={"warm": wallet}, now=NOW)
    (brk,) = book.breaks(run.id)
    assert (brk.kind, brk.subject, brk.difference) == ("omnibus", "BTC btc:warm", -20_000_000)
    assert (brk.usd_cents, brk.size_class) == (-1_800_000, SizeClass.CRITICAL)
    with pytest.raises(TransactionsHalted):
        ensure_open_for_business(engine)
    book.resolve(brk.id, resolver, "unattributed BTC deposit: to suspense, ticket 7")
    ensure_open_for_business(engine)


def test_an_unknown_wallet_or_location_is_critical_not_ignored(ledger, engine, book) -> None:
    deposit(ledger, "alice", "BTC", "btc:ghost", 1, "b1")
    deposit(ledger, "alice", "ETH", "somewhere", 10**15, "e1")
    run = Reconciler(engine, book, PRICES).run_type1(None, run_key="r", now=NOW)
    got = {(b.kind, b.subject, b.size_class, b.status) for b in book.breaks(run.id)}
    assert got == {("unverifiable", "BTC btc:ghost", SizeClass.CRITICAL, Status.OPEN),
                   ("unverifiable", "ETH somewhere", SizeClass.CRITICAL, Status.OPEN)}


def test_a_difference_without_a_fresh_price_is_critical(ledger, engine, book, wallet) -> None:
    deposit(ledger, "alice", "BTC", "btc:warm", 1, "b1")  # one satoshi, but unpriced
    stale = datetime(2026, 11, 24, tzinfo=UTC)
    run = Reconciler(engine, book, PRICES).run_type1(None, run_key="r", now=stale,
                                                     btc_wallets={"warm": wallet})
    (brk,) = book.breaks(run.id)
    assert (brk.usd_cents, brk.size_class) == (None, SizeClass.CRITICAL)
    assert "not valued" in brk.detail
