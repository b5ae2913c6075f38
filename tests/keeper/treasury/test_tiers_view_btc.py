"""The tier view over the BTC hot/warm/cold P2WSH wallets (the project's script-checking local
chain, no EVM): holdings with the policy's minimums, shares and drift in bps, values in cents, and
the sub-ledger cross-check naming the wallet that disagrees."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from keeper.btc import REGTEST, LocalChain, MultisigDescriptor, MultisigWallet, ranged_key
from keeper.keys.hd import ExtendedPrivateKey
from keeper.ledger import Ledger, TransferSpec, make_engine
from keeper.prices import StaticPrices
from keeper.treasury.moves import Holding
from keeper.treasury.tiers import BtcLocation, Mismatch, load_policy, tier_view

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PRICES = StaticPrices({"ETH": 300_000, "BTC": 9_000_000}, NOW)
BIP48 = "m/48h/1h/0h/2h"
SAT = 10**8


def _wallet(tag: str, chain: LocalChain) -> MultisigWallet:
    masters = [ExtendedPrivateKey.from_seed(hashlib.sha256(f"{tag}-{i}".encode()).digest())
               for i in range(3)]
    keys = tuple(ranged_key(m.fingerprint(), BIP48, m.derive(BIP48).public().serialize())
                 for m in masters)
    return MultisigWallet(MultisigDescriptor(2, keys, REGTEST), chain)


@pytest.fixture
def ledger(database: Callable[[str], str]) -> Iterator[Ledger]:
    url = database("tiers_view", migrated=True)
    lg = Ledger(make_engine(url), group_commit=False)
    yield lg
    lg.close()


def test_btc_tiers_shares_drift_and_ledger_cross_check(ledger: Ledger) -> None:
    chain = LocalChain()
    wallets = {t: _wallet(f"tiers-{t}", chain) for t in ("hot", "warm", "cold")}
    for tier, sats in (("hot", 2 * SAT), ("warm", 3 * SAT), ("cold", 15 * SAT)):
        chain.fund(bytes(wallets[tier].descriptor.script_pubkey(0, 0)), sats)
    chain.fund(bytes(wallets["cold"].descriptor.script_pubkey(1, 2)), 0 * SAT + 1)
    # the ledger knows the hot and cold wallets; it believes hot holds 1 sat more
    for tier, sats in (("hot", 2 * SAT + 1), ("cold", 15 * SAT + 1)):
        ledger.post(TransferSpec(f"d-{tier}", ledger.omnibus_account("BTC", f"btc:btc-{tier}"),
                                 ledger.client_account("alice", "BTC"), sats))
    policy = load_policy()
    view = tier_view(policy, PRICES, btc=[BtcLocation(f"btc-{t}", t, w)  # type: ignore[arg-type]
                                          for t, w in wallets.items()],
                     ledger=ledger.engine, now=NOW)
    assert view.holdings == [Holding("BTC", "btc-hot", "hot", 2 * SAT, 10_000_000),
                             Holding("BTC", "btc-warm", "warm", 3 * SAT, 0),
                             Holding("BTC", "btc-cold", "cold", 15 * SAT + 1, 0)]
    btc = view.assets["BTC"]
    total = 20 * SAT + 1
    assert btc.share_bps == {"hot": 2 * SAT * 10_000 // total, "warm": 3 * SAT * 10_000 // total,
                             "cold": (15 * SAT + 1) * 10_000 // total}
    assert btc.drift_bps == {"hot": 499, "warm": -1, "cold": -500}
    assert btc.out_of_band() == ["hot", "cold"]
    assert view.tier_value_cents == {"hot": 18_000_000, "warm": 27_000_000,
                                     "cold": 135_000_001}  # one sat is worth a cent, rounded up
    assert view.aum_cents == 180_000_001
    assert view.mismatches == [Mismatch("BTC", "btc:btc-hot", 2 * SAT + 1, 2 * SAT)]
    report = json.loads(json.dumps(view.to_json()))
    assert report["assets"]["BTC"]["units"]["cold"] == str(15 * SAT + 1)
    assert report["mismatches"][0]["location"] == "btc:btc-hot"
