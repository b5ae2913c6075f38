"""The record of planned tier moves (``treasury_tier_sweeps``), each change audited with it.

A move is planned under a unique key with its amount fixed BEFORE anything leaves: the sweepers
read the row back after a crash and finish that move (same amount, same send intent) instead of
computing a new one. A row that sent or proposed nothing (``dry_run``, ``refused``) may be
planned again; one that did (``sent``, ``proposed``) is final for its key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from keeper.audit import record_in
from keeper.ledger.db import WRITE
from keeper.treasury.moves import Move
from keeper.treasury.tiers.models import SweepRow, SweepStatus

AuditFn = Callable[[Connection, str, str, Any, Any], object]
AlertFn = Callable[[str, str, str | None], object]
ACTOR = "keeper:treasury"
S = SweepRow.__table__
REPLANNABLE = (SweepStatus.DRY_RUN, SweepStatus.REFUSED)


@dataclass(frozen=True)
class Planned:
    """One row of the book."""

    key: str
    kind: str
    asset: str
    source: str
    destination: str
    units: int
    status: str
    intent_id: str | None = None
    reference: str | None = None
    code: str | None = None
    reason: str | None = None
    payload: dict[str, Any] | None = None


def _planned(row: Any) -> Planned:
    return Planned(row.key, row.kind, row.asset, row.source, row.destination, int(row.units),
                   row.status, row.intent_id, row.reference, row.code, row.reason,
                   json.loads(row.payload) if row.payload else None)


class SweepBook:
    """Planned moves on ``engine`` (see the module docstring)."""

    def __init__(self, engine: Engine, *, audit: AuditFn = record_in,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine, self.audit, self.clock = engine, audit, clock

    def get(self, key: str) -> Planned | None:
        """The row of ``key``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(S).where(S.c.key == key)).first()
        return None if row is None else _planned(row)

    def rows(self, kind: str | None = None) -> list[Planned]:
        """Every row (of ``kind``), oldest first."""
        q = select(S).order_by(S.c.created_at, S.c.key)
        if kind is not None:
            q = q.where(S.c.kind == kind)
        with self.engine.connect() as conn:
            return [_planned(r) for r in conn.execute(q)]

    def plan(self, key: str, kind: str, move: Move, status: str, *,
             payload: dict[str, Any] | None = None) -> Planned:
        """Fix ``move``'s amount under ``key`` (audited ``treasury.<kind>.planned``) and return
        the row; when ``key`` already holds a move that sent or proposed something, that row is
        returned unchanged (the caller finishes it, never plans a second one)."""
        try:
            return self._plan(key, kind, move, status, payload)
        except IntegrityError:  # another keeper inserted the key first: its row stands
            row = self.get(key)
            if row is None:
                raise
            return row

    def _plan(self, key: str, kind: str, move: Move, status: str,
              payload: dict[str, Any] | None) -> Planned:
        now = self.clock()
        values = dict(kind=kind, asset=move.asset, source=move.source,
                      destination=move.destination, units=str(move.units), status=status,
                      intent_id=None, reference=None, code=None, reason=None,
                      payload=json.dumps(payload, sort_keys=True) if payload else None,
                      updated_at=now)
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            row = conn.execute(select(S).where(S.c.key == key)).first()
            if row is not None and row.status not in REPLANNABLE:
                return _planned(row)
            if row is None:
                conn.execute(insert(S).values(key=key, created_at=now, **values))
            else:
                conn.execute(update(S).where(S.c.key == key).values(**values))
            self.audit(conn, ACTOR, f"treasury.{kind}.{status}",
                       {"key": key, "asset": move.asset, "source": move.source,
                        "destination": move.destination, "units": str(move.units),
                        "reason": move.reason}, {"payload": payload})
            return _planned(conn.execute(select(S).where(S.c.key == key)).one())

    def mark(self, key: str, status: str, **fields: str | None) -> Planned:
        """Move ``key`` to ``status`` with ``fields`` (intent_id, reference, code, reason),
        audited ``treasury.<kind>.<status>``."""
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            conn.execute(update(S).where(S.c.key == key).values(status=status,
                                                               updated_at=self.clock(), **fields))
            row = conn.execute(select(S).where(S.c.key == key)).one()
            self.audit(conn, ACTOR, f"treasury.{row.kind}.{status}",
                       {"key": key, "asset": row.asset, "units": row.units}, dict(fields))
            return _planned(row)
