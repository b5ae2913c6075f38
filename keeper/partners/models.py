"""SQLAlchemy 2 models of partner custody (tables ``partners_*``, own Alembic history).

* ``partners_accounts``: each client's segregated sub-account at a partner and its address;
* ``partners_reports``: every transaction the partner reported (first version kept, digest
  compared on later reports) and our verdict: ``pending`` / ``verified`` / ``break``;
* ``partners_moves``: what moved on chain at the sub-account addresses, read through our node,
  and whether a reported transaction accounts for it;
* ``partners_breaks``: mismatches found by independent verification (once each);
* ``partners_withdrawals``: our withdrawal requests with their idempotency keys (stored before
  the call, so a retry after an outage reuses the key);
* ``partners_state``: per partner: last good sync, outage episode, back-off, last reconciliation.
Amounts are integer base units stored as decimal text (they may exceed 64 bits).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keeper.schema import NAMING_CONVENTION


class PartnersBase(DeclarativeBase):
    """Declarative base of the partners schema (its own MetaData, naming convention fixed)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class AccountRow(PartnersBase):
    """A client's sub-account at a partner."""

    __tablename__ = "partners_accounts"
    __table_args__ = (UniqueConstraint("partner", "address"),)

    partner: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(42))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReportRow(PartnersBase):
    """One partner-reported transaction and its verification verdict."""

    __tablename__ = "partners_reports"
    __table_args__ = (UniqueConstraint("partner", "partner_tx_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner: Mapped[str] = mapped_column(String(32))
    partner_tx_id: Mapped[str] = mapped_column(String(64))
    client_ref: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10))
    asset: Mapped[str] = mapped_column(String(8))
    amount: Mapped[str] = mapped_column(Text)
    fee: Mapped[str] = mapped_column(Text)
    sender: Mapped[str] = mapped_column(String(42))
    recipient: Mapped[str] = mapped_column(String(42))
    tx_hash: Mapped[str | None] = mapped_column(String(66), index=True)
    log_index: Mapped[int | None] = mapped_column(Integer)
    block_number: Mapped[int | None] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(10), index=True)
    move_key: Mapped[str | None] = mapped_column(String(100))
    chain_block: Mapped[int | None] = mapped_column(Integer)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MoveRow(PartnersBase):
    """A movement at a sub-account address seen on chain through our node."""

    __tablename__ = "partners_moves"

    partner: Mapped[str] = mapped_column(String(32), primary_key=True)
    move_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    tx_hash: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(Integer, index=True)
    asset: Mapped[str] = mapped_column(String(8))
    amount: Mapped[str] = mapped_column(Text)
    sender: Mapped[str] = mapped_column(String(42))
    recipient: Mapped[str] = mapped_column(String(42))
    matched: Mapped[bool] = mapped_column(Boolean, default=False)


class BreakRow(PartnersBase):
    """A mismatch between the partner's word and the chain (recorded once per ``ref``)."""

    __tablename__ = "partners_breaks"
    __table_args__ = (UniqueConstraint("partner", "ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    ref: Mapped[str] = mapped_column(String(200))
    client_ref: Mapped[str | None] = mapped_column(String(64))
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    detail: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WithdrawalRow(PartnersBase):
    """Our withdrawal request to a partner (the key is stored before the first call)."""

    __tablename__ = "partners_withdrawals"

    idem_key: Mapped[str] = mapped_column(String(36), primary_key=True)
    partner: Mapped[str] = mapped_column(String(32))
    client_ref: Mapped[str] = mapped_column(String(64))
    asset: Mapped[str] = mapped_column(String(8))
    amount: Mapped[str] = mapped_column(Text)
    destination: Mapped[str] = mapped_column(String(42))
    status: Mapped[str] = mapped_column(String(10), index=True)
    partner_tx_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StateRow(PartnersBase):
    """Sync, outage and reconciliation state of one partner."""

    __tablename__ = "partners_state"

    partner: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_ok_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outage_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(300))
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    scanned_block: Mapped[int | None] = mapped_column(Integer)
    as_of_block: Mapped[int | None] = mapped_column(Integer)
    recon_ms: Mapped[int | None] = mapped_column(Integer)
