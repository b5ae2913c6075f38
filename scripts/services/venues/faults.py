"""What goes wrong on a venue: outages, stale and wrong prices, latency, rate limits.

The profile sets the odds (:class:`~.profile.VenueProfile`); :class:`FaultState` holds the
overrides the admin API sets (force an outage until a time, force stale or wrong prices, set the
latency, "die after N fills"). Seeded draws: the same seed and the same sequence of requests give
the same faults. Outage slots are a pure function of (seed, venue, time), so a venue is down for a
whole slot, not for one request in it.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass

from keeper.trading.types import Level, OrderBook
from scripts.services.venues.profile import VenueProfile

FOREVER_MS = 2**62


@dataclass
class FaultState:
    """The admin's overrides (persisted by the service). Times are absolute ms."""

    down_until_ms: int = 0          # forced maintenance until then
    dead: bool = False              # the venue died (after its fill budget); down until revived
    stale_until_ms: int = 0         # every public answer stale until then
    wrong_until_ms: int = 0         # every public answer's prices offset until then
    wrong_ppm: int | None = None    # offset of forced wrong prices (signed); default the profile's
    latency_ms: int | None = None   # overrides the profile's mean latency
    rate_limit_rps: int | None = None  # overrides the profile's rate limit
    die_after_fills: int | None = None  # set on the engine as its fill budget

    def to_dict(self) -> dict[str, object]:
        """Plain data (JSON)."""
        return asdict(self)


def _unit(*parts: object) -> float:
    """A uniform draw in [0, 1) that is a pure function of ``parts``."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class Faults:
    """One venue's fault decisions (not thread-safe: the simulator holds its lock)."""

    def __init__(self, profile: VenueProfile, seed: int, state: FaultState | None = None) -> None:
        self.profile = profile
        self.seed = seed
        self.state = state or FaultState()
        self._rng = random.Random(f"faults:{seed}:{profile.name}")
        self._buckets: dict[str, tuple[float, int]] = {}  # key -> (tokens, last ms)

    def outage(self, now_ms: int) -> str | None:
        """Why the venue is down at ``now_ms`` ("maintenance" or "unavailable"), or None."""
        if self.state.dead:
            return "unavailable"
        if now_ms < self.state.down_until_ms:
            return "maintenance"
        if any(start <= now_ms < end for start, end in self.profile.outage_windows):
            return "maintenance"
        if self._slot_down(now_ms // self.profile.outage_slot_ms):
            return "unavailable"
        return None

    def _setting(self, name: str) -> int:
        """The admin's override of a profile setting, else the profile's."""
        value = getattr(self.state, name)
        return int(getattr(self.profile, name) if value is None else value)

    def _slot_down(self, slot: int) -> bool:
        p = self.profile.outage_probability
        return bool(p) and _unit("outage", self.seed, self.profile.name, slot) < p

    def outage_end(self, now_ms: int) -> int:
        """When every cause of the current outage has passed (ms; a dead venue: in a second,
        unknown), for ``Retry-After``."""
        if self.state.dead:
            return now_ms + 1000
        ends = [now_ms]
        if now_ms < self.state.down_until_ms:
            ends.append(self.state.down_until_ms)
        ends += [end for start, end in self.profile.outage_windows if start <= now_ms < end]
        slot = now_ms // self.profile.outage_slot_ms
        if self._slot_down(slot):
            ends.append((slot + 1) * self.profile.outage_slot_ms)
        return max(ends)

    def public_fault(self, now_ms: int) -> tuple[str | None, int]:
        """("stale" | "wrong" | None, signed wrong offset ppm) for one public answer."""
        draw, sign = self._rng.random(), 1 if self._rng.random() < 0.5 else -1
        if now_ms < self.state.stale_until_ms:
            return "stale", 0
        if now_ms < self.state.wrong_until_ms:
            forced = self.state.wrong_ppm
            return "wrong", forced if forced is not None else self.profile.wrong_price_ppm
        if draw < self.profile.stale_probability:
            return "stale", 0
        if draw < self.profile.stale_probability + self.profile.wrong_price_probability:
            return "wrong", sign * self.profile.wrong_price_ppm
        return None, 0

    def mean_latency_ms(self) -> int:
        """The mean added latency (the admin's override, else the profile's)."""
        return self._setting("latency_ms")

    def latency_ms(self) -> int:
        """This request's added latency: mean +- uniform jitter (the admin's mean if set)."""
        mean = self.mean_latency_ms()
        jitter = min(self.profile.latency_jitter_ms, mean)
        return mean + self._rng.randint(-jitter, jitter)

    def rate_limited(self, key: str, now_ms: int) -> int | None:
        """Token bucket per key (``rate_limit_rps`` a second, as many in a burst): None when
        the request may go, else the milliseconds until a token is back."""
        rate = self._setting("rate_limit_rps")
        if rate <= 0:
            return None
        tokens, last = self._buckets.get(key, (float(rate), now_ms))
        tokens = min(float(rate), tokens + max(0, now_ms - last) * rate / 1000)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now_ms)
            return None
        self._buckets[key] = (tokens, now_ms)
        return max(1, int((1 - tokens) * 1000 / rate) + 1)


def offset_book(book: OrderBook, ppm: int) -> OrderBook:
    """``book`` with every price moved by ``ppm`` (a wrong price; at least one minor unit)."""
    def move(levels: tuple[Level, ...]) -> tuple[Level, ...]:
        return tuple(Level(max(1, lv.price + (lv.price * ppm // 1_000_000 or (1 if ppm > 0 else -1))),
                           lv.amount) for lv in levels)
    return OrderBook(book.symbol, move(book.bids), move(book.asks), book.timestamp, book.venue)
