"""Tables of ``keeper.trading.taxlots`` (prefix ``trading_taxlots_``, on ``TradingBase``).

* ``trading_taxlots_events``: the event log, one row per recorded acquisition, disposal or
  transfer, unique per (client, reference): the source of truth every other table is computed
  from (a replay of it in time order gives the same lots and outcomes).
* ``trading_taxlots_policies``: each client's lot policy over time (method, fees in bases), with
  who changed it and when; a row applies to events from ``effective_from`` (ms) on. A client's
  first event records the book's default as its row at ``effective_from`` 0, so a later change of
  the default never rewrites a client's history.
* ``trading_taxlots_books``: one row per (client, asset): the key of the last event applied (an
  event sorting before it makes the book replay that asset), and the row each writer locks.
* ``trading_taxlots_lots``: the open lots per (client, asset, location, origin acquisition).
* ``trading_taxlots_outcomes``: what each event did (realised gain of a disposal, the pieces it
  consumed, what was unmatched, what a transfer moved), as the outcome's JSON.

Quantities and cents are decimal strings (wei do not fit SQLite's integers).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keeper.trading.base import TradingBase

__all__ = ["BookRow", "EventRow", "LotRow", "OutcomeRow", "PolicyRow", "TradingBase"]


class EventRow(TradingBase):
    """One recorded event (see the module docstring)."""

    __tablename__ = "trading_taxlots_events"
    __table_args__ = (UniqueConstraint("client_id", "reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64), nullable=False)
    reference: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    asset: Mapped[str] = mapped_column(String(16), nullable=False)
    quantity: Mapped[str] = mapped_column(String(80), nullable=False)
    amount: Mapped[str] = mapped_column(String(40), nullable=False)
    fee: Mapped[str] = mapped_column(String(40), nullable=False)
    fee_quantity: Mapped[str] = mapped_column(String(80), nullable=False)
    location: Mapped[str] = mapped_column(String(200), nullable=False)
    to_location: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class PolicyRow(TradingBase):
    """A client's lot policy from ``effective_from`` on (see the module docstring)."""

    __tablename__ = "trading_taxlots_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    method: Mapped[str] = mapped_column(String(8), nullable=False)
    fees_in_basis: Mapped[bool] = mapped_column(Boolean, nullable=False)
    effective_from: Mapped[int] = mapped_column(BigInteger, nullable=False)
    changed_by: Mapped[str] = mapped_column(String(200), nullable=False)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class BookRow(TradingBase):
    """A (client, asset) book: the key of its last applied event (see the module docstring)."""

    __tablename__ = "trading_taxlots_books"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    asset: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_rank: Mapped[int] = mapped_column(Integer, nullable=False)
    last_reference: Mapped[str] = mapped_column(String(200), nullable=False)
    replays: Mapped[int] = mapped_column(Integer, nullable=False)


class LotRow(TradingBase):
    """An open lot (see the module docstring)."""

    __tablename__ = "trading_taxlots_lots"
    __table_args__ = (UniqueConstraint("client_id", "asset", "location", "origin"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64), nullable=False)
    asset: Mapped[str] = mapped_column(String(16), nullable=False)
    location: Mapped[str] = mapped_column(String(200), nullable=False)
    origin: Mapped[str] = mapped_column(String(200), nullable=False)
    acquired_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    quantity: Mapped[str] = mapped_column(String(80), nullable=False)
    basis: Mapped[str] = mapped_column(String(40), nullable=False)


class OutcomeRow(TradingBase):
    """What one event did (see the module docstring)."""

    __tablename__ = "trading_taxlots_outcomes"
    __table_args__ = (UniqueConstraint("client_id", "reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    asset: Mapped[str] = mapped_column(String(16), nullable=False)
    reference: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    occurred_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False)
