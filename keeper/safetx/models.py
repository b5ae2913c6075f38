"""Tables of the Safe transaction domain (``safetx_*``, own Alembic history).

* ``safetx_safes``: the multisigs this service answers for (registered, checked on chain); any
  other address is an unknown Safe (404), as in the Safe Transaction Service.
* ``safetx_transactions``: one row per proposed (or indexed) SafeTx, keyed by its EIP-712 hash.
  uint256 fields are decimal strings (SQLite has no 256-bit integers; never floats).
* ``safetx_confirmations``: one owner signature per (transaction, owner).
* ``safetx_cursors``: the indexer's last scanned block per Safe.
* ``safetx_delegates``: addresses an owner (the delegator) lets propose in its name, for one
  Safe or (``safe`` NULL) every Safe served here that it owns; their signatures never confirm.
* ``safetx_revoked_delegate_signatures``: signatures of removed delegations, which may not add
  them again while their ``totp`` is accepted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keeper.schema import NAMING_CONVENTION


class SafeTxBase(DeclarativeBase):
    """Declarative base of the safetx domain's tables (the one naming convention)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Status:
    """Values of :attr:`SafeTransaction.status`."""

    PENDING = "pending"  # collecting confirmations
    SUBMITTED = "submitted"  # execTransaction broadcast by the keeper, receipt not seen yet
    EXECUTED = "executed"  # mined (successfully or not: see ``is_successful``)
    REPLACED = "replaced"  # another transaction with the same nonce executed
    EXPIRED = "expired"  # older than the configured age, nonce not executed
    FAILED_SIMULATION = "failed_simulation"  # eth_call of execTransaction reverted: not sent

    OPEN = (PENDING,)


class KnownSafe(SafeTxBase):
    """A multisig the service answers for."""

    __tablename__ = "safetx_safes"

    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    from_block: Mapped[int] = mapped_column(BigInteger, nullable=False)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class SafeTransaction(SafeTxBase):
    """A SafeTx and what became of it."""

    __tablename__ = "safetx_transactions"
    __table_args__ = (Index("ix_safetx_transactions_safe_nonce", "safe", "nonce"),)

    safe_tx_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    safe: Mapped[str] = mapped_column(ForeignKey("safetx_safes.address"), nullable=False)
    to: Mapped[str] = mapped_column(String(42), nullable=False)
    value: Mapped[str] = mapped_column(String(78), nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    operation: Mapped[int] = mapped_column(Integer, nullable=False)
    safe_tx_gas: Mapped[str] = mapped_column(String(78), nullable=False)
    base_gas: Mapped[str] = mapped_column(String(78), nullable=False)
    gas_price: Mapped[str] = mapped_column(String(78), nullable=False)
    gas_token: Mapped[str] = mapped_column(String(42), nullable=False)
    refund_receiver: Mapped[str] = mapped_column(String(42), nullable=False)
    nonce: Mapped[int] = mapped_column(BigInteger, nullable=False)
    proposer: Mapped[str | None] = mapped_column(String(42), nullable=True)
    proposed_by_delegate: Mapped[str | None] = mapped_column(String(42))  # sender, a delegate
    confirmations_required: Mapped[int] = mapped_column(Integer, nullable=False)  # threshold
    origin: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(24), nullable=False, index=True)
    submission_date: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    modified: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    execution_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    transaction_hash: Mapped[str | None] = mapped_column(String(66))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    executor: Mapped[str | None] = mapped_column(String(42))
    is_successful: Mapped[bool | None] = mapped_column(Boolean)
    signatures: Mapped[bytes | None] = mapped_column(LargeBinary)  # as executed
    note: Mapped[str | None] = mapped_column(Text)  # why replaced / expired / failed


class Confirmation(SafeTxBase):
    """One owner's signature of one SafeTx."""

    __tablename__ = "safetx_confirmations"
    __table_args__ = (UniqueConstraint("safe_tx_hash", "owner"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    safe_tx_hash: Mapped[str] = mapped_column(
        ForeignKey("safetx_transactions.safe_tx_hash", ondelete="CASCADE"), nullable=False)
    owner: Mapped[str] = mapped_column(String(42), nullable=False)
    signature: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    signature_type: Mapped[str] = mapped_column(String(24), nullable=False)  # CONTRACT_SIGNATURE
    submission_date: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Cursor(SafeTxBase):
    """The indexer's progress on one Safe: every block up to ``block`` was read."""

    __tablename__ = "safetx_cursors"

    safe: Mapped[str] = mapped_column(ForeignKey("safetx_safes.address"), primary_key=True)
    block: Mapped[int] = mapped_column(BigInteger, nullable=False)


class SafeDelegate(SafeTxBase):
    """A delegate an owner registered (the Safe Transaction Service's ``SafeContractDelegate``)."""

    __tablename__ = "safetx_delegates"
    __table_args__ = (Index("ix_safetx_delegates_delegate", "delegate"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    safe: Mapped[str | None] = mapped_column(ForeignKey("safetx_safes.address"))  # None: any
    delegate: Mapped[str] = mapped_column(String(42), nullable=False)
    delegator: Mapped[str] = mapped_column(String(42), nullable=False)
    label: Mapped[str] = mapped_column(String(50), nullable=False)
    expiry_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    signature_hash: Mapped[str | None] = mapped_column(String(66))  # keccak of the adding one


class RevokedDelegateSignature(SafeTxBase):
    """A delegator's signature that added, or removed, a delegation since removed."""

    __tablename__ = "safetx_revoked_delegate_signatures"

    signature_hash: Mapped[str] = mapped_column(String(66), primary_key=True)  # keccak
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 index=True)
