"""OAuth2 clients (client-credentials grant) of Strongroom clients: create, revoke, authenticate.

Functions that write commit the session they are given. An OAuth client id is
``oc_<16 hex>`` (public: it names the client in logs and tokens); its secret is 32 random bytes,
base64url, shown once when created; only its SHA-256 digest is stored (256 bits of randomness:
nothing to brute-force, so a fast hash suffices, as for API keys). :func:`authenticate_client`
always hashes and compares in constant time (against a dummy digest for an unknown id) and returns
``None`` for every failure, so a caller cannot tell which check failed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from keeper.auth.models import OAuthClientRow
from keeper.clients import SCOPES, InvalidScope, UnknownClient, get_client
from keeper.ledger.domain import utc

OAUTH_CLIENT_ID = re.compile(r"oc_[0-9a-f]{16}")
_MAX_SECRET_LEN = 128
_DUMMY_DIGEST = hashlib.sha256(b"strongroom: no such oauth client").hexdigest()


class UnknownOAuthClient(LookupError):  # noqa: N818 - domain names read better
    """No OAuth client with that id."""


@dataclass(frozen=True, slots=True)
class IssuedOAuthClient:
    """A freshly created OAuth client. ``client_secret`` is shown once: never store or log it."""

    oauth_client_id: str
    client_id: str
    scopes: tuple[str, ...]
    client_secret: str


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """An OAuth client's metadata (never its secret)."""

    oauth_client_id: str
    client_id: str
    scopes: tuple[str, ...]
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _info(row: OAuthClientRow) -> OAuthClient:
    return OAuthClient(row.oauth_client_id, row.client_id, tuple(row.scopes.split()), row.label,
                       utc(row.created_at), utc(row.revoked_at))  # type: ignore[arg-type]


def create_oauth_client(session: Session, client_id: str, scopes: Iterable[str],
                        label: str | None = None) -> IssuedOAuthClient:
    """Create an OAuth client of Strongroom client ``client_id`` granted ``scopes``.

    Raises ``InvalidScope`` (unknown or no scopes) or ``UnknownClient``.
    """
    wanted = tuple(sorted(set(scopes)))
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown or not wanted:
        raise InvalidScope(f"unknown or missing scopes {unknown}; known: {sorted(SCOPES)}")
    if get_client(session, client_id) is None:
        raise UnknownClient(f"no client {client_id!r}")
    oauth_id = f"oc_{secrets.token_hex(8)}"
    secret = secrets.token_urlsafe(32)
    session.add(OAuthClientRow(
        oauth_client_id=oauth_id, client_id=client_id, secret_sha256=_digest(secret),
        scopes=" ".join(wanted), label=label, created_at=datetime.now(UTC)))
    session.commit()
    return IssuedOAuthClient(oauth_id, client_id, wanted, secret)


def revoke_oauth_client(session: Session, oauth_client_id: str) -> bool:
    """Revoke an OAuth client (its tokens stop working at once); True if revoked now, False if
    it already was. Raises :class:`UnknownOAuthClient`."""
    # the write comes first: on SQLite a read snapshot cannot be upgraded to a write once another
    # connection has committed (an immediate "database is locked")
    done = session.execute(update(OAuthClientRow).where(
        OAuthClientRow.oauth_client_id == oauth_client_id, OAuthClientRow.revoked_at.is_(None),
    ).values(revoked_at=datetime.now(UTC))).rowcount > 0
    session.commit()
    if not done and session.get(OAuthClientRow, oauth_client_id) is None:
        raise UnknownOAuthClient(f"no OAuth client {oauth_client_id!r}")
    return done


def list_oauth_clients(session: Session, client_id: str) -> list[OAuthClient]:
    """Every OAuth client of ``client_id`` (revoked ones included), oldest first."""
    rows = session.scalars(select(OAuthClientRow).where(OAuthClientRow.client_id == client_id)
                           .order_by(OAuthClientRow.created_at))
    return [_info(r) for r in rows]


def active_oauth_client(session: Session, oauth_client_id: str) -> OAuthClient | None:
    """The OAuth client ``oauth_client_id`` if it exists and is not revoked, else ``None``."""
    row = session.get(OAuthClientRow, oauth_client_id) \
        if OAUTH_CLIENT_ID.fullmatch(oauth_client_id) else None
    return _info(row) if row is not None and row.revoked_at is None else None


def authenticate_client(session: Session, oauth_client_id: str | None,
                        secret: str | None) -> OAuthClient | None:
    """The active OAuth client these credentials stand for, or ``None`` (see module docstring)."""
    oid, presented = (oauth_client_id or "")[:64], (secret or "")[:_MAX_SECRET_LEN]
    row = session.get(OAuthClientRow, oid) if OAUTH_CLIENT_ID.fullmatch(oid) else None
    stored = row.secret_sha256 if row is not None else _DUMMY_DIGEST
    valid = hmac.compare_digest(_digest(presented).encode(), stored.encode())
    if not valid or row is None or row.revoked_at is not None:
        return None
    return _info(row)
