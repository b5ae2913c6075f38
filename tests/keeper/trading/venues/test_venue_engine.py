"""The venues' matching engine: fills and fees by hand on a small book, refusals that change
nothing, clientOrderId idempotency, and properties over random order sequences (units conserved,
balances never negative, filled + remaining == amount, cost and fee == the fills', same seed ->
same books and fills)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keeper.trading.types import (
    BadSymbol,
    InsufficientFunds,
    InvalidOrder,
    Level,
    OrderNotFound,
    OrderStatus,
    OrderType,
    Side,
)
from scripts.services.venues.engine import FEES, MAKERS, Engine
from scripts.services.venues.profile import DEFAULT_PROFILES, VenueProfile

BTC = 10**8  # satoshi per BTC
T0 = 1_790_000_000_000
SMALL = VenueProfile(name="small", maker_ppm=200, taker_ppm=1_000, requote_ms=1_000)

# step 0: asks 0.1 BTC @ $50,000.00 and 0.2 @ $50,010.00; step 1: the makers' ask drops to $50,000.00
LADDERS = {
    0: ((Level(4_999_000, BTC // 10), Level(4_998_000, 3 * BTC // 10)),
        (Level(5_000_000, BTC // 10), Level(5_001_000, 2 * BTC // 10))),
    1: ((Level(4_990_000, BTC),), (Level(5_000_000, 3 * BTC // 10), Level(5_010_000, BTC))),
}


def small_engine() -> Engine:
    engine = Engine(SMALL, 1, quotes=lambda symbol, now: LADDERS[min(1, (now - T0) // 1_000)])
    engine.fund("USD", 10_000_000)  # $100,000.00
    engine.fund("BTC", BTC)
    return engine


def test_market_buy_walks_the_book_and_pays_the_taker_fee_by_hand() -> None:
    engine = small_engine()
    order = engine.create_order("BTC/USD", OrderType.MARKET, Side.BUY, 25 * BTC // 100, None, T0)
    # 0.10 BTC @ 5,000,000 = 500,000 cents; 0.15 BTC @ 5,001,000 = 750,150 cents
    assert (order.status, order.filled, order.remaining, order.cost) == (OrderStatus.CLOSED, 25 * BTC // 100,
                                                                          0, 1_250_150)
    assert order.fee.cost == 1_251 and order.fee.currency == "USD"  # ceil(1,250.15)
    assert [(f.fill.amount, f.fill.price, f.fill.cost, f.fill.fee) for f in engine.fills] == [
        (BTC // 10, 5_000_000, 500_000, 500), (15 * BTC // 100, 5_001_000, 750_150, 751)]
    assert order.average == 5_000_600
    bal = engine.balance()
    assert bal.total == {"BTC": BTC + 25 * BTC // 100, "USD": 10_000_000 - 1_251_401}
    assert bal.used == {"BTC": 0, "USD": 0}
    assert engine.ledger[MAKERS] == {"BTC": -25 * BTC // 100, "USD": 1_250_150}
    assert engine.ledger[FEES] == {"USD": 1_251}
    # what is left of the second level
    assert engine.order_book("BTC/USD", T0).asks == (Level(5_001_000, 5 * BTC // 100),)


def test_limit_buy_partially_fills_rests_then_fills_as_maker_by_hand() -> None:
    engine = small_engine()
    engine.create_order("BTC/USD", OrderType.MARKET, Side.BUY, 25 * BTC // 100, None, T0)
    order = engine.create_order("BTC/USD", OrderType.LIMIT, Side.BUY, BTC // 2, 5_001_000, T0, "gtc-1")
    # takes the 0.05 BTC left at 5,001,000 (250,050 cents, fee ceil(250.05) = 251), rests 0.45
    assert (order.status, order.filled, order.remaining, order.cost, order.fee.cost) == (
        OrderStatus.OPEN, 5 * BTC // 100, 45 * BTC // 100, 250_050, 251)
    reserved = 2_500_500 + 2_501 + 1  # notional at the limit + worst-case fee + 1
    assert engine.balance().used["USD"] == reserved - 250_050 - 251
    assert engine.order_book("BTC/USD", T0).bids[0] == Level(5_001_000, 45 * BTC // 100)
    # next step: the makers' ask at 5,000,000 crosses our bid: 0.3 BTC fill at OUR price, maker fee
    order = engine.fetch_order(order.id, T0 + 1_000)
    assert (order.status, order.filled) == (OrderStatus.OPEN, 35 * BTC // 100)
    assert order.cost == 250_050 + 1_500_300
    assert order.fee.cost == 251 + 301  # taker ceil(250.05) + maker ceil(300.06)
    last = engine.fills[-1]
    assert (last.fill.price, last.fill.fee, last.taker) == (5_001_000, 301, False)
    cancelled = engine.cancel_order(order.id, T0 + 1_000)
    assert cancelled.status is OrderStatus.CANCELED and cancelled.remaining == 15 * BTC // 100
    assert engine.balance().used["USD"] == 0
    with pytest.raises(InvalidOrder):
        engine.cancel_order(order.id, T0 + 1_000)


def test_refusals_change_nothing() -> None:
    engine = small_engine()
    before = (engine.balance(), engine.order_book("BTC/USD", T0), dict(engine.orders))
    with pytest.raises(InsufficientFunds):  # $100,000 does not buy 2.5 BTC at $50,000
        engine.create_order("BTC/USD", OrderType.LIMIT, Side.BUY, 5 * BTC // 2, 5_000_000, T0, "big")
    with pytest.raises(InsufficientFunds):
        engine.create_order("BTC/USD", OrderType.MARKET, Side.SELL, 2 * BTC, None, T0)
    with pytest.raises(BadSymbol):
        engine.create_order("DOGE/USD", OrderType.MARKET, Side.BUY, 1, None, T0)
    for bad in (0, -1, True, 1.5, "1", 10**40):
        with pytest.raises(InvalidOrder):
            engine.create_order("BTC/USD", OrderType.MARKET, Side.BUY, bad, None, T0)  # type: ignore[arg-type]
    with pytest.raises(InvalidOrder):
        engine.create_order("BTC/USD", OrderType.LIMIT, Side.BUY, 1, None, T0)
    with pytest.raises(InvalidOrder):
        engine.create_order("BTC/USD", OrderType.MARKET, Side.BUY, 1, None, T0, "bad id with spaces")
    with pytest.raises(OrderNotFound):
        engine.fetch_order("nope", T0)
    with pytest.raises(OrderNotFound):
        engine.fetch_order_by_client_id("big", T0)  # the refused order did not bind its id
    assert (engine.balance(), engine.order_book("BTC/USD", T0), dict(engine.orders)) == before
    assert engine.fills == []


def test_client_order_id_returns_the_same_order_and_refuses_another_request() -> None:
    engine = small_engine()
    first = engine.create_order("BTC/USD", OrderType.MARKET, Side.BUY, BTC // 10, None, T0, "cid-1")
    again = engine.create_order("BTC/USD", OrderType.MARKET, Side.BUY, BTC // 10, None, T0, "cid-1")
    assert again == first and len(engine.fills) == 1
    assert engine.fetch_order_by_client_id("cid-1", T0) == first
    with pytest.raises(InvalidOrder):
        engine.create_order("BTC/USD", OrderType.MARKET, Side.BUY, BTC // 5, None, T0, "cid-1")
    assert len(engine.orders) == 1


def test_die_after_fills_stops_matching_mid_order() -> None:
    engine = small_engine()
    engine.fill_budget = 1
    order = engine.create_order("BTC/USD", OrderType.MARKET, Side.BUY, 25 * BTC // 100, None, T0)
    assert (order.filled, order.status, engine.fill_budget) == (BTC // 10, OrderStatus.EXPIRED, 0)
    assert engine.balance().used == {"BTC": 0, "USD": 0}


def test_self_trade_prevention_expires_the_incoming_order_and_never_crosses_the_book() -> None:
    engine = small_engine()
    ask = engine.create_order("BTC/USD", OrderType.LIMIT, Side.SELL, BTC // 10, 5_010_000, T0, "our-ask")
    assert ask.status is OrderStatus.OPEN
    buy = engine.create_order("BTC/USD", OrderType.LIMIT, Side.BUY, BTC // 2, 5_020_000, T0, "our-bid")
    # takes the makers' 0.3 BTC below our own ask, then stops at our ask: the rest expires
    assert (buy.status, buy.filled) == (OrderStatus.EXPIRED, 3 * BTC // 10)
    book = engine.order_book("BTC/USD", T0)
    assert book.bids[0].price < book.asks[0].price == 5_010_000
    assert engine.fetch_order(ask.id, T0).filled == 0 and engine.balance().used["USD"] == 0


def test_makers_do_not_post_through_our_order_while_no_fill_is_allowed() -> None:
    engine = small_engine()
    engine.create_order("BTC/USD", OrderType.MARKET, Side.BUY, 25 * BTC // 100, None, T0)
    bid = engine.create_order("BTC/USD", OrderType.LIMIT, Side.BUY, BTC // 2, 5_001_000, T0)
    engine.fill_budget = 0  # the venue died: no more fills
    book = engine.order_book("BTC/USD", T0 + 1_000)  # the makers' new ask (5,000,000) would cross it
    assert book.bids[0].price < book.asks[0].price
    assert engine.fetch_order(bid.id, T0 + 1_000).filled == 5 * BTC // 100
    engine.fill_budget = None  # revived: the next quotes trade with it again
    assert engine.fetch_order(bid.id, T0 + 2_000).filled > 5 * BTC // 100


# --- properties ---------------------------------------------------------------------------------

OPS = st.lists(st.tuples(
    st.sampled_from(["market", "limit", "limit", "ioc", "cancel", "wait", "budget"]),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from(["BTC/USD", "ETH/USD"]),
    st.integers(1, 3 * BTC),           # amount scale (ETH amounts are scaled up)
    st.integers(-500, 500),            # limit offset from the touch, ppm
    st.integers(0, 2_500)), max_size=16)
FUNDS = {"USD": 20_000_000_000, "BTC": 5 * BTC, "ETH": 50 * 10**18}


def run(ops: list[tuple], seed: int) -> Engine:
    engine = Engine(DEFAULT_PROFILES["fastlane"], seed)
    for currency, amount in FUNDS.items():
        engine.fund(currency, amount)
    now = T0
    for kind, side, symbol, amount, offset, wait in ops:
        now += wait
        if symbol == "ETH/USD":
            amount *= 10**9
        try:
            if kind == "wait":
                engine.advance(now)
            elif kind == "budget":  # the venue dies after 0-2 more fills, or is revived
                engine.fill_budget = None if engine.fill_budget is not None else amount % 3
            elif kind == "cancel":
                open_ids = [o.id for o in engine.orders.values() if o.status is OrderStatus.OPEN]
                if open_ids:  # it may fill as the makers re-quote first: then it is not open
                    with contextlib.suppress(InvalidOrder):
                        engine.cancel_order(open_ids[amount % len(open_ids)], now)
            elif kind == "market":
                engine.create_order(symbol, OrderType.MARKET, side, amount, None, now)
            else:
                book = engine.order_book(symbol, now, 1)
                touch = (book.asks if side is Side.BUY else book.bids)[0].price
                limit = touch * (1_000_000 + offset) // 1_000_000
                engine.create_order(symbol, OrderType.LIMIT, side, amount, limit, now,
                                    time_in_force="IOC" if kind == "ioc" else "GTC")
        except InsufficientFunds:
            pass
        check_invariants(engine)
    return engine


def check_invariants(engine: Engine) -> None:
    bal = engine.balance()
    for currency in set(FUNDS) | set(engine.ledger[MAKERS]) | set(engine.ledger[FEES]):
        assert bal.total.get(currency, 0) >= 0 and bal.free.get(currency, 0) >= 0
        # conservation: what we gained the makers and the fee account lost, and back
        assert (bal.total.get(currency, 0) - FUNDS.get(currency, 0) + engine.ledger[MAKERS].get(currency, 0)
                + engine.ledger[FEES].get(currency, 0)) == 0
    open_reserved: dict[str, int] = {}
    for record in engine.orders.values():
        order = record.view()
        fills = [f.fill for f in engine.fills if f.fill.order_id == order.id]
        assert order.filled + order.remaining == order.amount and order.remaining >= 0
        assert order.filled == sum(f.amount for f in fills)
        assert order.cost == sum(f.cost for f in fills) == sum(
            f.amount * f.price // 10**(8 if f.symbol == "BTC/USD" else 18) for f in fills)
        assert order.fee.cost == sum(f.fee for f in fills)
        if order.type is OrderType.LIMIT:
            assert all((f.price <= order.price) if order.side is Side.BUY else (f.price >= order.price)
                       for f in fills)
        if order.status is OrderStatus.OPEN:
            cur = ("USD" if order.side is Side.BUY else order.symbol.split("/")[0])
            open_reserved[cur] = open_reserved.get(cur, 0) + record.reserved
        else:
            assert record.reserved == 0
    for currency, used in bal.used.items():
        assert used == open_reserved.get(currency, 0)
    for symbol in ("BTC/USD", "ETH/USD"):
        book = engine.order_book(symbol, engine.now, 1)
        assert not book.bids or not book.asks or book.bids[0].price < book.asks[0].price


@settings(max_examples=25, deadline=None)
@given(OPS, st.integers(0, 3))
def test_properties_over_random_order_sequences(ops: list[tuple], seed: int) -> None:
    engine = run(ops, seed)
    twin = run(ops, seed)  # same seed, same calls: same books and fills
    assert [f.fill for f in twin.fills] == [f.fill for f in engine.fills]
    assert twin.balance() == engine.balance()
    now = T0 + sum(op[5] for op in ops)
    for symbol in ("BTC/USD", "ETH/USD"):
        assert twin.order_book(symbol, now) == engine.order_book(symbol, now)


def test_other_seeds_give_other_books_that_agree_across_venues() -> None:
    books = {name: Engine(p, 5).order_book("BTC/USD", T0) for name, p in DEFAULT_PROFILES.items()}
    other = Engine(DEFAULT_PROFILES["deepbook"], 6).order_book("BTC/USD", T0)
    assert other != books["deepbook"]
    mids = [(b.bids[0].price + b.asks[0].price) // 2 for b in books.values()]
    assert max(mids) - min(mids) < min(mids) // 1_000  # within 10 bps of each other
    depth = {name: sum(lv.amount for lv in b.asks) for name, b in books.items()}
    assert depth["deepbook"] > depth["thirdex"] > depth["fastlane"]
