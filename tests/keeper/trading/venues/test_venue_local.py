"""The in-process venue (LocalVenue) on a simulated clock: the profile's outage windows and
outage slots, stale and wrong books, the rate limit, and dying after N fills behave as the
HTTP service's (one simulator behind both)."""

from __future__ import annotations

import json

import pytest

from keeper.trading.types import (
    ExchangeNotAvailable,
    InvalidOrder,
    OnMaintenance,
    OrderStatus,
    OrderType,
    RateLimitExceeded,
    Side,
    Venue,
)
from scripts.services.venues.faults import FaultState
from scripts.services.venues.inprocess import LocalVenue, local_venues
from scripts.services.venues.profile import VenueProfile, profile_from_dict

T0 = 1_790_000_000_000
BASE = VenueProfile(name="localtest", maker_ppm=0, taker_ppm=500, requote_ms=1_000)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def venue(profile: VenueProfile, seed: int = 3, **kwargs: object) -> tuple[LocalVenue, Clock]:
    clock = Clock()
    v = LocalVenue(profile, seed, clock=clock, **kwargs)  # type: ignore[arg-type]
    v.fund("USD", 10**12)
    return v, clock


def test_local_venues_are_venues_sharing_one_clock() -> None:
    clock = Clock()
    venues = local_venues(9, clock=clock, funds={"USD": 10**10})
    assert set(venues) == {"deepbook", "fastlane", "thirdex"}
    for v in venues.values():
        assert isinstance(v, Venue)
        assert v.fetch_balance().total == {"USD": 10**10}
        assert v.fetch_order_book("ETH/USD").timestamp == T0


def test_params_are_checked_like_the_http_venue() -> None:
    v, _ = venue(BASE)
    assert v.latency_estimate_ms() == BASE.latency_ms
    for params in ({"clientOrderId": 5}, {"timeInForce": "FOK"}, {"postOnly": True}):
        with pytest.raises(InvalidOrder):
            v.create_order("BTC/USD", OrderType.MARKET, Side.BUY, 1_000, None, params)
    assert v.fetch_balance().total == {"USD": 10**12}


def test_profile_outage_window() -> None:
    v, clock = venue(BASE.with_(outage_windows=((T0 + 1_000, T0 + 2_000),)))
    assert v.fetch_ticker("BTC/USD").bid
    clock.now = T0 + 1_500
    with pytest.raises(OnMaintenance):
        v.fetch_order_book("BTC/USD")
    with pytest.raises(OnMaintenance):
        v.create_order("BTC/USD", OrderType.MARKET, Side.BUY, 1_000)
    clock.now = T0 + 2_000
    assert v.fetch_order_book("BTC/USD").asks
    assert v.fetch_balance().total == {"USD": 10**12}  # nothing was placed during the outage


def test_outage_slots_are_whole_slots_and_seeded() -> None:
    profile = BASE.with_(outage_probability=0.5, outage_slot_ms=1_000)

    def pattern(seed: int) -> list[bool]:
        v, clock = venue(profile, seed)
        out = []
        for slot in range(40):
            states = set()
            for offset in (0, 999):
                clock.now = T0 + slot * 1_000 + offset
                try:
                    v.fetch_ticker("BTC/USD")
                    states.add(True)
                except ExchangeNotAvailable:
                    states.add(False)
            assert len(states) == 1  # up or down for the whole slot
            out.append(states.pop())
        return out

    first = pattern(1)
    assert first == pattern(1) and first != pattern(2)
    assert 5 < sum(first) < 35


def test_stale_and_wrong_books_from_the_profile() -> None:
    stale, clock = venue(BASE.with_(stale_probability=1.0, stale_age_ms=30_000))
    clock.now = T0 + 60_000
    book = stale.fetch_order_book("BTC/USD", 3)
    assert book.timestamp == T0 + 30_000
    true = stale.sim.engine.order_book("BTC/USD", clock.now, 3)
    assert book != true and true.timestamp == T0 + 60_000
    wrong, clock = venue(BASE.with_(wrong_price_probability=1.0, wrong_price_ppm=20_000))
    seen = set()
    for _ in range(8):
        book = wrong.fetch_order_book("BTC/USD", 2)
        true = wrong.sim.engine.order_book("BTC/USD", clock.now, 2)
        offset = book.bids[0].price - true.bids[0].price
        assert offset in {true.bids[0].price * ppm // 1_000_000 for ppm in (20_000, -20_000)}
        seen.add(offset > 0)
    assert seen == {True, False}  # wrong both ways


def test_rate_limit_then_a_token_comes_back() -> None:
    v, clock = venue(BASE.with_(rate_limit_rps=2), rate_limited=True)
    v.fetch_ticker("BTC/USD")
    v.fetch_ticker("BTC/USD")
    with pytest.raises(RateLimitExceeded):
        v.fetch_ticker("BTC/USD")
    clock.now += 500
    assert v.fetch_ticker("BTC/USD").ask


def test_dies_after_n_fills_and_keeps_what_it_filled() -> None:
    v, _ = venue(BASE)
    v.sim.set_state(FaultState(die_after_fills=1))
    level = v.fetch_order_book("BTC/USD", 1).asks[0].amount
    with pytest.raises(ExchangeNotAvailable):
        v.create_order("BTC/USD", OrderType.MARKET, Side.BUY, 2 * level, None, {"clientOrderId": "d1"})
    with pytest.raises(ExchangeNotAvailable):
        v.fetch_balance()
    v.sim.set_state(FaultState())
    order = v.fetch_order_by_client_id("d1")
    assert (order.status, order.filled) == (OrderStatus.EXPIRED, level)
    assert v.fetch_balance().total["BTC"] == level


def test_in_process_venue_keeps_no_change_log() -> None:
    """Nothing persists an in-process venue's changes: it must not collect them (the log grew
    with every order and each order scanned it: 660 orders/s, now ~5,000/s)."""
    v, clock = venue(BASE)
    for _ in range(3):
        clock.now += 1_000
        v.create_order("BTC/USD", OrderType.MARKET, Side.BUY, 1_000)
    changes = v.sim.engine.take_changes()
    assert changes.orders == {} and changes.fills == []


def test_profiles_round_trip_as_json_and_refuse_nonsense() -> None:
    profile = BASE.with_(outage_windows=((T0, T0 + 5),), symbols=("BTC/USD",))
    assert profile_from_dict(json.loads(profile.to_json())) == profile
    for bad in ({"taker_ppm": -1}, {"taker_ppm": 200_000}, {"levels": 0}, {"latency_ms": 1.5},
                {"stale_probability": 2}, {"outage_windows": [[5, 5]]}, {"spread_ppm": 600_000},
                {"latency_jitter_ms": 50, "latency_ms": 10}, {"colour": "red"}):
        with pytest.raises((ValueError, TypeError)):
            profile_from_dict({**json.loads(BASE.to_json()), **bad})


def test_a_calm_profile_has_no_random_faults() -> None:
    wild = BASE.with_(outage_probability=1.0, stale_probability=1.0, wrong_price_probability=1.0,
                      outage_windows=((T0, T0 + 10**9),))
    v, clock = venue(wild.calm())
    book = v.fetch_order_book("BTC/USD", 2)
    assert book == v.sim.engine.order_book("BTC/USD", clock.now, 2)  # neither stale nor wrong
    assert wild.calm().taker_ppm == wild.taker_ppm
