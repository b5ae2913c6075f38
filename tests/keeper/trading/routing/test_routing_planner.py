"""The pure planner on books built by hand: splitting beats the best single venue on a thin book
(figures worked out below), limit price, per-venue max order, balances, the latency penalty and
sells; then properties (hypothesis, modest counts): every limit and balance respected, each
child's limit price fills exactly its planned amount on its book, never worse than the best
single venue beyond the documented rounding."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from keeper.trading.routing import (
    RoutingCosts,
    VenueInput,
    best_single_venue,
    plan,
    single_venue_costs,
    walk,
)
from keeper.trading.types import MARKETS, FeeSchedule, Level, OrderBook, Side, fee_for

BTC = 100_000_000  # satoshi per BTC
NO_PENALTY = RoutingCosts(latency_ppm_per_100ms=0)


def book(asks=(), bids=(), venue="", symbol="BTC/USD"):
    return OrderBook(symbol, tuple(Level(p, a) for p, a in bids),
                     tuple(Level(p, a) for p, a in asks), 0, venue)


# Two thin books (prices in cents per BTC): A is cheapest at the top but charges 10 bps,
# B's top is $5 dearer at 5 bps.
A = VenueInput("A", book([(5_000_000, BTC // 10), (5_010_000, BTC // 10), (5_050_000, BTC)]),
               FeeSchedule(0, 1_000))
B = VenueInput("B", book([(5_000_500, BTC // 10), (5_020_000, BTC // 10), (5_060_000, BTC)]),
               FeeSchedule(0, 500))


def test_splitting_beats_the_best_single_venue_on_a_thin_book():
    # 0.3 BTC. Alone: A = 5,000 + 5,010 + 5,050 = $15,060.00 + 10 bps ($15.06) = 1,507,506 cents;
    # B = 5,000.50 + 5,020 + 5,060 = $15,080.50 + 5 bps (75.4025 -> 75.41 ceiling) = 1,508,805.
    # Per unit with fees: B1 50,030.00 < A1 50,050.00 < A2 50,150.10 < B2 50,225.10: the router
    # takes B1 and A1+A2: B 500,050 + 251 (250.025 ceiling) = 500,301; A 1,001,000 + 1,001 =
    # 1,002,001; together 1,502,302 cents, $52.04 better than A alone.
    p = plan(Side.BUY, 3 * BTC // 10, [A, B], symbol="BTC/USD", costs=NO_PENALTY)
    got = {c.venue: (c.amount, c.price, c.notional, c.fee) for c in p.children}
    assert got == {"A": (BTC // 5, 5_010_000, 1_001_000, 1_001),
                   "B": (BTC // 10, 5_000_500, 500_050, 251)}
    assert p.complete and p.all_in == 1_502_302
    base = best_single_venue(Side.BUY, 3 * BTC // 10, [A, B], symbol="BTC/USD")
    assert (base.venue, base.all_in) == ("A", 1_507_506)
    assert {c.venue: c.all_in for c in single_venue_costs(
        Side.BUY, 3 * BTC // 10, [A, B], symbol="BTC/USD")} == {"A": 1_507_506, "B": 1_508_805}
    assert base.all_in - p.all_in == 5_204


def test_limit_price_max_order_and_balance_bound_the_plan():
    # limit $50,100: only A1, A2 and B1 qualify (0.3 BTC); asking 0.5 fills 0.3
    p = plan(Side.BUY, BTC // 2, [A, B], symbol="BTC/USD", limit_price=5_010_000,
             costs=NO_PENALTY)
    assert p.amount == 3 * BTC // 10 and not p.complete
    assert all(c.price <= 5_010_000 for c in p.children)
    # A may take at most 0.05 BTC per order: the rest goes to B (B1 then B2)
    capped = VenueInput("A", A.book, A.fees, max_order=BTC // 20)
    p = plan(Side.BUY, 3 * BTC // 10, [capped, B], symbol="BTC/USD", costs=NO_PENALTY)
    assert {c.venue: c.amount for c in p.children} == {"A": BTC // 20, "B": BTC // 4}
    # B holds $300 of our USD; a limit buy reserves notional at its price + fee + 1 cent:
    # n + ceil(n * 5 / 10,000) <= 29,999 -> n = 29,984 cents; at $50,005 that is
    # floor(((29,984 + 1) * 1e8 - 1) / 5,000,500) = 599,640 sat
    poor = VenueInput("B", B.book, B.fees, free=30_000)
    p = plan(Side.BUY, 3 * BTC // 10, [A, poor], symbol="BTC/USD", costs=NO_PENALTY)
    b = next(c for c in p.children if c.venue == "B")
    assert b.amount == 599_640 and reserve(b.amount, b.price, 500) <= 30_000
    assert reserve(b.amount + 1, b.price, 500) > 30_000  # one satoshi more would not fit
    assert next(c for c in p.children if c.venue == "A").amount == 3 * BTC // 10 - 599_640


def reserve(amount, price, fee_ppm):
    n = MARKETS["BTC/USD"].notional(amount, price)
    return n + fee_for(n, fee_ppm) + 1


def test_the_latency_penalty_breaks_a_tie_towards_the_faster_venue():
    slow = VenueInput("slow", A.book, A.fees, latency_ms=2_000)
    fast = VenueInput("fast", A.book, A.fees, latency_ms=100)
    p = plan(Side.BUY, BTC // 10, [slow, fast], symbol="BTC/USD")
    assert [(c.venue, c.amount) for c in p.children] == [("fast", BTC // 10)]
    # 2 s at 10 ppm per 100 ms = 200 ppm (2 bps) against 10 ppm for the fast one
    cheaper = VenueInput("slow", book([(4_990_000, BTC // 10)]), A.fees, latency_ms=2_000)
    p = plan(Side.BUY, BTC // 10, [cheaper, fast], symbol="BTC/USD")
    assert [c.venue for c in p.children] == ["slow"]  # 20 bps cheaper beats 2 bps of penalty
    assert p.children[0].penalty == fee_for(p.children[0].notional, 200)


def test_a_sell_takes_the_best_bids_net_of_fees_and_stays_within_the_base_balance():
    a = VenueInput("A", book(bids=[(5_000_000, BTC // 10), (4_990_000, BTC)]),
                   FeeSchedule(0, 1_000), free=BTC)
    b = VenueInput("B", book(bids=[(4_999_000, BTC // 10), (4_950_000, BTC)]),
                   FeeSchedule(0, 0), free=BTC // 20)
    # net per BTC: B1 49,990 > A1 49,950 > A2 49,850.1: B gives 0.05 (its balance), A the rest
    p = plan(Side.SELL, BTC // 5, [a, b], symbol="BTC/USD", costs=NO_PENALTY)
    assert {c.venue: c.amount for c in p.children} == {"A": 3 * BTC // 20, "B": BTC // 20}
    a_child = next(c for c in p.children if c.venue == "A")
    assert a_child.price == 4_990_000 and a_child.notional == 500_000 + 249_500
    assert p.all_in == (749_500 - 750) + 249_950


venues_st = st.lists(
    st.tuples(
        st.lists(st.tuples(st.integers(1, 60), st.integers(1, 5 * BTC // 10)), min_size=0,
                 max_size=8),  # (price step in dollars above 50,000, amount)
        st.integers(0, 3_000),  # taker ppm
        st.one_of(st.none(), st.integers(1, BTC)),  # max order
        st.one_of(st.none(), st.integers(0, 10_000_000)),  # free balance (cents or sat)
        st.integers(0, 3_000),  # latency ms
    ), min_size=1, max_size=3)


def _inputs(raw, side, with_limits=True):
    out = []
    for i, (levels, taker, max_order, free, latency) in enumerate(raw):
        prices = sorted({5_000_000 + 100 * s for s, _ in levels}, reverse=side is Side.SELL)
        amounts = [a for _, a in levels][:len(prices)]
        lv = list(zip(prices, amounts, strict=False))
        b = book(asks=lv) if side is Side.BUY else book(bids=lv)
        out.append(VenueInput(f"v{i}", b, FeeSchedule(0, taker), latency,
                              max_order if with_limits else None, free if with_limits else None))
    return out


@settings(max_examples=60)
@given(venues_st, st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 2 * BTC),
       st.one_of(st.none(), st.integers(5_000_000, 5_006_000)))
@example([([(1, 20)], 0, None, 0, 0)], Side.BUY, 20, None)  # no funds: 20 sat cost 0 cents
def test_every_limit_and_balance_is_respected(raw, side, amount, limit):
    inputs = _inputs(raw, side)
    p = plan(side, amount, inputs, symbol="BTC/USD", limit_price=limit)
    assert 0 <= p.amount <= amount
    by = {v.venue: v for v in inputs}
    assert len({c.venue for c in p.children}) == len(p.children)  # one child per venue
    for c in p.children:
        v = by[c.venue]
        assert c.amount > 0
        if v.max_order is not None:
            assert c.amount <= v.max_order
        if v.free is not None:
            assert (reserve(c.amount, c.price, v.fees.taker_ppm) <= v.free if side is Side.BUY
                    else c.amount <= v.free)
        if limit is not None:
            assert c.price <= limit if side is Side.BUY else c.price >= limit
        # an IOC at the child's price on that book fills at least its amount, and walking exactly
        # the amount costs what was planned
        filled, notional = walk(v.book, side, c.amount, symbol="BTC/USD", limit_price=c.price)
        assert (filled, notional) == (c.amount, c.notional)
        assert c.fee == fee_for(c.notional, v.fees.taker_ppm)


@settings(max_examples=60)
@given(venues_st, st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 2 * BTC))
def test_never_worse_than_the_best_single_venue_beyond_rounding(raw, side, amount):
    inputs = _inputs(raw, side, with_limits=False)
    p = plan(side, amount, inputs, symbol="BTC/USD", costs=NO_PENALTY)
    capacity = sum(sum(lv.amount for lv in (v.book.asks if side is Side.BUY else v.book.bids))
                   for v in inputs)
    assert p.amount == min(amount, capacity)  # without limits, depth is the only bound
    base = best_single_venue(side, amount, inputs, symbol="BTC/USD")
    if base is None:
        return
    levels = sum(len(v.book.asks) + len(v.book.bids) for v in inputs)
    worse = base.all_in - p.all_in if side is Side.SELL else p.all_in - base.all_in
    assert worse <= len(p.children) + 2 * levels  # floor per level, ceiling per fee
