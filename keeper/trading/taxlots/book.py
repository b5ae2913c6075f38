"""The persisted tax-lot book: per client and asset, updated as each event is recorded.

:class:`TaxLotBook` records acquisitions, disposals and transfers (``record_*``, and
:meth:`TaxLotBook.record_fill` for routing's executions) in the event log and applies them to the
client's lots in the same transaction, with the rules of :mod:`.engine`.

* **Idempotent.** Each event carries a reference unique per client (a fill's is
  ``fill:<venue>:<order id>:<seq>``). Recording the same event again changes nothing and returns
  the first outcome; the same reference with different content is refused
  (:class:`EventConflictError`) and changes nothing.
* **Out of order.** An event that sorts after the last one applied to its (client, asset) is
  applied to the stored lots; one that sorts before it (an older fill arriving after a newer
  disposal) makes the book recompute that asset's lots and outcomes from the event log, so the
  lots are always those of a from-scratch replay in time order.
* **Policy.** The method and the fee treatment are the client's, stored with their history
  (:meth:`TaxLotBook.set_policy`: who, when); a change applies to events from the moment it is
  made (already-applied events at or after that moment are recomputed). A client's first event
  stores the book's defaults (constructor) as its initial policy.
* **Refusals change nothing**: malformed events (:class:`~.engine.InvalidEventError`), events dated
  more than ``max_future_ms`` ahead of the clock, assets without a USD market.
* **Concurrency.** A writer locks the (client, asset) book row (``SELECT ... FOR UPDATE`` on
  PostgreSQL; SQLite write transactions are exclusive), so two keepers never interleave on a book.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from keeper.ledger import utc
from keeper.trading.taxlots import codec
from keeper.trading.taxlots.engine import (
    LONG_TERM_AFTER_MS,
    Holdings,
    InvalidEventError,
    Kind,
    Lot,
    Method,
    Outcome,
    Policy,
    TaxEvent,
    apply,
    replay,
)
from keeper.trading.taxlots.models import BookRow, EventRow, LotRow, OutcomeRow, PolicyRow
from keeper.trading.types import MARKETS, Fill, Side

DEFAULT_LOCATION = "custody"
MAX_FUTURE_MS = 5 * 60_000
_E, _P, _B = EventRow.__table__, PolicyRow.__table__, BookRow.__table__
_L, _O = LotRow.__table__, OutcomeRow.__table__


# ``audit(conn, actor, operation, params, result)``: the domains' audit callable (keeper.audit)
Audit = Callable[[Connection, str, str, dict[str, Any], dict[str, Any]], object]


class EventConflictError(ValueError):
    """The reference was already recorded with different content (nothing changed)."""


@dataclass(frozen=True)
class Recorded:
    """The outcome of a recorded event; ``duplicate`` when it had been recorded before."""

    outcome: Outcome
    duplicate: bool


@dataclass(frozen=True)
class PolicyChange:
    """One row of a client's policy history."""

    method: Method
    fees_in_basis: bool
    effective_from: int  # ms
    changed_by: str
    changed_at: datetime


def quote_market(asset: str) -> None:
    """Refuse (InvalidEventError) an asset that has no ``<asset>/USD`` market: costs are USD cents."""
    if f"{asset}/USD" not in MARKETS:
        raise InvalidEventError(f"no USD market for asset {asset!r}")


