"""Set-based reads and writes of a group commit, straight through the DB driver.

A group commit touches thousands of transfers and accounts. Going through SQLAlchemy Core for
these costs a statement compile per IN-list and per-row parameter processing; here each step is one
statement whose *whole* key list or row set is a single bound parameter:

* SQLite: ``IN (SELECT value FROM json_each(?))`` for lookups (one JSON array parameter, no
  chunking, no 32,766-variable limit); ``executemany`` for the INSERT and UPDATE (sqlite3 reuses the
  prepared statement, the per-row cost is the B-tree work itself).
* PostgreSQL: ``= ANY(%s)`` for lookups; one ``INSERT ... SELECT FROM unnest(arrays)`` for all
  transfer rows and one ``UPDATE ... FROM unnest(arrays)`` for all touched accounts (psycopg's
  ``executemany`` is one round trip per row in this mode, which capped throughput at ~5-7k/s).

Values come back in Python form: amounts as ``int`` (:func:`keeper.ledger.types.amount_from_db`),
datetimes as aware UTC ``datetime`` (:func:`keeper.ledger.domain.utc`).
"""

# ruff: noqa: S608 - SQL is assembled from constant column names only; values are always bound
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from keeper.ledger.domain import utc
from keeper.ledger.types import amount_from_db

TRANSFER_COLUMNS = (
    "transfer_id", "kind", "debit_account_id", "credit_account_id", "asset", "amount",
    "pending_id", "reverses_id", "expires_at", "reference", "source", "source_pos", "fingerprint",
    "created_at",
)
_PG_TYPES = (
    "text", "text", "int", "int", "text", "numeric", "text", "text", "timestamptz", "text",
    "text", "bigint", "text", "timestamptz",
)
_COLS = ", ".join(TRANSFER_COLUMNS)
_SQLITE_INSERT = f"INSERT INTO ledger_transfers ({_COLS}) VALUES ({', '.join('?' * 14)})"
_PG_INSERT = (
    f"INSERT INTO ledger_transfers ({_COLS}) SELECT * FROM unnest("
    + ", ".join(f"%s::{t}[]" for t in _PG_TYPES) + ")"
)
_SQLITE_UPDATE = (
    "UPDATE ledger_accounts SET debits_posted=?, credits_posted=?, debits_pending=?, "
    "credits_pending=? WHERE id=?"
)
_PG_UPDATE = (
    "UPDATE ledger_accounts AS a SET debits_posted=v.dp, credits_posted=v.cp, "
    "debits_pending=v.dpe, credits_pending=v.cpe FROM unnest(%s::numeric[], %s::numeric[], "
    "%s::numeric[], %s::numeric[], %s::int[]) AS v(dp, cp, dpe, cpe, id) WHERE a.id = v.id"
)


def is_pg(conn: Connection) -> bool:
    """True on PostgreSQL (otherwise SQLite)."""
    return conn.dialect.name == "postgresql"


def _in(conn: Connection, column: str) -> str:
    """SQL of ``column`` in the key list bound as the statement's single parameter."""
    if is_pg(conn):
        return f"{column} = ANY(%s)"
    return f"{column} IN (SELECT value FROM json_each(?))"


def _keys(conn: Connection, keys: Iterable[Any]) -> tuple[Any]:
    values = sorted(keys)
    return (values,) if is_pg(conn) else (json.dumps(values),)


def fetch_transfers(conn: Connection, ids: Iterable[str]) -> list[tuple[Any, ...]]:
    """(transfer_id, fingerprint, amount, created_at) of the stored transfers among ``ids``."""
    ids = list(ids)
    if not ids:
        return []
    sql = ("SELECT transfer_id, fingerprint, amount, created_at FROM ledger_transfers WHERE "
           + _in(conn, "transfer_id"))
    rows = conn.exec_driver_sql(sql, _keys(conn, ids))
    return [(t, f, amount_from_db(a), utc(c)) for t, f, a, c in rows]


def fetch_refs(conn: Connection, ids: Iterable[str]) -> list[tuple[Any, ...]]:
    """(transfer_id, kind, debit, credit, asset, amount, expires_at) of held/reversed transfers."""
    ids = list(ids)
    if not ids:
        return []
    sql = ("SELECT transfer_id, kind, debit_account_id, credit_account_id, asset, amount, "
           "expires_at FROM ledger_transfers WHERE " + _in(conn, "transfer_id"))
    return [(t, k, d, c, s, amount_from_db(a), utc(e))
            for t, k, d, c, s, a, e in conn.exec_driver_sql(sql, _keys(conn, ids))]


def fetch_links(conn: Connection, column: str, ids: Iterable[str]) -> set[str]:
    """Which of ``ids`` already appear in ``column`` (``pending_id`` or ``reverses_id``)."""
    assert column in ("pending_id", "reverses_id")
    ids = list(ids)
    if not ids:
        return set()
    sql = (f"SELECT {column} FROM ledger_transfers WHERE {column} IS NOT NULL AND "
           + _in(conn, column))
    return {r[0] for r in conn.exec_driver_sql(sql, _keys(conn, ids))}


def fetch_accounts(conn: Connection, ids: Iterable[int]) -> dict[int, list[Any]]:
    """id -> [asset, no_overdraft, dp, cp, dpend, cpend]; on PG the rows are locked in id order
    (``FOR UPDATE``): concurrent writers serialise per account and cannot deadlock."""
    ids = list(ids)
    if not ids:
        return {}
    sql = ("SELECT id, asset, no_overdraft, debits_posted, credits_posted, debits_pending, "
           "credits_pending FROM ledger_accounts WHERE " + _in(conn, "id") + " ORDER BY id")
    if is_pg(conn):
        sql += " FOR UPDATE"
    return {
        i: [asset, bool(nod), *map(amount_from_db, (dp, cp, dpe, cpe))]
        for i, asset, nod, dp, cp, dpe, cpe in conn.exec_driver_sql(sql, _keys(conn, ids))
    }


def insert_transfers(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert transfer rows (``TRANSFER_COLUMNS`` order, values in the dialect's bind form)."""
    if not rows:
        return
    if is_pg(conn):
        conn.exec_driver_sql(_PG_INSERT, tuple(list(col) for col in zip(*rows, strict=True)))
    else:
        conn.exec_driver_sql(_SQLITE_INSERT, list(rows))


def update_accounts(conn: Connection, params: Sequence[tuple[Any, ...]]) -> None:
    """Write account totals: ``params`` rows are (dp, cp, dpend, cpend, id)."""
    if not params:
        return
    if is_pg(conn):
        conn.exec_driver_sql(_PG_UPDATE, tuple(list(col) for col in zip(*params, strict=True)))
    else:
        conn.exec_driver_sql(_SQLITE_UPDATE, list(params))
