"""SQLAlchemy 2 models of the EOD GL batch domain (table ``gl_batches``, own Alembic history).

One row per business date: the batch as it was built (its JSON, sent unchanged on every retry,
so a retry can never post different figures), the closing GL balances it was computed from (the
next day's batch is the difference to them), and its delivery state: ``pending`` (to post,
``next_attempt_at``), ``posted`` (ATLAS's batch id), ``empty`` (nothing moved: nothing to
post), ``failed`` (every retry spent: ops ticket raised) or ``rejected`` (ATLAS refused it:
accounting alerted). Cents are stored as decimal text (they may exceed 64 bits).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keeper.schema import NAMING_CONVENTION


class GLBase(DeclarativeBase):
    """Declarative base of the gl schema (its own MetaData, naming convention fixed)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class GLBatchRow(GLBase):
    """One business date's GL batch and its delivery state."""

    __tablename__ = "gl_batches"

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(64), unique=True)
    closing: Mapped[str] = mapped_column(Text)  # JSON {gl code: signed cents as text}
    payload: Mapped[str] = mapped_column(Text)  # the GLBatch JSON, "" when empty
    status: Mapped[str] = mapped_column(String(10), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    atlas_batch_id: Mapped[str | None] = mapped_column(String(64))
    posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
