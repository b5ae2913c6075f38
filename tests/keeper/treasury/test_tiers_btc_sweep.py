"""The daily BTC hot -> cold sweep over the project's script-checking local chain and a stored
coordinator (SQLite and PostgreSQL): a PSBT of the hot 2-of-3 wallet paying the cold wallet,
signed by two cosigners and released; the fee never takes the hot wallet below what it keeps; a
restart (even after a crash between the PSBT and the book) never makes a second spend; dry run
makes none; a refused proposal alerts once."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from keeper.btc import (
    REGTEST,
    BtcStore,
    HdCosigner,
    LocalChain,
    MultisigDescriptor,
    SpendCoordinator,
    ranged_key,
)
from keeper.keys.hd import ExtendedPrivateKey
from keeper.ledger import Ledger, make_engine
from keeper.prices import StaticPrices
from keeper.treasury.moves import Move
from keeper.treasury.tiers import BtcLocation, SweepBook, SweepStatus, load_policy, tier_view
from keeper.treasury.tiers.btc import BtcSweeper

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
DAY = date(2026, 11, 23)
SAT = 10**8
BIP48 = "m/48h/1h/0h/2h"
PRICES = StaticPrices({"ETH": 300_000, "BTC": 9_000_000}, NOW)


def masters(tag: str) -> list[ExtendedPrivateKey]:
    return [ExtendedPrivateKey.from_seed(hashlib.sha256(f"{tag}-{i}".encode()).digest())
            for i in range(3)]


def descriptor(ms: list[ExtendedPrivateKey]) -> MultisigDescriptor:
    return MultisigDescriptor(2, tuple(ranged_key(m.fingerprint(), BIP48,
                                                  m.derive(BIP48).public().serialize())
                                       for m in ms), REGTEST)


class World:
    def __init__(self, url: str) -> None:
        self.url = url
        self.chain = LocalChain()
        self.hot_keys = masters("tiers-btc-hot")
        self.store = BtcStore(url)
        for name, ms in (("hot", self.hot_keys), ("warm", masters("tiers-btc-warm")),
                         ("cold", masters("tiers-btc-cold"))):
            self.store.create_wallet(name, descriptor(ms), gap_limit=5)
        self.wallets = {n: self.store.open_wallet(n, self.chain) for n in ("hot", "warm", "cold")}
        self.ledger = Ledger(make_engine(url), group_commit=False)
        self.book = SweepBook(self.ledger.engine)

    def coordinator(self) -> SpendCoordinator:
        return SpendCoordinator(self.wallets["hot"], self.chain, lambda k, d: None,
                                store=self.store)

    def sweeper(self, dry_run: bool = False) -> BtcSweeper:
        return BtcSweeper(self.book, self.coordinator(), fee_rate=5,
                          alert=self.ledger.raise_alert, dry_run=dry_run)

    def view(self) -> Any:
        return tier_view(load_policy(), PRICES, btc=[
            BtcLocation(f"btc-{t}", t, w) for t, w in self.wallets.items()], now=NOW)

    def held(self, tier: str) -> int:
        return sum(u.value for u in self.wallets[tier].utxos())


@pytest.fixture
def world(database: Callable[[str], str]) -> Iterator[World]:
    url = database("tiers_btc", migrated=True)
    w = World(url)
    for i, sats in enumerate((6 * SAT, 3 * SAT, 1 * SAT)):
        w.chain.fund(bytes(w.wallets["hot"].descriptor.script_pubkey(0, i)), sats)
    yield w
    w.ledger.close()
    w.store.close()


def test_the_btc_sweep_is_a_psbt_the_cosigners_release(world: World) -> None:
    cold_address = world.wallets["cold"].descriptor.address(0, 0)
    sweeper = world.sweeper()
    reserve = sweeper.fee_reserve()  # three 2-of-3 inputs, two outputs, at 5 sat/vB
    out = sweeper.run(world.view(), load_policy(), DAY, cold_address, NOW)
    # 10 BTC hot, none elsewhere: keep max(5 % of 10 BTC, the 0.1 BTC minimum) = 0.5 BTC
    assert out is not None and out.status == SweepStatus.PROPOSED
    assert out.units == 95 * SAT // 10 - reserve
    [spend] = [s for s in world.coordinator().spends.values()]
    assert world.held("cold") == 0  # nothing moves before the cosigners sign
    # a second run the same day (a restart): the same spend, no second PSBT
    again = world.sweeper().run(world.view(), load_policy(), DAY, cold_address, NOW)
    assert again is not None and again.units == out.units
    coord = world.coordinator()
    assert list(coord.spends) == [spend.id]
    for master in world.hot_keys[:2]:
        part = coord.spends[spend.id].psbt.clone()
        HdCosigner(master, world.wallets["hot"].descriptor).sign(part)
        coord.add_signatures(spend.id, part)
    assert coord.try_release(spend.id, NOW) is not None
    assert world.held("cold") == out.units
    assert world.held("hot") >= 5 * SAT // 10  # the fee came out of the reserve
    assert world.view().assets["BTC"].share_bps["cold"] == out.units * 10_000 // (
        world.held("hot") + out.units)


def test_a_crash_between_the_psbt_and_the_book_adopts_the_spend(world: World) -> None:
    cold_address = world.wallets["cold"].descriptor.address(0, 0)
    sweeper = world.sweeper()
    units = 2 * SAT
    sweeper.book.plan(sweeper.key(DAY), "btc-daily",
                      Move("BTC", "btc-hot", "hot", "btc-cold", "cold", units, "test"),
                      SweepStatus.PLANNED, payload={"address": cold_address, "fee_rate": 5})
    made = world.coordinator().propose([(cold_address, units)], 5, NOW)  # then the crash
    out = world.sweeper().run(world.view(), load_policy(), DAY, cold_address, NOW)
    assert out is not None and (out.status, out.units) == (SweepStatus.PROPOSED, units)
    assert list(world.coordinator().spends) == [made.id]
    assert world.book.get(sweeper.key(DAY)).reference == made.id


def test_dry_run_makes_no_psbt_and_a_refusal_alerts_once(world: World) -> None:
    cold_address = world.wallets["cold"].descriptor.address(0, 0)
    out = world.sweeper(dry_run=True).run(world.view(), load_policy(), DAY, cold_address, NOW)
    assert out is not None and out.status == SweepStatus.DRY_RUN
    assert world.coordinator().spends == {}
    # the hot wallet's coins are locked by another spend: the sweep cannot be funded
    world.coordinator().propose([(cold_address, 9 * SAT)], 5, NOW)
    for _ in range(2):
        out = world.sweeper().run(world.view(), load_policy(), DAY, cold_address, NOW)
        assert out is not None and (out.status, out.code) == (SweepStatus.REFUSED,
                                                              "InsufficientFundsError")
    assert [a[2] for a in world.ledger.alerts()] == [f"treasury_sweep_refused:{BtcSweeper.key(DAY)}"]
    assert len(world.coordinator().spends) == 1
