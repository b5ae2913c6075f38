"""Retention of the flows outbox (``flows_outbox``): one row per order state change, written in
the state change's own transaction for relays and audits.

A relay (none runs yet) reads rows oldest first and, once a row is delivered downstream, sets
its ``delivered_at`` with :func:`mark_relayed` (first delivery wins, idempotent).
:func:`prune_outbox` then deletes rows relayed longer ago than the retention, in short batches
(a writer never waits long on SQLite). A row never relayed is never pruned, whatever its age: the
audit trail (``keeper.audit``) is the permanent record, the outbox only the relay's queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select, update

from keeper.flows.models import OutboxRow
from keeper.ledger.db import WRITE

_O = OutboxRow.__table__
DEFAULT_RETENTION = timedelta(days=30)
BATCH = 5_000


def mark_relayed(engine: Engine, ids: Sequence[int], *, now: datetime | None = None) -> int:
    """Record that outbox rows ``ids`` were delivered at ``now``; a row already marked keeps
    its first time. Returns how many rows were newly marked."""
    at = now or datetime.now(UTC)
    marked = 0
    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        for i in range(0, len(ids), BATCH):
            marked += conn.execute(update(_O).where(_O.c.id.in_(list(ids[i:i + BATCH])),
                                                    _O.c.delivered_at.is_(None))
                                   .values(delivered_at=at)).rowcount
    return marked


def prune_outbox(engine: Engine, *, retention: timedelta = DEFAULT_RETENTION,
                 now: datetime | None = None, batch: int = BATCH) -> int:
    """Delete the outbox rows relayed before ``now - retention``, ``batch`` rows per
    transaction; returns how many were deleted."""
    if retention < timedelta(0) or batch < 1:
        raise ValueError("retention is not negative and batch is at least 1")
    cutoff = (now or datetime.now(UTC)) - retention
    done = 0
    while True:
        with engine.connect().execution_options(**WRITE) as conn, conn.begin():
            ids = list(conn.scalars(select(_O.c.id).where(_O.c.delivered_at.is_not(None),
                                                          _O.c.delivered_at < cutoff)
                                    .order_by(_O.c.id).limit(batch)))
            if ids:
                conn.execute(delete(_O).where(_O.c.id.in_(ids)))
        done += len(ids)
        if len(ids) < batch:
            return done
