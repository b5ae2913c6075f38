"""The tier view: where every unit of every asset is, each tier's share, and its drift.

Locations, each read at ONE pinned block (so the figures add up across wallets):

* EVM (ETH, USDC, USDT): the vault (hot), and the vault's governance-set tier addresses, the warm
  Multisig (``tier_address(1)``) and the cold Multisig (``tier_address(2)``), read from the vault
  at that block (:func:`evm_locations`); ETH by ``eth_getBalance``, tokens by ``balanceOf``;
* BTC: the hot, warm and cold P2WSH wallets of :mod:`keeper.btc` (the sum of their unspent
  outputs, locked ones included).

Each (location, asset) is a :class:`keeper.treasury.moves.Holding` (units, and the policy's
minimum for that tier's wallet). Where the sub-ledger holds an omnibus figure for the same
location (``vault:0x..``, ``tier1:0x..``, ``tier2:0x..``, ``btc:<wallet>``), the chain figure is
cross-checked with it and every difference is listed in :attr:`TierView.mismatches` (type 1
reconciliation, :mod:`keeper.recon`, is where such a difference becomes a break).

Shares and drift are integer basis points: per asset by units (``tier units * 10000 // asset
units``), and across the estate by value (US cents through :mod:`keeper.prices`, rounded up).
An asset without a fresh price keeps its units, shares and drift (the sweeps need no price) and
is listed in :attr:`TierView.unpriced`, left out of the USD figures.
``drift_bps = share_bps - target_bps``; a tier is out of band when ``|drift| > band``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from sqlalchemy import Engine

from keeper.assets import BTC, DEPOSITABLE
from keeper.chain import tier_location, vault_location
from keeper.ledger import ledger_totals
from keeper.prices import PriceError, PriceFeed, value_cents
from keeper.recon import BalanceReader, UtxoView
from keeper.treasury.moves import TIERS, Holding, Tier, drift_bps, share_bps
from keeper.treasury.tiers.policy import TierPolicy

TIER_ADDRESS = function_signature_to_4byte_selector("tier_address(uint8)")
TIER_NUMBER: dict[Tier, int] = {"warm": 1, "cold": 2}
EVM_WALLETS: dict[Tier, str] = {"hot": "vault", "warm": "warm_multisig", "cold": "cold_multisig"}


@dataclass(frozen=True, slots=True)
class EvmLocation:
    """An EVM wallet of a tier: its name, address and the ledger's omnibus location name."""

    wallet: str
    tier: Tier
    address: str

    @property
    def ledger_location(self) -> str:
        """The follower's omnibus location of this wallet (``vault:0x..`` / ``tier<n>:0x..``)."""
        if self.tier == "hot":
            return vault_location(self.address)
        return tier_location(TIER_NUMBER[self.tier], self.address)


