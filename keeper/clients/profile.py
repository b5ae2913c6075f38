"""Client profiles: status, KYC validity, core-banking identity, country and limit overrides.

Every function takes ``target``: a :class:`~sqlalchemy.orm.Session` (writes commit it; a refused
write rolls it back), an :class:`~sqlalchemy.Engine` (one transaction of its own) or a
:class:`~sqlalchemy.Connection` (the caller's open transaction: nothing is committed here, the
change and its audit record commit with the caller's work).

A client without a stored profile has the default one: ``active``, no KYC validity (so it may
not trade: :meth:`ClientProfile.refusal`), no bank customer id, no country, Settings limits.
Every change is written with an audit record (``clients.profile.set``, ``clients.status.<new>``)
in the same transaction. A refused change (bad value, taken bank customer id, closed client)
changes nothing. ``closed`` is final.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, TypeGuard

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keeper.audit import record_in
from keeper.clients.errors import (
    DuplicateBankCustomer,
    InvalidProfile,
    InvalidStatusChange,
    ProfileConflict,
    UnknownClient,
)
from keeper.clients.models import ClientRow, ProfileRow
from keeper.config import Settings
from keeper.ledger.domain import utc

ACTIVE: Final = "active"
SUSPENDED: Final = "suspended"
CLOSED: Final = "closed"
STATUSES: Final = (ACTIVE, SUSPENDED, CLOSED)
LIMIT_FIELDS: Final = ("buy_single_limit_cents", "buy_daily_limit_cents", "sell_daily_limit_cents")
MAX_LIMIT_CENTS: Final = 10**15  # $10 trillion: far above any real limit, far below BIGINT
_BANK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_TABLE = ProfileRow.__table__


class _Unset:
    """Marker of a field :func:`set_profile` leaves as it is (``None`` clears a field)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()
Target = Session | Engine | Connection


@dataclass(frozen=True, slots=True)
class ClientProfile:
    """A client's profile. Limits are USD cents; ``None`` means the Settings default."""

    client_id: str
    status: str = ACTIVE
    status_reason: str | None = None
    kyc_valid_until: date | None = None
    bank_customer_id: str | None = None
    country: str | None = None
    buy_single_limit_cents: int | None = None
    buy_daily_limit_cents: int | None = None
    sell_daily_limit_cents: int | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None

    def refusal(self, on: date) -> str | None:
        """Why the client may not move money on ``on`` (UTC date), or ``None`` if it may."""
        if self.status != ACTIVE:
            return f"client is {self.status}"
        if self.kyc_valid_until is None:
            return "client has no valid KYC"
        if on > self.kyc_valid_until:
            return f"client KYC expired on {self.kyc_valid_until.isoformat()}"
        return None

    def may_trade(self, on: date) -> bool:
        """True if the client is active with KYC valid on ``on``."""
        return self.refusal(on) is None


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits in force for one client, USD cents."""

    buy_single_cents: int
    buy_daily_cents: int
    sell_daily_cents: int


def effective_limits(profile: ClientProfile, settings: Settings) -> Limits:
    """The client's limits: its overrides where set, else the Settings defaults."""

    def pick(override: int | None, default: int) -> int:
        return default if override is None else override

    return Limits(
        pick(profile.buy_single_limit_cents, settings.buy_single_limit_cents),
        pick(profile.buy_daily_limit_cents, settings.buy_daily_limit_cents),
        pick(profile.sell_daily_limit_cents, settings.sell_daily_limit_cents),
    )


# ----------------------------------------------------------------------------- transactions
@contextmanager
def _tx(target: Target) -> Iterator[Connection]:
    """A connection in a transaction that commits on success (Session/Engine) or is the caller's."""
    if isinstance(target, Connection):
        yield target
    elif isinstance(target, Session):
        try:
            yield target.connection()
            target.commit()
        except BaseException:
            target.rollback()
            raise
    else:
        with target.begin() as conn:
            yield conn


@contextmanager
def _read(target: Target) -> Iterator[Connection]:
    if isinstance(target, Connection):
        yield target
    elif isinstance(target, Session):
        yield target.connection()
    else:
        with target.connect() as conn:
            yield conn


def _profile(row: Any) -> ClientProfile:
    m = row._mapping
    return ClientProfile(
        client_id=m["client_id"], status=m["status"], status_reason=m["status_reason"],
        kyc_valid_until=m["kyc_valid_until"], bank_customer_id=m["bank_customer_id"],
        country=m["country"], buy_single_limit_cents=m["buy_single_limit_cents"],
        buy_daily_limit_cents=m["buy_daily_limit_cents"],
        sell_daily_limit_cents=m["sell_daily_limit_cents"], updated_at=utc(m["updated_at"]),
        updated_by=m["updated_by"],
    )


