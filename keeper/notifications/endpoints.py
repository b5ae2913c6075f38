"""Client webhook endpoints: register (secret shown once), list, delete; the delivery log.

The signing secret of an endpoint is never stored: it is ``HMAC-SHA256(master, salt)`` where
``master`` is the deployment's 0600 secret file :data:`MASTER_SECRET_FILE` under
``settings.secrets_dir`` (created on first use) and ``salt`` the endpoint's random salt. A copy of
the database alone signs nothing. Every function takes the authenticated client's id and reads
or changes only that client's rows: another client's endpoint id behaves as a missing one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select, update

from keeper.keys.secrets import read_private_file, write_secret_file
from keeper.notifications.models import AttemptRow, Delivery, DeliveryStatus, EndpointRow, OutboxRow
from keeper.notifications.targets import Resolver, check_url, system_resolver

MASTER_SECRET_FILE = Path("client-webhooks.secret")
MAX_ENDPOINTS = 10
_EP, _D, _A, _O = (EndpointRow.__table__, Delivery.__table__, AttemptRow.__table__,
                   OutboxRow.__table__)


class UnknownEndpoint(LookupError):  # noqa: N818 - reads as what happened
    """No such endpoint of this client (missing and someone else's read the same)."""


class TooManyEndpoints(ValueError):  # noqa: N818 - reads as what happened
    """The client already has :data:`MAX_ENDPOINTS` active endpoints."""


def master_secret(secrets_dir: Path) -> bytes:
    """The master signing secret (created, 0600, on first use; refused when not private)."""
    path = Path(secrets_dir) / MASTER_SECRET_FILE
    try:
        write_secret_file(path, nbytes=32)
    except FileExistsError:  # another process created it between our check and our write
        pass
    return read_private_file(path).encode()


def endpoint_secret(master: bytes, salt: str) -> str:
    """The signing secret of the endpoint with ``salt`` (``whsec_`` + hex)."""
    return "whsec_" + hmac.new(master, salt.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A client's webhook endpoint (no secret)."""

    id: str
    url: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CreatedEndpoint:
    """A new endpoint and its signing secret: the only time the secret is shown."""

    endpoint: Endpoint
    secret: str


@dataclass(frozen=True, slots=True)
class AttemptLog:
    """One delivery attempt as its client sees it."""

    delivery_id: int
    event_id: str
    event: str
    attempt: int
    status_code: int | None
    latency_ms: int
    error: str | None
    at: datetime
    delivery_status: str


def _endpoint(row: object) -> Endpoint:
    return Endpoint(row.id, row.url, row.created_at)  # type: ignore[attr-defined]


def create_endpoint(engine: Engine, client_id: str, url: str, *, master: bytes,
                    allow_loopback: bool = False, resolve: Resolver = system_resolver,
                    now: datetime | None = None) -> CreatedEndpoint:
    """Register ``url`` for ``client_id`` after the SSRF check (:func:`check_url`); raises
    :class:`~keeper.notifications.targets.TargetRefused` or :class:`TooManyEndpoints`."""
    check_url(url, allow_loopback=allow_loopback, resolve=resolve)
    now = now or datetime.now(UTC)
    ep = Endpoint("we_" + secrets.token_hex(12), url, now)
    salt = secrets.token_hex(32)
    # counts then inserts: the write lock first (BEGIN IMMEDIATE on SQLite), so a commit landing
    # between the count and the insert cannot fail it with "database is locked"
    with engine.execution_options(ledger_write=True).begin() as conn:
        count = conn.scalar(select(func.count()).select_from(_EP).where(
            _EP.c.client_id == client_id, _EP.c.active.is_(True)))
        if count >= MAX_ENDPOINTS:
            raise TooManyEndpoints(f"at most {MAX_ENDPOINTS} webhook endpoints per client")
        conn.execute(_EP.insert().values(id=ep.id, client_id=client_id, url=url, salt=salt,
                                         active=True, created_at=now))
    return CreatedEndpoint(ep, endpoint_secret(master, salt))


def list_endpoints(engine: Engine, client_id: str) -> list[Endpoint]:
    """The client's active endpoints, oldest first."""
    with engine.connect() as conn:
        return [_endpoint(r) for r in conn.execute(
            select(_EP).where(_EP.c.client_id == client_id, _EP.c.active.is_(True))
            .order_by(_EP.c.created_at, _EP.c.id))]


def get_endpoint(engine: Engine, client_id: str, endpoint_id: str) -> Endpoint:
    """The client's active endpoint ``endpoint_id`` or :class:`UnknownEndpoint`."""
    with engine.connect() as conn:
        row = conn.execute(select(_EP).where(_EP.c.id == endpoint_id, _EP.c.client_id == client_id,
                                             _EP.c.active.is_(True))).one_or_none()
    if row is None:
        raise UnknownEndpoint(endpoint_id)
    return _endpoint(row)


def delete_endpoint(engine: Engine, client_id: str, endpoint_id: str,
                    now: datetime | None = None) -> None:
    """Deactivate the client's endpoint; its undelivered events are dead-lettered (nothing more
    is sent to it). :class:`UnknownEndpoint` when it is not this client's active endpoint."""
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        done = conn.execute(update(_EP).where(
            _EP.c.id == endpoint_id, _EP.c.client_id == client_id, _EP.c.active.is_(True))
            .values(active=False, deleted_at=now)).rowcount
        if not done:
            raise UnknownEndpoint(endpoint_id)
        conn.execute(update(_D).where(
            _D.c.endpoint_id == endpoint_id,
            _D.c.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]))
            .values(status=DeliveryStatus.DEAD, last_error="endpoint deleted"))


def delivery_log(engine: Engine, client_id: str, endpoint_id: str, *,
                 limit: int = 100) -> list[AttemptLog]:
    """The newest ``limit`` attempts to the client's endpoint ``endpoint_id`` (deleted ones
    included); :class:`UnknownEndpoint` when it is not this client's."""
    with engine.connect() as conn:
        owner = conn.scalar(select(_EP.c.client_id).where(_EP.c.id == endpoint_id))
        if owner != client_id:
            raise UnknownEndpoint(endpoint_id)
        rows = conn.execute(
            select(_A.c.delivery_id, _O.c.event_id, _O.c.event, _A.c.attempt, _A.c.status_code,
                   _A.c.latency_ms, _A.c.error, _A.c.at, _D.c.status)
            .join(_D, _D.c.id == _A.c.delivery_id).join(_O, _O.c.id == _D.c.outbox_id)
            .where(_D.c.endpoint_id == endpoint_id, _D.c.client_id == client_id)
            .order_by(_A.c.id.desc()).limit(limit))
        return [AttemptLog(*r) for r in rows]
