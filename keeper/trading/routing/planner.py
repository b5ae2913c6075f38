"""The smart order router's planner: pure, integer-only, no I/O.

Given a side, an amount, a limit price and, per eligible venue, its order book, fee schedule,
latency estimate and limits (:class:`VenueInput`), :func:`plan` allocates one child order per
venue minimising the all-in cost:

* **price**: the child walks the venue's book level by level; each level's notional is
  :meth:`Market.notional` (floor), as a venue computes its fills;
* **taker fee**: :func:`fee_for` on the child's notional (ceiling), once per child;
* **latency/risk penalty**: ``latency_ms * RoutingCosts.latency_ppm_per_100ms / 100`` parts per million
  of the child's notional (ceiling), a planning cost only: the price may move while a slow
  venue's order travels, so a slower venue must be cheaper by that much to be preferred. It is
  never reported as money paid (``Plan.all_in`` is price and fees only).

Algorithm: every level of every venue is ranked by its marginal cost per base unit including fee
and penalty (``price * (1e6 + taker_ppm + penalty_ppm)`` for a buy, ``price * (1e6 - taker_ppm -
penalty_ppm)`` for a sell, best first), then taken greedily up to the amount, each venue's
``max_order`` and our free balance there: a sell within the free base; a buy within what a limit
buy at its worst price reserves, ``notional(amount, price) + fee_for(notional, max(taker, maker))
+ 1``, as venues hold a limit order's funds at its limit price. Once a venue's limit or balance
binds it takes no deeper level, so a child's levels are always a prefix of its book. Each venue's
marginal cost is monotone along its book, so the greedy merge is the optimum of the linear cost;
the integer roundings (floor per level, ceiling per fee) differ from it by at most one minor unit
per level and per child.

The child's price is the worst level planned on that venue: it is sent as an IOC limit order at
that price, so it can never walk past the plan if the book moved (a shortfall is re-planned).

The baseline (SC-014/SC-017) is :func:`best_single_venue`: the lowest all-in cost of the whole
amount on one venue alone, walking that venue's book from the same snapshot within the limit price
(fees included, no latency penalty, as the best-execution report computes it). A venue whose
depth within the limit cannot fill the whole amount is not a baseline candidate (a partial fill is
not the same execution); when none can, there is no baseline (``None``) and the order is not
counted in the SOR-vs-single-venue comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

from keeper.trading.types import MARKETS, FeeSchedule, Level, Market, OrderBook, Side, fee_for

PPM = 1_000_000


@dataclass(frozen=True)
class RoutingCosts:
    """The planner's non-money cost: ``latency_ppm_per_100ms`` parts per million of a child's
    notional per 100 ms of the venue's latency (default 10: one basis point per second, the order
    of BTC's one-second volatility; integer so the planner stays exact)."""

    latency_ppm_per_100ms: int = 10  # 1 bps of risk per second of latency

    def penalty_ppm(self, latency_ms: int) -> int:
        """The penalty rate (ppm of notional) of a venue with ``latency_ms``."""
        return max(latency_ms, 0) * self.latency_ppm_per_100ms // 100


@dataclass(frozen=True)
class VenueInput:
    """One eligible venue as the planner sees it.

    ``max_order``: the largest child (base minor units) the venue or our risk limits accept
    (None: no limit). ``free``: our free balance there of what the order spends (quote minor units
    for a buy, base minor units for a sell; None: not limiting; see the module docstring for what
    a buy must fit)."""

    venue: str
    book: OrderBook
    fees: FeeSchedule
    latency_ms: int = 0
    max_order: int | None = None
    free: int | None = None


@dataclass(frozen=True)
class PlannedChild:
    """One child order of a plan: ``amount`` on ``venue`` as an IOC limit at ``price`` (the worst
    level planned); ``notional`` and ``fee`` are what the book says it will cost; ``penalty`` the
    latency penalty (planning only)."""

    venue: str
    amount: int
    price: int
    notional: int
    fee: int
    penalty: int


@dataclass(frozen=True)
class Plan:
    """An allocation of ``requested`` across venues: its ``children`` and their totals."""

    side: Side
    requested: int
    children: tuple[PlannedChild, ...]

    @property
    def amount(self) -> int:
        """Base minor units the children would fill."""
        return sum(c.amount for c in self.children)

    @property
    def notional(self) -> int:
        """Quote minor units of price walked through the books."""
        return sum(c.notional for c in self.children)

    @property
    def fee(self) -> int:
        """Quote minor units of taker fees."""
        return sum(c.fee for c in self.children)

    @property
    def all_in(self) -> int:
        """Money, quote minor units: paid (buy: notional + fees) or received (sell: notional -
        fees)."""
        return all_in(self.side, self.notional, self.fee)

    @property
    def complete(self) -> bool:
        """Whether the plan fills the whole requested amount."""
        return self.amount == self.requested

    def objective(self) -> int:
        """What the planner minimises: the signed all-in cost plus the latency penalties."""
        signed = self.all_in if self.side is Side.BUY else -self.all_in
        return signed + sum(c.penalty for c in self.children)


@dataclass(frozen=True)
class SingleVenueCost:
    """The whole amount on one venue alone (the baseline): notional, fee and all-in."""

    venue: str
    amount: int
    notional: int
    fee: int
    all_in: int


def all_in(side: Side, notional: int, fee: int) -> int:
    """All-in money of an execution: a buy pays ``notional + fee``, a sell receives
    ``notional - fee`` (quote minor units)."""
    return notional + fee if side is Side.BUY else notional - fee


