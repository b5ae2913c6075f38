"""What routing reports about a parent order: :class:`Execution` and its parts (plain data).

An :class:`Execution` carries everything best-execution analytics read: the parent, the
``arrivals`` (each venue's book, fee schedule and latency at the first decision made on trusted
books, round ``decision.round``), the ``fills``,
the ``children`` with their outcomes, the venues ``excluded`` (per decision round, with the
reason) and the first :class:`Decision` (the planned allocation, the best single venue baseline,
the compliance blocks and what they cost). Money is integer minor units throughout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from keeper.trading.routing.consensus import Exclusion
from keeper.trading.routing.planner import PlannedChild, SingleVenueCost, all_in, saving
from keeper.trading.types import FeeSchedule, Fill, Level, OrderBook, ParentOrder, Side


@dataclass(frozen=True)
class Arrival:
    """A venue's ``book``, ``fees`` and ``latency_ms`` when the parent was first decided."""

    venue: str
    book: OrderBook
    fees: FeeSchedule
    latency_ms: int


@dataclass(frozen=True)
class PolicyBlock:
    """A venue the execution policy refused a child on: the policy's ``rule`` and ``reason``."""

    venue: str
    rule: str
    reason: str


@dataclass(frozen=True)
class Decision:
    """The parent's first decision.

    ``planned``: the children sent in the first round (after the policy). ``baseline``: the best
    single venue for the whole amount among the venues the policy allowed, from the same books
    (None when no venue alone could fill it). ``blocked``: the venues the policy refused.
    ``unrestricted_all_in`` / ``restricted_all_in``: the planned all-in without and with those
    blocks; ``compliance_cost``: what compliance cost (restricted minus unrestricted for a buy,
    unrestricted minus restricted received for a sell; None when nothing was blocked or the two
    plans do not fill the same amount). ``consensus_mid``: the median mid of the fresh venues.
    ``round``: the decision round it was made in (the first whose books could be trusted: the
    arrival; 0 unless every book of the earlier rounds was stale or off the consensus)."""

    planned: tuple[PlannedChild, ...]
    baseline: SingleVenueCost | None
    blocked: tuple[PolicyBlock, ...]
    unrestricted_amount: int
    unrestricted_all_in: int
    restricted_amount: int
    restricted_all_in: int
    compliance_cost: int | None
    consensus_mid: int | None
    round: int = 0


@dataclass(frozen=True)
class ChildRecord:
    """A child order as persisted: what was planned and what came back (see ``models``)."""

    seq: int
    client_order_id: str
    round: int
    venue: str
    amount: int
    price: int | None
    planned_notional: int
    planned_fee: int
    status: str
    order_id: str | None
    filled: int
    cost: int
    fee: int
    error: str | None


@dataclass(frozen=True)
class RoundExclusion:
    """A venue excluded from decision ``round`` (0: the first)."""

    round: int
    exclusion: Exclusion


@dataclass(frozen=True)
class Execution:
    """A parent order's routing: its ``status`` (``models.ParentStatus``) and everything above."""

    parent: ParentOrder
    status: str
    reason: str | None
    fills: tuple[Fill, ...]
    children: tuple[ChildRecord, ...]
    arrivals: tuple[Arrival, ...]
    excluded: tuple[RoundExclusion, ...]
    decision: Decision | None

    @property
    def filled(self) -> int:
        """Base minor units filled."""
        return sum(f.amount for f in self.fills)

    @property
    def notional(self) -> int:
        """Quote minor units of price paid or received (sum of the fills' cost)."""
        return sum(f.cost for f in self.fills)

    @property
    def fee(self) -> int:
        """Quote minor units of fees paid."""
        return sum(f.fee for f in self.fills)

    @property
    def all_in(self) -> int:
        """Realised all-in money: paid (buy) or received (sell), fees included."""
        return all_in(self.parent.side, self.notional, self.fee)

    def improvement(self) -> int | None:
        """Realised saving against the best single venue (quote minor units, positive: routing
        did better), or None when not comparable (no baseline, or not completely filled)."""
        if self.decision is None or self.decision.baseline is None:
            return None
        if self.filled != self.parent.amount:
            return None
        return saving(self.parent.side, self.all_in, self.decision.baseline.all_in)


def book_to_json(book: OrderBook) -> str:
    """``book`` as JSON (integers exact)."""
    return json.dumps({"symbol": book.symbol, "venue": book.venue, "timestamp": book.timestamp,
                       "bids": [[lv.price, lv.amount] for lv in book.bids],
                       "asks": [[lv.price, lv.amount] for lv in book.asks]})


def book_from_json(text: str) -> OrderBook:
    """The book :func:`book_to_json` wrote."""
    d = json.loads(text)
    return OrderBook(d["symbol"], tuple(Level(p, a) for p, a in d["bids"]),
                     tuple(Level(p, a) for p, a in d["asks"]), d["timestamp"], d["venue"])


def decision_to_json(d: Decision) -> str:
    """``d`` as JSON (integers exact)."""
    b = d.baseline
    return json.dumps({
        "planned": [[c.venue, c.amount, c.price, c.notional, c.fee, c.penalty] for c in d.planned],
        "baseline": None if b is None else [b.venue, b.amount, b.notional, b.fee, b.all_in],
        "blocked": [[x.venue, x.rule, x.reason] for x in d.blocked],
        "unrestricted": [d.unrestricted_amount, d.unrestricted_all_in],
        "restricted": [d.restricted_amount, d.restricted_all_in],
        "compliance_cost": d.compliance_cost, "consensus_mid": d.consensus_mid, "round": d.round})


def decision_from_json(text: str) -> Decision:
    """The decision :func:`decision_to_json` wrote."""
    d = json.loads(text)
    b = d["baseline"]
    return Decision(tuple(PlannedChild(*c) for c in d["planned"]),
                    None if b is None else SingleVenueCost(*b),
                    tuple(PolicyBlock(*x) for x in d["blocked"]), *d["unrestricted"],
                    *d["restricted"], d["compliance_cost"], d["consensus_mid"], d["round"])


def compliance_cost(side: Side, unrestricted: tuple[int, int],
                    restricted: tuple[int, int]) -> int | None:
    """What the policy's blocks cost: ``(amount, all_in)`` of the plan without and with them;
    None when they do not fill the same amount (not comparable)."""
    if unrestricted[0] != restricted[0]:
        return None
    return saving(side, unrestricted[1], restricted[1])
