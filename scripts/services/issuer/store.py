"""The issuer service's own SQLite database: mints, burns, the webhook outbox, opening reserves.

One connection guarded by a lock (the API threads and the worker share it); every change is one
transaction, so a crash leaves each record either before or after a step. Amounts are integer
base units stored as decimal TEXT (sums exceed SQLite's 64-bit integers) and summed in Python.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from scripts.services.common.sqlite import SqliteStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mints (
    id TEXT PRIMARY KEY, idem_key TEXT NOT NULL UNIQUE, request_hash TEXT NOT NULL,
    units TEXT NOT NULL, destination TEXT NOT NULL, reference TEXT NOT NULL,
    status TEXT NOT NULL, fault TEXT NOT NULL, not_before REAL, estimated_completion TEXT,
    raw_tx BLOB, tx_hash TEXT, tx_nonce INTEGER, confirmations INTEGER NOT NULL DEFAULT 0,
    reason TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS burns (
    id TEXT PRIMARY KEY, idem_key TEXT NOT NULL UNIQUE, request_hash TEXT NOT NULL,
    units TEXT NOT NULL, source TEXT NOT NULL, transfer_tx_id TEXT NOT NULL,
    transfer_log_index INTEGER NOT NULL, reference TEXT NOT NULL,
    status TEXT NOT NULL, fault TEXT NOT NULL, not_before REAL,
    raw_tx BLOB, tx_hash TEXT, tx_nonce INTEGER, confirmations INTEGER NOT NULL DEFAULT 0,
    payout_status TEXT NOT NULL DEFAULT 'none', reason TEXT,
    created_at REAL NOT NULL, updated_at REAL NOT NULL,
    UNIQUE (transfer_tx_id, transfer_log_index));
CREATE TABLE IF NOT EXISTS webhooks (
    event_id TEXT PRIMARY KEY, body BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL, delivered_at REAL, last_error TEXT);
"""
TABLES = ("mints", "burns")
# SQL below interpolates only these fixed table names and column names checked against the
# schema (never request data); values always go through placeholders.


class Conflict(Exception):  # noqa: N818 - domain names read better
    """The idempotency key (or the deposit) is already bound to a different request."""


class Store(SqliteStore):
    """Typed access to the service's tables; rows come back as plain dicts."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, SCHEMA)
        self._columns = {t: {r["name"] for r in self._db.execute(f"PRAGMA table_info({t})")} for t in TABLES}

    def _check(self, table: str, columns: Any) -> None:
        if table not in TABLES or not set(columns) <= self._columns[table]:
            raise ValueError("unknown table or column")

    def meta(self, key: str, default: str | None = None) -> str | None:
        """A value of the meta table."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else default

    def set_meta_once(self, key: str, value: str) -> str:
        """Store ``value`` unless ``key`` is already set; returns the stored value."""
        with self.tx() as db:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            return str(db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    def insert_once(self, table: str, row: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Insert ``row`` unless its idempotency key exists; returns (row, created).

        The same key with another request hash (or a deposit already redeemed) raises
        :class:`Conflict` and changes nothing.
        """
        self._check(table, row)
        with self.tx() as db:
            old = db.execute(f"SELECT * FROM {table} WHERE idem_key = ?", (row["idem_key"],)).fetchone()  # noqa: S608
            if old is not None:
                if old["request_hash"] != row["request_hash"]:
                    raise Conflict("Idempotency-Key already used for a different request")
                return dict(old), False
            cols = ", ".join(row)
            try:
                db.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(row))})",  # noqa: S608
                           tuple(row.values()))
            except sqlite3.IntegrityError:
                raise Conflict("this deposit was already redeemed") from None
            return dict(db.execute(f"SELECT * FROM {table} WHERE id = ?", (row["id"],)).fetchone()), True  # noqa: S608

    def get(self, table: str, row_id: str) -> dict[str, Any] | None:
        """One record by id, or None."""
        self._check(table, [])
        with self._lock:
            row = self._db.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()  # noqa: S608
        return dict(row) if row else None

    def open_rows(self, table: str) -> list[dict[str, Any]]:
        """Records the worker still has to move (pending or delayed), oldest first."""
        self._check(table, [])
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM {table} WHERE status IN ('pending', 'delayed') "  # noqa: S608
                                    "ORDER BY created_at, id").fetchall()
        return [dict(r) for r in rows]

    def update(self, table: str, row_id: str, event: dict[str, Any] | None = None,
               **values: Any) -> None:
        """Set ``values`` on a record and, in the same transaction, queue its webhook ``event``."""
        self._check(table, values)
        values["updated_at"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.tx() as db:
            db.execute(f"UPDATE {table} SET {sets} WHERE id = ?", (*values.values(), row_id))  # noqa: S608
            if event is not None:
                db.execute("INSERT OR IGNORE INTO webhooks (event_id, body, next_at) VALUES (?, ?, ?)",
                           (event["event_id"], json.dumps(event, sort_keys=True).encode(), time.time()))

    def sum_units(self, table: str, column: str, value: str) -> int:
        """Sum of ``units`` over the records whose ``column`` equals ``value``."""
        self._check(table, [column])
        with self._lock:
            rows = self._db.execute(f"SELECT units FROM {table} WHERE {column} = ?", (value,)).fetchall()  # noqa: S608
        return sum(int(r["units"]) for r in rows)

    def due_webhooks(self, now: float) -> list[dict[str, Any]]:
        """Undelivered webhooks whose next attempt is due."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM webhooks WHERE delivered_at IS NULL AND next_at <= ? "
                                    "ORDER BY next_at", (now,)).fetchall()
        return [dict(r) for r in rows]

    def webhook_result(self, event_id: str, *, delivered: bool, next_at: float = 0.0,
                       error: str | None = None) -> None:
        """Record one delivery attempt."""
        with self.tx() as db:
            if delivered:
                db.execute("UPDATE webhooks SET attempts = attempts + 1, delivered_at = ?, last_error = NULL "
                           "WHERE event_id = ?", (time.time(), event_id))
            else:
                db.execute("UPDATE webhooks SET attempts = attempts + 1, next_at = ?, last_error = ? "
                           "WHERE event_id = ?", (next_at, error, event_id))