@dataclass(frozen=True, slots=True)
class BtcLocation:
    """A BTC wallet of a tier (its name is the ledger location ``btc:<wallet>``)."""

    wallet: str
    tier: Tier
    view: UtxoView

    @property
    def ledger_location(self) -> str:
        """The ledger's omnibus location of this wallet."""
        return f"btc:{self.wallet}"


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A location where the chain and the sub-ledger disagree (``ledger - chain`` units)."""

    asset: str
    location: str
    ledger_units: int
    chain_units: int

    @property
    def difference(self) -> int:
        """Ledger minus chain, in base units."""
        return self.ledger_units - self.chain_units


@dataclass(frozen=True)
class AssetTiers:
    """One asset across its tiers: units, shares and drift (bps), value (cents)."""

    asset: str
    units: Mapping[Tier, int]
    share_bps: Mapping[Tier, int]
    drift_bps: Mapping[Tier, int]
    value_cents: Mapping[Tier, int] | None  # None: no fresh price (see TierView.unpriced)
    band_bps: int

    @property
    def total_units(self) -> int:
        """Every unit of the asset, all tiers."""
        return sum(self.units.values())

    def out_of_band(self) -> list[Tier]:
        """Tiers whose drift exceeds the band."""
        return [t for t in TIERS if abs(self.drift_bps[t]) > self.band_bps]


@dataclass(frozen=True)
class TierView:
    """The estate at ``block`` (see the module docstring)."""

    block: int | None
    as_of: datetime | None
    holdings: list[Holding]
    assets: dict[str, AssetTiers]
    tier_value_cents: dict[Tier, int]
    tier_share_bps: dict[Tier, int]
    mismatches: list[Mismatch] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)  # wallet name -> address
    unpriced: list[str] = field(default_factory=list)  # assets left out of the USD figures

    @property
    def aum_cents(self) -> int:
        """Assets under management in US cents."""
        return sum(self.tier_value_cents.values())

    def units(self, asset: str, tier: Tier) -> int:
        """Units of ``asset`` in ``tier``."""
        return self.assets[asset].units[tier] if asset in self.assets else 0

    def to_json(self) -> dict[str, Any]:
        """The report (integers as decimal strings where they may exceed 2**53)."""
        return {
            "block": self.block,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "aum_cents": str(self.aum_cents),
            "tiers": {t: {"value_cents": str(self.tier_value_cents[t]),
                          "share_bps": self.tier_share_bps[t]} for t in TIERS},
            "assets": {a: {"units": {t: str(v.units[t]) for t in TIERS},
                           "value_cents": None if v.value_cents is None else {
                               t: str(v.value_cents[t]) for t in TIERS},
                           "share_bps": dict(v.share_bps), "drift_bps": dict(v.drift_bps),
                           "band_bps": v.band_bps, "out_of_band": v.out_of_band()}
                       for a, v in sorted(self.assets.items())},
            "holdings": [{"asset": h.asset, "wallet": h.wallet, "tier": h.tier,
                          "units": str(h.units), "minimum_units": str(h.minimum_units)}
                         for h in self.holdings],
            "mismatches": [{"asset": m.asset, "location": m.location,
                            "ledger_units": str(m.ledger_units),
                            "chain_units": str(m.chain_units)} for m in self.mismatches],
            "addresses": dict(self.addresses),
            "unpriced": list(self.unpriced),
        }


def evm_locations(w3: Any, vault: str, block: int) -> list[EvmLocation]:
    """The vault and its governance-set warm and cold tier addresses at ``block`` (a tier
    without an address is left out)."""
    vault = to_checksum_address(vault)
    out = [EvmLocation(EVM_WALLETS["hot"], "hot", vault)]
    for tier, number in TIER_NUMBER.items():
        raw = w3.eth.call({"to": vault, "data": "0x" + (TIER_ADDRESS + abi_encode(
            ["uint8"], [number])).hex()}, block)
        (address,) = abi_decode(["address"], bytes(raw))
        if int(address, 16):
            out.append(EvmLocation(EVM_WALLETS[tier], tier, to_checksum_address(address)))
    return out


def tier_view(policy: TierPolicy, prices: PriceFeed, *, reader: BalanceReader | None = None,
              block: int | None = None, evm: Sequence[EvmLocation] = (),
              btc: Sequence[BtcLocation] = (), ledger: Engine | None = None,
              now: datetime | None = None) -> TierView:
    """Read every location of ``evm`` (at ``block``, default the head) and ``btc``, value it
    and compare it with the policy and (when ``ledger`` is given) the sub-ledger."""
    rows: list[tuple[str, str, Tier, int]] = []  # (asset, location, tier, units)
    names: dict[str, str] = {}
    if evm:
        if reader is None:
            raise ValueError("EVM locations need a balance reader")
        block = reader.head() if block is None else block
        for loc in evm:
            names[loc.wallet] = loc.address
            for symbol, asset in DEPOSITABLE.items():
                if symbol in policy.assets and asset.address is not None:
                    units = reader.balance(loc.address, asset.address, block)
                    rows.append((symbol, loc.ledger_location, loc.tier, units))
    if BTC.symbol in policy.assets:
        for b in btc:
            rows.append((BTC.symbol, b.ledger_location, b.tier, sum(u.value for u in b.view.utxos())))
    wallet_of = {loc.ledger_location: loc.wallet for loc in evm}
    wallet_of.update({b.ledger_location: b.wallet for b in btc})
    holdings = [Holding(a, wallet_of[where], tier, units,
                        policy.asset(a).minimum_units.of(tier)) for a, where, tier, units in rows]
    mismatches = _cross_check(rows, ledger) if ledger is not None else []
    return _summarise(policy, prices, holdings, block, now, mismatches, names)


def _cross_check(rows: Iterable[tuple[str, str, Tier, int]], engine: Engine) -> list[Mismatch]:
    totals = ledger_totals(engine).assets
    out = []
    for asset, where, _tier, units in rows:
        omnibus = {k.lower(): v for k, v in totals[asset].omnibus.items()} if asset in totals else {}
        if where.lower() in omnibus and omnibus[where.lower()] != units:
            out.append(Mismatch(asset, where, omnibus[where.lower()], units))
    return out


def _summarise(policy: TierPolicy, prices: PriceFeed, holdings: list[Holding],
               block: int | None, now: datetime | None, mismatches: list[Mismatch],
               names: dict[str, str]) -> TierView:
    assets: dict[str, AssetTiers] = {}
    unpriced: list[str] = []
    tier_cents: dict[Tier, int] = dict.fromkeys(TIERS, 0)
    for symbol in sorted({h.asset for h in holdings}):
        pol = policy.asset(symbol)
        units: dict[Tier, int] = {t: sum(h.units for h in holdings
                                         if h.asset == symbol and h.tier == t) for t in TIERS}
        total = sum(units.values())
        shares = {t: share_bps(units[t], total) for t in TIERS}
        cents: dict[Tier, int] | None
        try:
            cents = {t: value_cents(prices, symbol, units[t], now) for t in TIERS}
        except PriceError:
            cents = None
            unpriced.append(symbol)
        for t in TIERS:
            tier_cents[t] += cents[t] if cents else 0
        assets[symbol] = AssetTiers(symbol, units, shares,
                                    drift_bps(units, {t.tier: t for t in pol.targets()}),
                                    cents, pol.band_bps)
    aum = sum(tier_cents.values())
    return TierView(block, now, holdings, assets, tier_cents,
                    {t: share_bps(tier_cents[t], aum) for t in TIERS}, mismatches, names, unpriced)
