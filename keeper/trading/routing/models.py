"""Tables of ``keeper.trading.routing`` (prefix ``trading_routing_``, on ``TradingBase``).

Amounts are decimal strings of minor units (wei do not fit SQLite's 64-bit integers).

* ``trading_routing_parents``: one row per parent order: the order, its ``status`` (``routing``,
  ``filled``, ``partial``, ``unresolved``, ``rejected``: done with nothing filled), the amount
  ``filled`` so far and, once decided, the first decision (``decision``: JSON of the planned
  children, the best single venue baseline, the compliance blocks and their cost).
* ``trading_routing_children``: every child order, written with its deterministic
  ``client_order_id`` (``<parent id>-<seq>``) BEFORE it is sent (``status`` ``sending``); then its
  outcome: ``done`` (the venue's order, filled/cost/fee), ``failed`` (definitely not placed:
  refused, unreachable, not found when looked up) or ``unknown`` (no answer and the look-up by
  client id failed too: its amount stays reserved until a later look-up settles it).
* ``trading_routing_fills``: one row per child order that filled anything (unique per child and
  per venue order id: a fill is recorded once whatever path reports it).
* ``trading_routing_arrivals``: per parent and venue, the book, fees and latency at the first
  decision (what best-execution analytics compare against).
* ``trading_routing_exclusions``: venues left out of a parent's decisions, with the reason.
* ``trading_routing_episodes``: open price-feed episodes per venue, symbol and reason (stale,
  outlier...): an alert is raised when an episode opens, not per order; it closes when the venue
  passes the check again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keeper.trading.base import TradingBase

__all__ = ["ArrivalRow", "ChildRow", "ChildStatus", "EpisodeRow", "ExclusionRow", "FillRow",
           "ParentRow", "ParentStatus"]


class ParentStatus:
    """Values of :attr:`ParentRow.status`."""

    ROUTING = "routing"
    FILLED = "filled"
    PARTIAL = "partial"  # done: depth, limits or venues ran out before the whole amount
    UNRESOLVED = "unresolved"  # a child's outcome is unknown: resume looks it up
    REJECTED = "rejected"  # done with nothing filled (no consensus, every venue blocked/down)


class ChildStatus:
    """Values of :attr:`ChildRow.status`."""

    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"


class ParentRow(TradingBase):
    """A parent order and its state (module docstring)."""

    __tablename__ = "trading_routing_parents"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(120), nullable=False, index=True)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    side: Mapped[str] = mapped_column(String(8), nullable=False)
    amount: Mapped[str] = mapped_column(String(80), nullable=False)
    limit_price: Mapped[str | None] = mapped_column(String(80))
    jurisdiction: Mapped[str] = mapped_column(String(16), nullable=False)
    client_type: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    filled: Mapped[str] = mapped_column(String(80), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_until_ms: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ChildRow(TradingBase):
    """A child order (module docstring)."""

    __tablename__ = "trading_routing_children"
    __table_args__ = (UniqueConstraint("parent_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    parent_id: Mapped[str] = mapped_column(String(120), nullable=False, index=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    client_order_id: Mapped[str] = mapped_column(String(160), nullable=False, unique=True)
    round: Mapped[int] = mapped_column(Integer, nullable=False)
    venue: Mapped[str] = mapped_column(String(64), nullable=False)
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    amount: Mapped[str] = mapped_column(String(80), nullable=False)
    price: Mapped[str | None] = mapped_column(String(80))
    planned_notional: Mapped[str] = mapped_column(String(80), nullable=False)
    planned_fee: Mapped[str] = mapped_column(String(80), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    order_id: Mapped[str | None] = mapped_column(String(200))
    filled: Mapped[str] = mapped_column(String(80), nullable=False)
    cost: Mapped[str] = mapped_column(String(80), nullable=False)
    fee: Mapped[str] = mapped_column(String(80), nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class FillRow(TradingBase):
    """A child order's execution, recorded once (module docstring)."""

    __tablename__ = "trading_routing_fills"
    __table_args__ = (UniqueConstraint("venue", "order_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    parent_id: Mapped[str] = mapped_column(String(120), nullable=False, index=True)
    client_order_id: Mapped[str] = mapped_column(String(160), nullable=False, unique=True)
    venue: Mapped[str] = mapped_column(String(64), nullable=False)
    order_id: Mapped[str] = mapped_column(String(200), nullable=False)
    amount: Mapped[str] = mapped_column(String(80), nullable=False)
    price: Mapped[str] = mapped_column(String(80), nullable=False)
    cost: Mapped[str] = mapped_column(String(80), nullable=False)
    fee: Mapped[str] = mapped_column(String(80), nullable=False)
    timestamp_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)


class ArrivalRow(TradingBase):
    """A venue's book, fees and latency at a parent's first decision (module docstring)."""

    __tablename__ = "trading_routing_arrivals"
    __table_args__ = (UniqueConstraint("parent_id", "venue"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    parent_id: Mapped[str] = mapped_column(String(120), nullable=False, index=True)
    venue: Mapped[str] = mapped_column(String(64), nullable=False)
    book: Mapped[str] = mapped_column(Text, nullable=False)
    maker_ppm: Mapped[int] = mapped_column(Integer, nullable=False)
    taker_ppm: Mapped[int] = mapped_column(Integer, nullable=False)
    latency_ms: Mapped[int] = mapped_column(Integer, nullable=False)


class ExclusionRow(TradingBase):
    """A venue left out of one of a parent's decisions (module docstring)."""

    __tablename__ = "trading_routing_exclusions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    parent_id: Mapped[str] = mapped_column(String(120), nullable=False, index=True)
    round: Mapped[int] = mapped_column(Integer, nullable=False)
    venue: Mapped[str] = mapped_column(String(64), nullable=False)
    reason: Mapped[str] = mapped_column(String(32), nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False)


class EpisodeRow(TradingBase):
    """An open price-feed episode of a venue (module docstring)."""

    __tablename__ = "trading_routing_episodes"
    __table_args__ = (UniqueConstraint("venue", "symbol", "reason"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    venue: Mapped[str] = mapped_column(String(64), nullable=False)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    reason: Mapped[str] = mapped_column(String(32), nullable=False)
    since_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
