"""The input of best-execution analytics: :class:`ExecutionRecord` (plain data) and its JSON form.

An execution record is what routing knew and did for one parent order:

* ``parent``: the client's :class:`ParentOrder`;
* ``arrivals``: per venue, its :class:`OrderBook` and :class:`FeeSchedule` at the first decision
  (every venue routing looked at, including those the policy forbade), and ``trusted``: False
  when routing's price checks excluded that book (stale, crossed, far from the consensus...), so
  it is neither part of the arrival price nor a single-venue alternative;
* ``fills``: every :class:`Fill` of the parent's children;
* ``excluded``: venues left out of a decision and why (price checks, failures mid-order);
* ``blocked``: venues the execution policy (the jurisdiction rules) refused, with its rule
  (routing's :class:`PolicyBlock`);
* ``compliance_cost``: routing's planned cost of those refusals (quote minor units, positive:
  compliance cost money; None when nothing was refused or the plans were not comparable).

:func:`from_execution` turns routing's ``Execution`` into a record. :func:`record_to_json` /
:func:`record_from_json` are the file form the CLI reads; the reader is strict (unknown keys,
floats, booleans for integers refused; sizes bounded) because the file comes from outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from keeper.strictdata import Strict, faults
from keeper.trading.routing import PRICE_REASONS, PolicyBlock
from keeper.trading.types import FeeSchedule, Fill, Level, OrderBook, ParentOrder, Side

#: the reasons routing's price consensus excludes a book for (its arrival book is not trusted)
MAX_LEVELS = 1_000
MAX_FILLS = 10_000
MAX_VENUES = 100


class RecordError(ValueError):
    """An execution record that cannot be analysed; the message says which field and why."""


@dataclass(frozen=True)
class VenueArrival:
    """A venue's ``book`` and ``fees`` when the parent was first decided (``trusted``: see module)."""

    venue: str
    book: OrderBook
    fees: FeeSchedule
    trusted: bool = True


@dataclass(frozen=True)
class ExcludedVenue:
    """A venue left out of decision ``round`` (0: the first) for ``reason`` (``detail`` for people)."""

    venue: str
    reason: str
    detail: str
    round: int = 0


@dataclass(frozen=True)
class ExecutionRecord:
    """One parent order's execution, as analytics read it (see the module docstring)."""

    parent: ParentOrder
    arrivals: tuple[VenueArrival, ...]
    fills: tuple[Fill, ...]
    excluded: tuple[ExcludedVenue, ...] = ()
    blocked: tuple[PolicyBlock, ...] = ()
    compliance_cost: int | None = None


def from_execution(execution: Any) -> ExecutionRecord:
    """The record of routing's ``keeper.trading.routing.Execution`` (read by attribute: parent,
    arrivals, fills, excluded rounds, the first decision's policy blocks and compliance cost)."""
    decision = execution.decision
    arrival_round = decision.round if decision else 0  # the first round decided on trusted books
    untrusted = {
        r.exclusion.venue for r in execution.excluded
        if r.round == arrival_round and r.exclusion.reason in PRICE_REASONS
    }
    blocked = tuple(decision.blocked) if decision else ()
    refused = {b.venue for b in blocked}  # routing also lists them as "blocked" exclusions: once is enough
    return ExecutionRecord(
        parent=execution.parent,
        arrivals=tuple(
            VenueArrival(a.venue, a.book, a.fees, a.venue not in untrusted) for a in execution.arrivals
        ),
        fills=tuple(execution.fills),
        excluded=tuple(
            ExcludedVenue(r.exclusion.venue, r.exclusion.reason, r.exclusion.detail, r.round)
            for r in execution.excluded
            if not (r.exclusion.reason == "blocked" and r.exclusion.venue in refused)
        ),
        blocked=blocked,
        compliance_cost=decision.compliance_cost if decision else None,
    )


# -- JSON form ----------------------------------------------------------------------------------

Pos = Annotated[int, Field(gt=0)]
NonNeg = Annotated[int, Field(ge=0)]
Text = Annotated[str, Field(max_length=4000)]
Pair = Annotated[list[Pos], Field(min_length=2, max_length=2)]  # [price, amount]
Id = Annotated[str, Field(min_length=1, max_length=200)]


class _Parent(Strict):
    id: Id
    client_id: Id
    symbol: Id
    side: Literal["buy", "sell"]
    amount: Pos
    limit_price: Pos | None
    jurisdiction: Annotated[str, Field(max_length=10)]
    client_type: Annotated[str, Field(max_length=50)]
    created_at: NonNeg


