"""Tables of ``keeper.treasury.rebalance`` (prefix ``treasury_``, on ``TreasuryBase``).

* ``treasury_rebalance_decisions``: one row per (run, asset): what the rebalancer decided
  (``hold`` / ``rebalance`` / ``refused``), the drift before and planned after (JSON, bps), the
  planned cost (cents) and, when a constraint bound, the :class:`~.plan.Binding` (JSON). The last
  ``rebalance`` decision of an asset is the hysteresis state (its cooldown) and the report.
* ``treasury_rebalance_moves``: the moves of a decision, each written with its amount and its
  idempotency key BEFORE it is handed to the executor, so a restart hands the same move under the
  same key (never a second, recomputed one). ``status``: ``planned`` (not handed yet, or the
  executor failed: ``error``), ``sent`` / ``proposed`` (handed over; ``proposed`` when only
  a multisig quorum can carry it out; the executor's ``reference``), ``expired`` (never handed
  over, superseded by a later run), ``dry_run`` (recorded only). Amounts are decimal strings
  of base units (wei do not fit SQLite's integers).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keeper.treasury.base import TreasuryBase

__all__ = ["DecisionRow", "MoveRow", "MoveStatus", "TreasuryBase"]


class MoveStatus:
    """Values of :attr:`MoveRow.status`."""

    PLANNED = "planned"
    SENT = "sent"  # sent by the keeper (a Vault sweep)
    PROPOSED = "proposed"  # a proposal its multisig's owners must sign (requires_quorum)
    DRY_RUN = "dry_run"
    EXPIRED = "expired"  # never handed over; a later run planned from the holdings afresh


class DecisionRow(TreasuryBase):
    """One asset's decision in one run (see the module docstring)."""

    __tablename__ = "treasury_rebalance_decisions"
    __table_args__ = (UniqueConstraint("run_key", "asset"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_key: Mapped[str] = mapped_column(String(120), nullable=False)
    asset: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    decision: Mapped[str] = mapped_column(Text, nullable=False)  # AssetDecision.to_json()
    cost_cents: Mapped[str] = mapped_column(String(40), nullable=False)
    binding: Mapped[str | None] = mapped_column(String(32))  # the bound constraint's kind
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class MoveRow(TreasuryBase):
    """One planned move of a decision (see the module docstring)."""

    __tablename__ = "treasury_rebalance_moves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    asset: Mapped[str] = mapped_column(String(16), nullable=False)
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    source_tier: Mapped[str] = mapped_column(String(8), nullable=False)
    destination: Mapped[str] = mapped_column(String(64), nullable=False)
    destination_tier: Mapped[str] = mapped_column(String(8), nullable=False)
    units: Mapped[str] = mapped_column(String(80), nullable=False)
    reason: Mapped[str] = mapped_column(String(64), nullable=False)
    cost_cents: Mapped[str] = mapped_column(String(40), nullable=False)
    requires_quorum: Mapped[bool] = mapped_column(Boolean, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    reference: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
