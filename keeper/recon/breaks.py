"""Breaks, their handling rule and the circuit breaker, persisted in the ``recon_*`` tables.

The spec's rule (004 §6.3, "Break Handling"), in one place (:func:`size_class`), on the
difference's value in US cents (rounded up, see :mod:`keeper.prices`):

* below $100 (< 10,000 cents): auto-resolved (assumed rounding) and recorded;
* $100 to $10,000 (10,000..1,000,000 cents): an investigation case, due within 24 hours;
* above $10,000 (> 1,000,000 cents): CRITICAL: new transactions halt until an authorised person
  resolves the break with a note.

A difference that cannot be valued (no fresh price) is critical: nothing proves it is small.
A later run finding the same difference (check, subject, asset, amount) while its break is still
open records it as ``carried`` (pointing at the open one): one case to work, not one per run.
A check can also be critical by its own rule (type 3: any reserve shortfall, spec §6.3).

The circuit breaker is derived from one fact, recomputed in every transaction that changes a
break: halted <=> some critical break is open. Its row (``recon_breaker``) is locked first in those
transactions (``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so two
resolutions racing can never leave it halted with nothing open, nor open with a critical break
pending. Every halt and resume is a ``recon_breaker_events`` row. Every flow calls
:func:`ensure_open_for_business` before starting a new transaction.

``audit(conn, actor, operation, params, result)``, when given, is called inside the same database
transaction as each state change (run recorded, break opened, break resolved, halt, resume): if
it raises, the change is rolled back with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from keeper.ledger.db import WRITE
from keeper.ledger.domain import utc
from keeper.recon.models import ReconBreak, ReconBreaker, ReconBreakerEvent, ReconRun

AUTO_BELOW_CENTS = 10_000  # < $100: auto-resolved
CRITICAL_ABOVE_CENTS = 1_000_000  # > $10,000: critical
INVESTIGATION_DUE = timedelta(hours=24)
SYSTEM_ACTOR = "recon"
MAX_NOTE = 4000

Audit = Callable[[Connection, str, str, dict[str, Any], dict[str, Any]], None]


class ReconError(Exception):
    """A refused reconciliation operation (nothing was changed)."""


class TransactionsHalted(ReconError):  # noqa: N818 - reads as what it is
    """New transactions are halted: a critical break is unresolved."""


class NotAuthorised(ReconError):  # noqa: N818 - reads as what it is
    """The actor may not resolve breaks."""


class SizeClass(StrEnum):
    """What the spec's rule does with a break."""

    AUTO = "auto"
    INVESTIGATE = "investigate"
    CRITICAL = "critical"


class Status(StrEnum):
    """Life of a break."""

    AUTO_RESOLVED = "auto_resolved"
    OPEN = "open"
    RESOLVED = "resolved"
    CARRIED = "carried"  # the same difference is still open as an earlier break


def size_class(usd_cents: int | None) -> SizeClass:
    """The spec's class of a difference worth ``usd_cents`` (signed; None: cannot be valued)."""
    if usd_cents is None:
        return SizeClass.CRITICAL
    size = abs(usd_cents)
    if size < AUTO_BELOW_CENTS:
        return SizeClass.AUTO
    if size <= CRITICAL_ABOVE_CENTS:
        return SizeClass.INVESTIGATE
    return SizeClass.CRITICAL


@dataclass(frozen=True, slots=True)
class Finding:
    """A non-zero difference a check found. ``difference`` is signed base units (book minus
    the other side); ``usd_cents`` its value (None if it could not be priced)."""

    kind: str
    subject: str
    asset: str
    difference: int
    usd_cents: int | None
    detail: str
    critical: bool = False  # the check's own rule makes any difference critical

    @property
    def size_class(self) -> SizeClass:
        """The class the rule gives this finding."""
        return SizeClass.CRITICAL if self.critical else size_class(self.usd_cents)


@dataclass(frozen=True, slots=True)
class BreakRow:
    """A stored break."""

    id: int
    run_id: int
    kind: str
    subject: str
    asset: str
    difference: int
    usd_cents: int | None
    size_class: SizeClass
    status: Status
    detail: str
    created_at: datetime
    due_at: datetime | None
    resolved_at: datetime | None
    resolver: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class RunRow:
    """A stored reconciliation run (report)."""

    id: int
    run_key: str
    recon_type: int
    block: int | None
    status: str
    figures: dict[str, Any]
    created_at: datetime


def _break(r: Any) -> BreakRow:
    return BreakRow(r.id, r.run_id, r.kind, r.subject, r.asset, int(r.difference),
                    int(r.usd_cents) if r.usd_cents else None, SizeClass(r.size_class),
                    Status(r.status), r.detail, utc(r.created_at), utc(r.due_at),
                    utc(r.resolved_at), r.resolver, r.note)


