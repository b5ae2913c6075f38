"""Engine construction: SQLite tuned for durable group commits, or PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL``: every commit fsyncs the WAL, so a committed
batch survives power loss, not just a process crash (``NORMAL`` in WAL mode may lose the last
commits on power loss). Group commit makes FULL affordable: one fsync per batch, not per posting.
Write transactions start with ``BEGIN IMMEDIATE`` so the write lock is taken before balances are
read (no lost updates between processes, no deadlock-upgrade failures).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

WRITE = {"ledger_write": True}


def make_engine(url: str, **kw: Any) -> Engine:
    """Create an engine for ``url`` (``sqlite:///file.db`` or ``postgresql+psycopg://...``)."""
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": 60}
        engine = create_engine(url, connect_args=connect_args, **kw)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("ledger_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True, **kw)
