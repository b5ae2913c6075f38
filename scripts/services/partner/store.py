"""The partner service's own SQLite database: sub-accounts, transactions, the webhook outbox.

One connection guarded by a lock (API threads and the worker share it); each change is one
transaction. Amounts are integer base units stored as decimal TEXT and summed in Python.
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
CREATE TABLE IF NOT EXISTS accounts (
    client_ref TEXT PRIMARY KEY, address TEXT NOT NULL UNIQUE, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS txs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, client_ref TEXT NOT NULL,
    kind TEXT NOT NULL, asset TEXT NOT NULL, units TEXT NOT NULL, fee TEXT NOT NULL DEFAULT '0',
    from_addr TEXT NOT NULL, to_addr TEXT NOT NULL, tx_hash TEXT, move_key TEXT UNIQUE,
    log_index INTEGER, block INTEGER, status TEXT NOT NULL, idem_key TEXT UNIQUE,
    request_hash TEXT, raw_tx BLOB, reason TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS webhooks (
    event_id TEXT PRIMARY KEY, body BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL, delivered_at REAL, last_error TEXT);
"""
COLUMNS = frozenset({"tx_hash", "move_key", "log_index", "block", "status", "raw_tx", "reason",
                     "fee"})
# SQL below interpolates only names from COLUMNS (never request data); values use placeholders.


class Conflict(Exception):  # noqa: N818 - domain names read better
    """The Idempotency-Key is already bound to a different request."""


class Store(SqliteStore):
    """Typed access to the service's tables; rows come back as plain dicts."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, SCHEMA)

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._db.execute(sql, args).fetchall()]

    # --- meta --------------------------------------------------------------------------------
    def meta(self, key: str, default: str | None = None) -> str | None:
        """A meta value."""
        rows = self._all("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    def set_meta(self, key: str, value: str, *, once: bool = False) -> None:
        """Set a meta value (``once``: keep an existing one)."""
        verb = "INSERT OR IGNORE" if once else "INSERT OR REPLACE"
        with self.tx() as db:
            db.execute(f"{verb} INTO meta (key, value) VALUES (?, ?)", (key, value))

    # --- accounts ----------------------------------------------------------------------------
    def account(self, client_ref: str) -> dict[str, Any] | None:
        """One sub-account, or None."""
        rows = self._all("SELECT * FROM accounts WHERE client_ref = ?", (client_ref,))
        return rows[0] if rows else None

    def accounts(self) -> list[dict[str, Any]]:
        """Every sub-account, oldest first."""
        return self._all("SELECT * FROM accounts ORDER BY created_at, client_ref")

    def add_account(self, client_ref: str, address: str) -> tuple[dict[str, Any], bool]:
        """Open ``client_ref``'s sub-account at ``address`` once; (row, created)."""
        with self.tx() as db:
            old = db.execute("SELECT * FROM accounts WHERE client_ref = ?", (client_ref,)).fetchone()
            if old is not None:
                return dict(old), False
            db.execute("INSERT INTO accounts (client_ref, address, created_at) VALUES (?, ?, ?)",
                       (client_ref, address, time.time()))
        return self.account(client_ref) or {}, True

    # --- transactions ------------------------------------------------------------------------
    def txs(self, *, statuses: tuple[str, ...] = (), client_ref: str | None = None
            ) -> list[dict[str, Any]]:
        """Transactions in sequence order, optionally of some statuses / one client."""
        sql, args = "SELECT * FROM txs WHERE 1 = 1", []
        if statuses:
            sql += f" AND status IN ({', '.join('?' * len(statuses))})"
            args += list(statuses)
        if client_ref is not None:
            sql += " AND client_ref = ?"
            args.append(client_ref)
        return self._all(sql + " ORDER BY seq", tuple(args))

    def tx_by(self, column: str, value: Any) -> dict[str, Any] | None:
        """One transaction by ``id``, ``idem_key`` or ``tx_hash``."""
        if column not in ("id", "idem_key", "tx_hash"):
            raise ValueError(column)
        rows = self._all(f"SELECT * FROM txs WHERE {column} = ? ORDER BY seq", (value,))  # noqa: S608
        return rows[0] if rows else None

    def insert_tx(self, row: dict[str, Any], event: dict[str, Any] | None = None
                  ) -> tuple[dict[str, Any], bool]:
        """Insert a transaction unless its idempotency key or chain move exists: (row, created).
        The same key with another request hash raises :class:`Conflict` (nothing changes)."""
        now = time.time()
        row = {"created_at": now, "updated_at": now, **row}
        with self.tx() as db:
            for col in ("idem_key", "move_key"):
                if row.get(col) is None:
                    continue
                old = db.execute(f"SELECT * FROM txs WHERE {col} = ?", (row[col],)).fetchone()  # noqa: S608
                if old is not None:
                    if col == "idem_key" and old["request_hash"] != row.get("request_hash"):
                        raise Conflict("Idempotency-Key already used for a different request")
                    return dict(old), False
            cols = ", ".join(row)
            db.execute(f"INSERT INTO txs ({cols}) VALUES ({', '.join('?' * len(row))})",  # noqa: S608
                       tuple(row.values()))
            if event is not None:
                _queue(db, event)
        return self.tx_by("id", row["id"]) or {}, True

    def update_tx(self, tx_id: str, event: dict[str, Any] | None = None, **values: Any) -> None:
        """Set ``values`` on a transaction and queue its webhook ``event`` in one transaction."""
        if not set(values) <= COLUMNS:
            raise ValueError(f"unknown columns {set(values) - COLUMNS}")
        values["updated_at"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.tx() as db:
            db.execute(f"UPDATE txs SET {sets} WHERE id = ?", (*values.values(), tx_id))  # noqa: S608
            if event is not None:
                _queue(db, event)

    # --- webhooks ----------------------------------------------------------------------------
    def due_webhooks(self, now: float) -> list[dict[str, Any]]:
        """Undelivered webhooks whose next attempt is due."""
        return self._all("SELECT * FROM webhooks WHERE delivered_at IS NULL AND next_at <= ? "
                         "ORDER BY next_at", (now,))

    def webhook_result(self, event_id: str, *, delivered: bool, next_at: float = 0.0,
                       error: str | None = None) -> None:
        """Record one delivery attempt."""
        with self.tx() as db:
            db.execute("UPDATE webhooks SET attempts = attempts + 1, delivered_at = ?, next_at = ?, "
                       "last_error = ? WHERE event_id = ?",
                       (time.time() if delivered else None, next_at, error, event_id))


def _queue(db: sqlite3.Connection, event: dict[str, Any]) -> None:
    db.execute("INSERT OR IGNORE INTO webhooks (event_id, body, next_at) VALUES (?, ?, ?)",
               (event["event_id"], json.dumps(event, sort_keys=True).encode(), time.time()))
