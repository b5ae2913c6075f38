"""The treasury's shared vocabulary: tiers, holdings, targets and moves.

The tier view (``keeper.treasury.tiers``) describes the custody estate as :class:`Holding` rows;
the rebalancer (``keeper.treasury.rebalance``) and the pooling planner
(``keeper.treasury.pooling``) read holdings and answer with :class:`Move` rows; whatever carries
a move out (a Vault sweep, a Multisig proposal through the signer service, a BTC PSBT) is a
:class:`MoveExecutor`. Amounts are integer base units of the asset (wei, token units, satoshis),
shares and bands integer basis points; never floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

Tier = Literal["hot", "warm", "cold"]
TIERS: tuple[Tier, ...] = ("hot", "warm", "cold")
BPS = 10_000  # basis points in one whole


@dataclass(frozen=True, slots=True)
class Holding:
    """What one wallet holds of one asset: ``units`` now, never to go below ``minimum_units``."""

    asset: str  # a symbol of keeper.assets.ASSETS
    wallet: str  # a stable location name (e.g. "vault", "warm_multisig", "btc-cold") or address
    tier: Tier
    units: int
    minimum_units: int = 0


@dataclass(frozen=True, slots=True)
class TierTarget:
    """A tier's target share of an asset's holdings and its tolerance band, in basis points."""

    tier: Tier
    share_bps: int
    band_bps: int = 200  # the 2% tolerance


@dataclass(frozen=True, slots=True)
class Move:
    """One transfer of ``units`` of ``asset`` between two wallets, and why."""

    asset: str
    source: str
    source_tier: Tier
    destination: str
    destination_tier: Tier
    units: int
    reason: str


class MoveExecutor(Protocol):
    """Carries a :class:`Move` out (or proposes it, when only a quorum may) exactly once per
    ``idempotency_key``, and returns a reference to what it did (tx hash, SafeTx hash, PSBT id)."""

    def execute(self, move: Move, *, idempotency_key: str) -> str:
        """Send or propose ``move``; the same key returns the first call's reference."""
        ...


def share_bps(part: int, whole: int) -> int:
    """``part`` as a share of ``whole`` in basis points, rounded down (0 when ``whole`` is 0)."""
    return part * BPS // whole if whole else 0


def drift_bps(units: Mapping[Tier, int], targets: Mapping[Tier, TierTarget]) -> dict[Tier, int]:
    """Each tier's drift from its target in basis points: its share of the asset's units
    (rounded down) minus its target share. The one drift rule of the tier view and rebalancer."""
    total = sum(units.values())
    return {t: share_bps(units[t], total) - targets[t].share_bps for t in TIERS}


def out_of_band(drift: Mapping[Tier, int], targets: Mapping[Tier, TierTarget]) -> tuple[Tier, ...]:
    """Tiers whose ``|drift|`` exceeds their band."""
    return tuple(t for t in TIERS if abs(drift[t]) > targets[t].band_bps)
