"""The router over the venues' real matching engines in this process (``LocalVenue``: the same
simulator the HTTP services run, without HTTP), on SQLite with the real jurisdiction policy and the
ledger's alerts: a split parent beats the best single venue; a venue dying mid-order is dropped,
the rest re-routed and, once it answers again, its partial fill recorded and the remainder
re-planned, every fill accounted once against the venue's own records; a timed-out order is looked
up by client id, never re-sent; stale and wrong-priced venues excluded with one alert per episode;
a jurisdiction block is never sent and its cost reported; a crash between writing a child and
recording its outcome (before or after the venue got it) neither loses nor repeats a fill."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import pytest

from keeper.ledger import Ledger
from keeper.ledger.db import make_engine
from keeper.trading.jurisdiction import JurisdictionPolicy
from keeper.trading.routing import (
    LEASE_MS,
    ChildStatus,
    OrderRefusedError,
    ParentStatus,
    RoutedVenue,
    Router,
    RoutingStore,
)
from keeper.trading.types import ParentOrder, RequestTimeout, Side
from scripts.services.venues.faults import FaultState
from scripts.services.venues.inprocess import local_venues
from scripts.services.venues.profile import DEFAULT_PROFILES
from strongroom_testkit.dbtemplate import fresh_url, migrate_fresh

BTC = 10**8
T0 = 1_800_000_000_000
CALM = {n: p.with_(stale_probability=0.0, wrong_price_probability=0.0, outage_probability=0.0)
        for n, p in DEFAULT_PROFILES.items()}
FUNDS = {"USD": 10**11, "BTC": 10**10}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


class World:
    def __init__(self, url: str) -> None:
        migrate_fresh(url, ("keeper.ledger.migrate", "keeper.trading.migrate"))
        self.engine = make_engine(url)
        self.ledger = Ledger(self.engine, group_commit=False)
        self.clock = Clock()
        self.venues = local_venues(11, clock=self.clock, profiles=CALM, funds=FUNDS)
        self.policy = JurisdictionPolicy()

    def router(self, **override) -> Router:
        routed = {n: RoutedVenue(override.get(n, v), CALM[n].latency_ms)
                  for n, v in self.venues.items()}
        return Router(RoutingStore(self.engine), routed, self.policy, self.ledger.raise_alert,
                      clock=self.clock)

    def venue_fills(self) -> dict[str, tuple[int, int, int]]:
        """Per venue order id, what the venue itself says we got: (amount, cost, fee)."""
        out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for v in self.venues.values():
            for rec in v.sim.engine.fills:
                acc = out[rec.fill.order_id]
                acc[0] += rec.fill.amount
                acc[1] += rec.fill.cost
                acc[2] += rec.fill.fee
        return {k: tuple(v) for k, v in out.items()}

    def close(self) -> None:
        self.ledger.close()
        self.engine.dispose()


@pytest.fixture
def world(tmp_path):
    w = World(fresh_url(tmp_path / 'routing.db'))
    yield w
    w.close()


@pytest.fixture
def any_world(database):
    """The world on SQLite and on PostgreSQL (marker postgres)."""
    w = World(database("routing"))
    yield w
    w.close()


def parent(pid: str, amount: int, side: Side = Side.BUY, jurisdiction: str = "CH",
           limit: int | None = None) -> ParentOrder:
    return ParentOrder(pid, "client-1", "BTC/USD", side, amount, limit, jurisdiction,
                       "institutional", T0)


def assert_accounted_once(world: World, ex) -> None:
    """Our fills are exactly the venues' own records of our orders, one row per order."""
    ours = {f.order_id: (f.amount, f.cost, f.fee) for f in ex.fills}
    assert len(ours) == len(ex.fills)
    assert ours == world.venue_fills()
    assert ex.filled == sum(c.filled for c in ex.children if c.status == ChildStatus.DONE)