def saving(side: Side, ours: int, other: int) -> int:
    """How much better all-in ``ours`` is than ``other`` (quote minor units; positive: better):
    less paid on a buy, more received on a sell."""
    return other - ours if side is Side.BUY else ours - other


def market_of(symbol: str) -> Market:
    """The market of ``symbol`` (``KeyError`` names an unknown symbol)."""
    return MARKETS[symbol]


def _side_levels(book: OrderBook, side: Side, limit: int | None) -> list[Level]:
    """The levels a ``side`` order takes (asks for a buy), within ``limit``, valid ones only."""
    levels = book.asks if side is Side.BUY else book.bids
    out = []
    for lv in levels:
        if lv.price <= 0 or lv.amount <= 0:
            continue
        if limit is not None and (lv.price > limit if side is Side.BUY else lv.price < limit):
            continue
        out.append(lv)
    return out


def _max_notional(budget: int, taker_ppm: int) -> int:
    """The largest notional ``n`` with ``n + fee_for(n, taker_ppm) <= budget``."""
    if budget <= 0:
        return 0
    n = budget * PPM // (PPM + taker_ppm)
    while n > 0 and n + fee_for(n, taker_ppm) > budget:
        n -= 1
    return n


def plan(side: Side, amount: int, venues: list[VenueInput], *, symbol: str,
         limit_price: int | None = None, costs: RoutingCosts | None = None) -> Plan:
    """Allocate ``amount`` base minor units across ``venues`` at the lowest all-in cost plus
    latency penalty, within ``limit_price``, each venue's ``max_order`` and free balance (see the
    module docstring). The plan may fill less than ``amount`` when depth or limits run out."""
    costs = costs or RoutingCosts()
    market = market_of(symbol)
    scale = 10**market.base_decimals
    ranked: list[tuple[int, int, int, Level]] = []
    rates: dict[str, tuple[int, int]] = {}
    for i, v in enumerate(venues):
        pen = costs.penalty_ppm(v.latency_ms)
        rates[v.venue] = (v.fees.taker_ppm, pen)
        mult = PPM + v.fees.taker_ppm + pen if side is Side.BUY else PPM - v.fees.taker_ppm - pen
        for j, lv in enumerate(_side_levels(v.book, side, limit_price)):
            key = lv.price * mult
            ranked.append((key if side is Side.BUY else -key, i, j, lv))
    ranked.sort(key=lambda r: (r[0], r[1], r[2]))
    took: dict[int, list[int]] = {}  # venue index -> [amount, notional, worst price]
    full: set[int] = set()  # venues whose limit or balance bound: never skip to a deeper level
    left = amount
    for _, i, _, lv in ranked:
        if left <= 0:
            break
        if i in full:
            continue
        v = venues[i]
        acc = took.setdefault(i, [0, 0, lv.price])
        take = min(lv.amount, left)
        if v.max_order is not None:
            take = min(take, v.max_order - acc[0])
        if v.free is not None:
            if side is Side.BUY:  # what a limit buy at this level's price reserves must fit
                room = _max_notional(v.free - 1, max(v.fees.taker_ppm, v.fees.maker_ppm))
                fits = ((room + 1) * scale - 1) // lv.price if v.free >= 1 else 0
                take = min(take, fits - acc[0])
            else:
                take = min(take, v.free - acc[0])
        if take < min(lv.amount, left):
            full.add(i)
        if take <= 0:
            continue
        acc[0] += take
        acc[1] += market.notional(take, lv.price)
        acc[2] = lv.price
        left -= take
    children = []
    for i in sorted(took):
        amt, notional, worst = took[i]
        if amt <= 0:
            continue
        v = venues[i]
        taker, pen = rates[v.venue]
        children.append(PlannedChild(v.venue, amt, worst, notional, fee_for(notional, taker),
                                     fee_for(notional, pen)))
    return Plan(side, amount, tuple(children))


def walk(book: OrderBook, side: Side, amount: int, *, symbol: str,
         limit_price: int | None = None) -> tuple[int, int]:
    """Walk ``book`` for ``amount`` (within ``limit_price``): ``(filled, notional)``."""
    market = market_of(symbol)
    filled = notional = 0
    for lv in _side_levels(book, side, limit_price):
        take = min(lv.amount, amount - filled)
        if take <= 0:
            break
        filled += take
        notional += market.notional(take, lv.price)
    return filled, notional


def single_venue_costs(side: Side, amount: int, venues: list[VenueInput], *, symbol: str,
                       limit_price: int | None = None) -> list[SingleVenueCost]:
    """The whole ``amount`` on each venue alone, from its book within ``limit_price`` (fees
    included, no latency penalty, limits and balances not applied: the market's own baseline);
    venues whose depth cannot fill it all are left out."""
    out = []
    for v in venues:
        filled, notional = walk(v.book, side, amount, symbol=symbol, limit_price=limit_price)
        if filled < amount:
            continue
        fee = fee_for(notional, v.fees.taker_ppm)
        out.append(SingleVenueCost(v.venue, amount, notional, fee, all_in(side, notional, fee)))
    return out


def best_single_venue(side: Side, amount: int, venues: list[VenueInput], *, symbol: str,
                      limit_price: int | None = None) -> SingleVenueCost | None:
    """The best single venue for the whole ``amount`` (see the module docstring), or None when no
    venue alone can fill it."""
    costs = single_venue_costs(side, amount, venues, symbol=symbol, limit_price=limit_price)
    if not costs:
        return None
    return min(costs, key=lambda c: (c.all_in if side is Side.BUY else -c.all_in, c.venue))