def _run(r: Any) -> RunRow:
    return RunRow(r.id, r.run_key, r.recon_type, r.block, r.status, json.loads(r.figures),
                  utc(r.created_at))


def _open_critical(conn: Connection) -> list[int]:
    b = ReconBreak.__table__.c
    return list(conn.scalars(select(b.id).where(
        b.status == Status.OPEN, b.size_class == SizeClass.CRITICAL).order_by(b.id)))


def ensure_open_for_business(db: Engine | Connection, *, hold: bool = False) -> None:
    """Raise :class:`TransactionsHalted` while a critical break is unresolved. Every flow calls
    this before a new transaction.

    Pass the flow's own connection, inside its transaction, with ``hold=True`` to make the check
    part of it: the breaker row is then share-locked (``FOR SHARE`` on PostgreSQL; SQLite write
    transactions are serialised anyway), so a halt waits for the flow's transaction to end and
    no transaction started before a halt commits after it unseen."""
    if isinstance(db, Engine):
        with db.connect() as conn:
            return ensure_open_for_business(conn)
    q = select(ReconBreaker.halted).where(ReconBreaker.id == 1)
    if hold:
        q = q.with_for_update(read=True)
    if db.scalar(q):
        ids = _open_critical(db)
        raise TransactionsHalted(
            "new transactions are halted: critical reconciliation break(s) "
            f"{', '.join(map(str, ids)) or '?'} unresolved; an authorised person must resolve "
            "them with a note")
    return None


