"""The treasury's tier policy, as data (``policy.json`` beside this module by default).

Per asset (ETH, USDC, USDT on chain; BTC in the P2WSH wallets): each tier's target share of the
asset's holdings (hot 5 %, warm 15 %, cold 80 % by default: spec 004 section 6.3) in basis
points, the tolerance band (2 %), and the minimum balance of each tier's wallet in base units
(the vault's operational float is the hot minimum). For the whole estate: the hot-tier alert
ceiling (USD 10M) and the payment routing thresholds (hot pays below USD 50K, warm up to
USD 500K, cold above), both in integer US cents.

Validation is strict: integers only (no floats, no booleans, no numeric strings), unknown keys
refused, every tier named once, shares summing to exactly 10,000 bps, bands within 0..5,000,
minimums non-negative, known asset symbols only. A file that fails any rule raises
:class:`PolicyError` naming the file and every offending field; nothing half-loaded is
returned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator

from keeper.assets import ASSETS
from keeper.strictdata import Strict, decode, faults
from keeper.treasury.moves import BPS, TIERS, Tier, TierTarget

DEFAULT_POLICY_FILE = Path(__file__).with_name("policy.json")
POLICY_VERSION = 1

Bps = Annotated[int, Field(ge=0, le=BPS)]
Units = Annotated[int, Field(ge=0)]
Cents = Annotated[int, Field(gt=0)]


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the fields."""


class TierNumbers(Strict):
    """One integer per tier."""

    hot: Units
    warm: Units
    cold: Units

    def of(self, tier: Tier) -> int:
        """The number of ``tier``."""
        return int(getattr(self, tier))


class AssetPolicy(Strict):
    """One asset's targets (bps), band (bps) and per-tier wallet minimums (base units)."""

    targets_bps: TierNumbers
    band_bps: Annotated[int, Field(ge=0, le=BPS // 2)]
    minimum_units: TierNumbers

    @model_validator(mode="after")
    def _shares_sum_to_whole(self) -> AssetPolicy:
        total = sum(self.targets_bps.of(t) for t in TIERS)
        if total != BPS:
            raise ValueError(f"targets_bps sum to {total}, not {BPS}")
        if any(self.targets_bps.of(t) > BPS for t in TIERS):
            raise ValueError("a target exceeds 10000 bps")
        return self

    def targets(self) -> list[TierTarget]:
        """The targets in the shared vocabulary (:class:`keeper.treasury.moves.TierTarget`)."""
        return [TierTarget(t, self.targets_bps.of(t), self.band_bps) for t in TIERS]


class PaymentRouting(Strict):
    """Which tier pays a payment of a given USD value (spec 6.3: hot < 50K <= warm <= 500K < cold)."""

    hot_below: Cents
    cold_above: Cents

    @model_validator(mode="after")
    def _ordered(self) -> PaymentRouting:
        if self.hot_below > self.cold_above:
            raise ValueError("hot_below exceeds cold_above")
        return self


class TierPolicy(Strict):
    """The whole policy (see the module docstring)."""

    version: int
    hot_ceiling_cents: Cents
    payment_routing_cents: PaymentRouting
    assets: dict[str, AssetPolicy]

    @model_validator(mode="after")
    def _known(self) -> TierPolicy:
        if self.version != POLICY_VERSION:
            raise ValueError(f"version {self.version} is not supported (expected {POLICY_VERSION})")
        unknown = sorted(set(self.assets) - set(ASSETS))
        if unknown:
            raise ValueError(f"unknown asset(s) {unknown}; known: {sorted(ASSETS)}")
        if not self.assets:
            raise ValueError("no asset has a policy")
        return self

    def asset(self, symbol: str) -> AssetPolicy:
        """The policy of ``symbol``; :class:`PolicyError` if it has none."""
        try:
            return self.assets[symbol]
        except KeyError:
            raise PolicyError(f"no tier policy for asset {symbol!r}") from None

    def paying_tier(self, cents: int) -> Tier:
        """The tier that pays a payment worth ``cents`` (spec 6.3 routing)."""
        if type(cents) is not int or cents < 0:
            raise ValueError("cents is a non-negative int")
        if cents < self.payment_routing_cents.hot_below:
            return "hot"
        return "warm" if cents <= self.payment_routing_cents.cold_above else "cold"


def parse_policy(data: Any, source: str = "<policy>") -> TierPolicy:
    """Validate an already-decoded policy document; :class:`PolicyError` on any fault."""
    try:
        return TierPolicy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(f"treasury policy {source} refused: {faults(exc)}") from None


def load_policy(path: str | Path | None = None) -> TierPolicy:
    """Read and validate the policy file (default: ``policy.json`` beside this module)."""
    p = Path(path) if path is not None else DEFAULT_POLICY_FILE
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"treasury policy {p} cannot be read: {exc.strerror or exc}") from None
    try:
        data = decode(text)
    except ValueError as exc:
        raise PolicyError(f"treasury policy {p} is not valid JSON: {exc}") from None
    return parse_policy(data, str(p))


def policy_from_settings(settings: Any) -> TierPolicy:
    """The policy named by ``settings.treasury_policy_file``."""
    return load_policy(settings.treasury_policy_file)
