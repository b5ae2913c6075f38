"""SQLAlchemy 2 models of the reconciliation domain (tables ``recon_*``, own Alembic history).

* ``recon_runs``: one stored report per reconciliation run: its type (1, 2, 3), the block it was
  pinned to, PASS/FAIL, and every figure as JSON. ``run_key`` is unique: a job restarted after a
  crash with the same key finds its run instead of writing a second one.
* ``recon_breaks``: one row per difference found: its size class (auto / investigate /
  critical), status (auto_resolved / open / resolved), due time, resolver and note. A run and its
  breaks are written in one transaction: a crashed job leaves no half-written report.
* ``recon_breaker``: the circuit breaker's persisted state (one row, id 1): halted or not.
* ``recon_breaker_events``: every halt and resume, who and why.

Signed integer amounts (differences in base units and in US cents) can exceed 64 bits and be
negative, so they are stored as decimal text and parsed back to ``int`` exactly.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keeper.schema import NAMING_CONVENTION


class ReconBase(DeclarativeBase):
    """Declarative base of the recon schema (its own MetaData, naming convention fixed)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ReconRun(ReconBase):
    """A stored reconciliation report: type, pinned block, outcome and figures (JSON)."""

    __tablename__ = "recon_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_key: Mapped[str] = mapped_column(String(160), unique=True)
    recon_type: Mapped[int] = mapped_column(Integer)  # 1, 2 or 3
    block: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(8))  # PASS | FAIL
    figures: Mapped[str] = mapped_column(Text)  # JSON; integers as decimal strings
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReconBreak(ReconBase):
    """One difference: what, how big, what the spec's rule did with it, and its resolution."""

    __tablename__ = "recon_breaks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("recon_runs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # e.g. omnibus, identity, fiat, reserves
    subject: Mapped[str] = mapped_column(String(200))  # e.g. "USDC vault:0x..." / a customer
    asset: Mapped[str] = mapped_column(String(16))
    difference: Mapped[str] = mapped_column(String(100))  # signed base units (decimal text)
    usd_cents: Mapped[str] = mapped_column(String(100))  # signed, "" when it cannot be priced
    size_class: Mapped[str] = mapped_column(String(16))  # auto | investigate | critical
    status: Mapped[str] = mapped_column(String(16), index=True)  # auto_resolved|open|resolved
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolver: Mapped[str | None] = mapped_column(String(128), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class ReconBreaker(ReconBase):
    """The circuit breaker (one row, id 1): ``halted`` while a critical break is unresolved."""

    __tablename__ = "recon_breaker"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    halted: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReconBreakerEvent(ReconBase):
    """A halt or a resume of new transactions: when, why, by whom."""

    __tablename__ = "recon_breaker_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(8))  # halt | resume
    break_id: Mapped[int] = mapped_column(ForeignKey("recon_breaks.id"))
    actor: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
