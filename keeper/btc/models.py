"""Tables of the Bitcoin domain (``btc_*``): wallets' address windows and pending spends.

A restart must neither re-use a change address nor forget a locked input, so the coordinator
keeps in the database: per wallet the public descriptor and the next receive / change index
(monotonic), every spend in flight with its PSBT, and one row per input it locks. The primary
key of ``btc_locked_outpoints`` is the outpoint: two spends can never lock the same input,
even from two processes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class BtcBase(DeclarativeBase):
    """Declarative base of the btc domain (separate MetaData; tables prefixed ``btc_``)."""

    metadata = MetaData()


class BtcWallet(BtcBase):
    """A watch-only multisig wallet: public descriptor, network and its address counters."""

    __tablename__ = "btc_wallets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    network: Mapped[str] = mapped_column(String(16))
    descriptor: Mapped[str] = mapped_column(String(4096))
    gap_limit: Mapped[int] = mapped_column(Integer)
    #: receive indices 0 .. next_receive-1 are issued or seen funded
    next_receive: Mapped[int] = mapped_column(Integer, default=0)
    #: change indices 0 .. next_change-1 are used by a spend (proposed or seen on chain)
    next_change: Mapped[int] = mapped_column(Integer, default=0)


class BtcPendingSpend(BtcBase):
    """One spend: its PSBT (base64, signatures accumulate), lifecycle and change index."""

    __tablename__ = "btc_pending_spends"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    wallet_id: Mapped[int] = mapped_column(ForeignKey("btc_wallets.id"), index=True)
    psbt: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending|broadcasting|released|expired
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    txid: Mapped[str | None] = mapped_column(String(64), nullable=True)


class BtcLockedOutpoint(BtcBase):
    """An input held by a pending (or released) spend; deleted when the spend expires."""

    __tablename__ = "btc_locked_outpoints"
    txid: Mapped[str] = mapped_column(String(64), primary_key=True)
    vout: Mapped[int] = mapped_column(Integer, primary_key=True)
    spend_id: Mapped[str] = mapped_column(ForeignKey("btc_pending_spends.id"), index=True)