def test_a_split_parent_fills_and_beats_the_best_single_venue(world):
    ex = world.router().route(parent("p1", 5 * BTC))
    assert ex.status == ParentStatus.FILLED and ex.filled == 5 * BTC
    assert len({c.venue for c in ex.children}) >= 2  # split across venues
    assert ex.improvement() > 0  # realised, against the best single venue on the arrival books
    assert {a.venue for a in ex.arrivals} == set(CALM) and ex.decision.baseline is not None
    assert_accounted_once(world, ex)
    # the books did not move (fixed clock): what was planned is what was paid, within rounding
    planned = sum(c.notional + c.fee for c in ex.decision.planned)
    assert abs(planned - ex.all_in) <= 10
    assert world.router().route(parent("p1", 5 * BTC)).fills == ex.fills  # a repeat is a read


def test_a_venue_dying_mid_order_is_dropped_and_every_fill_is_accounted_once(world):
    world.venues["deepbook"].sim.set_state(FaultState(die_after_fills=1))
    router = world.router()
    ex = router.route(parent("p2", 12 * BTC))
    deep = [c for c in ex.children if c.venue == "deepbook"]
    assert len(deep) == 1 and deep[0].status == ChildStatus.UNKNOWN  # died while filling it
    assert any(e.exclusion.venue == "deepbook" and e.exclusion.reason == "unavailable"
               for e in ex.excluded)
    assert ex.status == ParentStatus.UNRESOLVED
    assert ex.filled == 12 * BTC - deep[0].amount  # the rest went elsewhere at once
    alerts = [m for k, m, _ in world.ledger.alerts() if k == "trading.routing_unavailable"]
    assert len(alerts) == 1 and "deepbook" in alerts[0]  # operations hear of it, once
    # the venue comes back; the makers re-quote; resume settles the child by its client id
    world.venues["deepbook"].sim.set_state(FaultState())
    world.clock.now += 5_000
    ex = router.resume()[0]
    deep = [c for c in ex.children if c.venue == "deepbook"]
    assert len(deep) == 1 and deep[0].status == ChildStatus.DONE
    assert 0 < deep[0].filled < deep[0].amount  # one maker fill, then it died: partial
    assert ex.status == ParentStatus.FILLED and ex.filled == 12 * BTC  # remainder re-planned
    assert {c.venue for c in ex.children if c.round > deep[0].round} <= {"fastlane", "thirdex"}
    assert_accounted_once(world, ex)


class TimesOutAfterPlacing:
    """Fault injection at the network boundary: the real venue gets the order, the answer is
    lost (RequestTimeout); every other call goes through."""

    def __init__(self, inner) -> None:
        self.inner, self.id, self.creates = inner, inner.id, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def create_order(self, *args, **kw):
        self.creates += 1
        self.inner.create_order(*args, **kw)
        raise RequestTimeout("no answer within 5 s")


def test_a_timed_out_order_is_looked_up_by_client_id_not_re_sent(world):
    slow = TimesOutAfterPlacing(world.venues["fastlane"])
    ex = world.router(fastlane=slow).route(parent("p3", 4 * BTC))
    fast = [c for c in ex.children if c.venue == "fastlane"]
    assert slow.creates == 1 and len(fast) == 1
    assert fast[0].status == ChildStatus.DONE and fast[0].filled > 0  # found by its client id
    assert ex.status == ParentStatus.FILLED and ex.filled == 4 * BTC
    assert_accounted_once(world, ex)


