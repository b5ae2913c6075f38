"""Engine construction: SQLite tuned for durable group commits, or PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL``: every commit fsyncs the WAL, so a committed
batch survives power loss, not just a process crash (``NORMAL`` in WAL mode may lose the last
commits on power loss). Group commit makes FULL affordable: one fsync per batch, not per posting.
Write transactions start with ``BEGIN IMMEDIATE`` so the write lock is taken before balances are
read (no lost updates between processes, no deadlock-upgrade failures). The group committer's
connections skip automatic WAL checkpoints; a background thread runs them (see
:mod:`keeper.ledger.checkpoint`).
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

WRITE = {"ledger_write": True}
# execution option of the group committer's writes: no automatic checkpoint inside its commits
# (a background :class:`~keeper.ledger.checkpoint.Checkpointer` runs them instead)
# and no per-row foreign-key lookups (the engine reads every account it posts to under the write
# lock and refuses unknown ones; accounts are never deleted)
NO_AUTOCHECKPOINT = {"ledger_write": True, "ledger_autocheckpoint": 0, "ledger_fk": False}
DEFAULT_AUTOCHECKPOINT = 1000  # SQLite's default, in WAL pages
_CACHE_KIB = int(os.environ.get("LEDGER_SQLITE_CACHE_KIB", "65536"))  # page cache per connection


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
            cur.execute("PRAGMA journal_size_limit=67108864")  # shrink a grown WAL back to 64 MiB
            cur.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            opts = conn.get_execution_options()
            write = opts.get("ledger_write", False)
            if write:  # per use: pooled connections serve both the committer and direct posts
                want = opts.get("ledger_autocheckpoint", DEFAULT_AUTOCHECKPOINT)
                info = conn.connection.info
                if info.get("ledger_autocheckpoint", DEFAULT_AUTOCHECKPOINT) != want:
                    conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={int(want)}")
                    info["ledger_autocheckpoint"] = want
                fk = bool(opts.get("ledger_fk", True))
                if info.get("ledger_fk", True) != fk:  # a no-op inside a transaction: set before
                    conn.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if fk else 'OFF'}")
                    info["ledger_fk"] = fk
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    # no server-side prepared statements: a generic plan cached while ledger_transfers was small
    # keeps seq-scanning it for the group commit's ``transfer_id = ANY(...)`` lookup once it is big
    # (measured: 51 s of lookups in an 8 s run); custom plans pick the unique index every time
    extra = {"prepare_threshold": None} if url.startswith("postgresql+psycopg:") else {}
    connect_args = {**extra, **kw.pop("connect_args", {})}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kw)
