"""The client-event outbox: flows record what a client should hear about in their own transaction.

:func:`enqueue` inserts into ``notifications_outbox`` on the caller's open connection, so a flow's
state change and its notification commit (or roll back) together. It is idempotent on
``event_id``: the same event again changes nothing; the same ``event_id`` with other content is
refused (:class:`EventConflict`), like a reused ledger idempotency id.

Payloads are JSON objects of strings, integers, booleans, nulls, lists and objects. Floats are
refused (money is integer base units; an amount travels as a decimal string of base units).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from keeper import sqlrows
from keeper.jsontext import sorted_compact
from keeper.notifications.models import OutboxRow

DEPOSIT_CREDITED = "deposit.credited"
ORDER_COMPLETED = "order.completed"
ORDER_FAILED = "order.failed"
WITHDRAWAL_CONFIRMED = "withdrawal.confirmed"
WITHDRAWAL_DELAYED = "withdrawal.delayed"
EVENTS: frozenset[str] = frozenset({DEPOSIT_CREDITED, ORDER_COMPLETED, ORDER_FAILED,
                                    WITHDRAWAL_CONFIRMED, WITHDRAWAL_DELAYED})
MAX_PAYLOAD_BYTES = 16_384
_O = OutboxRow.__table__
_CHUNK = 500


class EventConflict(ValueError):  # noqa: N818 - reads as what happened
    """An ``event_id`` already enqueued with another client, event or payload."""


def _check_value(value: Any, path: str) -> None:
    if isinstance(value, float):
        raise ValueError(f"payload {path} is a float: send amounts as decimal strings of base units")
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"payload {path} has a non-string key")
            _check_value(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_value(v, f"{path}[{i}]")
    elif value is not None and not isinstance(value, str | int | bool):
        raise ValueError(f"payload {path} has a {type(value).__name__}, not a JSON value")


def encode_payload(payload: Mapping[str, Any]) -> str:
    """The canonical JSON of ``payload``: ``json.dumps(payload, sort_keys=True, separators=(",",
    ":"), ensure_ascii=False)`` byte for byte (written by orjson, :mod:`keeper.jsontext`; a
    replayed event is compared with the stored text); refuses floats and non-JSON."""
    if not isinstance(payload, Mapping):
        raise ValueError("payload must be a JSON object")
    if type(payload) is not dict or not all(  # a flat object of strings needs no deeper walk
            type(k) is str and type(v) is str for k, v in payload.items()):
        _check_value(payload, "$")
    text = sorted_compact(payload, ascii_only=False)
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload larger than {MAX_PAYLOAD_BYTES} bytes")
    return text


@dataclass(frozen=True, slots=True)
class Notice:
    """One client event to enqueue (see :func:`enqueue`)."""

    client_id: str
    event: str
    payload: Mapping[str, Any]
    event_id: str


def _row(n: Notice, now: datetime) -> dict[str, Any]:
    """The outbox row of ``n``, after its checks (nothing written when one fails)."""
    if n.event not in EVENTS:
        raise ValueError(f"unknown event {n.event!r}; one of {sorted(EVENTS)}")
    if (not n.event_id or len(n.event_id) > 160 or not n.event_id.isascii()
            or not n.event_id.isprintable() or " " in n.event_id):  # "!".."~" only
        raise ValueError("event_id must be 1 to 160 printable ASCII characters without spaces "
                         "(it travels in a header)")
    if not n.client_id or len(n.client_id) > 36:
        raise ValueError("client_id must be 1 to 36 characters")
    return {"event_id": n.event_id, "client_id": n.client_id, "event": n.event,
            "payload": encode_payload(n.payload), "created_at": now}


def enqueue_many(conn: Connection, notices: Sequence[Notice], *,
                 now: datetime | None = None) -> int:
    """Record ``notices`` in the outbox inside ``conn``'s open transaction, in one statement per
    chunk; returns how many were new. Every notice is checked before anything is written; an
    ``event_id`` already enqueued with other content raises :class:`EventConflict` (the caller's
    transaction then rolls back with it). Same rules as :func:`enqueue`."""
    at = now or datetime.now(UTC)
    rows = [_row(n, at) for n in notices]
    if len({r["event_id"] for r in rows}) != len(rows):
        raise EventConflict("the same event_id twice in one call")
    new = 0
    for i in range(0, len(rows), _CHUNK):
        chunk = rows[i:i + _CHUNK]
        # ON CONFLICT DO NOTHING: a duplicate never aborts the caller's transaction
        made = sqlrows.insert_new(conn, _O, chunk, "event_id")
        new += len(made)
        again = {r["event_id"]: r for r in chunk if r["event_id"] not in made}
        if again:
            for row in conn.execute(select(_O.c.event_id, _O.c.client_id, _O.c.event, _O.c.payload)
                                    .where(_O.c.event_id.in_(list(again)))):
                want = again[row.event_id]
                if (row.client_id, row.event, row.payload) != (
                        want["client_id"], want["event"], want["payload"]):
                    raise EventConflict(f"event_id {row.event_id!r} was enqueued with other "
                                        "content")
    return new


def enqueue(conn: Connection, client_id: str, event: str, payload: Mapping[str, Any], *,
            event_id: str, now: datetime | None = None) -> bool:
    """Record ``event`` for ``client_id`` in the outbox inside ``conn``'s open transaction.

    Returns True when inserted, False when the same event was already enqueued (idempotent on
    ``event_id``). Raises ``ValueError`` for an unknown event, an empty id or a bad payload and
    :class:`EventConflict` when ``event_id`` was used for different content; in every refused
    case nothing is written. The row commits with the caller's transaction.
    """
    return enqueue_many(conn, [Notice(client_id, event, payload, event_id)], now=now) == 1
