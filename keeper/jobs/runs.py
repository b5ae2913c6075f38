"""Run records (``jobs_runs``): a (job, slot) is claimed once, by one scheduler, ever.

Each function is one short transaction whose first statement writes, so on SQLite it takes the
write lock at once (waiting its busy timeout) and on PostgreSQL the unique index decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from keeper.jobs.models import JobRun as RunRow
from keeper.jobs.models import RunStatus

_T = RunRow.__table__


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One recorded run (read-only view)."""

    job: str
    slot: datetime
    holder: str
    token: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def claim(engine: Engine, job: str, slot: datetime, holder: str, token: int, status: str,
          now: datetime) -> bool:
    """Record ``job``'s ``slot`` as taken by ``holder``; False if any process recorded it before."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(_T).values(job=job, slot=_utc(slot), holder=holder, token=token,
                                           status=status, started_at=now))
        return True
    except IntegrityError:
        return False


def finish(engine: Engine, job: str, slot: datetime, token: int, status: str,
           error: str | None = None) -> None:
    """Close a claimed run with its outcome (only the claim of lease ``token``)."""
    c = _T.c
    with engine.begin() as conn:
        conn.execute(update(_T).where(c.job == job, c.slot == _utc(slot), c.token == token,
                                      c.status == RunStatus.RUNNING)
                     .values(status=status, error=error, finished_at=datetime.now(UTC)))


def abandon_older(engine: Engine, token: int) -> int:
    """Mark runs still 'running' under an older lease token as abandoned; returns how many."""
    c = _T.c
    with engine.begin() as conn:
        return conn.execute(update(_T).where(c.status == RunStatus.RUNNING, c.token < token)
                            .values(status=RunStatus.ABANDONED,
                                    finished_at=datetime.now(UTC))).rowcount


def prune(engine: Engine, before: datetime) -> int:
    """Delete finished runs whose slot is before ``before``; returns how many. A pruned slot
    could be claimed again, so ``before`` must lie beyond every job's misfire grace (a slot
    that old is only ever recorded as missed)."""
    c = _T.c
    with engine.begin() as conn:
        return conn.execute(delete(_T).where(c.slot < _utc(before),
                                              c.status != RunStatus.RUNNING)).rowcount


def recorded_runs(engine: Engine, job: str | None = None) -> list[RunRecord]:
    """Every recorded run (of ``job``), by slot."""
    c = _T.c
    q = select(c.job, c.slot, c.holder, c.token, c.status, c.started_at, c.finished_at, c.error)
    if job is not None:
        q = q.where(c.job == job)
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(c.slot, c.job)).all()
    return [RunRecord(r.job, _utc(r.slot), r.holder, r.token, r.status,  # type: ignore[arg-type]
                      _utc(r.started_at), _utc(r.finished_at), r.error) for r in rows]  # type: ignore[arg-type]
