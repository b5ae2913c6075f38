"""The order store: typed orders, idempotent creation and audited, outboxed state changes.

Every function here works inside the caller's open transaction (``conn``), so a state change,
its audit record, its outbox row and (through :meth:`keeper.ledger.Ledger.post_all`'s hook) its
ledger postings commit together or not at all.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, insert, select, update

from keeper import sqlrows
from keeper.audit import AuditRecord, append, batch_records
from keeper.flows.models import DepositNoticeRow, OrderRow, OutboxRow
from keeper.jsontext import sorted_compact
from keeper.ledger.domain import utc

ACTOR = "flows"
_ORD, _OUT, _DEP = OrderRow.__table__, OutboxRow.__table__, DepositNoticeRow.__table__

# States that end an order (the driver has nothing left to do).
FINAL = frozenset({"completed", "failed", "refunded", "refused", "settled"})
# States that do not count against a client's limits.
NOT_SPENT = frozenset({"screening", "refused", "failed", "refunded"})


class FlowError(Exception):
    """Any refusal or failure of the order service."""


class Refused(FlowError):  # noqa: N818 - reads as what it is
    """A pre-flight refusal: nothing changed but the audit record of the refusal."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class IdempotencyConflict(FlowError):  # noqa: N818 - the public name FLOWS-B codes against
    """The idempotency key was used before with another request body."""


class OrderNotFound(FlowError):  # noqa: N818 - reads as what it is
    """No such order for this client (another client's order is not found either)."""


class UnknownCustomer(FlowError):  # noqa: N818 - reads as what it is
    """A core-banking customer the platform has not onboarded for stablecoins (HTTP 400)."""


class ComplianceHold(FlowError):  # noqa: N818 - reads as what it is
    """The customer has a compliance hold or freeze (HTTP 403)."""


class Order(NamedTuple):
    """An order as clients and the API see it (amounts: integer base units and US cents).

    A named tuple (immutable, like the frozen dataclass it was): a transfer batch builds one
    per order and state, and a frozen dataclass cost four times as much to build."""

    id: str
    client_id: str
    kind: str
    state: str
    asset: str
    units: int
    fiat_cents: int
    fee_cents: int
    reason: str | None
    created_at: datetime
    updated_at: datetime


# json.dumps(..., sort_keys=True) (and the fingerprint's options) built once: the same text,
# without a new encoder for each of a batch's thousands of calls
_SORTED = json.JSONEncoder(sort_keys=True).encode
_FINGERPRINT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str).encode


def fingerprint(body: dict[str, Any]) -> str:
    """Digest of a request body, compared when an idempotency key is reused."""
    return hashlib.sha256(_FINGERPRINT(body).encode()).hexdigest()


