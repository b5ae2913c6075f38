"""Console tables: staff and client logins (``console_users``) and their sessions
(``console_sessions``). Passwords are Argon2id hashes; a session row keeps the SHA-256 of the
session id (the cookie), never the id itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keeper.console.base import ConsoleBase


class ConsoleUser(ConsoleBase):
    """A console login: staff (``roles`` a space-separated subset of the staff roles, and for a
    signer the owner address it signs as) or a client (role ``client``, bound to ``client_id``)."""

    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    roles: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    owner_address: Mapped[str | None] = mapped_column(String(42), nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConsoleSession(ConsoleBase):
    """One login session: ended by logout (``revoked_at``), idleness or its absolute lifetime."""

    __tablename__ = "console_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
