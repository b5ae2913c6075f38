"""Properties of the analytics over generated books and fills (modest example counts): the report
never contradicts itself whatever the books, trust flags and policy blocks."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from keeper.trading.bestex import ExecutionRecord, VenueArrival, analyse, summarise
from keeper.trading.routing import PolicyBlock, mid_of, saving
from keeper.trading.types import FeeSchedule, Fill, Level, OrderBook, ParentOrder, Side

VENUES = ("a", "b", "c")
BTC = 10**8


@st.composite
def records(draw: st.DrawFn) -> ExecutionRecord:
    side = draw(st.sampled_from(list(Side)))
    ref = draw(st.integers(1_000_000, 10_000_000))
    arrivals, fills = [], []
    for v in VENUES:
        spread = draw(st.integers(1, 5_000))
        bid0, ask0 = ref - spread, ref + spread
        n = draw(st.integers(0, 5))
        bids = tuple(Level(bid0 - 100 * i, draw(st.integers(1, 2 * BTC))) for i in range(n))
        asks = tuple(Level(ask0 + 100 * i, draw(st.integers(1, 2 * BTC))) for i in range(n))
        book = OrderBook("BTC/USD", bids, asks, 0, v)
        arrivals.append(
            VenueArrival(v, book, FeeSchedule(0, draw(st.integers(0, 3_000))), draw(st.integers(0, 4)) > 0)
        )
        for lv in (asks if side is Side.BUY else bids)[: draw(st.integers(0, n))]:
            amount = draw(st.integers(1, lv.amount // 4 + 1))
            cost = amount * lv.price // BTC
            fills.append(
                Fill(v, f"{v}-1", "BTC/USD", side, amount, lv.price, cost, -(-cost * 5 // 10_000), 0)
            )
    total = sum(f.amount for f in fills)
    limit = draw(st.none() | st.integers(ref - 20_000, ref + 20_000))
    parent = ParentOrder(
        "p", "c", "BTC/USD", side, total + draw(st.integers(0, BTC)) or 1, limit, "CH", "x", 0
    )
    blocked = tuple(
        PolicyBlock(v, "CH.venues", "no") for v in draw(st.sets(st.sampled_from(VENUES), max_size=1))
    )
    return ExecutionRecord(
        parent,
        tuple(arrivals),
        tuple(fills),
        blocked=blocked,
        compliance_cost=draw(st.none() | st.integers(0, 10_000)),
    )


@settings(max_examples=60)
@given(records())
def test_a_report_never_contradicts_itself(record: ExecutionRecord) -> None:
    r = analyse(record)
    side = record.parent.side
    rows = {v.venue: v for v in r.venues}
    assert sum(v.filled for v in r.venues) == r.filled
    assert sum(v.share for v in r.venues) == (1 if r.filled else 0)
    if r.filled:
        prices = [f.price for f in record.fills]
        assert min(prices) <= r.vwap <= max(prices)
        fees_per_unit = r.all_in_price - Fraction(r.notional * BTC, r.filled)  # fees raise a buy's price
        assert fees_per_unit >= 0 if side is Side.BUY else fees_per_unit <= 0
    trusted_mids = [mid_of(a.book) for a in record.arrivals if a.trusted and mid_of(a.book) is not None]
    if trusted_mids:
        assert min(trusted_mids) <= r.arrival_mid <= max(trusted_mids)
    else:
        assert r.arrival_mid is None and r.slippage_vs_arrival_bps is None
    blocked = {b.venue for b in record.blocked}
    if r.baseline is not None:
        base = rows[r.baseline]
        assert base.alone_complete and base.status in ("used", "allowed") and base.venue not in blocked
        assert r.improvement == saving(side, r.all_in, base.alone_all_in)
        for v in r.venues:  # nothing allowed, trusted and complete does better alone
            if v.status in ("used", "allowed") and v.alone_complete:
                assert saving(side, v.alone_all_in, base.alone_all_in) <= 0
    if r.forbidden_best is not None:
        assert rows[r.forbidden_best].status == "blocked"
        assert r.compliance_cost is None or r.compliance_cost >= 0
    s = summarise([r])
    if r.improvement is not None:
        assert s["USD"].share_beating in (Fraction(0), Fraction(1))
