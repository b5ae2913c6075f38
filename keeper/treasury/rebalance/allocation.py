"""Allocation across assets: how far each asset's share of the estate's value is from its target.

Rebalancing *within* an asset (between tiers) is :mod:`.plan`'s. Changing the mix of assets
(selling ETH for USDC, say) takes trades, and trades go through the trading router of the
trading issue, which does not exist yet. This module does not invent one: it computes the gaps
such a router will be given (:func:`allocation_gaps`: per asset, its value, share and the value
to buy (positive) or sell (negative) to reach target, in integer cents), so the router plugs in
as "gaps in, trades out" and the rebalancer's tier moves stay as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from keeper.assets import by_symbol
from keeper.prices import to_usd_cents
from keeper.treasury.moves import BPS, Holding


@dataclass(frozen=True, slots=True)
class AllocationGap:
    """One asset's value against its target share of the estate (cents and bps)."""

    asset: str
    value_cents: int
    share_bps: int
    target_bps: int
    gap_cents: int  # value to add (positive) or remove (negative) to reach target
    out_of_band: bool


def allocation_gaps(holdings: Sequence[Holding], prices_cents: Mapping[str, int],
                    targets_bps: Mapping[str, int], band_bps: int = 200) -> list[AllocationGap]:
    """Each targeted asset's gap (see the module docstring); targets must sum to 10,000 bps and
    every targeted asset needs a price. An asset held but not targeted is an error."""
    if sum(targets_bps.values()) != BPS or any(v < 0 for v in targets_bps.values()):
        raise ValueError(f"allocation targets must be non-negative and sum to {BPS} bps")
    held = {h.asset for h in holdings}
    if held - set(targets_bps):
        raise ValueError(f"no allocation target for {sorted(held - set(targets_bps))}")
    value = dict.fromkeys(targets_bps, 0)
    for h in holdings:
        value[h.asset] += to_usd_cents(h.units, by_symbol(h.asset).decimals,
                                       int(prices_cents[h.asset]))
    total = sum(value.values())
    out = []
    for asset in sorted(targets_bps):
        share = value[asset] * BPS // total if total else 0
        target = targets_bps[asset]
        out.append(AllocationGap(asset, value[asset], share, target,
                                 target * total // BPS - value[asset],
                                 abs(share - target) > band_bps))
    return out
