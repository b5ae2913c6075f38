"""Two small executions written by hand (the figures in the tests are computed from these books
and fills with pencil and paper; see test_bestex_analytics.py)."""

from __future__ import annotations

import pytest

from keeper.trading.bestex import ExcludedVenue, ExecutionRecord, VenueArrival
from keeper.trading.routing import PolicyBlock
from keeper.trading.types import FeeSchedule, Fill, Level, OrderBook, ParentOrder, Side

BTC = 100_000_000  # satoshi per BTC; prices in US cents per BTC


def book(venue: str, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> OrderBook:
    return OrderBook(
        "BTC/USD",
        tuple(Level(p, a) for p, a in bids),
        tuple(Level(p, a) for p, a in asks),
        1_700_000_000_000,
        venue,
    )


def buy_record() -> ExecutionRecord:
    """Buy 0.6 BTC within USD 65,050.00; routing filled 0.5 BTC: two fills on deepbook (0.1 + 0.2
    BTC at 65,000.00, its IOC child partially filled) and one on fastlane (0.2 BTC at 65,005.00);
    thirdex (best price) was refused by the policy; slowex's book was stale (untrusted)."""
    parent = ParentOrder(
        "ord-1", "client-1", "BTC/USD", Side.BUY, 60_000_000, 6_505_000, "US", "retail", 1_700_000_000_000
    )
    arrivals = (
        VenueArrival(
            "deepbook",
            book("deepbook", [(6_499_000, BTC)], [(6_500_000, 30_000_000), (6_501_000, BTC)]),
            FeeSchedule(200, 1_000),
        ),
        VenueArrival(
            "fastlane",
            book("fastlane", [(6_499_500, BTC)], [(6_500_500, 20_000_000), (6_505_000, BTC)]),
            FeeSchedule(0, 500),
        ),
        VenueArrival(
            "thirdex", book("thirdex", [(6_498_000, BTC)], [(6_499_000, BTC)]), FeeSchedule(100, 800)
        ),
        VenueArrival(
            "slowex", book("slowex", [(6_000_000, BTC)], [(6_000_100, BTC)]), FeeSchedule(0, 0), trusted=False
        ),
    )
    t = 1_700_000_000_100
    fills = (
        Fill("deepbook", "d-1", "BTC/USD", Side.BUY, 10_000_000, 6_500_000, 650_000, 650, t),
        Fill("deepbook", "d-1", "BTC/USD", Side.BUY, 20_000_000, 6_500_000, 1_300_000, 1_300, t),
        Fill("fastlane", "f-1", "BTC/USD", Side.BUY, 20_000_000, 6_500_500, 1_300_100, 651, t),
    )
    return ExecutionRecord(
        parent,
        arrivals,
        fills,
        excluded=(ExcludedVenue("slowex", "stale", "book 9000 ms old (limit 5000)", 0),),
        blocked=(PolicyBlock("thirdex", "US.venues", "venue thirdex is not allowed under US rules"),),
        compliance_cost=601,
    )


def sell_record() -> ExecutionRecord:
    """Sell 0.1 BTC at market: 0.05 on fastlane at 64,995.00 and 0.05 on deepbook at 64,990.00."""
    parent = ParentOrder(
        "ord-2", "client-2", "BTC/USD", Side.SELL, 10_000_000, None, "CH", "institutional", 1_700_000_060_000
    )
    arrivals = (
        VenueArrival(
            "deepbook", book("deepbook", [(6_499_000, BTC)], [(6_500_000, BTC)]), FeeSchedule(200, 1_000)
        ),
        VenueArrival(
            "fastlane",
            book("fastlane", [(6_499_500, 5_000_000), (6_498_000, BTC)], [(6_500_500, BTC)]),
            FeeSchedule(0, 500),
        ),
    )
    t = 1_700_000_060_100
    fills = (
        Fill("fastlane", "f-2", "BTC/USD", Side.SELL, 5_000_000, 6_499_500, 324_975, 163, t),
        Fill("deepbook", "d-2", "BTC/USD", Side.SELL, 5_000_000, 6_499_000, 324_950, 325, t),
    )
    return ExecutionRecord(parent, arrivals, fills)


@pytest.fixture
def buy() -> ExecutionRecord:
    return buy_record()


@pytest.fixture
def sell() -> ExecutionRecord:
    return sell_record()
