"""SQLAlchemy 2 models of the forensics domain (``forensics_*`` tables, own Alembic history).

* ``forensics_cursors``: named positions. The transfer mirror's (``mirror``: block number and
  hash) and the anomaly pipeline's one per event source (``source:<name>``: the last sequence
  number consumed).
* ``forensics_blocks``: the hashes of the blocks the mirror read (the recent ones), to find the
  fork point of a reorg.
* ``forensics_transfers``: the mirrored value movements of the followed chain (ERC-20
  ``Transfer`` logs of the watched tokens, native ETH of successful transactions), one row each,
  unique on (transaction, log index; ``-1`` for a transaction's own ETH value). Amounts are
  integer base units as decimal text (they may exceed 64 bits).
* ``forensics_state``: each detector's persisted state, one JSON value per key.
* ``forensics_alerts``: each alert once (``alert_key`` unique), with the forensic chain that
  explains it (``evidence``, JSON) and whether it was raised to the ops alert outbox yet.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keeper.schema import NAMING_CONVENTION


class ForensicsBase(DeclarativeBase):
    """Declarative base of the forensics schema (its own MetaData, naming convention fixed)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CursorRow(ForensicsBase):
    """A named position (the mirror's block, or an event source's sequence number)."""

    __tablename__ = "forensics_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    position_hash: Mapped[str] = mapped_column(String(66), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BlockRow(ForensicsBase):
    """The hash of a block the mirror read (kept for the recent blocks only)."""

    __tablename__ = "forensics_blocks"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(66))


class TransferRow(ForensicsBase):
    """One mirrored value movement on the chain."""

    __tablename__ = "forensics_transfers"
    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index", name="uq_forensics_transfers_tx_log"),
        Index("ix_forensics_transfers_sender_block", "sender", "block_number"),
        Index("ix_forensics_transfers_recipient_block", "recipient", "block_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    block_hash: Mapped[str] = mapped_column(String(66))
    block_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    tx_hash: Mapped[str] = mapped_column(String(66))
    log_index: Mapped[int] = mapped_column(Integer)
    asset: Mapped[str] = mapped_column(String(16))
    token: Mapped[str] = mapped_column(String(42))
    sender: Mapped[str] = mapped_column(String(42))
    recipient: Mapped[str] = mapped_column(String(42))
    amount: Mapped[str] = mapped_column(String(80))


class StateRow(ForensicsBase):
    """One key of a detector's persisted state (JSON)."""

    __tablename__ = "forensics_state"

    detector: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class AlertRow(ForensicsBase):
    """One anomaly alert and the forensic chain that explains it."""

    __tablename__ = "forensics_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_key: Mapped[str] = mapped_column(String(64), unique=True)
    detector: Mapped[str] = mapped_column(String(40), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text)  # JSON list: the forensic chain
    raised: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