class BreakBook:
    """Stores runs and breaks, applies the rule, drives the breaker, resolves breaks.

    ``resolvers`` are the actors allowed to resolve breaks (least privilege: none by default).
    """

    def __init__(self, engine: Engine, *, resolvers: Collection[str] = (),
                 audit: Audit | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine, self.resolvers, self.audit, self.clock = engine, frozenset(resolvers), audit, clock

    # ------------------------------------------------------------------ writes
    def _lock(self, conn: Connection) -> bool:
        """Lock (creating if needed) the breaker row; returns whether it is halted now."""
        q = select(ReconBreaker.halted).where(ReconBreaker.id == 1).with_for_update()
        halted = conn.scalar(q)
        if halted is None:
            conn.execute(insert(ReconBreaker).values(id=1, halted=False, updated_at=self.clock()))
            halted = conn.scalar(q)
        return bool(halted)

    def _settle_breaker(self, conn: Connection, was: bool, actor: str, note: str,
                        break_id: int) -> None:
        """Recompute halted from the open critical breaks; record and audit any change."""
        now_halted = bool(_open_critical(conn))
        if now_halted == was:
            return
        action = "halt" if now_halted else "resume"
        conn.execute(update(ReconBreaker).where(ReconBreaker.id == 1)
                     .values(halted=now_halted, updated_at=self.clock()))
        conn.execute(insert(ReconBreakerEvent).values(action=action, break_id=break_id,
                                                      actor=actor, note=note, at=self.clock()))
        self._audit(conn, actor, f"recon.breaker.{action}", {"break_id": break_id},
                    {"halted": now_halted})

    def _audit(self, conn: Connection, actor: str, op: str, params: dict, result: dict) -> None:
        if self.audit is not None:
            self.audit(conn, actor, op, params, result)

    def record(self, run_key: str, recon_type: int, block: int | None, figures: dict[str, Any],
               findings: Sequence[Finding]) -> RunRow:
        """Store a run with its figures and breaks, all or nothing; returns it. A run already
        stored under ``run_key`` (a job restarted after a crash) is returned unchanged."""
        if not run_key or len(run_key) > 160:
            raise ReconError("run_key must be 1..160 characters")
        now = self.clock()
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            was = self._lock(conn)
            got = conn.execute(select(ReconRun).where(ReconRun.run_key == run_key)).first()
            if got is not None:
                return _run(got)
            status = "FAIL" if findings else "PASS"
            run_id = conn.execute(insert(ReconRun).values(
                run_key=run_key, recon_type=recon_type, block=block, status=status,
                figures=json.dumps(figures, sort_keys=True), created_at=now)).inserted_primary_key[0]
            self._audit(conn, SYSTEM_ACTOR, "recon.run.record",
                        {"run_key": run_key, "recon_type": recon_type, "block": block},
                        {"run_id": run_id, "status": status, "breaks": len(findings)})
            first_critical = None
            for f in findings:
                cls = f.size_class
                carried = None if cls is SizeClass.AUTO else self._still_open(conn, f)
                if carried is not None:
                    st, due, note = Status.CARRIED, None, f"still open as break {carried}"
                elif cls is SizeClass.AUTO:
                    st, due, note = Status.AUTO_RESOLVED, None, "auto-resolved: below $100 (rounding)"
                else:
                    st, note = Status.OPEN, None
                    due = now + INVESTIGATION_DUE if cls is SizeClass.INVESTIGATE else now
                bid = conn.execute(insert(ReconBreak).values(
                    run_id=run_id, kind=f.kind, subject=f.subject[:200], asset=f.asset,
                    difference=str(f.difference),
                    usd_cents="" if f.usd_cents is None else str(f.usd_cents),
                    size_class=cls, status=st, detail=f.detail, created_at=now, due_at=due,
                    resolved_at=now if st is Status.AUTO_RESOLVED else None,
                    resolver=SYSTEM_ACTOR if st is Status.AUTO_RESOLVED else None,
                    note=note)).inserted_primary_key[0]
                self._audit(conn, SYSTEM_ACTOR, "recon.break.open",
                            {"run_id": run_id, "kind": f.kind, "subject": f.subject,
                             "difference": str(f.difference)},
                            {"break_id": bid, "size_class": str(cls), "status": str(st)})
                if cls is SizeClass.CRITICAL and st is Status.OPEN and first_critical is None:
                    first_critical = bid
            if first_critical is not None:
                self._settle_breaker(conn, was, SYSTEM_ACTOR,
                                     f"critical break {first_critical} in run {run_key}",
                                     first_critical)
            row = conn.execute(select(ReconRun).where(ReconRun.id == run_id)).one()
            return _run(row)

    @staticmethod
    def _still_open(conn: Connection, f: Finding) -> int | None:
        """Id of an open break of the same check, subject, asset and difference, if any."""
        b = ReconBreak.__table__.c
        return conn.scalar(select(b.id).where(
            b.status == Status.OPEN, b.kind == f.kind, b.subject == f.subject[:200],
            b.asset == f.asset, b.difference == str(f.difference)).order_by(b.id).limit(1))

    def resolve(self, break_id: int, actor: str, note: str) -> BreakRow:
        """Close an open break with ``actor``'s ``note`` (both required; ``actor`` must be an
        authorised resolver). Resolving the last open critical break resumes transactions."""
        actor, note = (actor or "").strip(), (note or "").strip()
        if not actor or actor not in self.resolvers:
            raise NotAuthorised(f"{actor or 'an anonymous actor'} may not resolve breaks")
        if actor == SYSTEM_ACTOR:
            raise NotAuthorised("the reconciliation job cannot resolve its own breaks")
        if not note or len(note) > MAX_NOTE:
            raise ReconError(f"a resolution note of 1..{MAX_NOTE} characters is required")
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            was = self._lock(conn)
            row = conn.execute(select(ReconBreak).where(ReconBreak.id == break_id)).first()
            if row is None:
                raise ReconError(f"no break {break_id}")
            if row.status != Status.OPEN:
                raise ReconError(f"break {break_id} is {row.status}, not open")
            conn.execute(update(ReconBreak).where(ReconBreak.id == break_id).values(
                status=Status.RESOLVED, resolved_at=self.clock(), resolver=actor, note=note))
            self._audit(conn, actor, "recon.break.resolve", {"break_id": break_id, "note": note},
                        {"status": str(Status.RESOLVED)})
            self._settle_breaker(conn, was, actor, note, break_id)
            return _break(conn.execute(select(ReconBreak).where(ReconBreak.id == break_id)).one())

    # ------------------------------------------------------------------ reads
    def run(self, run_id: int) -> RunRow:
        """A stored run by id."""
        with self.engine.connect() as conn:
            return _run(conn.execute(select(ReconRun).where(ReconRun.id == run_id)).one())

    def breaks(self, run_id: int | None = None, status: Status | None = None) -> list[BreakRow]:
        """Stored breaks (of one run and/or in one status), oldest first."""
        q = select(ReconBreak).order_by(ReconBreak.id)
        if run_id is not None:
            q = q.where(ReconBreak.run_id == run_id)
        if status is not None:
            q = q.where(ReconBreak.status == status)
        with self.engine.connect() as conn:
            return [_break(r) for r in conn.execute(q)]

    def overdue(self, now: datetime | None = None) -> list[BreakRow]:
        """Open breaks past their due time (investigations older than 24 h, any critical)."""
        now = now or self.clock()
        return [b for b in self.breaks(status=Status.OPEN) if b.due_at and b.due_at <= now]

    def halted(self) -> bool:
        """Whether new transactions are halted now."""
        with self.engine.connect() as conn:
            return bool(conn.scalar(select(ReconBreaker.halted).where(ReconBreaker.id == 1)))

    def breaker_events(self) -> list[tuple[str, int, str, str, datetime]]:
        """Every halt/resume as (action, break id, actor, note, at), oldest first."""
        e = ReconBreakerEvent.__table__.c
        with self.engine.connect() as conn:
            return [(a, b, ac, n, utc(at)) for a, b, ac, n, at in conn.execute(
                select(e.action, e.break_id, e.actor, e.note, e.at).order_by(e.id))]
