"""Tables of the notifications domain (``notifications_*``, own Alembic history).

* ``notifications_outbox``: events for clients, written by the flows in their own transaction
  (:func:`keeper.notifications.enqueue`), unique by ``event_id``; ``fanned_at`` is set once the
  dispatcher opened a delivery per endpoint of the client.
* ``notifications_endpoints``: a client's webhook endpoints. No secret is stored: the signing
  secret is derived from the deployment's 0600 master secret file and the row's random ``salt``.
* ``notifications_deliveries``: one row per (event, endpoint): attempts, next attempt time
  (exponential backoff), outcome (sent or dead-lettered); statuses are the alerts domain's
  :class:`~keeper.alerts.DeliveryStatus` (one set of delivery states).
* ``notifications_attempts``: the delivery log, one row per HTTP attempt (status code, latency,
  error).
* ``notifications_cursors``: named positions of the notification jobs (e.g. the ledger credits
  the ``deposit.credited`` job has read).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keeper.alerts import DeliveryStatus
from keeper.schema import NAMING_CONVENTION

__all__ = ["AttemptRow", "CursorRow", "Delivery", "DeliveryStatus", "EndpointRow",
           "NotificationsBase", "OutboxRow"]


class NotificationsBase(DeclarativeBase):
    """Declarative base of the notifications domain's tables (the one naming convention)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class OutboxRow(NotificationsBase):
    """An event for a client, committed with the state change it reports."""

    __tablename__ = "notifications_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(160), unique=True)
    client_id: Mapped[str] = mapped_column(String(36), index=True)
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    fanned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True,
                                                       index=True)


class EndpointRow(NotificationsBase):
    """A client's webhook endpoint (the URL is shown to its client only)."""

    __tablename__ = "notifications_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    salt: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Delivery(NotificationsBase):
    """Delivery of one event to one endpoint."""

    __tablename__ = "notifications_deliveries"
    __table_args__ = (UniqueConstraint("outbox_id", "endpoint_id",
                                       name="uq_notifications_deliveries_outbox_endpoint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("notifications_outbox.id"))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("notifications_endpoints.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(36), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AttemptRow(NotificationsBase):
    """One HTTP attempt of a delivery (the delivery log)."""

    __tablename__ = "notifications_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("notifications_deliveries.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CursorRow(NotificationsBase):
    """A named read position of a notification job."""

    __tablename__ = "notifications_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