class TaxLotBook:
    """Per-client tax lots on ``engine`` (see the module docstring).

    ``default_method`` / ``fees_in_basis``: the policy a client gets at its first event;
    ``long_term_after_ms``: the holding-period threshold (strictly longer is long-term);
    ``clock``: now (UTC); ``max_future_ms``: how far ahead of it an event may be dated;
    ``audit(conn, actor, operation, params, result)`` (e.g. :func:`keeper.audit.record_in`), when
    given, records each policy change in the same transaction: if it raises, no change is made."""

    def __init__(self, engine: Engine, *, default_method: Method = Method.FIFO,
                 fees_in_basis: bool = True, long_term_after_ms: int = LONG_TERM_AFTER_MS,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 max_future_ms: int = MAX_FUTURE_MS, audit: Audit | None = None) -> None:
        self.engine = engine
        self.audit = audit
        self.default = Policy(Method(default_method), bool(fees_in_basis))
        self.long_term_after_ms = long_term_after_ms
        self.clock = clock
        self.max_future_ms = max_future_ms
        self._write = engine.execution_options(ledger_write=True)

    # ---- recording -------------------------------------------------------------------------

    def record(self, client_id: str, event: TaxEvent) -> Recorded:
        """Record ``event`` for ``client_id`` and apply it (idempotent; see the module docstring)."""
        return self.record_many(client_id, [event])[0]

    def record_many(self, client_id: str, events: Sequence[TaxEvent]) -> list[Recorded]:
        """Record ``events`` for ``client_id`` in one transaction (one commit for a batch of
        fills): all are recorded or, when one is refused, none."""
        _check_client(client_id)
        for event in events:
            event.validate()
            quote_market(event.asset)
            if event.occurred_at > self._now_ms() + self.max_future_ms:
                raise InvalidEventError("event dated in the future")
        for attempt in range(3):
            try:
                with self._write.begin() as conn:
                    for asset in sorted({e.asset for e in events}):  # one lock order: no deadlock
                        self._lock_book(conn, client_id, asset)
                    return [self._record(conn, client_id, e) for e in events]
            except IntegrityError:  # a concurrent writer inserted the same reference or book row
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def record_acquisition(self, client_id: str, reference: str, asset: str, quantity: int,
                           cost: int, at: int, *, fee: int = 0,
                           location: str = DEFAULT_LOCATION) -> Recorded:
        """Record that ``client_id`` acquired ``quantity`` of ``asset`` for ``cost`` (+ ``fee``)
        cents at ``at`` (ms) into ``location``."""
        return self.record(client_id, TaxEvent(reference, Kind.ACQUIRE, asset, quantity, at,
                                               location, amount=cost, fee=fee))

    def record_disposal(self, client_id: str, reference: str, asset: str, quantity: int,
                        proceeds: int, at: int, *, fee: int = 0,
                        location: str = DEFAULT_LOCATION) -> Recorded:
        """Record that ``client_id`` disposed of ``quantity`` of ``asset`` from ``location`` for
        ``proceeds`` cents (gross; ``fee`` cents paid) at ``at`` (ms)."""
        return self.record(client_id, TaxEvent(reference, Kind.DISPOSE, asset, quantity, at,
                                               location, amount=proceeds, fee=fee))

    def record_transfer(self, client_id: str, reference: str, asset: str, quantity: int,
                        source: str, destination: str, at: int, *,
                        fee_quantity: int = 0) -> Recorded:
        """Record a move of ``quantity`` of ``asset`` between the client's own locations (not a
        disposal); ``fee_quantity`` of it is the network fee (``quantity - fee_quantity``
        arrives)."""
        return self.record(client_id, TaxEvent(reference, Kind.TRANSFER, asset, quantity, at,
                                               source, to_location=destination,
                                               fee_quantity=fee_quantity))

    def record_fill(self, client_id: str, fill: Fill, *, seq: int = 0,
                    location: str = DEFAULT_LOCATION) -> Recorded:
        """Record one of routing's executions for ``client_id``: a buy acquires ``fill.amount``
        of the market's base asset for ``fill.cost`` (+ ``fill.fee``) cents, a sell disposes of
        it for ``fill.cost`` cents (``fill.fee`` paid). Its reference is
        ``fill:<venue>:<order_id>:<seq>`` (``seq`` numbers the fills of one venue order)."""
        market = MARKETS.get(fill.symbol)
        if market is None or market.quote != "USD":
            raise InvalidEventError(f"no USD market {fill.symbol!r}")
        if type(seq) is not int or seq < 0:
            raise InvalidEventError("seq must be a non-negative integer")
        kind = {Side.BUY: Kind.ACQUIRE, Side.SELL: Kind.DISPOSE}.get(fill.side)
        if kind is None:
            raise InvalidEventError(f"unknown side {fill.side!r}")
        reference = f"fill:{fill.venue}:{fill.order_id}:{seq}"
        return self.record(client_id, TaxEvent(reference, kind, market.base, fill.amount,
                                               fill.timestamp, location, amount=fill.cost,
                                               fee=fill.fee))

    def _record(self, conn: Connection, client_id: str, event: TaxEvent) -> Recorded:
        book = self._lock_book(conn, client_id, event.asset)
        found = _find(conn, client_id, event)
        if found is not None:
            return found
        conn.execute(insert(_E).values(client_id=client_id, recorded_at=self.clock(),
                                       **codec.event_row(event)))
        self._ensure_policy(conn, client_id)
        if book is not None and event.key() < (book.last_at, book.last_rank, book.last_reference):
            self._rebuild(conn, client_id, event.asset)
            outcome = codec.outcome(_one_outcome(conn, client_id, event.reference))
            return Recorded(outcome, False)
        holdings = _load_lots(conn, client_id, event)
        outcome = apply(holdings, event, self._policy_at(conn, client_id)(event.occurred_at),
                        self.long_term_after_ms)
        _write_lots(conn, client_id, event.asset, holdings)
        conn.execute(insert(_O).values(client_id=client_id, **codec.outcome_row(outcome)))
        at, rank, ref = event.key()
        conn.execute(update(_B).where(_B.c.client_id == client_id, _B.c.asset == event.asset)
                     .values(last_at=at, last_rank=rank, last_reference=ref))
        return Recorded(outcome, False)

    def _lock_book(self, conn: Connection, client_id: str, asset: str) -> BookRow | None:
        """Lock the (client, asset) row, creating it (empty: sorts before any event) if absent;
        None when the book had no events."""
        where = (_B.c.client_id == client_id, _B.c.asset == asset)
        row = conn.execute(select(_B).where(*where).with_for_update()).first()
        if row is None:
            conn.execute(insert(_B).values(client_id=client_id, asset=asset, last_at=-1,
                                           last_rank=0, last_reference="", replays=0))
            return None
        return row if row.last_at >= 0 else None

    # ---- policy ----------------------------------------------------------------------------

    def set_policy(self, client_id: str, *, actor: str, method: Method | str | None = None,
                   fees_in_basis: bool | None = None) -> PolicyChange:
        """Change ``client_id``'s method and/or fee treatment from now on, recording ``actor``
        and the time; events already applied at or after now are recomputed."""
        _check_client(client_id)
        if not actor or len(actor) > 200 or "\x00" in actor:
            raise ValueError("actor must be 1..200 characters")
        when = utc(self.clock())
        with self._write.begin() as conn:
            books = conn.execute(select(_B).where(_B.c.client_id == client_id)
                                 .order_by(_B.c.asset).with_for_update()).all()
            current = self._ensure_policy(conn, client_id, change=True)
            change = PolicyChange(Method(method) if method is not None else current.method,
                                  current.fees_in_basis if fees_in_basis is None
                                  else bool(fees_in_basis),
                                  max(_ms(when), self._last_policy_from(conn, client_id)),
                                  actor, when)
            conn.execute(insert(_P).values(client_id=client_id, method=change.method.value,
                                           fees_in_basis=change.fees_in_basis,
                                           effective_from=change.effective_from,
                                           changed_by=actor, changed_at=when))
            if self.audit is not None:
                self.audit(conn, actor, "trading.taxlots.policy", {"client_id": client_id},
                           {"method": change.method.value, "fees_in_basis": change.fees_in_basis,
                            "effective_from": change.effective_from})
            for b in books:
                if b.last_at >= change.effective_from:
                    self._rebuild(conn, client_id, b.asset)
        return change

    def policy_history(self, client_id: str) -> list[PolicyChange]:
        """``client_id``'s policies, oldest first (empty before its first event or change)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(_P).where(_P.c.client_id == client_id)
                                .order_by(_P.c.effective_from, _P.c.id)).all()
        return [PolicyChange(Method(r.method), r.fees_in_basis, r.effective_from, r.changed_by,
                             utc(r.changed_at)) for r in rows]

    def policy(self, client_id: str) -> Policy:
        """The policy in force for ``client_id`` now (the book's default before any)."""
        with self.engine.connect() as conn:
            return self._policy_at(conn, client_id)(self._now_ms())

    def _ensure_policy(self, conn: Connection, client_id: str, change: bool = False) -> Policy:
        """The client's policy now, storing the default as its first if it has none. Locks its
        policy rows: shared for a writer of events, exclusive for a change, so a change and an
        event of the same client never interleave (even on an asset with no book row yet)."""
        q = select(_P.c.id).where(_P.c.client_id == client_id)
        rows = conn.execute(q.with_for_update(read=not change)).all()
        if not rows:
            conn.execute(insert(_P).values(client_id=client_id, method=self.default.method.value,
                                           fees_in_basis=self.default.fees_in_basis,
                                           effective_from=0, changed_by="default",
                                           changed_at=utc(self.clock())))
        return self._policy_at(conn, client_id)(self._now_ms())

    def _last_policy_from(self, conn: Connection, client_id: str) -> int:
        rows = conn.execute(select(_P.c.effective_from).where(_P.c.client_id == client_id)).all()
        return max((r[0] for r in rows), default=0)

    def _policy_at(self, conn: Connection, client_id: str) -> Callable[[int], Policy]:
        rows = conn.execute(select(_P).where(_P.c.client_id == client_id)
                            .order_by(_P.c.effective_from, _P.c.id)).all()
        history = [(r.effective_from, Policy(Method(r.method), r.fees_in_basis)) for r in rows]

        def at(ms: int) -> Policy:
            found = self.default
            for since, policy in history:
                if since > ms:
                    break
                found = policy
            return found

        return at

    # ---- replay ----------------------------------------------------------------------------

    def rebuild(self, client_id: str, asset: str) -> None:
        """Recompute ``client_id``'s ``asset`` lots and outcomes from the event log."""
        with self._write.begin() as conn:
            if self._lock_book(conn, client_id, asset) is not None:
                self._rebuild(conn, client_id, asset)

    def verify(self, client_id: str) -> list[str]:
        """The assets of ``client_id`` whose stored lots or outcomes differ from a replay of the
        event log (empty when every cost basis is what the events give)."""
        with self.engine.connect() as conn:
            assets = [r[0] for r in conn.execute(select(_B.c.asset).where(
                _B.c.client_id == client_id).order_by(_B.c.asset))]
            policy_at = self._policy_at(conn, client_id)
            wrong = []
            for asset in assets:
                holdings, outcomes = replay(events_of(conn, client_id, asset), policy_at,
                                            self.long_term_after_ms)
                rows = conn.execute(select(_L).where(_L.c.client_id == client_id,
                                                     _L.c.asset == asset))
                stored = {(x.location, x.origin): x for x in map(codec.lot, rows)}
                kept = sorted((codec.outcome(r) for r in conn.execute(select(_O).where(
                    _O.c.client_id == client_id, _O.c.asset == asset))), key=Outcome.key)
                if stored != holdings.lots or kept != outcomes:
                    wrong.append(asset)
        return wrong

    def _rebuild(self, conn: Connection, client_id: str, asset: str) -> None:
        events = events_of(conn, client_id, asset)
        holdings, outcomes = replay(events, self._policy_at(conn, client_id),
                                    self.long_term_after_ms)
        where = (_L.c.client_id == client_id, _L.c.asset == asset)
        conn.execute(delete(_L).where(*where))
        conn.execute(delete(_O).where(_O.c.client_id == client_id, _O.c.asset == asset))
        holdings.touched = set(holdings.lots)
        _write_lots(conn, client_id, asset, holdings, fresh=True)
        if outcomes:
            conn.execute(insert(_O), [{"client_id": client_id, **codec.outcome_row(o)}
                                      for o in outcomes])
        at, rank, ref = max(e.key() for e in events)
        conn.execute(update(_B).where(_B.c.client_id == client_id, _B.c.asset == asset)
                     .values(last_at=at, last_rank=rank, last_reference=ref,
                             replays=_B.c.replays + 1))

    # ---- reading ---------------------------------------------------------------------------

    def lots(self, client_id: str, asset: str | None = None) -> list[Lot]:
        """``client_id``'s open lots (of ``asset``), by asset, location and acquisition."""
        q = select(_L).where(_L.c.client_id == client_id)
        if asset is not None:
            q = q.where(_L.c.asset == asset)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        rows.sort(key=lambda r: (r.asset, r.location, r.acquired_at, r.origin))
        return [codec.lot(r) for r in rows]

    def lots_by_asset(self, client_id: str) -> dict[str, list[Lot]]:
        """``client_id``'s open lots grouped by asset."""
        q = select(_L.c.asset).where(_L.c.client_id == client_id)
        with self.engine.connect() as conn:
            assets = sorted({r[0] for r in conn.execute(q)})
        return {a: self.lots(client_id, a) for a in assets}

    def outcomes(self, client_id: str, since_ms: int | None = None,
                 until_ms: int | None = None) -> list[Outcome]:
        """What ``client_id``'s events did, in event order, ``since_ms <= time < until_ms``."""
        q = select(_O).where(_O.c.client_id == client_id)
        if since_ms is not None:
            q = q.where(_O.c.occurred_at >= since_ms)
        if until_ms is not None:
            q = q.where(_O.c.occurred_at < until_ms)
        with self.engine.connect() as conn:
            found = [codec.outcome(r) for r in conn.execute(q)]
        return sorted(found, key=Outcome.key)

    def events(self, client_id: str, asset: str) -> list[TaxEvent]:
        """``client_id``'s recorded ``asset`` events in the order they apply."""
        with self.engine.connect() as conn:
            return events_of(conn, client_id, asset)

    def _now_ms(self) -> int:
        return _ms(self.clock())


def events_of(conn: Connection, client_id: str, asset: str) -> list[TaxEvent]:
    """The recorded events of (``client_id``, ``asset``) in :meth:`TaxEvent.key` order."""
    rows = conn.execute(select(_E).where(_E.c.client_id == client_id, _E.c.asset == asset)).all()
    return sorted((codec.event(r) for r in rows), key=TaxEvent.key)


def _find(conn: Connection, client_id: str, event: TaxEvent) -> Recorded | None:
    row = conn.execute(select(_E).where(_E.c.client_id == client_id,
                                        _E.c.reference == event.reference)).first()
    if row is None:
        return None
    if codec.event(row) != event:
        raise EventConflictError(f"reference {event.reference!r} was recorded with other content")
    return Recorded(codec.outcome(_one_outcome(conn, client_id, event.reference)), True)


def _one_outcome(conn: Connection, client_id: str, reference: str) -> Mapping[str, object]:
    return conn.execute(select(_O).where(_O.c.client_id == client_id,
                                         _O.c.reference == reference)).one()._mapping


def _load_lots(conn: Connection, client_id: str, event: TaxEvent) -> Holdings:
    """The lots ``event`` can touch: none for an acquisition (its lot is new), those at its
    location for a disposal, at both ends for a transfer (arrivals merge by origin)."""
    if event.kind is Kind.ACQUIRE:
        return Holdings()
    places = [event.location] + ([event.to_location] if event.to_location else [])
    rows = conn.execute(select(_L).where(_L.c.client_id == client_id, _L.c.asset == event.asset,
                                         _L.c.location.in_(places)))
    lots = [codec.lot(r) for r in rows]
    return Holdings({(lot.location, lot.origin): lot for lot in lots})


def _write_lots(conn: Connection, client_id: str, asset: str, holdings: Holdings,
                fresh: bool = False) -> None:
    """Write back the lots ``holdings`` touched (delete emptied, update or insert the rest)."""
    for location, origin in sorted(holdings.touched):
        where = (_L.c.client_id == client_id, _L.c.asset == asset, _L.c.location == location,
                 _L.c.origin == origin)
        lot = holdings.lots.get((location, origin))
        if lot is None:
            conn.execute(delete(_L).where(*where))
            continue
        values = {"quantity": str(lot.quantity), "basis": str(lot.basis)}
        if fresh or conn.execute(update(_L).where(*where).values(**values)).rowcount == 0:
            conn.execute(insert(_L).values(client_id=client_id, asset=asset, location=location,
                                           origin=origin, acquired_at=lot.acquired_at, **values))
    holdings.touched.clear()


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _check_client(client_id: str) -> None:
    if not isinstance(client_id, str) or not client_id or len(client_id) > 64 \
            or "\x00" in client_id:
        raise InvalidEventError("client_id must be 1..64 characters without NUL")


def unrealised(lots: Iterable[Lot], asset: str, price: int) -> tuple[int, int, int]:
    """(value, basis, unrealised gain) in cents of ``lots`` of ``asset`` at ``price`` cents per
    whole unit (value by :meth:`~keeper.trading.types.Market.notional`, floor)."""
    market = MARKETS[f"{asset}/USD"]
    value = basis = 0
    for lot in lots:
        value += market.notional(lot.quantity, price)
        basis += lot.basis
    return value, basis, value - basis
