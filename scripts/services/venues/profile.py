"""A venue's profile: fees, latency, rate limit, depth, spread and the faults it tends to have.

Three defaults differ the way real venues do (:data:`DEFAULT_PROFILES`): ``deepbook`` is deep and
slow with 10 bps taker fees, ``fastlane`` thin and fast with 5 bps, ``thirdex`` medium with 8 bps and
occasional outages. A profile is plain data: JSON via :func:`load_profile` / :meth:`VenueProfile.to_json`.
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
                "levels", "level_notional", "spread_ppm", "level_step_ppm", "noise_ppm", "requote_ms",
                "outage_slot_ms", "stale_age_ms", "wrong_price_ppm")
        for name in ints:
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"profile {name} must be a non-negative integer")
        if not 0 <= self.maker_ppm <= 100_000 or not 0 <= self.taker_ppm <= 100_000:
            raise ValueError("profile fees must be at most 10% (100000 ppm)")
        if self.levels < 1 or self.level_notional < 1 or self.requote_ms < 1 or self.outage_slot_ms < 1:
            raise ValueError("profile levels, level_notional, requote_ms, outage_slot_ms must be >= 1")
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
        """The same venue without random faults (no outages, stale or wrong books): only the
        faults the admin API forces happen (tests that must be deterministic)."""
        return replace(self, outage_probability=0.0, outage_windows=(), stale_probability=0.0,
                       wrong_price_probability=0.0)

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
