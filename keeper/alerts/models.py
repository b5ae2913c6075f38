"""Tables of the alerts domain (``alerts_*``, own Alembic history ``alerts_alembic_version``).

* ``alerts_events``: the alerts taken from the ledger's alert rows (the outbox), one row per
  alert, keyed by a stable ``key`` (so taking them twice inserts nothing) and by the ledger
  alert's id (the dispatcher's high-water mark). A ``suppressed`` event exceeded its kind's hourly
  allowance: it gets no deliveries of its own and is counted in that hour's digest event.
* ``alerts_deliveries``: one row per (event, channel), the exactly-once record of delivering
  that alert on that channel: attempts, next attempt time (exponential backoff), outcome.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keeper.schema import NAMING_CONVENTION


class AlertsBase(DeclarativeBase):
    """Declarative base of the alerts domain's tables (the one naming convention)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class DeliveryStatus:
    """Values of :attr:`Delivery.status`."""

    PENDING = "pending"  # waiting for its next attempt (``next_attempt_at``)
    SENDING = "sending"  # claimed by a dispatcher until ``next_attempt_at``
    SENT = "sent"
    DEAD = "dead"  # gave up after the maximum number of attempts (dead letter)


class AlertEvent(AlertsBase):
    """An alert to deliver, copied once from the ledger's alert rows."""

    __tablename__ = "alerts_events"
    __table_args__ = (Index("ix_alerts_events_kind_created_at", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    ref: Mapped[str | None] = mapped_column(String(160), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ledger_alert_id: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    suppressed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Delivery(AlertsBase):
    """Delivery of one alert on one channel."""

    __tablename__ = "alerts_deliveries"
    __table_args__ = (UniqueConstraint("event_id", "channel", name="uq_alerts_deliveries_event_channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("alerts_events.id"))
    channel: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
