"""SQLAlchemy 2 models of the staking domain (tables ``staking_*``, own Alembic history).

Amounts (wei, shares, queue units) are decimal text: they exceed 64 bits. The mirror writes
these rows in the same database transaction as its ledger postings and cursor move, so they
always describe the ledger's state.

* ``staking_pools``: the pool's mirrored state after the last applied event (pooled ETH,
  total shares, unbonding queue assets and units).
* ``staking_positions``: our on-chain positions (one per deposit) and the client each belongs
  to, with its shares, principal, rewards and slashes credited, and lock-up end.
* ``staking_requests``: our withdrawal requests: client, queue units, amount requested, when
  claimable, what the unbonding lost to slashes, what the claim paid.
* ``staking_ops``: the keeper's own operations (deposit, withdrawal request, claim) and their
  state (see :mod:`keeper.staking.service`).
* ``staking_events``: every applied pool event (tx hash, log index): applied at most once; for
  distributions, the contract amount for our stake, what clients got and the remainder.
* ``staking_allocations``: per event, what each client was credited (rewards) or debited
  (slashes), signed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keeper.schema import NAMING_CONVENTION

WEI = String(80)  # a uint256 as decimal text (signed where noted)


class StakingBase(DeclarativeBase):
    """Declarative base of the staking schema (its own MetaData, naming convention fixed)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class StakingPoolRow(StakingBase):
    """The pool's mirrored state."""

    __tablename__ = "staking_pools"

    pool: Mapped[str] = mapped_column(String(42), primary_key=True)
    pooled: Mapped[str] = mapped_column(WEI)
    total_shares: Mapped[str] = mapped_column(WEI)
    unbonding_assets: Mapped[str] = mapped_column(WEI)
    unbonding_units: Mapped[str] = mapped_column(WEI)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StakingPositionRow(StakingBase):
    """One of our positions in the pool."""

    __tablename__ = "staking_positions"

    pool: Mapped[str] = mapped_column(String(42), primary_key=True)
    position_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)  # "" = unattributed
    shares: Mapped[str] = mapped_column(WEI)
    principal: Mapped[str] = mapped_column(WEI)
    rewards: Mapped[str] = mapped_column(WEI)
    slashed: Mapped[str] = mapped_column(WEI)
    locked_until: Mapped[int] = mapped_column(BigInteger)
    deposit_tx: Mapped[str] = mapped_column(String(66))


class StakingRequestRow(StakingBase):
    """One of our withdrawal requests (unbonding, then claimed)."""

    __tablename__ = "staking_requests"

    pool: Mapped[str] = mapped_column(String(42), primary_key=True)
    request_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    position_id: Mapped[int] = mapped_column(BigInteger)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    units: Mapped[str] = mapped_column(WEI)
    amount: Mapped[str] = mapped_column(WEI)  # requested (the shares' value then)
    slashed: Mapped[str] = mapped_column(WEI)
    paid: Mapped[str | None] = mapped_column(WEI, nullable=True)
    claimable_at: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12))  # unbonding | claimed


class StakingOpRow(StakingBase):
    """One keeper operation on the pool and its state."""

    __tablename__ = "staking_ops"

    op_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # deposit | withdraw | claim
    pool: Mapped[str] = mapped_column(String(42))
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    amount: Mapped[str] = mapped_column(WEI)  # deposit: wei; withdraw: shares; claim: 0
    position_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    request_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(12), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StakingEventRow(StakingBase):
    """An applied pool event; distributions carry their figures (signed wei)."""

    __tablename__ = "staking_events"

    pool: Mapped[str] = mapped_column(String(42), primary_key=True)
    tx_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    block: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(24))
    contract_amount: Mapped[str] = mapped_column(WEI)  # change of our stake's value
    allocated: Mapped[str] = mapped_column(WEI)  # to clients
    remainder: Mapped[str] = mapped_column(WEI)  # to the remainder account
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StakingAllocationRow(StakingBase):
    """What one event credited (+) or debited (-) one client."""

    __tablename__ = "staking_allocations"

    pool: Mapped[str] = mapped_column(String(42), primary_key=True)
    tx_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    amount: Mapped[str] = mapped_column(WEI)
