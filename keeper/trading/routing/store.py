"""Routing's persistence (tables in ``models``): parents, children written before they are sent,
their outcomes and fills (each recorded once), arrival books, exclusions and price-feed episodes.

Every write is its own short transaction, so a crash between two leaves a state the router
resumes from (``router``): a child row exists before its order is sent; its outcome and its fill
are written together.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keeper.ledger.db import WRITE
from keeper.trading.routing.consensus import Exclusion
from keeper.trading.routing.execution import (
    Arrival,
    ChildRecord,
    Decision,
    Execution,
    RoundExclusion,
    book_from_json,
    book_to_json,
    decision_from_json,
    decision_to_json,
)
from keeper.trading.routing.models import (
    ArrivalRow,
    ChildRow,
    ChildStatus,
    EpisodeRow,
    ExclusionRow,
    FillRow,
    ParentRow,
    ParentStatus,
)
from keeper.trading.types import FeeSchedule, Fill, Order, ParentOrder, Side


def _now() -> datetime:
    return datetime.now(UTC)


def _opt(v: str | None) -> int | None:
    return None if v is None else int(v)


class ParentMismatchError(ValueError):
    """A parent id already stored with different contents (an id is never reused)."""


class RoutingStore:
    """The routing tables on ``engine`` (every schema migrated by ``keeper.schema``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _write(self) -> Session:
        return Session(self.engine.execution_options(**WRITE))

    # --------------------------------------------------------------- parents
    def open_parent(self, p: ParentOrder) -> str:
        """Store ``p`` if new (status ``routing``); return its status. Refuses an id stored with
        different contents (:class:`ParentMismatchError`)."""
        with self._write() as s, s.begin():
            row = s.get(ParentRow, p.id)
            if row is None:
                s.add(ParentRow(id=p.id, client_id=p.client_id, symbol=p.symbol, side=p.side.value,
                                amount=str(p.amount), limit_price=None if p.limit_price is None
                                else str(p.limit_price), jurisdiction=p.jurisdiction,
                                client_type=p.client_type, created_at_ms=p.created_at,
                                status=ParentStatus.ROUTING, filled="0", updated_at=_now()))
                return ParentStatus.ROUTING
            if _parent(row) != p:
                raise ParentMismatchError(f"parent {p.id} is already stored with other contents")
            return row.status

    def parent(self, parent_id: str) -> ParentOrder | None:
        """The stored parent ``parent_id`` or None."""
        with Session(self.engine) as s:
            row = s.get(ParentRow, parent_id)
            return None if row is None else _parent(row)

    def claim(self, parent_id: str, owner: str, now_ms: int, ttl_ms: int) -> bool:
        """Take (or renew) the lease on routing ``parent_id`` until ``now_ms + ttl_ms``: True if
        ``owner`` holds it now, False while another owner's lease runs."""
        with self._write() as s, s.begin():
            done = s.execute(update(ParentRow).where(
                ParentRow.id == parent_id,
                or_(ParentRow.lease_owner.is_(None), ParentRow.lease_owner == owner,
                    ParentRow.lease_until_ms < now_ms))
                .values(lease_owner=owner, lease_until_ms=now_ms + ttl_ms))
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def release(self, parent_id: str, owner: str) -> None:
        """Give the lease up if ``owner`` holds it."""
        with self._write() as s, s.begin():
            s.execute(update(ParentRow).where(ParentRow.id == parent_id,
                                              ParentRow.lease_owner == owner)
                      .values(lease_owner=None, lease_until_ms=None))

    def unfinished(self) -> list[str]:
        """Ids of the parents still ``routing`` or ``unresolved``, oldest first."""
        with Session(self.engine) as s:
            return list(s.scalars(select(ParentRow.id).where(ParentRow.status.in_(
                (ParentStatus.ROUTING, ParentStatus.UNRESOLVED))).order_by(ParentRow.created_at_ms)))

    def finished_with_fills_since(self, since: datetime) -> list[str]:
        """Ids of the parents that ended ``filled``, ``partial`` or ``rejected`` with something
        filled, whose status changed at or after ``since``; oldest change first."""
        done = (ParentStatus.FILLED, ParentStatus.PARTIAL, ParentStatus.REJECTED)
        with Session(self.engine) as s:
            return list(s.scalars(select(ParentRow.id).where(
                ParentRow.status.in_(done), ParentRow.filled != "0",
                ParentRow.updated_at >= since).order_by(ParentRow.updated_at)))

    def finish(self, parent_id: str, status: str, reason: str | None) -> None:
        """Set the parent's final (or ``unresolved``) status and why."""
        with self._write() as s, s.begin():
            s.execute(update(ParentRow).where(ParentRow.id == parent_id)
                      .values(status=status, reason=reason, updated_at=_now()))

    def record_decision(self, parent_id: str, decision: Decision, arrivals: list[Arrival]) -> bool:
        """Store the parent's first decision and arrival books (once: False if already there)."""
        with self._write() as s, s.begin():
            row = s.get(ParentRow, parent_id)
            if row is None or row.decision is not None:
                return False
            row.decision = decision_to_json(decision)
            for a in arrivals:
                s.add(ArrivalRow(parent_id=parent_id, venue=a.venue, book=book_to_json(a.book),
                                 maker_ppm=a.fees.maker_ppm, taker_ppm=a.fees.taker_ppm,
                                 latency_ms=a.latency_ms))
            return True

    def record_exclusions(self, parent_id: str, round_: int, excluded: list[Exclusion]) -> None:
        """Store the venues left out of decision ``round_``."""
        if not excluded:
            return
        with self._write() as s, s.begin():
            s.add_all(ExclusionRow(parent_id=parent_id, round=round_, venue=e.venue,
                                   reason=e.reason, detail=e.detail[:2000]) for e in excluded)

    # --------------------------------------------------------------- children
    def next_seq(self, parent_id: str) -> int:
        """The sequence number of the parent's next child."""
        with Session(self.engine) as s:
            top = s.scalar(select(ChildRow.seq).where(ChildRow.parent_id == parent_id)
                           .order_by(ChildRow.seq.desc()).limit(1))
        return 0 if top is None else top + 1

    def add_child(self, parent_id: str, seq: int, round_: int, venue: str, type_: str,
                  amount: int, price: int | None, planned_notional: int,
                  planned_fee: int) -> str:
        """Write a child (status ``sending``) BEFORE it is sent; return its client order id,
        ``<parent id>-<seq>``."""
        coid = f"{parent_id}-{seq}"
        with self._write() as s, s.begin():
            s.add(ChildRow(parent_id=parent_id, seq=seq, client_order_id=coid, round=round_,
                           venue=venue, type=type_, amount=str(amount),
                           price=None if price is None else str(price),
                           planned_notional=str(planned_notional), planned_fee=str(planned_fee),
                           status=ChildStatus.SENDING, filled="0", cost="0", fee="0",
                           updated_at=_now()))
        return coid

    def child_failed(self, coid: str, status: str, error: str) -> None:
        """The child was not placed (``failed``) or its outcome is not known (``unknown``)."""
        with self._write() as s, s.begin():
            s.execute(update(ChildRow).where(ChildRow.client_order_id == coid,
                                             ChildRow.status != ChildStatus.DONE)
                      .values(status=status, error=error[:2000], updated_at=_now()))

    def child_done(self, parent_id: str, coid: str, venue: str, order: Order,
                   scale: int) -> bool:
        """Record the child's final ``order`` and its fill, once (False if it already was).

        ``scale`` is 10**base decimals (the fill's average price is ``cost * scale // filled``)."""
        try:
            with self._write() as s, s.begin():
                row = s.scalar(select(ChildRow).where(ChildRow.client_order_id == coid))
                if row is None or row.status == ChildStatus.DONE:
                    return False
                row.status, row.order_id, row.updated_at = ChildStatus.DONE, order.id, _now()
                row.filled, row.cost, row.fee = (str(order.filled), str(order.cost),
                                                 str(order.fee.cost))
                row.error = None
                if order.filled > 0:
                    s.add(FillRow(parent_id=parent_id, client_order_id=coid, venue=venue,
                                  order_id=order.id, amount=str(order.filled),
                                  price=str(order.cost * scale // order.filled),
                                  cost=str(order.cost), fee=str(order.fee.cost),
                                  timestamp_ms=order.timestamp))
                    parent = s.get(ParentRow, parent_id)
                    if parent is not None:
                        parent.filled = str(int(parent.filled) + order.filled)
                        parent.updated_at = _now()
            return True
        except IntegrityError:  # the same venue order recorded for another child: never twice
            return False

    def children(self, parent_id: str) -> list[ChildRecord]:
        """The parent's children in sequence order."""
        with Session(self.engine) as s:
            rows = s.scalars(select(ChildRow).where(ChildRow.parent_id == parent_id)
                             .order_by(ChildRow.seq)).all()
            return [ChildRecord(r.seq, r.client_order_id, r.round, r.venue, int(r.amount),
                                _opt(r.price), int(r.planned_notional), int(r.planned_fee),
                                r.status, r.order_id, int(r.filled), int(r.cost), int(r.fee),
                                r.error) for r in rows]

    # --------------------------------------------------------------- episodes
    def open_episode(self, venue: str, symbol: str, reason: str, now_ms: int) -> int | None:
        """Open a price-feed episode; its start (ms) if this call opened it, None if open."""
        try:
            with self._write() as s, s.begin():
                if s.scalar(select(EpisodeRow.id).where(
                        EpisodeRow.venue == venue, EpisodeRow.symbol == symbol,
                        EpisodeRow.reason == reason)) is not None:
                    return None
                s.add(EpisodeRow(venue=venue, symbol=symbol, reason=reason, since_ms=now_ms))
            return now_ms
        except IntegrityError:  # opened concurrently by another router
            return None

    def close_episodes(self, venues: list[str], symbol: str, reasons: tuple[str, ...]) -> None:
        """Close the episodes (of ``reasons``) of ``venues`` that passed the check again."""
        if not venues:
            return
        with self._write() as s, s.begin():
            s.execute(delete(EpisodeRow).where(EpisodeRow.venue.in_(venues),
                                               EpisodeRow.symbol == symbol,
                                               EpisodeRow.reason.in_(reasons)))

    def open_episodes(self) -> list[tuple[str, str, str, int]]:
        """Every open episode: (venue, symbol, reason, since ms)."""
        with Session(self.engine) as s:
            return [tuple(r) for r in s.execute(select(
                EpisodeRow.venue, EpisodeRow.symbol, EpisodeRow.reason, EpisodeRow.since_ms)
                .order_by(EpisodeRow.id)).all()]  # type: ignore[misc]

    # --------------------------------------------------------------- reading
    def execution(self, parent_id: str) -> Execution | None:
        """Everything stored about ``parent_id`` (None if unknown)."""
        with Session(self.engine) as s:
            row = s.get(ParentRow, parent_id)
            if row is None:
                return None
            parent = _parent(row)
            fills = tuple(Fill(f.venue, f.order_id, parent.symbol, parent.side, int(f.amount),
                               int(f.price), int(f.cost), int(f.fee), f.timestamp_ms)
                          for f in s.scalars(select(FillRow).where(FillRow.parent_id == parent_id)
                                             .order_by(FillRow.id)))
            arrivals = tuple(Arrival(a.venue, book_from_json(a.book),
                                     FeeSchedule(a.maker_ppm, a.taker_ppm), a.latency_ms)
                             for a in s.scalars(select(ArrivalRow).where(
                                 ArrivalRow.parent_id == parent_id).order_by(ArrivalRow.venue)))
            excluded = tuple(RoundExclusion(e.round, Exclusion(e.venue, e.reason, e.detail))
                             for e in s.scalars(select(ExclusionRow).where(
                                 ExclusionRow.parent_id == parent_id).order_by(ExclusionRow.id)))
            decision = None if row.decision is None else decision_from_json(row.decision)
            status, reason = row.status, row.reason
        return Execution(parent, status, reason, fills, tuple(self.children(parent_id)), arrivals,
                         excluded, decision)


def _parent(row: ParentRow) -> ParentOrder:
    return ParentOrder(row.id, row.client_id, row.symbol, Side(row.side), int(row.amount),
                       _opt(row.limit_price), row.jurisdiction, row.client_type,
                       row.created_at_ms)
