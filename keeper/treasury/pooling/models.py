"""Tables of ``keeper.treasury.pooling`` (prefix ``treasury_``, on ``TreasuryBase``).

* ``treasury_pool_runs``: one row per pooling run (its destination, funding wallet, fee cap and
  plan report), written with all its transaction rows BEFORE anything is sent.
* ``treasury_pool_txs``: one row per planned transaction of a run, unique per
  (run, kind, wallet, asset); its ``intent_id`` is the chain sender's idempotency key, so a
  restart re-sends the same amount under the same intent, never a second transfer. Amounts are
  decimal strings of base units (wei do not fit SQLite's 64-bit integers).
* ``treasury_custody_wallets`` / ``treasury_custody_signers``: the custody topology (each
  wallet's quorum threshold; every signer placed in a region and a technology).
* ``treasury_custody_changes``: every requested topology change, accepted or refused with the
  reason (also in the audit trail).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keeper.treasury.base import TreasuryBase

__all__ = ["CustodyChange", "CustodySigner", "CustodyWallet", "PoolRun", "PoolTx", "TreasuryBase"]


class PoolRun(TreasuryBase):
    """One pooling run (see the module docstring)."""

    __tablename__ = "treasury_pool_runs"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    destination: Mapped[str] = mapped_column(String(64), nullable=False)
    funding: Mapped[str | None] = mapped_column(String(64))
    max_fee_wei: Mapped[str] = mapped_column(String(40), nullable=False)
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False)
    report: Mapped[str] = mapped_column(Text, nullable=False)  # canonical JSON of the plan
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # planned|done|dry_run
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class PoolTx(TreasuryBase):
    """One planned transaction of a run (see the module docstring)."""

    __tablename__ = "treasury_pool_txs"
    __table_args__ = (UniqueConstraint("run_id", "kind", "wallet", "asset"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # topup|token|native
    wallet: Mapped[str] = mapped_column(String(64), nullable=False)  # the deposit wallet
    asset: Mapped[str] = mapped_column(String(16), nullable=False)
    sender: Mapped[str] = mapped_column(String(64), nullable=False)
    recipient: Mapped[str] = mapped_column(String(64), nullable=False)
    units: Mapped[str] = mapped_column(String(80), nullable=False)
    keep: Mapped[str] = mapped_column(String(80), nullable=False)  # the sender's minimum
    intent_id: Mapped[str] = mapped_column(String(160), nullable=False, unique=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # planned|ready|sent|mined|failed
    tx_hash: Mapped[str | None] = mapped_column(String(80))
    reason: Mapped[str | None] = mapped_column(Text)


class CustodyWallet(TreasuryBase):
    """A wallet of the custody topology and its quorum threshold (m of its n signers)."""

    __tablename__ = "treasury_custody_wallets"

    wallet: Mapped[str] = mapped_column(String(64), primary_key=True)
    threshold: Mapped[int] = mapped_column(Integer, nullable=False)


class CustodySigner(TreasuryBase):
    """A key share / cosigner / HSM of a wallet, placed in a region and a technology."""

    __tablename__ = "treasury_custody_signers"
    __table_args__ = (UniqueConstraint("wallet", "signer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    wallet: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    signer: Mapped[str] = mapped_column(String(64), nullable=False)
    region: Mapped[str] = mapped_column(String(64), nullable=False)
    technology: Mapped[str] = mapped_column(String(64), nullable=False)


class CustodyChange(TreasuryBase):
    """A requested topology change and its outcome (accepted, or refused with the reason)."""

    __tablename__ = "treasury_custody_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    wallet: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    action: Mapped[str] = mapped_column(String(16), nullable=False)  # define|add|move|remove
    detail: Mapped[str] = mapped_column(Text, nullable=False)  # canonical JSON of the request
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    accepted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