def step_key(order_id: str, step: str) -> str:
    """The deterministic UUID idempotency key of ``step`` of ``order_id``: a crash and rerun
    sends the same key, so the vendor applies the call once."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"strongroom:flows:{order_id}:{step}"))


def _order(r: Any) -> Order:
    return Order(r.id, r.client_id, r.kind, r.state, r.asset, int(r.units), int(r.fiat_cents),
                 int(r.fee_cents), r.reason, utc(r.created_at), utc(r.updated_at))  # type: ignore[arg-type]


def find_by_key(conn: Connection, client_id: str, idem_key: str, fp: str) -> Order | None:
    """The order created under (``client_id``, ``idem_key``), or None; a different body under
    the same key raises :class:`IdempotencyConflict`."""
    return find_by_keys(conn, client_id, [idem_key], [fp])[0]


def load(conn: Connection, order_id: str) -> tuple[Order, dict[str, Any], int] | None:
    """(order, its data, its version) or None."""
    row = conn.execute(select(_ORD).where(_ORD.c.id == order_id)).first()
    return None if row is None else (_order(row), json.loads(row.data), row.version)


_CHUNK = 500  # keys per IN (...) query
# transition_many on SQLite (values: state, open, updated_at, expected state, the ids' JSON)
_SQLITE_MOVE = (f"UPDATE {_ORD.name} SET state = ?, open = ?, updated_at = ?, "  # noqa: S608
                "version = version + 1 WHERE state = ? AND ")


def find_by_keys(conn: Connection, client_id: str, keys: list[str],
                 fps: list[str]) -> list[Order | None]:
    """:func:`find_by_key` of many (key, fingerprint) pairs in one query per chunk of keys."""
    rows: dict[str, Any] = {}
    for i in range(0, len(keys), _CHUNK):
        rows.update((r.idem_key, r) for r in conn.execute(select(_ORD).where(
            _ORD.c.client_id == client_id, _ORD.c.idem_key.in_(keys[i:i + _CHUNK]))))
    out: list[Order | None] = []
    for key, fp in zip(keys, fps, strict=True):
        row = rows.get(key)
        if row is not None and row.fingerprint != fp:
            raise IdempotencyConflict(f"idempotency key {key!r} was used for another request")
        out.append(None if row is None else _order(row))
    return out


def load_many(conn: Connection, order_ids: list[str]) -> dict[str, tuple[Order, dict[str, Any], int]]:
    """:func:`load` of many orders (one query per chunk); unknown ids are left out."""
    found: dict[str, tuple[Order, dict[str, Any], int]] = {}
    for i in range(0, len(order_ids), _CHUNK):
        for r in conn.execute(select(_ORD).where(_ORD.c.id.in_(order_ids[i:i + _CHUNK]))):
            found[r.id] = (_order(r), json.loads(r.data), r.version)
    return found


def open_many(conn: Connection, client_id: str, rows: list[tuple[str, str, dict[str, Any]]], *,
              state: str, now: datetime, trail: Trail,
              found: list[Order | None] | None = None) -> list[Order]:
    """The orders of ``client_id`` under each (key, fingerprint, fields): found, or created in
    ``state`` at ``now`` with one multi-row insert (their records kept in ``trail``). ``found``:
    :func:`find_by_keys` of the rows, when the caller has just read it (an order created since
    makes the insert raise ``IntegrityError``)."""
    if found is None:
        found = find_by_keys(conn, client_id, [k for k, _, _ in rows], [fp for _, fp, _ in rows])
    out: list[Order] = []
    values: list[dict[str, Any]] = []
    encoded: dict[Any, str] = {}  # a batch's many orders share a few data objects
    ids = iter(new_order_ids(sum(o is None for o in found)))
    for (key, fp, fields), order in zip(rows, found, strict=True):
        if order is None:
            order, row = _new(client_id=client_id, idem_key=key, fp=fp, state=state, now=now,
                              data_json=_encoded(fields["data"], encoded), order_id=next(ids),
                              **fields)
            values.append(row)
            _trail(conn, order, "flows.order.create", None, fields["data"], now, trail)
        out.append(order)
    sqlrows.insert_rows(conn, _ORD, values)
    return out


def _encoded(data: dict[str, Any], memo: dict[Any, str]) -> str:
    """``data`` as stored (sorted-keys JSON), once per distinct flat object of strings."""
    if not all(type(k) is str and type(v) is str for k, v in data.items()):
        return _SORTED(data)
    key = tuple(sorted(data.items()))
    if key not in memo:
        memo[key] = _SORTED(data)
    return memo[key]


class Trail(list):  # type: ignore[type-arg]
    """Audit records and outbox rows of a batch, written at once by :func:`flush`."""


def flush(conn: Connection, trail: Trail, more: list[AuditRecord] | None = None) -> None:
    """Write a batch's audit records (:func:`keeper.audit.batch_records`: a few hundred order
    changes per record, one chain append), then ``more`` records of the same transaction in
    the same append, and outbox rows (one insert)."""
    records = [rec for rec, _ in trail] + (more or [])
    if records:
        append(conn, batch_records(records))
    if trail:
        sqlrows.insert_rows(conn, _OUT, [row for _, row in trail])
        trail.clear()


def new_order_id() -> str:
    """A new order id: ``ord_`` and 32 hex digits, the creation time in milliseconds first (12
    digits) and 80 random bits after: ids made later sort later, so a batch's orders, and the
    movements, transfers and events named after them, land at the end of their indexes instead
    of on a random page each (a batch then writes a few pages, not one per row, however big the
    tables have grown)."""
    return new_order_ids(1)[0]


def new_order_ids(n: int) -> list[str]:
    """``n`` new order ids (:func:`new_order_id`), their random bits read at once (one
    ``getrandom`` call for a batch instead of one per order)."""
    stamp = f"ord_{time.time_ns() // 1_000_000:012x}"
    bits = secrets.token_hex(10 * n)
    return [stamp + bits[i:i + 20] for i in range(0, 20 * n, 20)]


def _new(*, client_id: str, idem_key: str, fp: str, kind: str, state: str, asset: str,
         units: int, fiat_cents: int, fee_cents: int, data: dict[str, Any], now: datetime,
         order_id: str | None = None, data_json: str | None = None) -> tuple[Order, dict[str, Any]]:
    """A new order and its row (``data_json``: ``data`` already encoded)."""
    oid = order_id or new_order_id()
    row = {"id": oid, "client_id": client_id, "idem_key": idem_key, "fingerprint": fp,
           "kind": kind, "state": state, "open": state not in FINAL, "asset": asset,
           "units": str(units), "fiat_cents": fiat_cents, "fee_cents": fee_cents, "reason": None,
           "data": data_json if data_json is not None else _SORTED(data), "version": 1,
           "created_at": now,
           "updated_at": now}
    return Order(oid, client_id, kind, state, asset, units, fiat_cents, fee_cents, None, now,
                 now), row


def create(conn: Connection, *, client_id: str, idem_key: str, fp: str, kind: str, state: str,
           asset: str, units: int, fiat_cents: int, fee_cents: int, data: dict[str, Any],
           now: datetime, order_id: str | None = None, trail: Trail | None = None) -> Order:
    """Insert a new order in ``state`` with its audit record and outbox row (kept in ``trail``
    for one :func:`flush` when given)."""
    order, row = _new(client_id=client_id, idem_key=idem_key, fp=fp, kind=kind, state=state,
                      asset=asset, units=units, fiat_cents=fiat_cents, fee_cents=fee_cents,
                      data=data, now=now, order_id=order_id)
    conn.execute(insert(_ORD).values(**row))
    _trail(conn, order, "flows.order.create", None, data, now, trail)
    return order


def transition(conn: Connection, order_id: str, expect: str, to: str, *, now: datetime,
               reason: str | None = None, data: dict[str, Any] | None = None,
               version: int | None = None, trail: Trail | None = None) -> Order:
    """Move ``order_id`` from ``expect`` to ``to`` (compare-and-set on state and version), with
    its audit record and outbox row. Raises ``FlowError`` if someone moved it first."""
    cur = load(conn, order_id)
    if cur is None:
        raise OrderNotFound(order_id)
    order, old, ver = cur
    if order.state != expect or (version is not None and ver != version):
        raise FlowError(f"order {order_id} is {order.state} (v{ver}), not {expect}")
    merged = {**old, **(data or {})}
    values: dict[str, Any] = {"state": to, "open": to not in FINAL, "updated_at": now,
                              "data": _SORTED(merged), "version": ver + 1}
    if reason is not None:
        values["reason"] = reason
    res = conn.execute(update(_ORD).where(_ORD.c.id == order_id, _ORD.c.version == ver)
                       .values(**values))
    if res.rowcount != 1:
        raise FlowError(f"order {order_id} changed concurrently")
    new = Order(order.id, order.client_id, order.kind, to, order.asset, order.units,
                order.fiat_cents, order.fee_cents, reason if reason is not None else order.reason,
                order.created_at, now)
    _trail(conn, new, "flows.order.transition", expect, data or {}, now, trail)
    return new


def transition_many(conn: Connection, orders: list[Order], expect: str, to: str, *,
                    now: datetime, trail: Trail) -> list[Order]:
    """:func:`transition` of many orders (no new data or reason) with one UPDATE per chunk,
    compare-and-set on their state: if any of them is no longer ``expect``, ``FlowError`` (the
    caller's transaction rolls back). SQLite: one statement through the driver, the ids one
    JSON parameter (no per-chunk statement compile)."""
    out: list[Order] = []
    step = max(len(orders), 1) if sqlrows.is_sqlite(conn) else _CHUNK  # no orders: no UPDATE
    for i in range(0, len(orders), step):
        part = orders[i:i + step]
        ids = [o.id for o in part]
        if sqlrows.is_sqlite(conn):
            where, keys = sqlrows.in_keys(conn, "id", ids)
            res = conn.exec_driver_sql(_SQLITE_MOVE + where, (
                to, sqlrows.bound(conn, _ORD.c.open, to not in FINAL),
                sqlrows.bound(conn, _ORD.c.updated_at, now), expect, keys))
        else:
            res = conn.execute(update(_ORD).where(_ORD.c.id.in_(ids), _ORD.c.state == expect)
                               .values(state=to, open=to not in FINAL, updated_at=now,
                                       version=_ORD.c.version + 1))
        if res.rowcount != len(set(ids)):
            raise FlowError(f"an order of the batch is no longer {expect}")
        for o in part:
            new = Order(o.id, o.client_id, o.kind, to, o.asset, o.units, o.fiat_cents,
                        o.fee_cents, o.reason, o.created_at, now)
            _trail(conn, new, "flows.order.transition", expect, {}, now, trail)
            out.append(new)
    return out


def _trail(conn: Connection, order: Order, op: str, before: str | None, data: dict[str, Any],
           now: datetime, trail: Trail | None = None) -> None:
    payload = {"order_id": order.id, "client_id": order.client_id, "kind": order.kind,
               "from": before, "state": order.state, "asset": order.asset,
               "units": str(order.units), "fiat_cents": order.fiat_cents,
               "fee_cents": order.fee_cents, "reason": order.reason}
    batch = Trail() if trail is None else trail
    batch.append((AuditRecord(ACTOR, op, {"order_id": order.id, "from": before, "to": order.state},
                              {**payload, "data": data}),
                  {"order_id": order.id, "event": f"order.{order.state}",
                   "payload": outbox_payload(payload), "created_at": now}))
    if trail is None:
        flush(conn, batch)


def outbox_payload(payload: dict[str, Any]) -> str:
    """The stored text of an outbox row's payload: sorted compact JSON (orjson, see
    :mod:`keeper.jsontext`; rows written before kept ``json.dumps``' spaces): it is only ever
    read back with ``json.loads`` (:func:`outbox`), never hashed or compared as text."""
    return sorted_compact(payload, ascii_only=False)


def open_orders(conn: Connection, limit: int = 1000) -> list[str]:
    """Ids of orders the driver still has to advance, oldest first."""
    return list(conn.scalars(select(_ORD.c.id).where(_ORD.c.open.is_(True))
                             .order_by(_ORD.c.created_at).limit(limit)))


def spent_since(conn: Connection, client_id: str, kind: str, since: datetime) -> int:
    """US cents of ``client_id``'s ``kind`` orders since ``since`` that passed screening and
    did not fail."""
    rows = conn.execute(select(_ORD.c.fiat_cents, _ORD.c.state).where(
        _ORD.c.client_id == client_id, _ORD.c.kind == kind, _ORD.c.created_at > since))
    return sum(int(c) for c, s in rows if s not in NOT_SPENT)


def notice_order(conn: Connection, transaction_id: str) -> tuple[str, str] | None:
    """(order id, fingerprint) of a deposit notice already taken, or None."""
    row = conn.execute(select(_DEP.c.order_id, _DEP.c.fingerprint)
                       .where(_DEP.c.transaction_id == transaction_id)).first()
    return None if row is None else (row.order_id, row.fingerprint)


def remember_notice(conn: Connection, transaction_id: str, order_id: str, fp: str,
                    now: datetime) -> None:
    """Record that ``transaction_id`` became ``order_id``."""
    conn.execute(insert(_DEP).values(transaction_id=transaction_id, order_id=order_id,
                                     fingerprint=fp, created_at=now))


def outbox(conn: Connection, order_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The outbox rows of ``order_id``: (event, payload), oldest first."""
    return [(e, json.loads(p)) for e, p in conn.execute(
        select(_OUT.c.event, _OUT.c.payload).where(_OUT.c.order_id == order_id)
        .order_by(_OUT.c.id))]


def now_utc() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)
