"""Deposit-address registry: one address per allocation, never handed out twice.

Uniqueness is enforced by the database (``UNIQUE(address)`` and
``UNIQUE(wallet_id, child_index)``), not only by the allocator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import pkcs11
from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from keeper.keys.hd.bip32 import ExtendedPrivateKey
from keeper.keys.hd.derivers import AddressDeriver

_PRIVATE_MARKERS = ("xprv", "tprv", "yprv", "zprv")


class SeedWrapper(Protocol):
    """Encrypts and decrypts seeds inside an HSM (``keeper.keys.hsm.HsmSeedWrapper``)."""

    def wrap(self, seed: bytes, aad: bytes = ...) -> bytes:
        """Authenticated encryption of ``seed`` bound to ``aad``."""
        ...

    def unwrap(self, blob: bytes, aad: bytes = ...) -> bytes:
        """Decrypt ``blob``; fails unless it was wrapped with the same ``aad``."""
        ...


def _seed_aad(name: str) -> bytes:
    return b"strongroom-seed:" + name.encode()


class KeysBase(DeclarativeBase):
    """Declarative base of the keys domain (separate MetaData; tables prefixed ``keys_``)."""

    metadata = MetaData()


class HdWallet(KeysBase):
    """A watch-only HD wallet: public descriptor and the next unused child index."""

    __tablename__ = "keys_hd_wallets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    chain: Mapped[str] = mapped_column(String(16))
    public_descriptor: Mapped[str] = mapped_column(String(2048))
    next_index: Mapped[int] = mapped_column(Integer, default=0)


class DepositAddress(KeysBase):
    """An address handed out to a client."""

    __tablename__ = "keys_deposit_addresses"
    __table_args__ = (UniqueConstraint("wallet_id", "child_index"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wallet_id: Mapped[int] = mapped_column(ForeignKey("keys_hd_wallets.id"))
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    child_index: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WrappedSeed(KeysBase):
    """A cosigner seed encrypted by the HSM seed-wrap key (never stored in clear)."""

    __tablename__ = "keys_wrapped_seeds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    master_fingerprint: Mapped[str] = mapped_column(String(8))
    blob: Mapped[bytes] = mapped_column(LargeBinary)


@dataclass(frozen=True)
class Allocation:
    """Result of an allocation."""

    client_id: str
    wallet: str
    child_index: int
    address: str


class AddressRegistry:
    """Allocates deposit addresses from watch-only wallets; engine URL chosen by the caller."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_schema(self) -> None:
        """Bring the ``keys_*`` tables to the latest migration (Alembic, own version table)."""
        from keeper.keys.migrate import upgrade

        upgrade(self.engine)

    def register_wallet(self, name: str, deriver: AddressDeriver) -> int:
        """Register a wallet by its public descriptor; private key material is refused."""
        desc = deriver.public_descriptor
        if any(m in desc for m in _PRIVATE_MARKERS):
            raise ValueError("the coordinator never stores private keys; give xpubs only")
        with Session(self.engine) as s, s.begin():
            row = HdWallet(name=name, chain=deriver.chain, public_descriptor=desc, next_index=0)
            s.add(row)
            s.flush()
            return row.id

    def _reserve(self, s: Session, name: str, count: int) -> tuple[int, int]:
        """Atomically bump ``next_index`` by ``count``; returns (wallet_id, first index)."""
        row = s.execute(
            update(HdWallet)
            .where(HdWallet.name == name)
            .values(next_index=HdWallet.next_index + count)
            .returning(HdWallet.id, HdWallet.next_index)
        ).one()
        return row.id, row.next_index - count

    def allocate(self, wallet: str, client_id: str, deriver: AddressDeriver) -> Allocation:
        """Hand out the next address of ``wallet`` to ``client_id``."""
        with Session(self.engine) as s, s.begin():
            wallet_id, index = self._reserve(s, wallet, 1)
            address = deriver.derive(index)
            s.add(
                DepositAddress(
                    wallet_id=wallet_id,
                    client_id=client_id,
                    child_index=index,
                    address=address,
                    created_at=datetime.now(UTC),
                )
            )
        return Allocation(client_id, wallet, index, address)

    def allocate_many(
        self,
        wallet: str,
        client_ids: Sequence[str],
        derive_many: object,
    ) -> int:
        """Bulk allocation (one address per client) in one transaction; returns first index.

        ``derive_many(start, count) -> list[str]`` derives the addresses.
        """
        now = datetime.now(UTC)
        with Session(self.engine) as s, s.begin():
            wallet_id, start = self._reserve(s, wallet, len(client_ids))
            addresses = derive_many(start, len(client_ids))  # type: ignore[operator]
            s.connection().execute(
                insert(DepositAddress.__table__),
                [
                    {
                        "wallet_id": wallet_id,
                        "client_id": cid,
                        "child_index": start + k,
                        "address": addr,
                        "created_at": now,
                    }
                    for k, (cid, addr) in enumerate(zip(client_ids, addresses, strict=True))
                ],
            )
        return start

    def addresses(self, wallet: str) -> list[tuple[int, str]]:
        """All (child_index, address) of a wallet, by index."""
        with Session(self.engine) as s:
            rows = s.execute(
                select(DepositAddress.child_index, DepositAddress.address)
                .join(HdWallet, HdWallet.id == DepositAddress.wallet_id)
                .where(HdWallet.name == wallet)
                .order_by(DepositAddress.child_index)
            ).all()
        return [(r[0], r[1]) for r in rows]

    def store_seed(self, name: str, seed: bytes, wrapper: SeedWrapper) -> None:
        """Wrap ``seed`` in the HSM, bound to ``name``, and persist it with its fingerprint."""
        fingerprint = ExtendedPrivateKey.from_seed(seed).fingerprint()
        self.store_wrapped_seed(name, fingerprint, wrapper.wrap(seed, aad=_seed_aad(name)))

    def load_seed(self, name: str, wrapper: SeedWrapper) -> bytes:
        """Unwrap the seed stored under ``name``; ``ValueError`` if its blob was altered, moved
        from another name, or does not match the stored master fingerprint."""
        with Session(self.engine) as s:
            row = s.execute(
                select(WrappedSeed.blob, WrappedSeed.master_fingerprint)
                .where(WrappedSeed.name == name)
            ).one()
        try:
            seed = wrapper.unwrap(row.blob, aad=_seed_aad(name))
        except pkcs11.PKCS11Error:
            raise ValueError(f"wrapped seed {name!r} fails authentication (altered or moved)") from None
        if ExtendedPrivateKey.from_seed(seed).fingerprint().hex() != row.master_fingerprint:
            raise ValueError(f"wrapped seed {name!r} does not match its stored fingerprint")
        return seed

    def store_wrapped_seed(self, name: str, fingerprint: bytes, blob: bytes) -> None:
        """Persist an HSM-wrapped cosigner seed."""
        with Session(self.engine) as s, s.begin():
            s.add(WrappedSeed(name=name, master_fingerprint=fingerprint.hex(), blob=blob))

    def load_wrapped_seed(self, name: str) -> bytes:
        """The wrapped blob (still encrypted)."""
        with Session(self.engine) as s:
            return s.execute(select(WrappedSeed.blob).where(WrappedSeed.name == name)).scalar_one()
