"""Console sessions in the database.

The session id is 256 random bits (the cookie); the table keeps its SHA-256 only, so a read of
the database cannot hijack a session. A session ends at logout (revoked), after
``idle_minutes`` without a request, or :data:`ABSOLUTE_HOURS` after login, whichever comes
first; a login always makes a new id (no fixation). Each session has its own CSRF token.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, insert, select, update

from keeper.audit import record_in
from keeper.console.models import ConsoleSession, ConsoleUser
from keeper.console.users import User, _user
from keeper.ledger import utc

ABSOLUTE_HOURS = 8
TOUCH_EVERY = timedelta(seconds=30)  # last_seen is written at most this often per session
S, U = ConsoleSession.__table__, ConsoleUser.__table__


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class Active:
    """A live session: its user and its CSRF token."""

    user: User
    csrf_token: str
    id_hash: str


def revoke_all(conn: Connection, user_id: int, now: datetime) -> int:
    """End every open session of ``user_id`` in ``conn``'s transaction; how many."""
    return conn.execute(update(S).where(S.c.user_id == user_id, S.c.revoked_at.is_(None))
                        .values(revoked_at=now)).rowcount


class SessionStore:
    """Create, resolve and end console sessions (``idle_minutes`` from the settings)."""

    def __init__(self, engine: Engine, idle_minutes: int,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine = engine
        self.idle = timedelta(minutes=idle_minutes)
        self.lifetime = timedelta(hours=ABSOLUTE_HOURS)
        self.clock = clock

    def create(self, user: User, address: str, replaces: str | None = None) -> tuple[str, str]:
        """A new session of ``user`` (the one named ``replaces`` ends: rotation at login);
        returns ``(session id, csrf token)``. Audited ``console.login``."""
        sid, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), self.clock()
        with self.engine.connect().execution_options(ledger_write=True) as conn, conn.begin():
            if replaces:
                conn.execute(update(S).where(S.c.id_hash == _digest(replaces),
                                             S.c.revoked_at.is_(None)).values(revoked_at=now))
            conn.execute(insert(S).values(id_hash=_digest(sid), user_id=user.id, csrf_token=csrf,
                                          created_at=now, last_seen=now, revoked_at=None))
            record_in(conn, user.actor, "console.login", {"address": address[:64]},
                      {"roles": sorted(user.roles)})
        return sid, csrf

    def resolve(self, session_id: str | None) -> Active | None:
        """The live session ``session_id`` names (its last-seen time moved on), else ``None``."""
        if not session_id or len(session_id) > 128:
            return None
        h, now = _digest(session_id), self.clock()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(S.c.user_id, S.c.csrf_token, S.c.created_at, S.c.last_seen,
                       S.c.revoked_at, U.c.login, U.c.roles, U.c.client_id, U.c.owner_address,
                       U.c.disabled).join(U, U.c.id == S.c.user_id)
                .where(S.c.id_hash == h)).first()
        if row is None or row.revoked_at is not None or row.disabled:
            return None
        last, created = utc(row.last_seen), utc(row.created_at)
        if now - last > self.idle or now - created > self.lifetime:
            return None
        if now - last > TOUCH_EVERY:
            with self.engine.connect().execution_options(ledger_write=True) as conn, \
                    conn.begin():
                conn.execute(update(S).where(S.c.id_hash == h).values(last_seen=now))
        user = _user(ConsoleUser(id=row.user_id, login=row.login, roles=row.roles,
                                 client_id=row.client_id, owner_address=row.owner_address,
                                 disabled=row.disabled))
        return Active(user, row.csrf_token, h)

    def revoke(self, active: Active) -> None:
        """End the session (logout). Audited ``console.logout``."""
        with self.engine.connect().execution_options(ledger_write=True) as conn, conn.begin():
            conn.execute(update(S).where(S.c.id_hash == active.id_hash)
                         .values(revoked_at=self.clock()))
            record_in(conn, active.user.actor, "console.logout", {}, None)
