"""SQLAlchemy 2 models of the client registry and its API keys (tables prefixed ``clients_``).

* ``clients_clients``: one row per institutional client: opaque id (UUID4), display name and the
  bytes32 ``client_ref`` its on-chain deposits carry (also registered in the ledger's registry).
* ``clients_api_keys``: API keys. Only the SHA-256 digest of a key is stored; the key itself is
  shown once when issued. ``key_id`` is the public, non-secret part of the key (it names the key in
  logs and for revocation). A revoked key keeps its row (audit trail) with ``revoked_at`` set.
* ``clients_profiles``: at most one row per client: status, KYC validity, ATLAS customer id
  (unique), country and per-client limit overrides.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keeper.schema import NAMING_CONVENTION


class ClientsBase(DeclarativeBase):
    """Declarative base of the clients schema (own MetaData; shares the database with others)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ClientRow(ClientsBase):
    """An institutional client."""

    __tablename__ = "clients_clients"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    client_ref: Mapped[str] = mapped_column(String(66), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKeyRow(ClientsBase):
    """An API key of one client: digest only, scopes space-separated."""

    __tablename__ = "clients_api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients_clients.id"), index=True)
    key_sha256: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(256))
    label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ProfileRow(ClientsBase):
    """A client's profile: status, KYC validity, core-banking identity, country, limit overrides.

    A client without a row has the default profile (see :mod:`keeper.clients.profile`). Limit
    overrides are integer USD cents; ``NULL`` means the Settings default applies.
    """

    __tablename__ = "clients_profiles"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients_clients.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    kyc_valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    bank_customer_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    buy_single_limit_cents: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    buy_daily_limit_cents: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sell_daily_limit_cents: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(200))
