"""Tables of the jobs domain (``jobs_*``, own Alembic history ``jobs_alembic_version``).

* ``jobs_apscheduler_jobs``: APScheduler 3's persistent job store (its own column layout; the
  scheduler only reads and writes it, the migration creates it). Stored jobs hold a textual
  function reference and the job's name, never a pickled bound object.
* ``jobs_runs``: one row per (job, scheduled slot), inserted before the job runs. The unique key
  is what makes a slot run at most once, across processes and across a scheduler takeover.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keeper.schema import NAMING_CONVENTION

STORE_TABLE = "jobs_apscheduler_jobs"


class JobsBase(DeclarativeBase):
    """Declarative base of the jobs domain's tables (the one naming convention)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class RunStatus:
    """Values of :attr:`JobRun.status`."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    MISSED = "missed"  # the slot's misfire grace time had passed: recorded, not run
    ABANDONED = "abandoned"  # its scheduler lost the lease mid-run (died or stalled)


class JobRun(JobsBase):
    """One scheduled slot of one job: claimed once, then finished."""

    __tablename__ = "jobs_runs"
    __table_args__ = (UniqueConstraint("job", "slot", name="uq_jobs_runs_job_slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64))
    slot: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    holder: Mapped[str] = mapped_column(String(160))
    token: Mapped[int] = mapped_column(BigInteger)  # the scheduler lease's fencing token
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


# APScheduler's SQLAlchemyJobStore layout (apscheduler/jobstores/sqlalchemy.py), owned by this
# domain's migrations so every schema change goes through Alembic.
job_store = Table(
    STORE_TABLE, JobsBase.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
