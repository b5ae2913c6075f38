"""Clients and their API keys: create clients, issue, revoke and authenticate keys.

Functions that write commit the session they are given; give them a session with no open
transaction (on SQLite in WAL mode a stale read snapshot cannot be upgraded to a write).

Key format: ``sr_<key_id>_<secret>``. ``key_id`` is 8 random bytes in hex (public: it names the key
in logs and for revocation); ``secret`` is 32 random bytes, base64url without padding. The whole
key is shown once, when issued; only its SHA-256 digest is stored. A key carries 256 bits of
randomness, so a fast unsalted hash is sufficient (there is nothing to brute-force); a slow password
hash would only slow every request down.

:func:`authenticate` always hashes and always compares digests with :func:`hmac.compare_digest`
(against a dummy digest when the key id is unknown) and returns ``None`` for every kind of failure,
so a caller cannot tell a malformed key from an unknown, wrong or revoked one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from keeper.clients.errors import InvalidScope, UnknownClient, UnknownKey
from keeper.clients.models import ApiKeyRow, ClientRow
from keeper.ledger import Ledger, normalise_ref
from keeper.ledger.domain import utc

CLIENT_READ = "customer:read"  # read the client's own data (was "client:read")
CUSTOMER_TRADE = "customer:trade"
PARTNER = "partner"
COREBANKING = "corebanking"
SIGNER = "signer"
OPS = "ops"
SCOPES: dict[str, str] = {
    CLIENT_READ: "Read the client's own record, balances, statements and deposit instructions.",
    CUSTOMER_TRADE: "Place the client's own buy, sell, transfer and withdrawal orders.",
    PARTNER: "Partner institution calls (partner custody).",
    COREBANKING: "Core banking calls (deposit notices); the bank's own system, not a customer.",
    SIGNER: "Multisig signers' calls beyond what Safe tooling sends unauthenticated.",
    OPS: "The bank's operations staff.",
}
DEFAULT_SCOPES: tuple[str, ...] = (CLIENT_READ,)

_PREFIX = "sr"
_TOKEN = re.compile(r"sr_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_MAX_TOKEN_LEN = 128
_DUMMY_DIGEST = hashlib.sha256(b"strongroom: no such key").hexdigest()


@dataclass(frozen=True, slots=True)
class Client:
    """An institutional client."""

    id: str
    name: str
    client_ref: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly issued key. ``api_key`` is the secret: show it once, never store or log it."""

    key_id: str
    client_id: str
    scopes: tuple[str, ...]
    api_key: str


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """Metadata of a key (never the key itself)."""

    key_id: str
    client_id: str
    scopes: tuple[str, ...]
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who an authenticated request acts for: the key's client and the key's scopes."""

    client: Client
    key_id: str
    scopes: frozenset[str]


def key_digest(api_key: str) -> str:
    """Hex SHA-256 of a key, the only form in which keys are stored."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def _client(row: ClientRow | Row) -> Client:
    """A client from its stored row (an ORM row, or a Core row with the same column names)."""
    return Client(row.id, row.name, row.client_ref, utc(row.created_at))  # type: ignore[arg-type]


def _key_info(row: ApiKeyRow) -> ApiKeyInfo:
    revoked = utc(row.revoked_at)
    return ApiKeyInfo(row.key_id, row.client_id, tuple(row.scopes.split()), row.label,
                      utc(row.created_at), revoked)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- clients
def create_client(session: Session, ledger: Ledger, name: str) -> Client:
    """Create a client with a fresh bytes32 ``client_ref`` registered in the ledger.

    The reference is registered in the ledger first: if that fails nothing is created; if the
    client insert then fails, an unused reference is left mapped to an id nobody holds (harmless).
    """
    name = name.strip()
    if not name or len(name) > 200:
        raise ValueError("client name must be 1 to 200 characters")
    client_id = str(uuid.uuid4())
    client_ref = normalise_ref(secrets.token_bytes(32))
    ledger.register_client_ref(client_ref, client_id)
    row = ClientRow(id=client_id, name=name, client_ref=client_ref, created_at=datetime.now(UTC))
    client = _client(row)  # built before commit: no refresh (and no new read snapshot) after it
    session.add(row)
    session.commit()
    return client