def test_stale_and_wrong_prices_are_excluded_with_one_alert_per_episode(world):
    router = world.router()
    world.venues["thirdex"].sim.set_state(FaultState(stale_until_ms=T0 + 10_000))
    for i in range(2):
        ex = router.route(parent(f"s{i}", BTC // 2))
        assert ("thirdex", "stale") in {(e.exclusion.venue, e.exclusion.reason)
                                        for e in ex.excluded}
        assert "thirdex" not in {c.venue for c in ex.children}
    stale_alerts = [a for a in world.ledger.alerts() if a[0] == "trading.routing_stale"]
    assert len(stale_alerts) == 1 and "thirdex" in stale_alerts[0][1]
    world.clock.now = T0 + 20_000  # fresh again: the episode closes
    assert "thirdex" not in {e.exclusion.venue for e in router.route(parent("s2", BTC)).excluded}
    world.venues["fastlane"].sim.set_state(FaultState(wrong_until_ms=T0 + 60_000,
                                                      wrong_ppm=30_000))  # 3 % off
    ex = router.route(parent("w1", BTC))
    assert [(e.exclusion.venue, e.exclusion.reason) for e in ex.excluded] == [("fastlane",
                                                                               "outlier")]
    assert "fastlane" not in {c.venue for c in ex.children} and ex.status == ParentStatus.FILLED
    world.venues["thirdex"].sim.set_state(FaultState(stale_until_ms=T0 + 60_000))  # new episode
    router.route(parent("w2", BTC))  # two venues left, one 3 % off: no consensus, no trade
    kinds = [k for k, _, _ in world.ledger.alerts()]
    assert kinds.count("trading.routing_stale") == 2 and kinds.count("trading.routing_outlier") == 1
    assert router.execution("w2").status == ParentStatus.REJECTED
    assert router.execution("w2").children == ()


def test_a_jurisdiction_block_is_never_sent_and_its_cost_is_reported(world):
    before = len(world.venues["thirdex"].sim.engine.orders)
    ex = world.router().route(parent("us1", 8 * BTC, jurisdiction="US"))
    assert "thirdex" not in {c.venue for c in ex.children}
    assert len(world.venues["thirdex"].sim.engine.orders) == before  # nothing reached it
    blocked = ex.decision.blocked
    assert [b.venue for b in blocked] == ["thirdex"] and blocked[0].rule
    assert ex.decision.compliance_cost > 0  # thirdex was in the best plan: compliance cost this
    assert ex.decision.compliance_cost == ex.decision.restricted_all_in - \
        ex.decision.unrestricted_all_in
    assert ex.decision.baseline.venue in {"deepbook", "fastlane"}
    assert ex.status == ParentStatus.FILLED
    # the same order for a Swiss client may use thirdex: no block, no cost
    ch = world.router().route(parent("ch1", 8 * BTC))
    assert ch.decision.blocked == () and ch.decision.compliance_cost is None


class Crash(BaseException):
    """The process dies (not an error any code path handles)."""


class CrashesAround:
    """Fault injection: the process dies just before or just after the real venue got the
    order (between the child row and its outcome row)."""

    def __init__(self, inner, after: bool) -> None:
        self.inner, self.id, self.after = inner, inner.id, after

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def create_order(self, *args, **kw):
        if self.after:
            self.inner.create_order(*args, **kw)
        raise Crash


@pytest.mark.parametrize("after", [False, True], ids=["before-send", "after-send"])
def test_a_crash_between_child_and_outcome_neither_loses_nor_repeats_a_fill(any_world, after):
    world = any_world
    crashing = CrashesAround(world.venues["deepbook"], after)
    with pytest.raises(Crash):
        world.router(deepbook=crashing).route(parent("c1", 6 * BTC))
    stuck = RoutingStore(world.engine).children("c1")
    assert [c.status for c in stuck if c.venue == "deepbook"] == [ChildStatus.SENDING]
    # another router (a new process, or the resume job while the first still runs) keeps off a
    # parent another one holds: it sends nothing until the holder's lease has run out
    assert world.router().resume()[0].children == tuple(stuck)
    world.clock.now += LEASE_MS + 1
    ex = world.router().resume()[0]  # same database, same venues
    first = next(c for c in ex.children if c.venue == "deepbook")
    if after:
        assert first.status == ChildStatus.DONE and first.filled == first.amount
    else:
        assert first.status == ChildStatus.FAILED and first.filled == 0  # never reached it
    assert ex.status == ParentStatus.FILLED and ex.filled == 6 * BTC
    assert_accounted_once(world, ex)
    deep_orders = [o for o in world.venues["deepbook"].sim.engine.orders.values()
                   if (o.client_order_id or "").startswith("c1-")]
    assert len(deep_orders) == len([c for c in ex.children if c.venue == "deepbook"
                                    and c.status == ChildStatus.DONE])


BAD_PARENTS = [
    {"side": "buy"},  # a plain string, not Side.BUY: must not be routed as a sell
    {"amount": 1.5}, {"amount": True}, {"amount": 0}, {"limit_price": 0},
    {"limit_price": "6000000"}, {"id": "has space"}, {"id": "x" * 49}, {"symbol": "DOGE/USD"},
]


def test_a_malformed_parent_is_refused_before_anything_is_stored_or_sent(world):
    router = world.router()
    for bad in BAD_PARENTS:
        fields = {"id": "bad1", "client_id": "c", "symbol": "BTC/USD", "side": Side.BUY,
                  "amount": BTC, "limit_price": None, "jurisdiction": "CH",
                  "client_type": "institutional", "created_at": T0, **bad}
        with pytest.raises(ValueError):
            router.route(ParentOrder(**fields))
        assert RoutingStore(world.engine).parent(fields["id"]) is None, bad
    assert world.venue_fills() == {}


class MovingClock(Clock):
    """Time passes with every request (250 ms: the makers re-quote between a book and an order),
    so IOC children priced on the book they were planned on partly miss."""

    def __call__(self) -> int:
        self.now += 250
        return self.now


def test_partial_iocs_in_a_moving_market_are_re_planned_and_accounted_once(tmp_path):
    w = World(fresh_url(tmp_path / 'moving.db'))
    w.clock = MovingClock()
    w.venues = local_venues(11, clock=w.clock, profiles=CALM, funds=FUNDS)
    try:
        router = w.router()
        execs = [router.route(parent(f"mv{i}", 3 * BTC, Side.BUY if i % 2 else Side.SELL))
                 for i in range(12)]
        replanned = [ex for ex in execs if any(0 < c.filled < c.amount for c in ex.children)
                     and any(c.round > 0 for c in ex.children)]
        assert replanned  # a partial IOC left a remainder the next round routed
        for ex in execs:
            assert ex.status in (ParentStatus.FILLED, ParentStatus.PARTIAL, ParentStatus.REJECTED)
            assert ex.filled <= ex.parent.amount
            assert (ex.status == ParentStatus.FILLED) == (ex.filled == ex.parent.amount)
            assert ex.excluded == ()  # nothing failed: only the market moved
        ours = {f.order_id: (f.amount, f.cost, f.fee) for ex in execs for f in ex.fills}
        assert ours == w.venue_fills()
    finally:
        w.close()


def test_a_round_without_consensus_is_retried_not_the_end_of_the_parent(tmp_path):
    w = World(fresh_url(tmp_path / 'flicker.db'))
    w.clock = MovingClock()
    w.venues = local_venues(11, clock=w.clock, profiles=CALM, funds=FUNDS)
    try:
        w.venues["thirdex"].sim.set_state(FaultState(down_until_ms=T0 + 3_600_000))
        w.venues["fastlane"].sim.set_state(FaultState(wrong_until_ms=T0 + 1_500,
                                                      wrong_ppm=30_000))  # one bad answer
        ex = w.router().route(parent("fl1", BTC))
        assert [(e.round, e.exclusion.venue, e.exclusion.reason) for e in ex.excluded
                if e.exclusion.reason == "no_consensus"] == [(0, "deepbook", "no_consensus"),
                                                             (0, "fastlane", "no_consensus")]
        assert ex.status == ParentStatus.FILLED and min(c.round for c in ex.children) == 1
        # the arrival is the first decision made on trusted books (round 1), not round 0's
        assert ex.decision.round == 1 and ex.decision.baseline is not None
        assert {a.venue for a in ex.arrivals} == {"deepbook", "fastlane"}
        assert all(a.book.asks[0].price * 100 < 101 * ex.decision.consensus_mid for a in ex.arrivals)
        # a side emptied by our own orders is a liquidity fact, not a feed fault: no alert
        assert {k for k, _, _ in w.ledger.alerts()} == {"trading.routing_unavailable",
                                                        "trading.routing_no_consensus"}
    finally:
        w.close()


class OverReports:
    """Fault injection: the venue's answer says more was filled than the child asked for."""

    def __init__(self, inner) -> None:
        self.inner, self.id = inner, inner.id

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def create_order(self, *args, **kw):
        order = self.inner.create_order(*args, **kw)
        return replace(order, filled=order.amount + 1)

    def fetch_order_by_client_id(self, *args, **kw):
        order = self.inner.fetch_order_by_client_id(*args, **kw)
        return replace(order, filled=order.amount + 1)


def test_a_venue_report_inconsistent_with_the_child_is_held_for_review_not_booked(world):
    ex = world.router(fastlane=OverReports(world.venues["fastlane"])).route(parent("o1", 4 * BTC))
    fast = [c for c in ex.children if c.venue == "fastlane"]
    assert [c.status for c in fast] == [ChildStatus.UNKNOWN] and fast[0].filled == 0
    assert "fastlane" not in {f.venue for f in ex.fills}  # nothing booked from that answer
    assert ex.status == ParentStatus.UNRESOLVED  # its amount stays reserved: never bought twice
    assert ex.filled == 4 * BTC - fast[0].amount
    assert [k for k, _, _ in world.ledger.alerts()] == ["trading.routing_bad_report"]


class IgnoresIoc:
    """Fault injection: a venue that ignores timeInForce IOC (the remainder rests, GTC)."""

    def __init__(self, inner) -> None:
        self.inner, self.id = inner, inner.id

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def create_order(self, symbol, type, side, amount, price=None, params=None):
        return self.inner.create_order(symbol, type, side, amount, price,
                                       {**(params or {}), "timeInForce": "GTC"})


def test_a_child_left_open_by_the_venue_is_cancelled_before_it_is_recorded(tmp_path):
    w = World(fresh_url(tmp_path / 'gtc.db'))
    w.clock = MovingClock()
    w.venues = local_venues(11, clock=w.clock, profiles=CALM, funds=FUNDS)
    try:
        router = w.router(**{n: IgnoresIoc(v) for n, v in w.venues.items()})
        execs = [router.route(parent(f"g{i}", 3 * BTC, Side.BUY if i % 2 else Side.SELL))
                 for i in range(3)]
        orders = [o for v in w.venues.values() for o in v.sim.engine.orders.values()
                  if o.client_order_id]
        assert any(o.status.value == "canceled" and o.filled for o in orders)  # rested, then cut
        assert not [o for o in orders if o.status.value == "open"]  # nothing of ours left resting
        ours = {f.order_id: (f.amount, f.cost, f.fee) for ex in execs for f in ex.fills}
        assert ours == w.venue_fills()
    finally:
        w.close()


def test_a_parent_the_pre_trade_policy_refuses_is_never_stored_or_sent(world):
    router = world.router()
    # a market order is valued at the venues' touch: 1,000 BTC is far over a US professional's
    # USD 5,000,000 per order; a sanctioned jurisdiction is refused whatever the size
    big = ParentOrder("pro1", "client-1", "BTC/USD", Side.BUY, 1_000 * BTC, None, "US",
                      "professional", T0)
    with pytest.raises(OrderRefusedError) as refused:
        router.route(big)
    assert refused.value.decision.rule.endswith("max_order_notional")
    with pytest.raises(OrderRefusedError):
        router.route(parent("kp1", BTC, jurisdiction="KP"))
    for pid in ("pro1", "kp1"):
        assert RoutingStore(world.engine).parent(pid) is None
    assert world.venue_fills() == {}
    small = ParentOrder("pro2", "client-1", "BTC/USD", Side.BUY, BTC // 10, None, "US",
                        "professional", T0)
    assert router.route(small).status == ParentStatus.FILLED  # valued within the limit: routed
