"""The matching engine of one simulated venue: pure Python, no I/O, deterministic under a seed.

Per symbol a price-time-priority :class:`~.book.Book` holds the synthetic makers' ladder (re-posted
around the venue's mid every ``requote_ms``, see :mod:`.prices`) and our resting orders. Our
account has integer balances per currency; an open order reserves what it may spend (a buy: its
notional at the limit plus the worst-case fee; a sell: its amount), so ``free`` never goes negative
and an order the balance does not cover is refused (:class:`InsufficientFunds`) before anything
changes. Fills are priced at the resting order's price; we pay the taker fee when our order takes
and the maker fee when the makers hit our resting order. An order's fee is
``fee_for(taker_cost, taker_ppm) + fee_for(maker_cost, maker_ppm)``; each fill carries the increase
it caused, so the fills' fees add up to the order's fee. A ``clientOrderId`` binds one order: the
same request again returns it unchanged; another request under the same id is refused. Our
incoming order never trades with our own resting order: it stops there and its remainder expires
(self-trade prevention "expire taker"), so our book is never crossed.

Time is passed in (``now_ms``), never read, so the same seed and the same calls give the same
books and fills. :attr:`Engine.ledger` records what the makers and the venue's fee account
received, so units are conserved: what we buy the makers sell.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from keeper.trading.types import (
    MARKETS,
    BadSymbol,
    Balance,
    Fill,
    InsufficientFunds,
    InvalidOrder,
    Level,
    Order,
    OrderBook,
    OrderFee,
    OrderNotFound,
    OrderStatus,
    OrderType,
    Side,
    Ticker,
    fee_for,
)
from scripts.services.venues.book import Book, Resting
from scripts.services.venues.prices import maker_ladder
from scripts.services.venues.profile import VenueProfile

US, MAKERS, FEES = "us", "makers", "fees"
CLIENT_ORDER_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
TIME_IN_FORCE = ("GTC", "IOC")
Quotes = Callable[[str, int], tuple[tuple[Level, ...], tuple[Level, ...]]]
MAX_AMOUNT = 10**36  # base minor units; bounds arithmetic on hostile input


@dataclass
class OrderRecord:
    """Our order as the engine keeps it (mutable); :meth:`view` is the CCXT-shaped order."""

    id: str
    client_order_id: str | None
    symbol: str
    type: OrderType
    side: Side
    price: int | None
    amount: int
    time_in_force: str
    timestamp: int
    seq: int
    filled: int = 0
    taker_cost: int = 0
    maker_cost: int = 0
    fee: int = 0
    reserved: int = 0  # in the quote currency for a buy, the base currency for a sell
    status: OrderStatus = OrderStatus.OPEN

    @property
    def cost(self) -> int:
        """Quote minor units traded (sum of the fills' notionals)."""
        return self.taker_cost + self.maker_cost

    def request(self) -> tuple[object, ...]:
        """What identifies the request (a retry under the same clientOrderId must match it)."""
        return (self.symbol, self.type, self.side, self.price, self.amount, self.time_in_force)

    def view(self) -> Order:
        """The CCXT-shaped order."""
        market = MARKETS[self.symbol]
        average = self.cost * 10**market.base_decimals // self.filled if self.filled else None
        return Order(id=self.id, client_order_id=self.client_order_id, symbol=self.symbol,
                     type=self.type, side=self.side, price=self.price, amount=self.amount,
                     filled=self.filled, remaining=self.amount - self.filled, cost=self.cost,
                     fee=OrderFee(self.fee, market.quote), status=self.status,
                     timestamp=self.timestamp, average=average)


@dataclass
class FillRecord:
    """One of our fills and whether we took (``taker``) or made liquidity."""

    fill: Fill
    taker: bool
    seq: int


@dataclass
class Changes:
    """What changed since the last :meth:`Engine.take_changes` (for persistence)."""

    orders: dict[str, OrderRecord] = field(default_factory=dict)
    fills: list[FillRecord] = field(default_factory=list)


def _positive_int(value: object, what: str) -> int:
    if type(value) is not int or not 0 < value <= MAX_AMOUNT:
        raise InvalidOrder(f"{what} must be a positive integer of minor units")
    return value


def _reserve_currency(order: OrderRecord) -> str:
    market = MARKETS[order.symbol]
    return market.quote if order.side is Side.BUY else market.base


class Engine:
    """One venue's books and our account on it."""

    def __init__(self, profile: VenueProfile, seed: int, quotes: Quotes | None = None) -> None:
        """``quotes(symbol, now_ms)`` is the makers' (bids, asks) ladder; default the seeded
        :func:`~.prices.maker_ladder` of ``profile``."""
        self.profile = profile
        self.seed = seed
        self.quotes: Quotes = quotes or (lambda symbol, now: maker_ladder(seed, profile, symbol, now))
        self.total: dict[str, int] = {}
        self.used: dict[str, int] = {}
        self.ledger: dict[str, dict[str, int]] = {MAKERS: {}, FEES: {}}
        self.orders: dict[str, OrderRecord] = {}
        self.by_client_id: dict[str, str] = {}
        self.fills: list[FillRecord] = []
        self.fill_budget: int | None = None  # fills left before the venue "dies"; None: unlimited
        self.track_changes = True  # keep what changed for take_changes (off when nothing persists)
        self._books = {s: Book() for s in profile.symbols}
        self._quoted: dict[str, int] = {}
        self._seq = 0
        self._now = 0
        self._changes = Changes()

    @property
    def now(self) -> int:
        """The engine's clock (ms): the latest time it was advanced to."""
        return self._now

    # --- account ------------------------------------------------------------------------------

    def fund(self, currency: str, amount: int) -> None:
        """Credit (or, negative, debit from free) ``amount`` minor units of ``currency``."""
        if type(amount) is not int or abs(amount) > MAX_AMOUNT or not re.fullmatch(r"[A-Z]{2,10}", currency):
            raise InvalidOrder("fund takes a currency code and an integer amount")
        if amount < 0 and self.free(currency) < -amount:
            raise InsufficientFunds(f"free {currency} does not cover the withdrawal")
        self.total[currency] = self.total.get(currency, 0) + amount

    def free(self, currency: str) -> int:
        """Our balance of ``currency`` not reserved by open orders."""
        return self.total.get(currency, 0) - self.used.get(currency, 0)

    def balance(self) -> Balance:
        """Our balances: free, used (reserved by open orders), total."""
        names = sorted(set(self.total) | set(self.used))
        return Balance(free={c: self.free(c) for c in names}, used={c: self.used.get(c, 0) for c in names},
                       total={c: self.total.get(c, 0) for c in names})

    # --- market data --------------------------------------------------------------------------

    def _book(self, symbol: object) -> Book:
        if not isinstance(symbol, str) or symbol not in self._books:
            raise BadSymbol(f"{self.profile.name} does not list {str(symbol)[:32]!r}")
        return self._books[symbol]

    def advance(self, now_ms: int) -> None:
        """Move the clock to ``now_ms`` (never backwards); makers re-quote when their step
        changed, trading against our resting orders their new quotes cross."""
        self._now = max(self._now, now_ms)
        for symbol in self._books:
            self._requote(symbol)

    def _requote(self, symbol: str) -> None:
        step = self._now // self.profile.requote_ms
        if self._quoted.get(symbol) == step:
            return
        self._quoted[symbol] = step
        book = self._books[symbol]
        book.remove_owner(MAKERS)
        bids, asks = self.quotes(symbol, self._now)
        for side, levels in ((Side.BUY, bids), (Side.SELL, asks)):
            for level in levels:
                left = level.amount
                for row, take in book.plan(side, level.amount, level.price, MAKERS)[0]:
                    if not self._budget_left():
                        left = 0  # no fill allowed: the level is not posted through our order
                        break
                    self._trade(self.orders[row.order_id], row, take, taker=False, book=book)
                    left -= take
                if left:
                    self._seq += 1
                    book.add(Resting(level.price, self._seq, f"mm-{self._seq}", MAKERS, side, left))

    def order_book(self, symbol: str, now_ms: int, limit: int | None = None) -> OrderBook:
        """The book of ``symbol`` at ``now_ms`` (at most ``limit`` levels a side)."""
        book = self._book(symbol)
        self.advance(now_ms)
        return OrderBook(symbol, book.levels(Side.BUY, limit), book.levels(Side.SELL, limit), self._now,
                         self.profile.name)

    def ticker(self, symbol: str, now_ms: int) -> Ticker:
        """Best bid, best ask and the last trade price (ours) or the mid."""
        book = self.order_book(symbol, now_ms, 1)
        bid = book.bids[0].price if book.bids else None
        ask = book.asks[0].price if book.asks else None
        last = next((f.fill.price for f in reversed(self.fills) if f.fill.symbol == symbol), None)
        if last is None and bid is not None and ask is not None:
            last = (bid + ask) // 2
        return Ticker(symbol, bid, ask, last, self._now)

    # --- orders -------------------------------------------------------------------------------

    def create_order(self, symbol: str, type: OrderType, side: Side, amount: int, price: int | None,
                     now_ms: int, client_order_id: str | None = None, time_in_force: str = "GTC") -> Order:
        """Place our order: it takes what it can now, a GTC limit rests with the remainder.

        Raises :class:`BadSymbol`, :class:`InvalidOrder` (malformed, or a clientOrderId bound to
        another request) or :class:`InsufficientFunds`; a refused order changes nothing."""
        book = self._book(symbol)
        try:
            type, side = OrderType(type), Side(side)
        except ValueError:
            raise InvalidOrder("unknown order type or side") from None
        amount = _positive_int(amount, "amount")
        if type is OrderType.LIMIT:
            price = _positive_int(price, "price")
        elif price is not None:
            raise InvalidOrder("a market order takes no price")
        if time_in_force not in TIME_IN_FORCE:
            raise InvalidOrder("timeInForce must be GTC or IOC")
        tif = "IOC" if type is OrderType.MARKET else time_in_force
        if client_order_id is not None:
            if not isinstance(client_order_id, str) or not CLIENT_ORDER_ID.fullmatch(client_order_id):
                raise InvalidOrder("clientOrderId must be 1-64 of [A-Za-z0-9._:-]")
            known = self.by_client_id.get(client_order_id)
            if known is not None:
                order = self.orders[known]
                if order.request() != (symbol, type, side, price, amount, tif):
                    raise InvalidOrder("clientOrderId already used for a different order")
                return order.view()
        self.advance(now_ms)
        market = MARKETS[symbol]
        plan, self_trade = book.plan(side, amount, price, US)
        if side is Side.BUY:
            currency = market.quote
            if type is OrderType.LIMIT:
                notional = market.notional(amount, price or 0)
                worst = max(self.profile.maker_ppm, self.profile.taker_ppm)
                reserve = notional + fee_for(notional, worst) + 1  # two ceilings: at most 1 more
            else:
                cost = sum(market.notional(take, row.price) for row, take in plan)
                reserve = cost + fee_for(cost, self.profile.taker_ppm)
        else:
            currency, reserve = market.base, amount
        if self.free(currency) < reserve:
            raise InsufficientFunds(f"free {currency} does not cover the order")
        self._seq += 1
        order = OrderRecord(id=f"{self.profile.name}-{self._seq:09d}", client_order_id=client_order_id,
                            symbol=symbol, type=type, side=side, price=price, amount=amount,
                            time_in_force=tif, timestamp=self._now, seq=self._seq, reserved=reserve)
        self.orders[order.id] = order
        if client_order_id is not None:
            self.by_client_id[client_order_id] = order.id
        self.used[currency] = self.used.get(currency, 0) + reserve
        cut = False  # the venue died (no fill allowed) before the order took what it could
        for row, take in plan:
            if not self._budget_left():
                cut = True
                break
            self._trade(order, row, take, taker=True, book=book)
        if order.filled == amount:
            self._finish(order, OrderStatus.CLOSED)
        elif tif == "IOC" or self_trade or cut:  # never rest through the book
            self._finish(order, OrderStatus.EXPIRED)
        else:
            book.add(Resting(order.price or 0, order.seq, order.id, US, side, amount - order.filled))
        self._changed(order)
        return order.view()

    def cancel_order(self, order_id: str, now_ms: int) -> Order:
        """Cancel our open order (what it reserved becomes free)."""
        order = self._order(order_id)
        self.advance(now_ms)
        if order.status is not OrderStatus.OPEN:
            raise InvalidOrder(f"order {order.id} is {order.status.value}, not open")
        self._books[order.symbol].remove(order.id, order.side)
        self._finish(order, OrderStatus.CANCELED)
        return order.view()

    def fetch_order(self, order_id: str, now_ms: int) -> Order:
        """Our order by id, as of ``now_ms``."""
        order = self._order(order_id)
        self.advance(now_ms)
        return order.view()

    def fetch_order_by_client_id(self, client_order_id: str, now_ms: int) -> Order:
        """Our order by its clientOrderId (how a timed-out create is checked before re-sending)."""
        known = self.by_client_id.get(client_order_id) if isinstance(client_order_id, str) else None
        if known is None:
            raise OrderNotFound("no order with that clientOrderId")
        return self.fetch_order(known, now_ms)

    def _order(self, order_id: object) -> OrderRecord:
        order = self.orders.get(order_id) if isinstance(order_id, str) else None
        if order is None:
            raise OrderNotFound("no such order")
        return order

    # --- internals ----------------------------------------------------------------------------

    def _budget_left(self) -> bool:
        return self.fill_budget is None or self.fill_budget > 0

    def _trade(self, order: OrderRecord, row: Resting, take: int, *, taker: bool, book: Book) -> None:
        """One fill of ``take`` base units of our ``order`` at ``row.price`` against the makers."""
        market = MARKETS[order.symbol]
        cost = market.notional(take, row.price)
        before = order.fee
        if taker:
            order.taker_cost += cost
        else:
            order.maker_cost += cost
        order.fee = fee_for(order.taker_cost, self.profile.taker_ppm) + fee_for(order.maker_cost,
                                                                               self.profile.maker_ppm)
        fee = order.fee - before
        order.filled += take
        book.take(row, take)
        base, quote = market.base, market.quote
        sign = 1 if order.side is Side.BUY else -1
        makers, fees = self.ledger[MAKERS], self.ledger[FEES]
        self.total[base] = self.total.get(base, 0) + sign * take
        self.total[quote] = self.total.get(quote, 0) - sign * cost - fee
        makers[base] = makers.get(base, 0) - sign * take
        makers[quote] = makers.get(quote, 0) + sign * cost
        fees[quote] = fees.get(quote, 0) + fee
        spent = cost + fee if order.side is Side.BUY else take
        order.reserved -= spent
        self.used[_reserve_currency(order)] -= spent
        if order.reserved < 0:
            raise AssertionError("an order spent more than it reserved")
        if self.fill_budget is not None:
            self.fill_budget -= 1
        self._seq += 1
        record = FillRecord(Fill(self.profile.name, order.id, order.symbol, order.side, take, row.price,
                                 cost, fee, self._now), taker, self._seq)
        self.fills.append(record)
        if self.track_changes:
            self._changes.fills.append(record)
        if not taker and order.filled == order.amount:
            self._finish(order, OrderStatus.CLOSED)
        self._changed(order)

    def _finish(self, order: OrderRecord, status: OrderStatus) -> None:
        self.used[_reserve_currency(order)] -= order.reserved
        order.reserved = 0
        order.status = status
        self._changed(order)

    def _changed(self, order: OrderRecord) -> None:
        if self.track_changes:
            self._changes.orders[order.id] = order

    def take_changes(self) -> Changes:
        """The orders and fills changed since the last call (and forget them)."""
        out, self._changes = self._changes, Changes()
        return out

    def restore(self, orders: list[OrderRecord], fills: list[FillRecord], total: dict[str, int],
                ledger: dict[str, dict[str, int]], fill_budget: int | None, now_ms: int) -> None:
        """Load the persisted state (a fresh engine): open orders rest again in their old order;
        the makers re-quote at the next step."""
        self.total, self.fill_budget = dict(total), fill_budget
        self.ledger = {k: dict(v) for k, v in ledger.items()}
        self.fills = sorted(fills, key=lambda f: f.seq)
        self._now = now_ms
        for order in sorted(orders, key=lambda o: o.seq):
            self.orders[order.id] = order
            if order.client_order_id is not None:
                self.by_client_id[order.client_order_id] = order.id
            self._seq = max(self._seq, order.seq)
            if order.status is OrderStatus.OPEN:
                currency = _reserve_currency(order)
                self.used[currency] = self.used.get(currency, 0) + order.reserved
                self._books[order.symbol].add(Resting(order.price or 0, order.seq, order.id, US, order.side,
                                                      order.amount - order.filled))
        self._seq = max([self._seq, *(f.seq for f in self.fills)])
