"""Set-based reads and writes of a group commit, straight through the DB driver.

A group commit touches thousands of transfers and accounts. Going through SQLAlchemy Core for
these costs a statement compile per IN-list and per-row parameter processing; here each step is one
statement whose *whole* key list or row set is a single bound parameter:

* SQLite: ``IN (SELECT value FROM json_each(?))`` for lookups (one JSON array parameter, no
  chunking, no 32,766-variable limit); ``executemany`` for the INSERT and UPDATE (sqlite3 reuses the
  prepared statement, the per-row cost is the B-tree work itself).
* PostgreSQL: ``= ANY(array)`` for lookups; one ``INSERT ... SELECT FROM unnest(arrays)`` for all
  transfer rows and one ``UPDATE ... FROM unnest(arrays)`` for all touched accounts (psycopg's
  ``executemany`` is one round trip per row in this mode, which capped throughput at ~5-7k/s).
  Arrays are bound in psycopg's *binary* format (``%b``): the text format quoted every element
  through a regular expression, ~9 us of client CPU per transfer row. The statements of each phase
  go out in one psycopg *pipeline*, so a group commit costs two round trips to the server (every
  read with the row locks, then every write with the COMMIT) instead of one per statement.

Values come back in Python form: amounts as ``int`` (:func:`keeper.ledger.types.amount_from_db`),
datetimes as aware UTC ``datetime`` (:func:`keeper.ledger.domain.utc`).
"""

# ruff: noqa: S608 - SQL is assembled from constant column names only; values are always bound
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from keeper.ledger import db
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
    + ", ".join(f"%b::{t}[]" for t in _PG_TYPES) + ")"
)
_SQLITE_UPDATE = (
    "UPDATE ledger_accounts SET debits_posted=?, credits_posted=?, debits_pending=?, "
    "credits_pending=? WHERE id=?"
)
_PG_UPDATE = (
    "UPDATE ledger_accounts AS a SET debits_posted=v.dp, credits_posted=v.cp, "
    "debits_pending=v.dpe, credits_pending=v.cpe FROM unnest(%b::numeric[], %b::numeric[], "
    "%b::numeric[], %b::numeric[], %b::int[]) AS v(dp, cp, dpe, cpe, id) WHERE a.id = v.id"
)
_TRANSFERS = "SELECT transfer_id, fingerprint, amount, created_at FROM ledger_transfers WHERE "
_REFS = ("SELECT transfer_id, kind, debit_account_id, credit_account_id, asset, amount, "
         "expires_at FROM ledger_transfers WHERE ")
_ACCOUNTS = ("SELECT id, asset, no_overdraft, debits_posted, credits_posted, debits_pending, "
             "credits_pending FROM ledger_accounts WHERE ")
# PostgreSQL: the accounts of the holds/transfers a batch resolves or reverses are locked in the
# same statement as the batch's own (one lock pass, in id order: no deadlock between writers)
_PG_REF_ACCOUNTS = (
    " OR id IN (SELECT debit_account_id FROM ledger_transfers WHERE transfer_id = ANY(%b) "
    "UNION ALL SELECT credit_account_id FROM ledger_transfers WHERE transfer_id = ANY(%b))")


# PostgreSQL: the batch's transaction plans without sequential scans. Every statement of a group
# commit is a key lookup; a table whose statistics lag behind its growth (never analysed yet, a
# bulk load) got the ``transfer_id = ANY(...)`` lookup planned as a full scan with the key list
# as a filter, its cost growing with the table (measured: 1.1 ms per batch of 64 keys at 21k
# transfers, in a fresh database before autovacuum's first ANALYZE): see read_batch
_PG_SEQSCAN_BACK = ("SELECT set_config(name, reset_val, true) FROM pg_settings "
                    "WHERE name = 'enable_seqscan'")