def get_client(session: Session, client_id: str) -> Client | None:
    """The client with ``client_id``, or ``None``."""
    row = session.get(ClientRow, client_id)
    return _client(row) if row is not None else None


def visible_client(principal: Principal, client_id: str) -> Client | None:
    """Client ``client_id`` as seen by ``principal``: its own record, or ``None`` for any other.

    Someone else's client and a nonexistent one are indistinguishable (no probing of ids).
    """
    return principal.client if client_id == principal.client.id else None


def list_clients(session: Session) -> list[Client]:
    """Every client, oldest first."""
    rows = session.scalars(select(ClientRow).order_by(ClientRow.created_at, ClientRow.id))
    return [_client(r) for r in rows]


# ----------------------------------------------------------------------------- keys
def issue_key(
    session: Session,
    client_id: str,
    scopes: Iterable[str] = DEFAULT_SCOPES,
    label: str | None = None,
) -> IssuedKey:
    """Issue a new key for ``client_id``; the returned ``api_key`` is never retrievable again."""
    wanted = tuple(sorted(set(scopes)))
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown or not wanted:
        raise InvalidScope(f"unknown or missing scopes {unknown}; known: {sorted(SCOPES)}")
    if session.get(ClientRow, client_id) is None:
        raise UnknownClient(f"no client {client_id!r}")
    key_id = secrets.token_hex(8)
    api_key = f"{_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    session.add(ApiKeyRow(
        key_id=key_id, client_id=client_id, key_sha256=key_digest(api_key),
        scopes=" ".join(wanted), label=label, created_at=datetime.now(UTC),
    ))
    session.commit()
    return IssuedKey(key_id, client_id, wanted, api_key)


def revoke_key(session: Session, key_id: str) -> bool:
    """Revoke a key; True if revoked now, False if it already was. Raises ``UnknownKey``."""
    row = session.get(ApiKeyRow, key_id)
    if row is None:
        raise UnknownKey(f"no key {key_id!r}")
    if row.revoked_at is not None:
        return False
    row.revoked_at = datetime.now(UTC)
    session.commit()
    return True


def list_keys(session: Session, client_id: str) -> list[ApiKeyInfo]:
    """Metadata of every key of ``client_id`` (revoked ones included), oldest first."""
    rows = session.scalars(
        select(ApiKeyRow).where(ApiKeyRow.client_id == client_id).order_by(ApiKeyRow.created_at)
    )
    return [_key_info(r) for r in rows]


def authenticate(session: Session, api_key: str | None) -> Principal | None:
    """The principal a presented key stands for, or ``None`` (malformed, unknown, wrong, revoked).

    Every well-formed key costs one lookup by key id, one digest and one constant-time comparison
    whether or not the id exists; the result never says which check failed.
    """
    presented = (api_key or "")[:_MAX_TOKEN_LEN]
    match = _TOKEN.fullmatch(presented)
    digest = key_digest(presented)
    row = session.execute(_KEY_AND_CLIENT, {"key_id": match.group(1)}).first() if match else None
    stored = row.key_sha256 if row is not None else _DUMMY_DIGEST
    valid = hmac.compare_digest(digest.encode(), stored.encode())
    if not valid or row is None or row.revoked_at is not None or row.id is None:
        return None
    return Principal(_client(row), row.key_id, frozenset(row.scopes.split()))


_KEY = ApiKeyRow.__table__.c
_CLIENT = ClientRow.__table__.c
#: a key and its client in one read (Core, built once): API keys are checked on every cache miss
#: of every API worker, and a check with two ORM loads cost 230 us against 92 us with this
_KEY_AND_CLIENT = (
    select(_KEY.key_id, _KEY.key_sha256, _KEY.scopes, _KEY.revoked_at, _CLIENT.id, _CLIENT.name,
           _CLIENT.client_ref, _CLIENT.created_at)
    .select_from(ApiKeyRow.__table__.outerjoin(ClientRow.__table__,
                                               _CLIENT.id == _KEY.client_id))
    .where(_KEY.key_id == bindparam("key_id")))