def _well_formed(client_id: object) -> TypeGuard[str]:
    """Whether ``client_id`` can name a client at all (1-36 characters of text)."""
    return isinstance(client_id, str) and 0 < len(client_id) <= 36


def _load(conn: Connection, client_id: object) -> ClientProfile | None:
    """The stored or default profile of ``client_id``; ``None`` if there is no such client."""
    if not _well_formed(client_id):
        return None
    row = conn.execute(select(_TABLE).where(_TABLE.c.client_id == client_id)).first()
    if row is not None:
        return _profile(row)
    known = conn.execute(select(ClientRow.id).where(ClientRow.id == client_id)).first()
    return ClientProfile(client_id) if known is not None else None


def get_profile(target: Target, client_id: str) -> ClientProfile:
    """The profile of ``client_id`` (the default one if never set). Raises ``UnknownClient``."""
    with _read(target) as conn:
        profile = _load(conn, client_id)
    if profile is None:
        raise UnknownClient(f"no client {client_id!r}")
    return profile


_CHUNK = 500  # ids per IN (...) query


def get_profiles(target: Target, client_ids: Iterable[object]) -> dict[str, ClientProfile]:
    """:func:`get_profile` of many clients in one query per 500 ids: ``{client_id: profile}``
    (the default profile where none was set); unknown and malformed ids are left out."""
    ids = sorted({c for c in client_ids if _well_formed(c)})
    found: dict[str, ClientProfile] = {}
    with _read(target) as conn:
        for n in range(0, len(ids), _CHUNK):
            part = ids[n:n + _CHUNK]
            found.update((r.client_id, _profile(r)) for r in
                         conn.execute(select(_TABLE).where(_TABLE.c.client_id.in_(part))))
            rest = [c for c in part if c not in found]
            if rest:
                found.update((c, ClientProfile(c)) for c in conn.scalars(
                    select(ClientRow.id).where(ClientRow.id.in_(rest))))
    return found


def client_for_bank_customer(target: Target, bank_customer_id: str) -> ClientProfile | None:
    """The profile holding core-banking customer id ``bank_customer_id``, or ``None``.

    Any malformed id (wrong type, length or characters) is simply not found."""
    if not isinstance(bank_customer_id, str) or not _BANK_ID.fullmatch(bank_customer_id):
        return None
    with _read(target) as conn:
        row = conn.execute(
            select(_TABLE).where(_TABLE.c.bank_customer_id == bank_customer_id)).first()
    return _profile(row) if row is not None else None


def list_profiles(target: Target) -> list[tuple[str, str, ClientProfile]]:
    """``(client_id, name, profile)`` of every client (default profiles included), oldest first."""
    clients = ClientRow.__table__
    stmt = (select(clients.c.id, clients.c.name, _TABLE)
            .outerjoin(_TABLE, _TABLE.c.client_id == clients.c.id)
            .order_by(clients.c.created_at, clients.c.id))
    out: list[tuple[str, str, ClientProfile]] = []
    with _read(target) as conn:
        for row in conn.execute(stmt):
            m = row._mapping
            prof = _profile(row) if m["status"] is not None else ClientProfile(m["id"])
            out.append((m["id"], m["name"], prof))
    return out