@dataclass(slots=True)
class BatchReads:
    """What a group commit reads before applying its requests (see :func:`read_batch`)."""

    existing: list[tuple[str, str, int, Any]]  # (transfer_id, fingerprint, amount, created_at)
    refs: list[tuple[Any, ...]]  # (transfer_id, kind, debit, credit, asset, amount, expires_at)
    resolved: set[str]  # holds among the pending ids already posted or voided
    reversed: set[str]  # transfers among the reversed ids already reversed
    accounts: dict[int, list[Any]]  # id -> [asset, no_overdraft, dp, cp, dpend, cpend]


def is_pg(conn: Connection) -> bool:
    """True on PostgreSQL (otherwise SQLite)."""
    return conn.dialect.name == "postgresql"


def _in(conn: Connection, column: str) -> str:
    """SQL of ``column`` in the key list bound as the statement's single parameter."""
    if is_pg(conn):
        return f"{column} = ANY(%b)"
    return f"{column} IN (SELECT value FROM json_each(?))"


def _keys(conn: Connection, keys: Iterable[Any]) -> tuple[Any]:
    values = sorted(keys)
    return (values,) if is_pg(conn) else (json.dumps(values),)


def _link_sql(column: str, where: str) -> str:
    assert column in ("pending_id", "reverses_id")
    return f"SELECT {column} FROM ledger_transfers WHERE {column} IS NOT NULL AND {where}"


def _existing(rows: Iterable[Sequence[Any]]) -> list[tuple[str, str, int, Any]]:
    return [(t, f, amount_from_db(a), utc(c)) for t, f, a, c in rows]


