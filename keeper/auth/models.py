"""SQLAlchemy 2 models of the auth schema (tables prefixed ``auth_``).

* ``auth_oauth_clients``: OAuth2 client-credentials clients. Each belongs to one Strongroom client
  (``keeper.clients``; referenced by id, no foreign key across domains) and holds the scopes it may
  request. Only the SHA-256 digest of the secret is stored; a revoked client keeps its row.
* ``auth_signing_keys``: the JWT signing keys by ``kid``. The key material is a 0600 file under
  ``settings.secrets_dir`` (never in the database); the row says when it was created and retired.
* ``auth_rate_limits``: one fixed-window counter per bucket (``client:<id>`` or ``ip:<addr>``),
  updated with one upsert per request, shared by every API process on the database.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keeper.schema import NAMING_CONVENTION


class AuthBase(DeclarativeBase):
    """Declarative base of the auth schema (own MetaData; shares the database with others)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class OAuthClientRow(AuthBase):
    """An OAuth2 client of one Strongroom client: secret digest only, scopes space-separated."""

    __tablename__ = "auth_oauth_clients"

    oauth_client_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36), index=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(256))
    label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SigningKeyRow(AuthBase):
    """A JWT signing key's identity and life; the secret is the file ``auth-jwt-<kid>.key``."""

    __tablename__ = "auth_signing_keys"

    kid: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RateLimitRow(AuthBase):
    """Requests counted in the current window (``window`` = epoch minute) of one bucket."""

    __tablename__ = "auth_rate_limits"

    bucket: Mapped[str] = mapped_column(String(100), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