# ----------------------------------------------------------------------------- validation
def _text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidProfile(f"{what} must be 1 to {limit} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidProfile(f"{what} must not contain control characters")
    return value.strip()


def _checked(field: str, value: object) -> object:
    """The stored form of ``value`` for ``field``; raises ``InvalidProfile``."""
    if value is None:
        return None
    if field == "kyc_valid_until":
        if not isinstance(value, date) or isinstance(value, datetime):
            raise InvalidProfile("kyc_valid_until must be a date")
        return value
    if field == "bank_customer_id":
        if not isinstance(value, str) or not _BANK_ID.fullmatch(value.strip()):
            raise InvalidProfile("bank_customer_id must be 1-64 of A-Z a-z 0-9 . _ : -")
        return value.strip()
    if field == "country":
        if not isinstance(value, str) or not _COUNTRY.fullmatch(value.strip().upper()):
            raise InvalidProfile("country must be an ISO 3166-1 alpha-2 code")
        return value.strip().upper()
    if type(value) is not int or not 0 <= value <= MAX_LIMIT_CENTS:
        raise InvalidProfile(f"{field} must be an integer number of cents, 0 to {MAX_LIMIT_CENTS}")
    return value


def _jsonable(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


# ----------------------------------------------------------------------------- writes
def _write(conn: Connection, current: ClientProfile, stored: bool, values: dict[str, object],
           actor: str) -> ClientProfile:
    now = datetime.now(UTC)
    values = {**values, "updated_at": now, "updated_by": actor}
    try:
        with conn.begin_nested():
            if stored:
                conn.execute(update(_TABLE).where(_TABLE.c.client_id == current.client_id)
                             .values(**values))
            else:
                base = {f: getattr(current, f) for f in ("status", "status_reason",
                                                          "kyc_valid_until", "bank_customer_id",
                                                          "country", *LIMIT_FIELDS)}
                conn.execute(insert(_TABLE).values(client_id=current.client_id,
                                                   **{**base, **values}))
    except IntegrityError as exc:
        raise ProfileConflict("profile changed concurrently or bank customer id taken; "
                              "nothing was changed, retry") from exc
    result = _load(conn, current.client_id)
    assert result is not None
    return result


def _existing(conn: Connection, client_id: str) -> tuple[ClientProfile, bool]:
    current = _load(conn, client_id)
    if current is None:
        raise UnknownClient(f"no client {client_id!r}")
    return current, current.updated_at is not None


def set_profile(target: Target, client_id: str, *, actor: str,
                kyc_valid_until: date | None | _Unset = UNSET,
                bank_customer_id: str | None | _Unset = UNSET,
                country: str | None | _Unset = UNSET,
                buy_single_limit_cents: int | None | _Unset = UNSET,
                buy_daily_limit_cents: int | None | _Unset = UNSET,
                sell_daily_limit_cents: int | None | _Unset = UNSET) -> ClientProfile:
    """Set the given profile fields of ``client_id`` (``None`` clears one; omitted ones stay).

    Audited as ``clients.profile.set`` with the changed fields. Raises ``UnknownClient``,
    ``InvalidProfile``, ``DuplicateBankCustomer``, ``InvalidStatusChange`` (closed client) or
    ``ProfileConflict``; each leaves everything as it was.
    """
    actor = _text(actor, "actor", 200)
    asked = {"kyc_valid_until": kyc_valid_until, "bank_customer_id": bank_customer_id,
             "country": country, "buy_single_limit_cents": buy_single_limit_cents,
             "buy_daily_limit_cents": buy_daily_limit_cents,
             "sell_daily_limit_cents": sell_daily_limit_cents}
    wanted = {f: _checked(f, v) for f, v in asked.items() if not isinstance(v, _Unset)}
    with _tx(target) as conn:
        current, stored = _existing(conn, client_id)
        if current.status == CLOSED:
            raise InvalidStatusChange("a closed client's profile cannot change")
        changes = {f: v for f, v in wanted.items() if getattr(current, f) != v}
        if not changes:
            return current
        bank_id = changes.get("bank_customer_id")
        if bank_id is not None:
            holder = conn.execute(select(_TABLE.c.client_id)
                                  .where(_TABLE.c.bank_customer_id == bank_id)).first()
            if holder is not None:
                raise DuplicateBankCustomer("bank customer id already belongs to another client")
        profile = _write(conn, current, stored, changes, actor)
        record_in(conn, actor, "clients.profile.set",
                  {"client": client_id, **{f: _jsonable(v) for f, v in changes.items()}}, "ok")
        return profile


def set_status(target: Target, client_id: str, status: str, reason: str,
               actor: str) -> ClientProfile:
    """Move ``client_id`` to ``status`` (active, suspended, closed) with a reason; audited as
    ``clients.status.<status>``. ``closed`` is final. Setting the current status again is a no-op.
    """
    if status not in STATUSES:
        raise InvalidProfile(f"status must be one of {', '.join(STATUSES)}")
    reason = _text(reason, "reason", 500)
    actor = _text(actor, "actor", 200)
    with _tx(target) as conn:
        current, stored = _existing(conn, client_id)
        if current.status == status:
            return current
        if current.status == CLOSED:
            raise InvalidStatusChange("a closed client cannot be reopened")
        profile = _write(conn, current, stored, {"status": status, "status_reason": reason}, actor)
        record_in(conn, actor, f"clients.status.{status}",
                  {"client": client_id, "from": current.status, "reason": reason}, "ok")
        return profile


def suspend_client(target: Target, client_id: str, reason: str, actor: str) -> ClientProfile:
    """Suspend ``client_id`` (no flow may move its money until it is reactivated); audited."""
    return set_status(target, client_id, SUSPENDED, reason, actor)


def reactivate_client(target: Target, client_id: str, reason: str, actor: str) -> ClientProfile:
    """Make a suspended client active again; audited. A closed client stays closed."""
    return set_status(target, client_id, ACTIVE, reason, actor)


def close_client(target: Target, client_id: str, reason: str, actor: str) -> ClientProfile:
    """Close ``client_id`` for good; audited."""
    return set_status(target, client_id, CLOSED, reason, actor)
