"""SQLAlchemy 2 models of the sub-ledger (TigerBeetle-style accounts + immutable transfers).

* ``ledger_accounts``: one row per (kind, asset, client or location). Stored balances are four
  running totals (posted/pending debits/credits), updated once per account per group commit.
* ``ledger_transfers``: the journal. Insert-only; a transfer is one debit leg and one credit leg of
  the same amount and asset, so per asset total debits equal total credits by construction, and the
  stored totals of an account must equal the sum of the legs that name it.
* ``ledger_cursors`` / ``ledger_cursor_blocks``: positions of external sources (the chain follower)
  written in the same DB transaction as the postings they produce (exactly-once).
* ``ledger_leases``: one row per cursor: which process may move it (holder, expiry, fencing token).
* ``ledger_client_refs``: registry mapping on-chain ``client_ref`` (bytes32 hex) to client ids.
* ``ledger_alerts``: operational alerts (e.g. deposits with unknown references parked in suspense).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keeper.ledger.types import UINT256_MAX, Amount
from keeper.schema import NAMING_CONVENTION


def _where(column: str) -> dict[str, object]:
    cond = text(f"{column} IS NOT NULL")
    return {"sqlite_where": cond, "postgresql_where": cond}


def _uint256(column: str) -> CheckConstraint:
    """PostgreSQL backstop (migration 0003) keeping ``column`` within 0..2**256-1 even for raw
    SQL; on SQLite the ``Amount`` type's bind check is the guard (no numeric compare there)."""
    return CheckConstraint(f"{column} >= 0 AND {column} <= {UINT256_MAX}",
                           name=f"{column}_range").ddl_if(dialect="postgresql")


class Base(DeclarativeBase):
    """Declarative base of the ledger schema (its own MetaData, naming convention fixed)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Account(Base):
    """A ledger account. ``gl_code`` is the GL account of spec 004 §8.2 it rolls up into."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("kind", "asset", "owner", name="uq_ledger_accounts_key"),
        # a client's accounts (balances, statements, transaction pages) without reading every
        # client's: the unique key above can only narrow such a read by ``kind``
        Index("ix_ledger_accounts_owner", "owner", "kind"),
        *(_uint256(c) for c in ("debits_posted", "credits_posted", "debits_pending",
                                "credits_pending")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # client | omnibus | fee | suspense
    asset: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(128))  # client id / location / ""
    gl_code: Mapped[str] = mapped_column(String(64))
    # credit-normal accounts (client liabilities) may never have debits exceed credits.
    no_overdraft: Mapped[bool] = mapped_column(Boolean, default=False)
    debits_posted: Mapped[int] = mapped_column(Amount, default=0)
    credits_posted: Mapped[int] = mapped_column(Amount, default=0)
    debits_pending: Mapped[int] = mapped_column(Amount, default=0)
    credits_pending: Mapped[int] = mapped_column(Amount, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Transfer(Base):
    """An immutable transfer. ``transfer_id`` is the client-chosen idempotency id."""

    __tablename__ = "ledger_transfers"
    __table_args__ = (
        _uint256("amount"),
        Index("ix_ledger_transfers_debit", "debit_account_id", "id"),
        Index("ix_ledger_transfers_credit", "credit_account_id", "id"),
        # partial indexes: most transfers have no pending/reversal/source link, so they pay no
        # index maintenance for these (unique => a hold resolves once, a transfer reverses once)
        Index("ix_ledger_transfers_source", "source", "source_pos", **_where("source")),
        Index("uq_ledger_transfers_pending_id", "pending_id", unique=True, **_where("pending_id")),
        Index("uq_ledger_transfers_reverses_id", "reverses_id", unique=True,
              **_where("reverses_id")),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    transfer_id: Mapped[str] = mapped_column(String(160), unique=True)
    # single (posted at once) | pending (hold) | post (settles a hold) | void (releases a hold)
    kind: Mapped[str] = mapped_column(String(8))
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    asset: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(Amount)
    # the hold a post/void resolves; unique => a hold is resolved at most once
    pending_id: Mapped[str | None] = mapped_column(String(160), nullable=True)
    # the transfer this one reverses; unique => reversed at most once
    reverses_id: Mapped[str | None] = mapped_column(String(160), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reference: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_pos: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    fingerprint: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Cursor(Base):
    """Position of an external source (e.g. a chain follower), moved atomically with postings."""

    __tablename__ = "ledger_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    position_hash: Mapped[str] = mapped_column(String(80))
    generation: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # source time of ``position`` (a block's timestamp, unix seconds): lag in seconds for /health
    position_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # every source address followed under this cursor (a vault and its successors), comma-separated
    addresses: Mapped[str] = mapped_column(Text, default="", server_default="")


class Lease(Base):
    """Who may move a cursor: ``holder`` until ``expires_at``. ``token`` (fencing) grows at
    every change of holder; a commit checks holder, token and expiry in its own transaction."""

    __tablename__ = "ledger_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(160))
    token: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CursorBlock(Base):
    """A processed source block (number, hash) kept to find the fork point on a reorg."""

    __tablename__ = "ledger_cursor_blocks"

    cursor: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[str] = mapped_column(String(80))


class ClientRef(Base):
    """Registry: on-chain ``client_ref`` (0x-prefixed bytes32 hex, lower case) -> client id."""

    __tablename__ = "ledger_client_refs"

    client_ref: Mapped[str] = mapped_column(String(66), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Alert(Base):
    """An operational alert raised by the ledger or a source feeding it."""

    __tablename__ = "ledger_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    ref: Mapped[str | None] = mapped_column(String(160), nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
