"""Console logins: create, disable, list and verify (Argon2id password hashes).

A login is either staff (one or more of :data:`STAFF_ROLES`; a signer may be linked to the
multisig owner address it signs as) or a client (role :data:`CLIENT`, bound to one client id:
its own data only). Every change is written with its audit record in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from eth_utils import is_address, to_checksum_address
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session

from keeper.audit import record_in
from keeper.clients import get_client
from keeper.console.models import ConsoleUser

SIGNER, COMPLIANCE, TREASURY, OPS, AUDITOR = "signer", "compliance", "treasury", "ops", "auditor"
STAFF_ROLES = frozenset({SIGNER, COMPLIANCE, TREASURY, OPS, AUDITOR})
CLIENT = "client"
# 56 at most: audit and compliance actor columns are 64 characters and hold "console:<login>"
_LOGIN = re.compile(r"[a-z0-9][a-z0-9._@-]{2,55}")
MIN_PASSWORD = 12
MAX_PASSWORD = 256  # Argon2 hashes anything; a bound keeps a login form from being a CPU sink
HASHER = PasswordHasher()  # Argon2id, RFC 9106 low-memory profile (argon2-cffi's defaults)
# verified against when the login is unknown, so a miss costs what a wrong password costs
_DUMMY_HASH = HASHER.hash("not a password: timing equaliser")
U = ConsoleUser.__table__


class ConsoleUserError(ValueError):
    """A user that cannot be created or changed as asked (the message says why)."""


@dataclass(frozen=True)
class User:
    """A console login as the console sees it (never its hash)."""

    id: int
    login: str
    roles: frozenset[str]
    client_id: str | None
    owner_address: str | None
    disabled: bool

    @property
    def actor(self) -> str:
        """Who this login is in every audit and domain record (``console:<login>``; a login is
        at most 56 characters so this fits the 64-character actor columns)."""
        return f"console:{self.login}"

    @property
    def is_client(self) -> bool:
        """A client login (its own data only), not staff."""
        return CLIENT in self.roles


def _user(row: ConsoleUser) -> User:
    return User(row.id, row.login, frozenset(row.roles.split()), row.client_id,
                row.owner_address, row.disabled)


def _now() -> datetime:
    return datetime.now(UTC)


def check_login(login: str) -> str:
    """``login`` lower-cased if it is a valid login name (3 to 56 of ``a-z 0-9 . _ @ -``)."""
    login = login.strip().lower()
    if not _LOGIN.fullmatch(login):
        raise ConsoleUserError("a login is 3 to 56 characters of a-z 0-9 . _ @ -")
    return login


def create_user(engine: Engine, login: str, password: str, roles: Iterable[str], *,
                client_id: str | None = None, owner_address: str | None = None,
                actor: str = "operator", clock: Callable[[], datetime] = _now) -> User:
    """Create a login. Staff: ``roles`` a non-empty subset of :data:`STAFF_ROLES`; client:
    ``roles == {"client"}`` and ``client_id`` an existing client. ``owner_address`` only for a
    signer. The password is at least :data:`MIN_PASSWORD` characters."""
    login = check_login(login)
    wanted = frozenset(roles)
    if not wanted:
        raise ConsoleUserError("a user needs at least one role")
    if CLIENT in wanted:
        if wanted != {CLIENT} or not client_id:
            raise ConsoleUserError("a client login has the role 'client' only and a client id")
    elif client_id is not None:
        raise ConsoleUserError("only a client login is bound to a client id")
    elif not wanted <= STAFF_ROLES:
        raise ConsoleUserError(f"unknown role(s): {', '.join(sorted(wanted - STAFF_ROLES))}")
    if owner_address is not None:
        if SIGNER not in wanted or not is_address(owner_address):
            raise ConsoleUserError("an owner address is a signer's, and a valid address")
        owner_address = to_checksum_address(owner_address)
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ConsoleUserError(f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if client_id is not None:
        with Session(engine) as s:
            if get_client(s, client_id) is None:
                raise ConsoleUserError(f"no client {client_id}")
    digest = HASHER.hash(password)
    with engine.connect().execution_options(ledger_write=True) as conn, conn.begin():
        if conn.execute(select(U.c.id).where(U.c.login == login)).first() is not None:
            raise ConsoleUserError(f"login {login} exists")
        uid = conn.execute(insert(U).values(
            login=login, password_hash=digest, roles=" ".join(sorted(wanted)),
            client_id=client_id, owner_address=owner_address, disabled=False,
            created_at=clock())).inserted_primary_key[0]
        record_in(conn, actor, "console.user.create", {"login": login},
                  {"roles": sorted(wanted), "client_id": client_id,
                   "owner_address": owner_address})
    return User(int(uid), login, wanted, client_id, owner_address, False)


def disable_user(engine: Engine, login: str, actor: str = "operator") -> bool:
    """Disable a login and end its sessions; ``False`` if there is no such login."""
    from keeper.console.sessions import revoke_all  # sessions import this module

    login = login.strip().lower()
    with engine.connect().execution_options(ledger_write=True) as conn, conn.begin():
        uid = conn.execute(select(U.c.id).where(U.c.login == login)).scalar_one_or_none()
        if uid is None:
            return False
        conn.execute(update(U).where(U.c.id == uid).values(disabled=True))
        ended = revoke_all(conn, uid, _now())
        record_in(conn, actor, "console.user.disable", {"login": login},
                  {"sessions_ended": ended})
    return True


def list_users(engine: Engine) -> list[User]:
    """Every login, by login name."""
    with Session(engine) as s:
        return [_user(r) for r in s.scalars(select(ConsoleUser).order_by(ConsoleUser.login))]


def get_user(engine: Engine, login: str) -> User | None:
    """The login ``login`` (any case), or ``None``."""
    with Session(engine) as s:
        row = s.scalars(select(ConsoleUser).where(
            ConsoleUser.login == login.strip().lower())).first()
        return None if row is None else _user(row)


def verify_password(engine: Engine, login: str, password: str) -> User | None:
    """The enabled user whose password ``password`` is, else ``None`` (unknown login, wrong
    password, disabled: the same answer and about the same time)."""
    user, digest = None, _DUMMY_HASH
    if len(password) <= MAX_PASSWORD and _LOGIN.fullmatch(login.strip().lower()):
        with Session(engine) as s:
            row = s.scalars(select(ConsoleUser).where(
                ConsoleUser.login == login.strip().lower())).first()
            if row is not None:
                user, digest = _user(row), row.password_hash
    try:
        HASHER.verify(digest, password[:MAX_PASSWORD])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return user if user is not None and not user.disabled else None
