"""One venue as the outside sees it: the engine behind its faults, under one lock.

Both the HTTP service and the in-process venue (:mod:`.inprocess`) go through
:class:`Simulator`, so an outage, a stale or wrong book and "die after N fills" behave the same
in both. ``on_change`` is called (under the lock) after every change of the engine's state, before
the caller hears of it: the service persists there, so an answer is only given once it is durable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from keeper.trading.types import (
    Balance,
    ExchangeNotAvailable,
    OnMaintenance,
    Order,
    OrderBook,
    OrderType,
    Side,
    Ticker,
)
from scripts.services.venues.engine import Engine
from scripts.services.venues.faults import Faults, FaultState, offset_book
from scripts.services.venues.prices import maker_ladder
from scripts.services.venues.profile import VenueProfile


class Simulator:
    """A venue: engine, faults, lock. Every method takes the time (ms) it happens at."""

    def __init__(self, profile: VenueProfile, seed: int, *, state: FaultState | None = None,
                 on_change: Callable[[Simulator], None] | None = None) -> None:
        self.profile = profile
        self.engine = Engine(profile, seed)
        self.faults = Faults(profile, seed, state)
        self.engine.fill_budget = self.faults.state.die_after_fills
        self.engine.track_changes = on_change is not None
        self.lock = threading.RLock()
        self._on_change = on_change

    # --- availability -------------------------------------------------------------------------

    def check_up(self, now_ms: int) -> None:
        """Raise :class:`OnMaintenance` / :class:`ExchangeNotAvailable` while the venue is down."""
        with self.lock:
            why = self.faults.outage(now_ms)
        if why == "maintenance":
            raise OnMaintenance(f"{self.profile.name} is under maintenance")
        if why is not None:
            raise ExchangeNotAvailable(f"{self.profile.name} is not available")

    # --- public -------------------------------------------------------------------------------

    def order_book(self, symbol: str, now_ms: int, limit: int | None = None) -> OrderBook:
        """The public book, stale or with wrong prices as the faults decide."""
        with self.lock:
            book = self.engine.order_book(symbol, now_ms, limit)
            fault, ppm = self.faults.public_fault(now_ms)
            self._changed()
        if fault == "stale":
            then = max(0, now_ms - self.profile.stale_age_ms)
            bids, asks = maker_ladder(self.engine.seed, self.profile, symbol, then)
            return OrderBook(symbol, bids[:limit], asks[:limit], then, self.profile.name)
        if fault == "wrong":
            return offset_book(book, ppm)
        return book

    def ticker(self, symbol: str, now_ms: int) -> Ticker:
        """The public ticker, from the (possibly faulty) book."""
        book = self.order_book(symbol, now_ms, 1)
        with self.lock:
            last = self.engine.ticker(symbol, now_ms).last
        bid = book.bids[0].price if book.bids else None
        ask = book.asks[0].price if book.asks else None
        return Ticker(symbol, bid, ask, last, book.timestamp)

    # --- private ------------------------------------------------------------------------------

    def create_order(self, symbol: str, type: OrderType, side: Side, amount: int, price: int | None,
                     now_ms: int, client_order_id: str | None = None, time_in_force: str = "GTC") -> Order:
        """Place an order; when it used up the fill budget the venue dies *after* recording it
        (the caller sees :class:`ExchangeNotAvailable`, the order and its fills exist)."""
        with self.lock:
            try:
                order = self.engine.create_order(symbol, type, side, amount, price, now_ms,
                                                 client_order_id, time_in_force)
            finally:
                self._changed()
        self._raise_if_died()
        return order

    def cancel_order(self, order_id: str, now_ms: int) -> Order:
        """Cancel an open order."""
        with self.lock:
            try:
                return self.engine.cancel_order(order_id, now_ms)
            finally:
                self._changed()

    def fetch_order(self, order_id: str | None, now_ms: int, client_order_id: str | None = None) -> Order:
        """An order by venue id, or by clientOrderId when ``order_id`` is None."""
        with self.lock:
            try:
                if order_id is None:
                    return self.engine.fetch_order_by_client_id(client_order_id or "", now_ms)
                return self.engine.fetch_order(order_id, now_ms)
            finally:
                self._changed()

    def balance(self, now_ms: int) -> Balance:
        """Our balances (after the makers' latest quotes traded with our resting orders)."""
        with self.lock:
            self.engine.advance(now_ms)
            self._changed()
            return self.engine.balance()

    # --- admin --------------------------------------------------------------------------------

    def fund(self, currency: str, amount: int) -> Balance:
        """Credit our account (admin)."""
        with self.lock:
            self.engine.fund(currency, amount)
            self._changed()
            return self.engine.balance()

    def set_state(self, state: FaultState) -> None:
        """Replace the admin overrides; ``die_after_fills`` becomes the engine's fill budget."""
        with self.lock:
            self.faults.state = state
            self.engine.fill_budget = state.die_after_fills
            self._changed()

    def _changed(self) -> None:
        budget = self.engine.fill_budget
        if budget is not None and budget <= 0 and not self.faults.state.dead:
            self.faults.state.dead = True
        self.faults.state.die_after_fills = budget
        if self._on_change is not None:
            self._on_change(self)

    def _raise_if_died(self) -> None:
        if self.faults.state.dead:
            raise ExchangeNotAvailable(f"{self.profile.name} failed while processing the order")
