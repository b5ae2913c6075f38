"""The flows tables: orders (a persisted state machine each), the outbox of their state changes,
and the deposit notices already turned into orders (idempotency on ATLAS's ``transaction_id``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keeper.schema import NAMING_CONVENTION


class FlowsBase(DeclarativeBase):
    """Declarative base of the ``flows_*`` tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class OrderRow(FlowsBase):
    """One order. ``units`` is integer base units as decimal text (may exceed 64 bits)."""

    __tablename__ = "flows_orders"
    __table_args__ = (
        UniqueConstraint("client_id", "idem_key", name="uq_flows_orders_client_idem"),
        Index("ix_flows_orders_client_kind_created", "client_id", "kind", "created_at"),
        Index("ix_flows_orders_open", "open"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    idem_key: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(24))
    open: Mapped[bool] = mapped_column(Boolean)  # the driver still has work to do
    asset: Mapped[str] = mapped_column(String(16))
    units: Mapped[str] = mapped_column(String(80))
    fiat_cents: Mapped[int] = mapped_column(BigInteger)
    fee_cents: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[str] = mapped_column(Text)  # JSON: counterparty, mint id, escalation...
    version: Mapped[int] = mapped_column(Integer)  # compare-and-set of every state change
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OutboxRow(FlowsBase):
    """One state change of an order, written in the same transaction (for relays and audits);
    ``delivered_at`` is set by the relay, and relayed rows are pruned after a retention
    (:mod:`keeper.flows.outbox`)."""

    __tablename__ = "flows_outbox"
    __table_args__ = (Index("ix_flows_outbox_delivered_at", "delivered_at"),)  # the pruning

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(40), index=True)
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DepositNoticeRow(FlowsBase):
    """A core-banking deposit notice (``transaction_id``) and the order it became."""

    __tablename__ = "flows_deposit_notices"

    transaction_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40))
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
