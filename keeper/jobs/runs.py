"""Run records (``jobs_runs``): a (job, slot) is claimed once, by one scheduler, ever.

Each function is one short transaction whose first statement writes, so on SQLite it takes the
write lock at once (waiting its busy timeout) and on PostgreSQL the unique index decides. A claim
and a finish each write their audit record (``jobs.run.start`` / ``jobs.run.end``, actor: the
scheduler's holder) in that same transaction: a run is recorded in the chain exactly when it is
recorded in ``jobs_runs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from keeper.audit import record_in
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
            record_in(conn, holder, "jobs.run.start", _params(job, slot, token), str(status))
        return True
    except IntegrityError:
        return False


def finish(engine: Engine, job: str, slot: datetime, token: int, status: str,
           error: str | None = None, result: object = None) -> None:
    """Close a claimed run with its outcome (only the claim of lease ``token``), audited with
    the job's ``result`` (numbers, text and flags as they are; anything else as its text)."""
    c = _T.c
    with engine.begin() as conn:
        holder = conn.execute(
            update(_T).where(c.job == job, c.slot == _utc(slot), c.token == token,
                             c.status == RunStatus.RUNNING)
            .values(status=status, error=error, finished_at=datetime.now(UTC))
            .returning(c.holder)).scalar()
        if holder is not None:
            outcome: dict[str, Any] = {"status": str(status)}
            if error is not None:
                outcome["error"] = error
            elif result is not None:
                outcome["result"] = _result(result)
            record_in(conn, holder, "jobs.run.end", _params(job, slot, token), outcome)


def _params(job: str, slot: datetime, token: int) -> dict[str, Any]:
    return {"job": job, "slot": _utc(slot).isoformat(), "token": token}  # type: ignore[union-attr]


def _result(value: object) -> object:
    if isinstance(value, bool | int | str) and (not isinstance(value, str) or len(value) <= 2000):
        return value
    return str(value)[:2000]


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
