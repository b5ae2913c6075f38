"""A venue service's own SQLite database: our orders, our fills, balances, the makers' and fee
ledgers and the admin's fault overrides, so a restart keeps them (and clientOrderId still binds).

Amounts are decimal TEXT (wei sums exceed SQLite's 64-bit integers). :meth:`Store.save` writes
what changed in one transaction; :meth:`Store.load` rebuilds a simulator from the file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from keeper.trading.types import Fill, OrderStatus, OrderType, Side
from scripts.services.venues.engine import FillRecord, OrderRecord
from scripts.services.venues.faults import FaultState
from scripts.services.venues.simulator import Simulator

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY, client_order_id TEXT UNIQUE, seq INTEGER NOT NULL, symbol TEXT NOT NULL,
    type TEXT NOT NULL, side TEXT NOT NULL, price TEXT, amount TEXT NOT NULL,
    time_in_force TEXT NOT NULL, timestamp INTEGER NOT NULL, filled TEXT NOT NULL,
    taker_cost TEXT NOT NULL, maker_cost TEXT NOT NULL, fee TEXT NOT NULL, reserved TEXT NOT NULL,
    status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fills (
    seq INTEGER PRIMARY KEY, order_id TEXT NOT NULL REFERENCES orders (id), symbol TEXT NOT NULL,
    side TEXT NOT NULL, amount TEXT NOT NULL, price TEXT NOT NULL, cost TEXT NOT NULL,
    fee TEXT NOT NULL, timestamp INTEGER NOT NULL, taker INTEGER NOT NULL);
"""
_UPSERT_ORDER = "INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INT_FIELDS = ("amount", "filled", "taker_cost", "maker_cost", "fee", "reserved")


def _ints(mapping: dict[str, int]) -> str:
    return json.dumps({k: str(v) for k, v in sorted(mapping.items())})


def _from_ints(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in json.loads(text).items()}


class Store:
    """The venue's file; one connection guarded by a lock."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 5.0) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None,
                                   timeout=busy_timeout_s)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._last_meta: dict[str, str] = {}

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def meta(self, key: str) -> str | None:
        """A stored meta value."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Store a meta value."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def save(self, sim: Simulator) -> None:
        """Persist what changed in ``sim`` (called under the simulator's lock) in one transaction."""
        changes = sim.engine.take_changes()
        meta = {"total": _ints(sim.engine.total),
                "ledger": json.dumps({k: _ints(v) for k, v in sorted(sim.engine.ledger.items())}),
                "faults": json.dumps(sim.faults.state.to_dict(), sort_keys=True)}
        meta = {k: v for k, v in meta.items() if self._last_meta.get(k) != v}
        if not changes.orders and not changes.fills and not meta:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for o in changes.orders.values():
                    self._db.execute(
                        _UPSERT_ORDER,
                        (o.id, o.client_order_id, o.seq, o.symbol, o.type.value, o.side.value,
                         None if o.price is None else str(o.price), str(o.amount), o.time_in_force,
                         o.timestamp, str(o.filled), str(o.taker_cost), str(o.maker_cost), str(o.fee),
                         str(o.reserved), o.status.value))
                for r in changes.fills:
                    f = r.fill
                    self._db.execute("INSERT INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                     (r.seq, f.order_id, f.symbol, f.side.value, str(f.amount), str(f.price),
                                      str(f.cost), str(f.fee), f.timestamp, int(r.taker)))
                for key, value in meta.items():
                    self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        self._last_meta.update(meta)

    def load(self, sim: Simulator, now_ms: int) -> None:
        """Rebuild ``sim`` (fresh) from the file."""
        with self._lock:
            orders = [OrderRecord(
                id=r["id"], client_order_id=r["client_order_id"], symbol=r["symbol"],
                type=OrderType(r["type"]),
                side=Side(r["side"]), price=None if r["price"] is None else int(r["price"]),
                time_in_force=r["time_in_force"], timestamp=r["timestamp"], seq=r["seq"],
                status=OrderStatus(r["status"]), **{k: int(r[k]) for k in _INT_FIELDS})
                for r in self._db.execute("SELECT * FROM orders ORDER BY seq")]
            fills = [FillRecord(Fill(sim.profile.name, r["order_id"], r["symbol"], Side(r["side"]),
                                     int(r["amount"]), int(r["price"]), int(r["cost"]), int(r["fee"]),
                                     r["timestamp"]), bool(r["taker"]), r["seq"])
                     for r in self._db.execute("SELECT * FROM fills ORDER BY seq")]
            meta = {r["key"]: r["value"] for r in self._db.execute("SELECT key, value FROM meta")}
        self._last_meta = dict(meta)
        total = _from_ints(meta["total"]) if "total" in meta else {}
        ledger = {k: _from_ints(v) for k, v in json.loads(meta.get("ledger", "{}")).items()}
        state = FaultState(**json.loads(meta["faults"])) if "faults" in meta else FaultState()
        last = max([now_ms, *(o.timestamp for o in orders), *(f.fill.timestamp for f in fills)])
        sim.engine.restore(orders, fills, total, ledger or sim.engine.ledger, state.die_after_fills, last)
        sim.faults.state = state
