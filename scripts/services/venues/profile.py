"""A venue's profile: fees, latency, rate limit, depth, spread and the faults it tends to have.

Three defaults differ the way real venues do (:data:`DEFAULT_PROFILES`): ``deepbook`` is deep and
slow with 10 bps taker fees, ``fastlane`` thin and fast with 5 bps, ``thirdex`` medium with 8 bps and
occasional outages. Each also quotes around its own persistent basis to the reference (real venues
do not quote one shared price) in :data:`DISPERSED_PROFILES` (:data:`BASIS` has the sizes and
their sources). A profile is plain data: JSON via :func:`load_profile` / :meth:`VenueProfile.to_json`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from keeper.trading.types import FeeSchedule


@dataclass(frozen=True)
class VenueProfile:
    """How one venue behaves. Rates are parts per million (ppm); times are milliseconds."""

    name: str
    maker_ppm: int
    taker_ppm: int
    latency_ms: int = 20            # mean added to each request
    latency_jitter_ms: int = 5      # +- uniform around the mean
    rate_limit_rps: int = 50        # requests per second per API key (bucket of the same size)
    levels: int = 10                # maker levels a side
    level_notional: int = 5_000_000  # quote minor units per maker level (USD cents)
    spread_ppm: int = 400           # best ask - best bid, relative to the venue's mid
    level_step_ppm: int = 200       # distance between maker levels
    noise_ppm: int = 100            # venue mid's own deviation from the reference (uniform +-)
    basis_ppm: int = 0              # std dev of the venue's mean-reverting basis to the reference
    basis_halflife_ms: int = 60_000  # how fast that basis reverts (half-life)
    requote_ms: int = 1_000         # makers re-post their full ladder this often
    outage_probability: float = 0.0  # share of outage slots in which the venue is down
    outage_slot_ms: int = 60_000
    outage_windows: tuple[tuple[int, int], ...] = ()  # absolute [start, end) ms windows
    stale_probability: float = 0.0   # share of public book/ticker answers served stale
    stale_age_ms: int = 30_000       # how old a stale answer is
    wrong_price_probability: float = 0.0  # share of public answers with prices offset
    wrong_price_ppm: int = 50_000    # the offset (+ or -) of a wrong price
    symbols: tuple[str, ...] = ("BTC/USD", "ETH/USD", "USDC/USD", "USDT/USD")

    def __post_init__(self) -> None:
        ints = ("maker_ppm", "taker_ppm", "latency_ms", "latency_jitter_ms", "rate_limit_rps",
                "levels", "level_notional", "spread_ppm", "level_step_ppm", "noise_ppm", "basis_ppm",
                "basis_halflife_ms", "requote_ms",
                "outage_slot_ms", "stale_age_ms", "wrong_price_ppm")
        for name in ints:
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"profile {name} must be a non-negative integer")
        if not 0 <= self.maker_ppm <= 100_000 or not 0 <= self.taker_ppm <= 100_000:
            raise ValueError("profile fees must be at most 10% (100000 ppm)")
        if self.levels < 1 or self.level_notional < 1 or self.requote_ms < 1 or self.outage_slot_ms < 1:
            raise ValueError("profile levels, level_notional, requote_ms, outage_slot_ms must be >= 1")
        if self.basis_ppm > 10_000 or self.basis_halflife_ms < 1_000 or self.basis_halflife_ms > 3_600_000:
            raise ValueError("profile basis_ppm must be <= 1% and its half-life within [1 s, 1 h]")
        if (self.latency_jitter_ms > self.latency_ms or self.spread_ppm >= 500_000
                or self.wrong_price_ppm >= 500_000):
            raise ValueError("profile jitter exceeds latency, or spread/wrong price >= 50%")
        for name in ("outage_probability", "stale_probability", "wrong_price_probability"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"profile {name} must be within [0, 1]")
        for start, end in self.outage_windows:
            if type(start) is not int or type(end) is not int or end <= start:
                raise ValueError("outage windows are [start, end) integer ms with end > start")

    def fees(self) -> FeeSchedule:
        """The maker/taker fee schedule."""
        return FeeSchedule(self.maker_ppm, self.taker_ppm)

    def to_json(self) -> str:
        """The profile as JSON (what :func:`load_profile` reads)."""
        return json.dumps(asdict(self), sort_keys=True)

    def calm(self) -> VenueProfile:
        """The same venue without random faults (no outages, stale or wrong books) and without
        its basis (every calm venue quotes around the one shared reference): only the faults the
        admin API forces happen, and a routing outcome does not depend on when (on the wall clock)
        a test runs (tests that must be deterministic)."""
        return replace(self, outage_probability=0.0, outage_windows=(), stale_probability=0.0,
                       wrong_price_probability=0.0, basis_ppm=0)

    def with_(self, **changes: Any) -> VenueProfile:
        """A copy with ``changes``."""
        return replace(self, **changes)


def profile_from_dict(data: dict[str, Any]) -> VenueProfile:
    """A profile from its JSON object (unknown keys refused)."""
    known = {f.name for f in fields(VenueProfile)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown profile keys: {sorted(unknown)}")
    data = dict(data)
    if "outage_windows" in data:
        data["outage_windows"] = tuple(tuple(w) for w in data["outage_windows"])
    if "symbols" in data:
        data["symbols"] = tuple(data["symbols"])
    return VenueProfile(**data)


def load_profile(path: Path) -> VenueProfile:
    """A profile from a JSON file."""
    return profile_from_dict(json.loads(path.read_text()))


DEFAULT_PROFILES: dict[str, VenueProfile] = {
    "deepbook": VenueProfile(
        name="deepbook", maker_ppm=200, taker_ppm=1_000, latency_ms=40, latency_jitter_ms=15,
        rate_limit_rps=20, levels=20, level_notional=25_000_000, spread_ppm=300, level_step_ppm=150,
        noise_ppm=80, requote_ms=1_000, stale_probability=0.01, wrong_price_probability=0.002),
    "fastlane": VenueProfile(
        name="fastlane", maker_ppm=0, taker_ppm=500, latency_ms=5, latency_jitter_ms=2,
        rate_limit_rps=100, levels=5, level_notional=4_000_000, spread_ppm=200, level_step_ppm=250,
        noise_ppm=120, requote_ms=500, stale_probability=0.02, wrong_price_probability=0.005),
    "thirdex": VenueProfile(
        name="thirdex", maker_ppm=100, taker_ppm=800, latency_ms=20, latency_jitter_ms=8,
        rate_limit_rps=30, levels=10, level_notional=10_000_000, spread_ppm=500, level_step_ppm=200,
        noise_ppm=150, requote_ms=1_000, outage_probability=0.02, outage_slot_ms=60_000,
        stale_probability=0.03, wrong_price_probability=0.01),
}
"""The three venues on one shared reference (mids within the re-quote noise, ~1 bp): what the
tests and ``make run`` start, so a routing outcome never depends on when a test runs."""

# Cross-venue basis (``basis_ppm`` standard deviation, ``basis_halflife_ms``). Evidence:
# * Makarov & Schoar, "Trading and arbitrage in cryptocurrency markets", J. Financial Economics
#   135(2) 2020: deviations are large (percent-level, e.g. the "Kimchi premium", up to 40 % in
#   2017) *across countries* and much smaller *within* one, and they are persistent;
# * Crepelliere, Pelster & Zeisberger, "Arbitrage in the market for cryptocurrencies" (UZH
#   blockchain center, J. Financial Markets 2023): the magnitude fell greatly from April 2018;
# * Kroeger & Sarkar (FRBNY), "Law of one bitcoin price?" 2017: USD price differences between US
#   venues are persistent and mean-reverting, larger where spreads are wider and depth thinner;
# * one day's USD closes (Aug 2025, btcpizza.com summary of Coinbase/Kraken/Bitstamp/Binance):
#   the three main USD books within ~2 bps of each other, the thin Binance USD book ~15 bps off.
# So, for one country's regulated USD venues (what a custody desk routes to): the deep venue ~2 bps,
# a medium one ~3 bps, a thin one ~6 bps of standard deviation (its 4-sigma tail ~25 bps, still
# well under the consensus filter's 50 bps outlier rule, which must keep catching the 500 bps
# "wrong price" fault). The half-lives (30 s deep, 1 min medium, 2 min thin) are an assumption
# within "persistent for seconds to minutes" at this horizon (the sources above measure hours to
# days, where arbitrage is slower), not a measured figure. Nothing here is tuned to a goal: the
# routing bench prints the figures these sizes give.
BASIS: dict[str, tuple[int, int]] = {  # venue -> (basis_ppm, basis_halflife_ms)
    "deepbook": (200, 30_000), "thirdex": (300, 60_000), "fastlane": (600, 120_000)}
DISPERSED_PROFILES: dict[str, VenueProfile] = {
    name: p.with_(basis_ppm=BASIS[name][0], basis_halflife_ms=BASIS[name][1])
    for name, p in DEFAULT_PROFILES.items()}
"""The default venues each on its own persistent basis (:data:`BASIS`): the market the routing
bench measures by default."""
