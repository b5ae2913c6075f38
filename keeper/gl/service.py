"""The EOD GL batch: built once per business date, posted to core banking, retried, escalated.

:meth:`GLBatches.prepare` computes the day's batch from the sub-ledger (one snapshot through
:func:`keeper.ledger.ledger_totals`) and stores it with the closing it came from, in one
transaction; preparing the same date again returns the stored batch unchanged (idempotent per
business date, and a retry sends exactly the same JSON). :meth:`GLBatches.post_due` posts every
pending batch whose time has come: ATLAS is idempotent on ``batch_id``, so an answer lost after
ATLAS applied it is harmless. Retries follow the spec (§8.2): 1, 5 and 15 minutes after a failed
attempt; when the last one fails the batch is ``failed`` and an ops ticket alert
(:data:`FAILED_ALERT`) is raised. A rejection (4xx: e.g. an unknown account code) is not retried:
the batch is ``rejected`` and accounting is alerted (:data:`REJECTED_ALERT`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keeper.gl.entries import batch_id, build
from keeper.gl.entries import closing as closing_of
from keeper.gl.models import GLBatchRow
from keeper.integrations.corebanking import (
    CoreBankingError,
    CoreBankingRejectedError,
    CoreBankingService,
    GLBatch,
)
from keeper.ledger import ledger_totals

log = logging.getLogger("keeper.gl")
RETRY_DELAYS_S = (60, 300, 900)  # spec 004 §8.2: retry at 1, 5 and 15 minutes
FAILED_ALERT = "gl_batch_failed"
REJECTED_ALERT = "gl_batch_rejected"
AlertFn = Callable[[str, str, str], object]  # (kind, message, ref), e.g. Ledger.raise_alert


@dataclass(frozen=True, slots=True)
class GLBatchState:
    """A stored batch as callers see it."""

    business_date: date
    batch_id: str
    status: str
    attempts: int
    batch: GLBatch | None
    atlas_batch_id: str | None
    next_attempt_at: datetime | None
    last_error: str | None


def _state(row: GLBatchRow) -> GLBatchState:
    batch = GLBatch.model_validate_json(row.payload) if row.payload else None
    nxt = row.next_attempt_at
    if nxt is not None and nxt.tzinfo is None:
        nxt = nxt.replace(tzinfo=UTC)
    return GLBatchState(row.business_date, row.batch_id, row.status, row.attempts, batch,
                        row.atlas_batch_id, nxt, row.last_error)


class GLBatches:
    """Prepares and posts the EOD GL batches of the sub-ledger on ``engine`` to ``bank``.

    ``alert(kind, message, ref)`` raises an operational alert (``Ledger.raise_alert``: one per
    ref). ``clock`` gives the current UTC time (tests pass their own).
    """

    def __init__(self, engine: Engine, bank: CoreBankingService, alert: AlertFn, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine, self.bank, self.alert, self.clock = engine, bank, alert, clock

    def prepare(self, business_date: date) -> GLBatchState:
        """The business date's batch, built and stored on first call (later calls return it).

        Refuses a date earlier than a batch already prepared (closings are cumulative)."""
        with Session(self.engine) as s:
            row = s.get(GLBatchRow, business_date)
            if row is not None:
                return _state(row)
            later = s.scalar(select(GLBatchRow.business_date)
                             .where(GLBatchRow.business_date > business_date).limit(1))
            if later is not None:
                raise ValueError(f"a GL batch for {later} exists: {business_date} is closed")
            prev_row = s.scalars(select(GLBatchRow).where(GLBatchRow.business_date < business_date)
                                 .order_by(GLBatchRow.business_date.desc()).limit(1)).first()
        previous = {k: int(v) for k, v in json.loads(prev_row.closing).items()} if prev_row else {}
        current = closing_of(ledger_totals(self.engine))
        batch = build(previous, current, business_date)
        now = self.clock()
        row = GLBatchRow(business_date=business_date, batch_id=batch_id(business_date),
                         closing=json.dumps({k: str(v) for k, v in sorted(current.items())}),
                         payload=batch.model_dump_json() if batch else "",
                         status="pending" if batch else "empty", attempts=0,
                         next_attempt_at=now if batch else None, created_at=now)
        try:
            with Session(self.engine) as s, s.begin():
                s.add(row)
        except IntegrityError:  # another keeper prepared it first: theirs is the batch
            pass
        return self.get(business_date)

    def get(self, business_date: date) -> GLBatchState:
        """The stored batch of ``business_date`` (``LookupError`` if none)."""
        with Session(self.engine) as s:
            row = s.get(GLBatchRow, business_date)
            if row is None:
                raise LookupError(f"no GL batch for {business_date}")
            return _state(row)

    def post_due(self) -> list[GLBatchState]:
        """Attempt every pending batch whose next attempt is due; returns their new states."""
        now = self.clock()
        with Session(self.engine) as s:
            due = [d for d, nxt in s.execute(
                select(GLBatchRow.business_date, GLBatchRow.next_attempt_at)
                .where(GLBatchRow.status == "pending").order_by(GLBatchRow.business_date))
                if nxt is None or (nxt if nxt.tzinfo else nxt.replace(tzinfo=UTC)) <= now]
        return [self._attempt(d, now) for d in due]

    def run(self, business_date: date) -> GLBatchState:
        """End of day: prepare ``business_date``'s batch and post what is due."""
        self.prepare(business_date)
        self.post_due()
        return self.get(business_date)

    def _attempt(self, business_date: date, now: datetime) -> GLBatchState:
        state = self.get(business_date)
        assert state.batch is not None
        values: dict[str, object] = {"attempts": state.attempts + 1}
        alert: tuple[str, str] | None = None
        try:
            posted = self.bank.post_gl_batch(state.batch)
        except CoreBankingRejectedError as exc:
            values.update(status="rejected", next_attempt_at=None, last_error=str(exc)[:500])
            alert = (REJECTED_ALERT, f"GL batch {state.batch_id} rejected by core banking: "
                     f"{exc.code}: {exc.message[:300]}; correct it and post it by hand")
        except CoreBankingError as exc:
            n = state.attempts  # retries already spent
            values["last_error"] = str(exc)[:500]
            if n < len(RETRY_DELAYS_S):
                values["next_attempt_at"] = now + timedelta(seconds=RETRY_DELAYS_S[n])
            else:
                values.update(status="failed", next_attempt_at=None)
                alert = (FAILED_ALERT, f"GL batch {state.batch_id} not posted after "
                         f"{n + 1} attempts ({str(exc)[:200]}): ops ticket, post it by hand")
        else:
            values.update(status="posted", next_attempt_at=None, last_error=None,
                          atlas_batch_id=posted.atlas_batch_id, posted_at=posted.posted_at)
        with Session(self.engine) as s, s.begin():
            row = s.get(GLBatchRow, business_date)
            assert row is not None
            for k, v in values.items():
                setattr(row, k, v)
        if alert is not None:
            log.error("%s", alert[1])
            self.alert(alert[0], alert[1], f"{alert[0]}:{state.batch_id}")
        return self.get(business_date)
