"""Allocation gaps across assets (what the trading router will be given): values in cents,
shares in bps, the gap to target, out of band flagged; bad targets refused."""

from __future__ import annotations

import pytest

from keeper.treasury.moves import Holding
from keeper.treasury.rebalance.allocation import AllocationGap, allocation_gaps

PRICES = {"ETH": 300_000, "USDC": 100}


def test_gaps_in_cents_against_target_shares():
    holdings = [Holding("ETH", "vault", "hot", 10 * 10**18),  # $30,000
                Holding("ETH", "cold", "cold", 20 * 10**18),  # $60,000
                Holding("USDC", "cold", "cold", 10_000 * 10**6)]  # $10,000
    gaps = allocation_gaps(holdings, PRICES, {"ETH": 5_000, "USDC": 5_000})
    assert gaps == [AllocationGap("ETH", 9_000_000, 9_000, 5_000, -4_000_000, True),
                    AllocationGap("USDC", 1_000_000, 1_000, 5_000, 4_000_000, True)]
    near = allocation_gaps(holdings, PRICES, {"ETH": 8_900, "USDC": 1_100})
    assert [g.out_of_band for g in near] == [False, False]


def test_refuses_targets_that_do_not_add_up_or_miss_an_asset():
    h = [Holding("ETH", "vault", "hot", 1)]
    with pytest.raises(ValueError, match="sum"):
        allocation_gaps(h, PRICES, {"ETH": 9_000})
    with pytest.raises(ValueError, match="no allocation target"):
        allocation_gaps(h, PRICES, {"USDC": 10_000})
