"""Tables of ``keeper.treasury.tiers`` (prefix ``treasury_``, on ``TreasuryBase``).

* ``treasury_tier_sweeps``: one row per planned tier move, keyed by what makes it unique
  (``daily:<date>:<asset>``, ``weekly:<iso week>:<asset>``, ``topup:<ref>:<asset>``). The row is
  written with its amount BEFORE anything is sent or proposed, so a restart resends the same
  amount under the same intent (never a second, recomputed sweep). Amounts are decimal strings
  of base units (wei do not fit SQLite's 64-bit integers); never floats.
* ``treasury_tier_ceiling``: whether the hot tier is above its alert ceiling, and how many
  times it crossed it: one alert per crossing, not one per run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keeper.treasury.base import TreasuryBase

__all__ = ["CeilingState", "SweepRow", "TreasuryBase"]


class SweepStatus:
    """Values of :attr:`SweepRow.status`."""

    PLANNED = "planned"  # amount fixed, nothing sent yet (or a crash before the send)
    SENT = "sent"  # handed to the chain sender under ``intent_id``
    PROPOSED = "proposed"  # a SafeTx the multisig's owners must sign (``reference`` = hash)
    DRY_RUN = "dry_run"  # planned and audited, nothing sent (settings.treasury_dry_run)
    REFUSED = "refused"  # the simulation reverted: nothing sent (``code``, ``reason``)
    FAILED = "failed"  # sent, then reverted on chain or dropped: final for its key, alerted


class SweepRow(TreasuryBase):
    """One planned tier move (see the module docstring)."""

    __tablename__ = "treasury_tier_sweeps"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    asset: Mapped[str] = mapped_column(String(16), nullable=False)
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    destination: Mapped[str] = mapped_column(String(64), nullable=False)
    units: Mapped[str] = mapped_column(String(80), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    intent_id: Mapped[str | None] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(80))
    code: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[str | None] = mapped_column(Text)  # JSON: a proposal's SafeTx fields
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class CeilingState(TreasuryBase):
    """Whether ``scope`` (``hot``) is above its ceiling now, and its crossing count."""

    __tablename__ = "treasury_tier_ceiling"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    above: Mapped[int] = mapped_column(Integer, nullable=False)
    crossings: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
