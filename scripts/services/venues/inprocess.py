"""A simulated venue in this process: the :class:`~keeper.trading.types.Venue` interface over a
:class:`~.simulator.Simulator`, without HTTP (fast pure tests, the routing bench).

It behaves like the HTTP venue on every rule the simulator owns (outages, stale and wrong books,
"die after N fills", rate limits when ``rate_limited``), and raises the same CCXT errors; only the
latency is not slept: :meth:`LocalVenue.latency_ms` says what the request would have waited, and a
simulated ``clock`` may advance by it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from keeper.trading.types import (
    Balance,
    FeeSchedule,
    InvalidOrder,
    Order,
    OrderBook,
    OrderType,
    RateLimitExceeded,
    Side,
    Ticker,
)
from scripts.services.venues.profile import DEFAULT_PROFILES, VenueProfile
from scripts.services.venues.simulator import Simulator


def wall_clock_ms() -> int:
    """Milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


class LocalVenue:
    """:class:`~keeper.trading.types.Venue` over an in-process simulator."""

    def __init__(self, profile: VenueProfile, seed: int, *, clock: Callable[[], int] = wall_clock_ms,
                 rate_limited: bool = False) -> None:
        self.id = profile.name
        self.sim = Simulator(profile, seed)
        self.clock = clock
        self.rate_limited = rate_limited

    def _now(self) -> int:
        now = self.clock()
        self.sim.check_up(now)
        if self.rate_limited:
            with self.sim.lock:
                wait = self.sim.faults.rate_limited("local", now)
            if wait is not None:
                raise RateLimitExceeded(f"{self.id}: rate limit, retry after {wait} ms")
        return now

    def fees(self) -> FeeSchedule:
        """The profile's maker/taker fees."""
        return self.sim.profile.fees()

    def latency_estimate_ms(self) -> int:
        """The profile's mean latency (or the admin's override), as a registry would estimate it."""
        with self.sim.lock:
            return self.sim.faults.mean_latency_ms()

    def latency_ms(self) -> int:
        """The latency the next request would have (seeded draw)."""
        with self.sim.lock:
            return self.sim.faults.latency_ms()

    def fetch_order_book(self, symbol: str, limit: int | None = None) -> OrderBook:
        """The (possibly stale or wrong) book."""
        return self.sim.order_book(symbol, self._now(), limit)

    def fetch_ticker(self, symbol: str) -> Ticker:
        """The (possibly stale or wrong) ticker."""
        return self.sim.ticker(symbol, self._now())

    def create_order(self, symbol: str, type: OrderType, side: Side, amount: int,
                     price: int | None = None, params: dict[str, object] | None = None) -> Order:
        """Place an order; ``params``: ``clientOrderId``, ``timeInForce`` (GTC or IOC)."""
        params = dict(params or {})
        cid = params.pop("clientOrderId", None)
        tif = params.pop("timeInForce", "GTC")
        if params:
            raise InvalidOrder(f"unsupported params: {sorted(params)}")
        # the engine refuses a clientOrderId or timeInForce that is not a valid string
        return self.sim.create_order(symbol, type, side, amount, price, self._now(),
                                     cid, tif)  # type: ignore[arg-type]

    def cancel_order(self, id: str, symbol: str | None = None) -> Order:
        """Cancel an open order."""
        return self.sim.cancel_order(id, self._now())

    def fetch_order(self, id: str, symbol: str | None = None) -> Order:
        """An order by the venue's id."""
        return self.sim.fetch_order(id, self._now())

    def fetch_order_by_client_id(self, client_order_id: str, symbol: str | None = None) -> Order:
        """An order by its clientOrderId (check a timed-out create before re-sending)."""
        return self.sim.fetch_order(None, self._now(), client_order_id)

    def fetch_balance(self) -> Balance:
        """Our balances."""
        return self.sim.balance(self._now())

    def fund(self, currency: str, amount: int) -> Balance:
        """Credit our account on the venue (tests, bench)."""
        return self.sim.fund(currency, amount)


def local_venues(seed: int, *, clock: Callable[[], int] = wall_clock_ms,
                 profiles: dict[str, VenueProfile] | None = None,
                 funds: dict[str, int] | None = None) -> dict[str, LocalVenue]:
    """The default three venues (or ``profiles``) in process, sharing ``seed`` and ``clock``,
    each credited with ``funds``."""
    out = {}
    for name, profile in (profiles or DEFAULT_PROFILES).items():
        venue = LocalVenue(profile, seed, clock=clock)
        for currency, amount in (funds or {}).items():
            venue.fund(currency, amount)
        out[name] = venue
    return out