def _refs(rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    return [(t, k, d, c, s, amount_from_db(a), utc(e)) for t, k, d, c, s, a, e in rows]


def _accounts(rows: Iterable[Sequence[Any]]) -> dict[int, list[Any]]:
    return {i: [asset, bool(nod), *map(amount_from_db, (dp, cp, dpe, cpe))]
            for i, asset, nod, dp, cp, dpe, cpe in rows}


def fetch_transfers(conn: Connection, ids: Iterable[str]) -> list[tuple[Any, ...]]:
    """(transfer_id, fingerprint, amount, created_at) of the stored transfers among ``ids``."""
    ids = list(ids)
    if not ids:
        return []
    return _existing(conn.exec_driver_sql(_TRANSFERS + _in(conn, "transfer_id"), _keys(conn, ids)))


def fetch_refs(conn: Connection, ids: Iterable[str]) -> list[tuple[Any, ...]]:
    """(transfer_id, kind, debit, credit, asset, amount, expires_at) of held/reversed transfers."""
    ids = list(ids)
    if not ids:
        return []
    return _refs(conn.exec_driver_sql(_REFS + _in(conn, "transfer_id"), _keys(conn, ids)))


def fetch_links(conn: Connection, column: str, ids: Iterable[str]) -> set[str]:
    """Which of ``ids`` already appear in ``column`` (``pending_id`` or ``reverses_id``)."""
    ids = list(ids)
    if not ids:
        return set()
    rows = conn.exec_driver_sql(_link_sql(column, _in(conn, column)), _keys(conn, ids))
    return {r[0] for r in rows}


def fetch_accounts(conn: Connection, ids: Iterable[int]) -> dict[int, list[Any]]:
    """id -> [asset, no_overdraft, dp, cp, dpend, cpend]; on PG the rows are locked in id order
    (``FOR UPDATE``): concurrent writers serialise per account and cannot deadlock."""
    ids = list(ids)
    if not ids:
        return {}
    sql = _ACCOUNTS + _in(conn, "id") + " ORDER BY id"
    if is_pg(conn):
        sql += " FOR UPDATE"
    return _accounts(conn.exec_driver_sql(sql, _keys(conn, ids)))


def read_batch(conn: Connection, ids: set[str], pending: set[str], reverses: set[str],
               account_ids: set[int]) -> BatchReads:
    """Everything a group commit reads, in the caller's open transaction: the stored transfers
    among ``ids``, the transfers named by ``pending`` | ``reverses`` (``refs``), which of those
    are already resolved / reversed, and the rows of ``account_ids`` plus the refs' accounts
    (locked ``FOR UPDATE`` in id order on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already holds
    the write lock).

    PostgreSQL: one pipeline (one round trip), the pending lock timeout of
    :func:`keeper.ledger.db.pipelined_lock_timeout` and no sequential scans for the rest of the
    transaction first, then the account locks, then the lookups, so they see every commit of a
    writer the locks waited for.
    """
    if not is_pg(conn):
        refs = fetch_refs(conn, pending | reverses)
        for r in refs:
            account_ids.update(r[2:4])
        account_ids.discard(0)
        return BatchReads(fetch_transfers(conn, ids), refs,
                          fetch_links(conn, "pending_id", pending),
                          fetch_links(conn, "reverses_id", reverses),
                          fetch_accounts(conn, account_ids))
    named = sorted(pending | reverses)
    account_ids.discard(0)
    pg = conn.connection.driver_connection
    cur = {k: pg.cursor() for k in ("acc", "ids", "refs", "pend", "revs")}
    with pg.pipeline():
        settings = ["enable_seqscan", "off"]  # (name, value) pairs, set for the transaction
        lock = db.pipelined_lock_timeout(conn)
        if lock is not None:
            settings += ["lock_timeout", lock]
        pg.execute("SELECT " + ", ".join(["set_config(%b, %b, true)"] * (len(settings) // 2)),
                   settings)
        if named:
            cur["acc"].execute(_ACCOUNTS + "(id = ANY(%b)" + _PG_REF_ACCOUNTS
                               + ") ORDER BY id FOR UPDATE", (sorted(account_ids), named, named))
            cur["refs"].execute(_REFS + "transfer_id = ANY(%b)", (named,))
        elif account_ids:
            cur["acc"].execute(_ACCOUNTS + "id = ANY(%b) ORDER BY id FOR UPDATE",
                               (sorted(account_ids),))
        if ids:
            cur["ids"].execute(_TRANSFERS + "transfer_id = ANY(%b)", (sorted(ids),))
        if pending:
            cur["pend"].execute(_link_sql("pending_id", "pending_id = ANY(%b)"), (sorted(pending),))
        if reverses:
            cur["revs"].execute(_link_sql("reverses_id", "reverses_id = ANY(%b)"),
                                (sorted(reverses),))

    def rows(key: str) -> list[Any]:
        c = cur[key]
        return c.fetchall() if c.pgresult is not None else []

    return BatchReads(_existing(rows("ids")), _refs(rows("refs")),
                      {r[0] for r in rows("pend")}, {r[0] for r in rows("revs")},
                      _accounts(rows("acc")))


def write_batch(conn: Connection, rows: Sequence[tuple[Any, ...]],
                params: Sequence[tuple[Any, ...]], *, commit: bool = False) -> None:
    """Insert transfer ``rows`` (``TRANSFER_COLUMNS`` order, values in the dialect's bind form)
    and write account totals ``params`` (rows of (dp, cp, dpend, cpend, id)).

    ``commit``: PostgreSQL sends the COMMIT of the caller's transaction in the same pipeline as
    the writes (one round trip; returns once it is durable; the caller's own commit afterwards
    finds nothing to do). SQLite ignores it: the caller commits. Without it, PostgreSQL's planner
    gets back the sequential scans :func:`read_batch` turned off, for what the transaction runs
    next (hooks).
    """
    if not is_pg(conn):
        if rows:
            conn.exec_driver_sql(_SQLITE_INSERT, list(rows))
        if params:
            conn.exec_driver_sql(_SQLITE_UPDATE, list(params))
        return
    pg = conn.connection.driver_connection
    inserts = [list(col) for col in zip(*rows, strict=True)]
    updates = [list(col) for col in zip(*params, strict=True)]
    with pg.pipeline():
        if rows and params:  # one statement: the INSERT as a data-modifying CTE of the UPDATE
            pg.execute(f"WITH t AS ({_PG_INSERT}) {_PG_UPDATE}", inserts + updates)
        elif rows or params:
            pg.execute(_PG_INSERT if rows else _PG_UPDATE, inserts or updates)
        if commit:
            pg.commit()
        else:  # the transaction goes on (hooks, a dry run): the planner gets its scans back
            pg.execute(_PG_SEQSCAN_BACK)
