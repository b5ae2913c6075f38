"""Each venue's persistent basis to the reference (``DISPERSED_PROFILES``): seeded, mean-reverting
with the profile's standard deviation and half-life, absent from the shared-price defaults and
from calm profiles, and small enough that the 50 bps consensus rule still tells a wrong price from
normal dispersion."""

from __future__ import annotations

import statistics

import pytest

from keeper.trading.routing.consensus import check
from keeper.trading.types import OrderBook
from scripts.services.venues.faults import FaultState
from scripts.services.venues.prices import maker_ladder, reference_price, venue_basis, venue_mid
from scripts.services.venues.profile import (
    BASIS,
    DEFAULT_PROFILES,
    DISPERSED_PROFILES,
    VenueProfile,
    profile_from_dict,
)
from scripts.services.venues.simulator import Simulator

T0 = 1_800_000_000_000


def test_the_shared_price_defaults_and_calm_profiles_have_no_basis() -> None:
    for name, p in DEFAULT_PROFILES.items():
        assert venue_basis(7, p, "BTC/USD", T0) == 0
        dispersed = DISPERSED_PROFILES[name]
        assert (dispersed.basis_ppm, dispersed.basis_halflife_ms) == BASIS[name]
        assert dispersed.calm().basis_ppm == 0
        assert venue_mid(7, dispersed.calm(), "BTC/USD", T0) == venue_mid(7, p, "BTC/USD", T0)
        assert profile_from_dict(dict(vars(dispersed))) == dispersed  # plain data round trip


def test_the_basis_moves_the_mid_by_hand() -> None:
    p = DISPERSED_PROFILES["fastlane"].with_(noise_ppm=0)
    basis = venue_basis(3, p, "BTC/USD", T0)
    assert basis != 0 and basis == venue_basis(3, p, "BTC/USD", T0 + 999)  # one value a second
    ref = reference_price(3, "BTC/USD", T0)
    assert venue_mid(3, p, "BTC/USD", T0) == ref * (1_000_000 + basis) // 1_000_000
    assert venue_basis(4, p, "BTC/USD", T0) != basis  # seeded per seed ...
    assert venue_basis(3, p.with_(name="other"), "BTC/USD", T0) != basis  # ... and per venue


def test_the_basis_has_the_profile_s_deviation_and_half_life() -> None:
    p = VenueProfile(name="b", maker_ppm=0, taker_ppm=500, basis_ppm=400, basis_halflife_ms=10_000)
    times = [T0 + k * 7_000 for k in range(6_000)]  # ~12 h, every 7 s
    now = [venue_basis(1, p, "BTC/USD", t) for t in times]
    later = [venue_basis(1, p, "BTC/USD", t + 10_000) for t in times]  # one half-life on
    far = [venue_basis(1, p, "BTC/USD", t + 100_000) for t in times]  # ten half-lives on
    assert 340 < statistics.pstdev(now) < 460
    assert abs(statistics.mean(now)) < 60  # around the reference, no drift
    assert 0.4 < statistics.correlation(now, later) < 0.6  # 2**-1
    assert abs(statistics.correlation(now, far)) < 0.1


@pytest.mark.parametrize("bad", [{"basis_ppm": 10_001}, {"basis_halflife_ms": 999},
                                 {"basis_ppm": -1}, {"basis_halflife_ms": 3_600_001}])
def test_out_of_range_basis_is_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        VenueProfile(name="b", maker_ppm=0, taker_ppm=500, **bad)


def test_normal_dispersion_passes_the_consensus_and_a_wrong_price_does_not() -> None:
    worst = 0
    for k in range(1_500):  # ~4 h, every 10 s: the three books of the dispersed market
        now = T0 + k * 10_000
        books = {}
        for name, p in DISPERSED_PROFILES.items():
            bids, asks = maker_ladder(5, p, "BTC/USD", now)
            books[name] = OrderBook("BTC/USD", bids, asks, now, name)
        c = check(books, now)
        assert c.excluded == () and set(c.fresh) == set(books)
        for b in books.values():
            worst = max(worst, abs(b.bids[0].price + b.asks[0].price - 2 * c.mid) * 5_000 // c.mid)
    assert 5 <= worst < 40  # bps: real dispersion, far from the 50 bps rule
    now = T0 + 60_000
    sims = {n: Simulator(p.calm().with_(basis_ppm=p.basis_ppm), 5)
            for n, p in DISPERSED_PROFILES.items()}
    sims["thirdex"].set_state(FaultState(wrong_until_ms=now + 1, wrong_ppm=-50_000))
    c = check({n: s.order_book("BTC/USD", now) for n, s in sims.items()}, now)
    assert [(e.venue, e.reason) for e in c.excluded] == [("thirdex", "outlier")]