class _Book(Strict):
    symbol: Id
    timestamp: NonNeg
    bids: list[Pair] = Field(max_length=MAX_LEVELS)
    asks: list[Pair] = Field(max_length=MAX_LEVELS)


class _Arrival(Strict):
    venue: Id
    book: _Book
    maker_ppm: Annotated[int, Field(ge=-1_000_000, le=1_000_000)]
    taker_ppm: Annotated[int, Field(ge=0, le=1_000_000)]
    trusted: bool = True


class _Fill(Strict):
    venue: Id
    order_id: Id
    symbol: Id
    side: Literal["buy", "sell"]
    amount: Pos
    price: Pos
    cost: NonNeg
    fee: NonNeg
    timestamp: NonNeg


class _Excluded(Strict):
    venue: Id
    reason: Text
    detail: Text = ""
    round: NonNeg = 0


class _Blocked(Strict):
    venue: Id
    rule: Text
    reason: Text


class _Record(Strict):
    parent: _Parent
    arrivals: list[_Arrival] = Field(max_length=MAX_VENUES)
    fills: list[_Fill] = Field(max_length=MAX_FILLS)
    excluded: list[_Excluded] = Field(default_factory=list, max_length=MAX_VENUES * 10)
    blocked: list[_Blocked] = Field(default_factory=list, max_length=MAX_VENUES)
    compliance_cost: int | None = None


def record_from_json(data: Any, where: str = "record") -> ExecutionRecord:
    """A record from its decoded JSON form; :class:`RecordError` naming every bad field."""
    try:
        r = _Record.model_validate(data)
    except ValidationError as exc:
        raise RecordError(f"{where} refused: {faults(exc)}") from None
    p = r.parent
    parent = ParentOrder(
        p.id,
        p.client_id,
        p.symbol,
        Side(p.side),
        p.amount,
        p.limit_price,
        p.jurisdiction,
        p.client_type,
        p.created_at,
    )
    arrivals = tuple(
        VenueArrival(
            a.venue,
            OrderBook(
                a.book.symbol,
                tuple(Level(*lv) for lv in a.book.bids),
                tuple(Level(*lv) for lv in a.book.asks),
                a.book.timestamp,
                a.venue,
            ),
            FeeSchedule(a.maker_ppm, a.taker_ppm),
            a.trusted,
        )
        for a in r.arrivals
    )
    fills = tuple(
        Fill(f.venue, f.order_id, f.symbol, Side(f.side), f.amount, f.price, f.cost, f.fee, f.timestamp)
        for f in r.fills
    )
    return ExecutionRecord(
        parent,
        arrivals,
        fills,
        tuple(ExcludedVenue(e.venue, e.reason, e.detail, e.round) for e in r.excluded),
        tuple(PolicyBlock(b.venue, b.rule, b.reason) for b in r.blocked),
        r.compliance_cost,
    )


def fill_to_json(f: Fill) -> dict[str, Any]:
    """A fill in the records file's form."""
    return {
        "venue": f.venue,
        "order_id": f.order_id,
        "symbol": f.symbol,
        "side": str(f.side),
        "amount": f.amount,
        "price": f.price,
        "cost": f.cost,
        "fee": f.fee,
        "timestamp": f.timestamp,
    }


def record_to_json(record: ExecutionRecord) -> dict[str, Any]:
    """``record`` in the JSON form :func:`record_from_json` reads (integers exact)."""
    p = record.parent
    return {
        "parent": {
            "id": p.id,
            "client_id": p.client_id,
            "symbol": p.symbol,
            "side": str(p.side),
            "amount": p.amount,
            "limit_price": p.limit_price,
            "jurisdiction": p.jurisdiction,
            "client_type": p.client_type,
            "created_at": p.created_at,
        },
        "arrivals": [
            {
                "venue": a.venue,
                "maker_ppm": a.fees.maker_ppm,
                "taker_ppm": a.fees.taker_ppm,
                "trusted": a.trusted,
                "book": {
                    "symbol": a.book.symbol,
                    "timestamp": a.book.timestamp,
                    "bids": [[lv.price, lv.amount] for lv in a.book.bids],
                    "asks": [[lv.price, lv.amount] for lv in a.book.asks],
                },
            }
            for a in record.arrivals
        ],
        "fills": [fill_to_json(f) for f in record.fills],
        "excluded": [
            {"venue": e.venue, "reason": e.reason, "detail": e.detail, "round": e.round}
            for e in record.excluded
        ],
        "blocked": [{"venue": b.venue, "rule": b.rule, "reason": b.reason} for b in record.blocked],
        "compliance_cost": record.compliance_cost,
    }
