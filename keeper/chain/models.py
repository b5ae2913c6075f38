"""SQLAlchemy 2 models of the chain domain (tables ``chain_*``, own Alembic history).

* ``chain_nonces``: the next nonce of one sending key on one chain (one row per (chain, address)),
  advanced only by compare-and-set, so two keepers never hand out the same nonce.
* ``chain_intents``: one row per send intent (idempotency key ``intent_id``) with the nonce it
  owns (unique per (chain, sender)), what it calls, its state (pending / mined / reverted /
  dropped), the hash that mined and the decoded revert reason.
* ``chain_attempts``: every signed transaction of an intent (the first and each fee-bumped
  replacement), stored with its raw bytes BEFORE broadcast: a restart re-broadcasts exactly these
  bytes, and a replaced hash that mines is still recognised as the intent's.
* ``chain_sightings``: vault deposits seen in the unconfirmed tip (above a follower's cursor),
  replaced as a whole by each pass of :mod:`keeper.chain.pending`; never part of the ledger.

Wei amounts can exceed 64 bits, so ``value`` and fees are decimal text parsed back to ``int``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keeper.schema import NAMING_CONVENTION


class ChainBase(DeclarativeBase):
    """Declarative base of the chain sender schema (its own MetaData, naming convention fixed)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ChainNonce(ChainBase):
    """Next nonce to hand out for ``address`` on ``chain_id`` (advanced by compare-and-set)."""

    __tablename__ = "chain_nonces"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    next_nonce: Mapped[int] = mapped_column(BigInteger)


class ChainIntent(ChainBase):
    """One transaction the keeper means to get mined, whatever replacements it takes."""

    __tablename__ = "chain_intents"
    __table_args__ = (UniqueConstraint("chain_id", "sender", "nonce",
                                       name="uq_chain_intents_chain_id_sender_nonce"),)

    intent_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    sender: Mapped[str] = mapped_column(String(42))
    nonce: Mapped[int] = mapped_column(BigInteger)
    to: Mapped[str] = mapped_column(String(42))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    value: Mapped[str] = mapped_column(String(80))  # wei, decimal text
    gas: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), index=True)
    mined_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revert_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    stuck_alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChainAttempt(ChainBase):
    """One signed transaction of an intent (same nonce; fees rise with each replacement)."""

    __tablename__ = "chain_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    intent_id: Mapped[str] = mapped_column(
        String(160), ForeignKey("chain_intents.intent_id"), index=True)
    tx_hash: Mapped[str] = mapped_column(String(66), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    max_fee: Mapped[str] = mapped_column(String(80))  # wei per gas, decimal text
    tip: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChainSighting(ChainBase):
    """One client deposit seen above follower ``source``'s cursor, not yet credited.

    ``tip`` is the head the pass saw (confirmations = ``tip - block_number``, blocks on top) and
    ``required`` the follower's confirmations; ``amount`` is decimal text (uint256)."""

    __tablename__ = "chain_sightings"
    __table_args__ = (UniqueConstraint("source", "block_hash", "log_index",
                                       name="uq_chain_sightings_source_block_hash_log_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(String(128), index=True)
    client_ref: Mapped[str] = mapped_column(String(66))
    tx_hash: Mapped[str] = mapped_column(String(66))
    log_index: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(66))
    asset: Mapped[str] = mapped_column(String(16))
    token: Mapped[str] = mapped_column(String(42))
    amount: Mapped[str] = mapped_column(String(80))  # base units, decimal text
    sender: Mapped[str] = mapped_column(String(42))
    tip: Mapped[int] = mapped_column(BigInteger)
    required: Mapped[int] = mapped_column(BigInteger)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
