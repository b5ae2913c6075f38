"""``deposit.credited``: read new client deposits through the ledger's API, with our own cursor.

The chain follower is not touched: :func:`emit_deposit_credits` reads the ledger's deposits feed
(:func:`keeper.ledger.statements.client_credits_after`) after the ``notifications_cursors`` row
:data:`CURSOR` and enqueues one event per deposit, cursor and events in one transaction. The
event id is ``deposit.credited:<journal row>`` (the transfer id, any text a flow chose, travels
in the payload only), so no transfer id can make the feed refuse an event and stall. It also
re-reads the last :data:`RESCAN` journal rows before the cursor: a ledger transaction that
committed after a later one (PostgreSQL allocates ids before commit) is not skipped, and
enqueueing it again is a no-op.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, select, update

from keeper.ledger import ClientPosting, client_credits_after
from keeper.notifications.models import CursorRow
from keeper.notifications.outbox import DEPOSIT_CREDITED, enqueue

CURSOR = "deposit_credited"
MAX_REFERENCE = 500  # characters of the ledger reference a payload carries
RESCAN = 500
_C = CursorRow.__table__
log = logging.getLogger(__name__)


def deposit_payload(posting: ClientPosting) -> dict[str, str | None]:
    """The ``deposit.credited`` payload: amounts as decimal strings of base units."""
    ref = posting.reference
    return {"transfer_id": posting.transfer_id, "asset": posting.asset,
            "amount": str(posting.amount),
            "reference": ref if ref is None or len(ref) <= MAX_REFERENCE else ref[:MAX_REFERENCE],
            "credited_at": posting.created_at.isoformat()}


def emit_deposit_credits(engine: Engine, *, limit: int = 500) -> int:
    """Enqueue ``deposit.credited`` for up to ``limit`` new deposits; returns events added."""
    with engine.connect() as conn:
        position = conn.scalar(select(_C.c.position).where(_C.c.name == CURSOR))
    start = position or 0
    recent = client_credits_after(engine, max(0, start - RESCAN), limit=RESCAN)
    feed = [c for c in recent if c[1].seq <= start] + client_credits_after(engine, start,
                                                                          limit=limit)
    added = 0
    with engine.begin() as conn:
        for client_id, posting in feed:
            try:
                added += enqueue(conn, client_id, DEPOSIT_CREDITED, deposit_payload(posting),
                                 event_id=f"{DEPOSIT_CREDITED}:{posting.seq}",
                                 now=posting.created_at)
            except ValueError as exc:  # refused, nothing written: never block the deposits after
                log.error("deposit.credited for journal row %d not enqueued: %s", posting.seq, exc)
        top = max([start, *(p.seq for _, p in feed)])
        if position is None:
            conn.execute(_C.insert().values(name=CURSOR, position=top))
        elif top > start:  # compare-and-set: a concurrent run that moved it wins
            conn.execute(update(_C).where(_C.c.name == CURSOR, _C.c.position == start)
                         .values(position=top))
    return added
