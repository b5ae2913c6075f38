"""The smart order router: decides (books -> consensus -> plan -> policy) and executes with
failover, persisted so a restart resumes a parent without losing or repeating a fill.

One parent is routed in rounds. Each round fetches the books and our balances of the venues not
dropped for this parent, excludes the venues the price consensus rejects (alerting once per
episode), plans the remaining amount (``planner``), shows every child to the
:class:`ExecutionPolicy` (a refused venue is removed and the rest re-planned; a refused child is
never sent), then sends the children as IOC limit orders, each written first with its client order
id ``<parent id>-<seq>``. Outcomes:

* an order back: its fill is recorded once (an order left open is cancelled first);
* ``RequestTimeout``, ``ExchangeNotAvailable`` (a venue failing while it processed the order
  may have placed and filled it) or another network error: the venue is dropped for this parent
  and the order is looked up by its client order id, never re-sent; if the look-up fails too, the
  child is ``unknown`` and its amount stays reserved (not re-routed, so it can never be bought
  twice) until a later look-up settles it; the rest is re-routed at once;
* ``OnMaintenance`` / ``RateLimitExceeded`` (refused before processing: not placed), or a refusal
  (``InsufficientFunds``, ``InvalidOrder``, other ``ExchangeError``): the child failed and the
  venue is dropped for this parent.

Partial fills and failed children leave a remainder the next round re-plans on the venues left,
until the parent is filled, no venue is left, no liquidity is left within its limit price, or
``max_rounds`` is reached (a round in which no book could be trusted is retried like a round that
filled nothing: ``max_idle_rounds``). Calling
:meth:`Router.route` again with the same parent (after a crash) first settles every child whose
outcome was not recorded (by client order id), then carries on. One router process routes a
given parent at a time (a lease on the parent row).
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from keeper.trading.routing import consensus as cons
from keeper.trading.routing.consensus import ConsensusRules, Exclusion
from keeper.trading.routing.execution import (
    Arrival,
    Decision,
    Execution,
    PolicyBlock,
    compliance_cost,
)
from keeper.trading.routing.models import ChildStatus, ParentStatus
from keeper.trading.routing.planner import (
    Plan,
    RoutingCosts,
    VenueInput,
    best_single_venue,
    market_of,
    plan,
)
from keeper.trading.routing.store import RoutingStore
from keeper.trading.types import (
    MARKETS,
    BaseError,
    ChildIntent,
    DDoSProtection,
    ExchangeError,
    ExecutionPolicy,
    NetworkError,
    OnMaintenance,
    Order,
    OrderBook,
    OrderNotFound,
    OrderStatus,
    OrderType,
    ParentOrder,
    PolicyDecision,
    PreTradePolicy,
    Side,
    Venue,
)

AlertFn = Callable[[str, str, str], object]  # (kind, message, ref), e.g. Ledger.raise_alert
# exclusions that open an alert episode ("empty": a side taken by our own orders is no fault)
FEED_REASONS = ("stale", "crossed", "outlier", "no_consensus", "unavailable", "refused")
NO_TRUSTED_BOOK = "no trusted book: every venue left was stale, empty or off the consensus"
ALERT_PREFIX = "trading.routing_"  # alert kinds: trading.routing_stale, trading.routing_outlier...
LEASE_MS = 60_000  # how long a router holds a parent without renewing (one round renews it)
PARENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,48}")  # + "-<seq>": a venue's clientOrderId (<= 64)


@dataclass(frozen=True)
class RoutedVenue:
    """A venue routing may use: the client, its latency estimate (ms; None: the client's own
    running estimate, ``latency_estimate_ms()``, as ``HttpVenue`` keeps it, else 0) and the
    largest child per symbol (base minor units; absent: no limit)."""

    client: Venue
    latency_ms: int | None = None
    max_order: Mapping[str, int] = field(default_factory=dict)

    def latency(self) -> int:
        """The latency estimate to plan with (ms)."""
        if self.latency_ms is not None:
            return self.latency_ms
        estimate = getattr(self.client, "latency_estimate_ms", None)
        return max(0, int(estimate())) if callable(estimate) else 0


class OrderRefusedError(ValueError):
    """The pre-trade policy refused the whole parent: nothing was stored or sent."""

    def __init__(self, decision: PolicyDecision) -> None:
        super().__init__(f"refused by {decision.rule}: {decision.reason}")
        self.decision = decision


def _positive_int(value: object) -> bool:
    return type(value) is int and value > 0


def _validate(parent: ParentOrder) -> None:
    """Refuse a parent that cannot be routed as written (``ValueError``), before anything."""
    if not isinstance(parent.side, Side):
        raise ValueError("a parent's side is a Side")
    if not isinstance(parent.symbol, str) or parent.symbol not in MARKETS:
        raise ValueError(f"unknown symbol {parent.symbol!r}")
    if not _positive_int(parent.amount) or not (
            parent.limit_price is None or _positive_int(parent.limit_price)):
        raise ValueError("a parent's amount and limit price are positive integers")
    if not isinstance(parent.id, str) or not PARENT_ID.fullmatch(parent.id):
        raise ValueError("a parent id is 1-48 of [A-Za-z0-9._:-]")
    if not all(isinstance(v, str) and 0 < len(v) <= 120 for v in (
            parent.client_id, parent.jurisdiction, parent.client_type)):
        raise ValueError("a parent's client id, jurisdiction and client type are short strings")
    if type(parent.created_at) is not int or parent.created_at < 0:
        raise ValueError("a parent's created_at is a non-negative integer (ms)")


def lookup_by_client_id(venue: Venue, client_order_id: str, symbol: str) -> Order | None:
    """The venue's order placed with ``client_order_id``, or None if the venue has none.

    Network errors propagate."""
    try:
        return venue.fetch_order_by_client_id(client_order_id, symbol)
    except OrderNotFound:
        return None


class Router:
    """Routes parent orders over ``venues`` (id -> :class:`RoutedVenue`) under ``policy``,
    persisted on ``engine``; ``alert(kind, message, ref)`` raises an operational alert (one per
    ref: ``Ledger.raise_alert``). ``clock()`` is now in ms. A parent is routed in at most
    ``max_rounds`` rounds and gives up after ``max_idle_rounds`` rounds in a row that filled
    nothing (IOC children priced at the book they were planned on miss when it moves). One
    router routes a parent at a time: it holds a lease on it (``lease_ms``, renewed every round)
    that another router (another process, the resume job) waits out; a crashed router's lease
    runs out and its parent is resumed by whoever routes it next."""

    def __init__(self, store: RoutingStore, venues: Mapping[str, RoutedVenue],
                 policy: ExecutionPolicy, alert: AlertFn, *,
                 rules: ConsensusRules | None = None, costs: RoutingCosts | None = None,
                 clock: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
                 max_rounds: int = 8, max_idle_rounds: int = 2,
                 lease_ms: int = LEASE_MS) -> None:
        self.store, self.venues, self.policy, self.alert = store, dict(venues), policy, alert
        self.rules, self.costs = rules or ConsensusRules(), costs or RoutingCosts()
        self.clock, self.max_rounds, self.max_idle_rounds = clock, max_rounds, max_idle_rounds
        self.lease_ms = lease_ms
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.last_decision_ns = 0  # the last round's decision time (consensus, plan, policy)
        self.last_decision_cpu_ns = 0  # the same, this thread's CPU time

    # ------------------------------------------------------------------ public
    def route(self, parent: ParentOrder) -> Execution:
        """Route ``parent`` (or resume it) until it is filled or nothing is left to route on.

        Refused before anything is stored (``ValueError``): a side that is not a :class:`Side`,
        an unknown symbol, an amount or limit that is not a positive integer, an id that cannot
        make client order ids (1-48 of ``[A-Za-z0-9._:-]``). A new parent is first shown whole
        to the policy when it is a :class:`PreTradePolicy` (a market order it refuses unvalued
        is judged again valued at the venues' median touch): refused, it raises
        :class:`OrderRefusedError` and nothing is stored or sent. A parent already stored (a
        resume) was accepted then and is not judged again."""
        _validate(parent)
        if isinstance(self.policy, PreTradePolicy) and self.store.parent(parent.id) is None:
            decision = self.policy.check_order(parent)
            if not decision.allowed and parent.limit_price is None:  # perhaps for want of a value
                decision = self.policy.check_order(parent, self._market_notional(parent))
            if not decision.allowed:
                raise OrderRefusedError(decision)
        status = self.store.open_parent(parent)
        if status in (ParentStatus.ROUTING, ParentStatus.UNRESOLVED) and self._claim(parent.id):
            try:
                self._run(parent)
            except Exception:
                self.store.release(parent.id, self.owner)
                raise
            self.store.release(parent.id, self.owner)
        return self.execution(parent.id)

    def _market_notional(self, parent: ParentOrder) -> int | None:
        """A market order's notional at the median of the venues' touch (ask to buy, bid to
        sell); None for a limit order (valued at its limit) or when no venue quotes."""
        if parent.limit_price is not None:
            return None
        touches = []
        for routed in self.venues.values():
            try:
                ticker = routed.client.fetch_ticker(parent.symbol)
            except BaseError:
                continue
            touch = ticker.ask if parent.side is Side.BUY else ticker.bid
            if type(touch) is int and touch > 0:
                touches.append(touch)
        if not touches:
            return None
        return MARKETS[parent.symbol].notional(parent.amount, statistics.median_low(touches))

    def _claim(self, parent_id: str) -> bool:
        """Hold (or renew) this router's lease on the parent (False: another router holds it)."""
        return self.store.claim(parent_id, self.owner, self.clock(), self.lease_ms)

    def resume(self) -> list[Execution]:
        """Route every parent left ``routing`` or ``unresolved`` (after a crash, or a child
        whose venue did not answer): a job calls this periodically."""
        out = []
        for pid in self.store.unfinished():
            parent = self.store.parent(pid)
            if parent is not None:
                out.append(self.route(parent))
        return out

    def execution(self, parent_id: str) -> Execution:
        """The stored execution of ``parent_id`` (``KeyError`` if unknown)."""
        ex = self.store.execution(parent_id)
        if ex is None:
            raise KeyError(parent_id)
        return ex

    # ------------------------------------------------------------------ rounds
    def _run(self, parent: ParentOrder) -> None:
        self._settle(parent)
        done = self.execution(parent.id)
        dropped = {r.exclusion.venue: r.exclusion.reason for r in done.excluded
                   if r.exclusion.reason in ("unavailable", "refused")}
        round_ = 1 + max([c.round for c in done.children] + [e.round for e in done.excluded],
                         default=-1)
        first_round = done.decision is None
        reason, idle = "max rounds reached", 0
        for _ in range(self.max_rounds):
            if not self._claim(parent.id):  # our lease ran out and another router took over
                return
            left = self._left(parent)
            if left <= 0:
                reason = ""
                break
            before = (left, len(dropped))
            plan_, why = self._round(parent, left, round_, dropped, first_round)
            first_round = first_round and self.execution(parent.id).decision is None
            round_ += 1
            if plan_ is None and (why != NO_TRUSTED_BOOK or len(dropped) == len(self.venues)):
                reason = why
                break
            if plan_ is None:  # every book this round was stale or disagreeing: try again
                reason = why
            idle = idle + 1 if (self._left(parent), len(dropped)) == before else 0
            if idle >= self.max_idle_rounds:  # the market keeps moving away from our plans
                reason = f"no progress in {idle} rounds: the venues filled nothing of the plan"
                break
        self._settle(parent)  # a venue that failed may answer its look-up by now
        self._close(parent, reason)

    def _left(self, parent: ParentOrder) -> int:
        """What is still to route: amount minus filled minus the children still unsettled."""
        used = sum(c.filled if c.status == ChildStatus.DONE else c.amount
                   for c in self.store.children(parent.id)
                   if c.status in (ChildStatus.DONE, ChildStatus.UNKNOWN, ChildStatus.SENDING))
        return parent.amount - used

    def _close(self, parent: ParentOrder, reason: str) -> None:
        children = self.store.children(parent.id)
        filled = sum(c.filled for c in children if c.status == ChildStatus.DONE)
        if any(c.status in (ChildStatus.UNKNOWN, ChildStatus.SENDING) for c in children):
            self.store.finish(parent.id, ParentStatus.UNRESOLVED,
                              "a child's outcome is unknown: resume looks it up by client id")
        elif filled >= parent.amount:
            self.store.finish(parent.id, ParentStatus.FILLED, None)
        elif filled == 0:
            self.store.finish(parent.id, ParentStatus.REJECTED, reason or "nothing filled")
        else:
            self.store.finish(parent.id, ParentStatus.PARTIAL, reason or "partially filled")

    def _round(self, parent: ParentOrder, left: int, round_: int, dropped: dict[str, str],
               first: bool) -> tuple[Plan | None, str]:
        books, inputs, excluded = self._snapshot(parent, dropped)
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        now = self.clock()
        verdict = cons.check(books, now, self.rules)
        excluded.extend(verdict.excluded)
        fresh = [inputs[v] for v in sorted(verdict.fresh)]
        plan_, blocked, unrestricted = self._decide(parent, left, fresh)
        self.last_decision_ns = time.perf_counter_ns() - t0
        self.last_decision_cpu_ns = time.thread_time_ns() - c0
        self._episodes(parent.symbol, excluded, list(verdict.fresh), now)
        excluded.extend(Exclusion(b.venue, "blocked", f"{b.rule}: {b.reason}") for b in blocked)
        self.store.record_exclusions(parent.id, round_, excluded)
        if first and fresh:  # the first decision made on trusted books: the arrival
            allowed = [v for v in fresh if v.venue not in {b.venue for b in blocked}]
            baseline = best_single_venue(parent.side, parent.amount, allowed,
                                         symbol=parent.symbol, limit_price=parent.limit_price)
            un, re = (unrestricted.amount, unrestricted.all_in), (plan_.amount, plan_.all_in)
            decision = Decision(plan_.children, baseline, tuple(blocked), *un, *re,
                                compliance_cost(parent.side, un, re) if blocked else None,
                                verdict.mid, round_)
            arrivals = [Arrival(v.venue, v.book, v.fees, v.latency_ms)
                        for v in sorted(inputs.values(), key=lambda x: x.venue)]
            self.store.record_decision(parent.id, decision, arrivals)
        if not plan_.children:
            if fresh:
                return None, "no liquidity within the limits"
            return None, NO_TRUSTED_BOOK if len(dropped) < len(self.venues) else "no venue left"
        for child in plan_.children:
            if not self._claim(parent.id):  # renewed before each send (venue calls take time)
                break
            self._send(parent, round_, child.venue, child.amount, child.price, child.notional,
                       child.fee, dropped)
        return plan_, ""

    def _snapshot(self, parent: ParentOrder, dropped: dict[str, str]
                  ) -> tuple[dict[str, OrderBook], dict[str, VenueInput], list[Exclusion]]:
        """Books and free balances of the venues not dropped; a venue that fails is dropped."""
        m = market_of(parent.symbol)
        spend = m.quote if parent.side is Side.BUY else m.base
        books: dict[str, OrderBook] = {}
        inputs: dict[str, VenueInput] = {}
        excluded: list[Exclusion] = []
        for vid in sorted(self.venues):
            if vid in dropped:
                continue
            rv = self.venues[vid]
            try:
                book = rv.client.fetch_order_book(parent.symbol)
                fees = rv.client.fees()
                free = rv.client.fetch_balance().free.get(spend, 0)
            except BaseError as exc:
                dropped[vid] = "unavailable"
                excluded.append(Exclusion(vid, "unavailable", f"{type(exc).__name__}: {exc}"))
                continue
            books[vid] = book
            inputs[vid] = VenueInput(vid, book, fees, rv.latency(),
                                     rv.max_order.get(parent.symbol), max(free, 0))
        return books, inputs, excluded

    def _decide(self, parent: ParentOrder, left: int, fresh: list[VenueInput]
                ) -> tuple[Plan, list[PolicyBlock], Plan]:
        """Plan ``left`` on ``fresh``; every child shown to the policy; a refused venue is
        removed and the rest re-planned. Returns (plan, blocks, the plan without blocks)."""
        kw = {"symbol": parent.symbol, "limit_price": parent.limit_price, "costs": self.costs}
        unrestricted = current = plan(parent.side, left, fresh, **kw)
        blocked: list[PolicyBlock] = []
        candidates = list(fresh)
        while True:
            refusal = None
            for c in current.children:
                d = self.policy.check(ChildIntent(
                    parent.id, parent.client_id, parent.jurisdiction, parent.client_type, c.venue,
                    parent.symbol, parent.side, OrderType.LIMIT, c.amount, c.price, c.notional))
                if not d.allowed:
                    refusal = PolicyBlock(c.venue, d.rule, d.reason)
                    break
            if refusal is None:
                return current, blocked, unrestricted
            blocked.append(refusal)
            candidates = [v for v in candidates if v.venue != refusal.venue]
            current = plan(parent.side, left, candidates, **kw)

    def _episodes(self, symbol: str, excluded: list[Exclusion], fresh: list[str],
                  now: int) -> None:
        """Open an episode (and alert once) per venue newly excluded for a feed reason; close
        the episodes of the venues that passed."""
        for e in excluded:
            self._episode(symbol, e, now)
        self.store.close_episodes(fresh, symbol, FEED_REASONS)

    def _episode(self, symbol: str, e: Exclusion, now: int) -> None:
        """Alert on ``e`` if it opens an episode (one alert per venue, symbol and reason until
        the venue passes the checks again)."""
        if e.reason not in FEED_REASONS:
            return
        since = self.store.open_episode(e.venue, symbol, e.reason, now)
        if since is not None:
            self.alert(ALERT_PREFIX + e.reason, f"{e.venue} {symbol} excluded from routing: "
                       f"{e.detail}", f"routing:{e.reason}:{e.venue}:{symbol}:{since}")

    # ------------------------------------------------------------------ children
    def _send(self, parent: ParentOrder, round_: int, vid: str, amount: int, price: int,
              notional: int, fee: int, dropped: dict[str, str]) -> None:
        seq = self.store.next_seq(parent.id)
        coid = self.store.add_child(parent.id, seq, round_, vid, OrderType.LIMIT.value, amount,
                                    price, notional, fee)
        venue = self.venues[vid].client
        try:
            order = venue.create_order(parent.symbol, OrderType.LIMIT, parent.side, amount, price,
                                       {"clientOrderId": coid, "timeInForce": "IOC"})
        except (OnMaintenance, DDoSProtection) as exc:  # refused before processing: not placed
            self._drop(parent, round_, vid, "unavailable", coid, exc, dropped)
            return
        except ExchangeError as exc:  # refused (funds, size...): not placed
            self._drop(parent, round_, vid, "refused", coid, exc, dropped)
            return
        except NetworkError as exc:  # timeout, venue failing: it may have been placed
            dropped[vid] = "unavailable"
            failure = Exclusion(vid, "unavailable", f"{type(exc).__name__}: {exc}")
            self.store.record_exclusions(parent.id, round_, [failure])
            self._episode(parent.symbol, failure, self.clock())
            self._settle_child(parent, vid, coid, amount)
            return
        self._record(parent, vid, coid, amount, order)

    def _drop(self, parent: ParentOrder, round_: int, vid: str, reason: str, coid: str,
              exc: BaseError, dropped: dict[str, str]) -> None:
        detail = f"{type(exc).__name__}: {exc}"
        dropped[vid] = reason
        self.store.child_failed(coid, ChildStatus.FAILED, detail)
        self.store.record_exclusions(parent.id, round_, [Exclusion(vid, reason, detail)])
        self._episode(parent.symbol, Exclusion(vid, reason, detail), self.clock())

    def _settle(self, parent: ParentOrder) -> None:
        """Settle every child whose outcome was not recorded (a crash or a timeout)."""
        for c in self.store.children(parent.id):
            if c.status in (ChildStatus.SENDING, ChildStatus.UNKNOWN):
                self._settle_child(parent, c.venue, c.client_order_id, c.amount)

    def _settle_child(self, parent: ParentOrder, vid: str, coid: str, amount: int) -> None:
        rv = self.venues.get(vid)
        if rv is None:
            self.store.child_failed(coid, ChildStatus.UNKNOWN, f"venue {vid} not configured")
            return
        try:
            order = lookup_by_client_id(rv.client, coid, parent.symbol)
        except BaseError as exc:
            self.store.child_failed(coid, ChildStatus.UNKNOWN,
                                    f"look-up failed: {type(exc).__name__}: {exc}")
            return
        if order is None:
            self.store.child_failed(coid, ChildStatus.FAILED, "not placed (no order with this "
                                                              "client order id)")
            return
        self._record(parent, vid, coid, amount, order)

    def _record(self, parent: ParentOrder, vid: str, coid: str, amount: int,
                order: Order) -> None:
        """Record a child's order, cancelling it first if the venue left it open."""
        venue = self.venues[vid].client
        if order.status is OrderStatus.OPEN:
            try:
                order = venue.cancel_order(order.id, parent.symbol)
            except BaseError as exc:
                self.store.child_failed(coid, ChildStatus.UNKNOWN,
                                        f"left open, cancel failed: {type(exc).__name__}: {exc}")
                return
            if order.status is OrderStatus.OPEN:
                self.store.child_failed(coid, ChildStatus.UNKNOWN, "still open after cancel")
                return
        if (order.filled < 0 or order.filled > amount or order.cost < 0 or order.fee.cost < 0
                or order.side is not parent.side or order.symbol != parent.symbol):
            self.alert(ALERT_PREFIX + "bad_report", f"{vid} reported order {order.id} for "
                       f"{coid} inconsistent with the child ({amount} {parent.side} "
                       f"{parent.symbol}): filled {order.filled}", f"routing:bad_report:{coid}")
            self.store.child_failed(coid, ChildStatus.UNKNOWN, "venue report inconsistent with "
                                                               "the child: review by hand")
            return
        self.store.child_done(parent.id, coid, vid, order, 10**market_of(parent.symbol)
                              .base_decimals)
