"""Engine construction: SQLite tuned for durable group commits, or PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL``: every commit fsyncs the WAL, so a committed
batch survives power loss, not just a process crash (``NORMAL`` in WAL mode may lose the last
commits on power loss). Group commit makes FULL affordable: one fsync per batch, not per posting.
Write transactions start with ``BEGIN IMMEDIATE`` so the write lock is taken before balances are
read (no lost updates between processes, no deadlock-upgrade failures). The group committer's
connections skip automatic WAL checkpoints; a background thread runs them (see
:mod:`keeper.ledger.checkpoint`).

Lock waits: connections wait up to 60 s for another writer (SQLite ``busy_timeout``), but the
group committer's writes wait only :data:`WRITER_BUSY_TIMEOUT` (SQLite ``busy_timeout``,
PostgreSQL ``lock_timeout``): a batch holds the lock for milliseconds, so a longer wait means
another process is stuck holding it, and every caller queued behind the writer should learn that
fast (:func:`is_unavailable` classifies the error) rather than wait a minute per request.

Tuning comes from :class:`keeper.config.Settings` only: the page cache
(``STRONGROOM_LEDGER_SQLITE_CACHE_KIB``) when an engine is made, the writer's lock wait
(``STRONGROOM_LEDGER_WRITER_BUSY_S``) where a ledger is built from settings (``Ledger(...,
busy_timeout=settings.ledger_writer_busy_s)``); :data:`WRITER_BUSY_TIMEOUT` is its embedded default.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc

from keeper import config
from keeper.ledger import writelock

WRITE = {"ledger_write": True}
# execution option of the group committer's writes: no automatic checkpoint inside its commits
# (a background :class:`~keeper.ledger.checkpoint.Checkpointer` runs them instead)
# and no per-row foreign-key lookups (the engine reads every account it posts to under the write
# lock and refuses unknown ones; accounts are never deleted)
NO_AUTOCHECKPOINT = {"ledger_write": True, "ledger_autocheckpoint": 0, "ledger_fk": False}
# execution option (PostgreSQL): the transaction's ``lock_timeout`` is left to the first pipeline
# of :func:`keeper.ledger.bulk.read_batch` (:func:`pipelined_lock_timeout`) instead of a round trip
# of its own at BEGIN
PIPELINED = "ledger_pipelined"
# this transaction's row-lock waits end with LockNotAvailable (SQLSTATE 55P03) after the value
_PG_LOCK_TIMEOUT = "SELECT set_config('lock_timeout', %s, true)"
DEFAULT_AUTOCHECKPOINT = 1000  # SQLite's default, in WAL pages
BUSY_TIMEOUT_MS = 60_000  # how long an ordinary connection waits for another writer
# how long the group committer's write waits for a lock held elsewhere before failing its batch,
# when the ledger was built without ``busy_timeout`` (Settings' default, never the environment's)
WRITER_BUSY_TIMEOUT: float = config.default("ledger_writer_busy_s")
# SQLite primary result codes meaning "the database cannot take writes now", whatever is written:
# BUSY, LOCKED, NOMEM, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB
_SQLITE_UNAVAILABLE = frozenset({5, 6, 7, 8, 10, 11, 13, 14, 15, 26})
# PostgreSQL SQLSTATE classes / codes of the same kind: connection exception, insufficient
# resources, operator intervention, system error, internal error; lock not available (lock_timeout),
# object in use, serialization failure, deadlock (transient: the batch may simply be retried)
_PG_UNAVAILABLE_CLASSES = frozenset({"08", "53", "57", "58", "XX"})
_PG_UNAVAILABLE_CODES = frozenset({"55P03", "55006", "40001", "40P01"})


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database could not take a write at all (lock held elsewhere,
    I/O error, disk full, connection lost), as opposed to an error caused by what was written (a
    constraint, a hook raising): the former fails a whole batch alike, the latter one request."""
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig  # type: ignore[assignment]
    elif isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError):  # pool exhausted
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _SQLITE_UNAVAILABLE
    state = getattr(exc, "sqlstate", None)
    if state:
        return state[:2] in _PG_UNAVAILABLE_CLASSES or state in _PG_UNAVAILABLE_CODES
    if type(exc).__name__ == "OperationalError":  # a driver error without a code: connection level
        return True
    return isinstance(exc, OSError)


def set_sqlite_busy(proxy: Any, ms: int) -> None:
    """Set the busy timeout of the pooled SQLite connection ``proxy`` (a no-op if already set)."""
    if proxy.info.get("ledger_busy_ms", BUSY_TIMEOUT_MS) != ms:
        proxy.driver_connection.execute(f"PRAGMA busy_timeout={int(ms)}")
        proxy.info["ledger_busy_ms"] = ms


def make_engine(url: str, *, cache_kib: int | None = None, **kw: Any) -> Engine:
    """Create an engine for ``url`` (``sqlite:///file.db`` or ``postgresql+psycopg://...``).

    ``cache_kib``: SQLite page cache per connection (default: the setting
    ``ledger_sqlite_cache_kib`` of :func:`keeper.config.load_settings`).
    """
    if url.startswith("sqlite"):
        if cache_kib is None:
            cache_kib = config.load_settings().ledger_sqlite_cache_kib
        connect_args = {"check_same_thread": False, "timeout": 60,
                        "factory": writelock.LockingConnection}
        engine = create_engine(url, connect_args=connect_args, **kw)
        queue = writelock.writer_lock(engine.url.database or "")

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA journal_size_limit=67108864")  # shrink a grown WAL back to 64 MiB
            cur.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
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
                busy_ms = opts.get("ledger_busy_ms", BUSY_TIMEOUT_MS)
                set_sqlite_busy(conn.connection, busy_ms)
                if queue is not None:
                    _begin_queued(conn, queue, busy_ms)
                    return
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    # no server-side prepared statements: a generic plan cached while ledger_transfers was small
    # keeps seq-scanning it for the group commit's ``transfer_id = ANY(...)`` lookup once it is big
    # (measured: 51 s of lookups in an 8 s run); custom plans pick the unique index every time
    extra = {"prepare_threshold": None} if url.startswith("postgresql+psycopg:") else {}
    connect_args = {**extra, **kw.pop("connect_args", {})}
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kw)

    @event.listens_for(engine, "begin")
    def _on_pg_begin(conn: Connection) -> None:
        opts = conn.get_execution_options()
        ms = opts.get("ledger_busy_ms")
        if ms is not None and not opts.get(PIPELINED):  # see pipelined_lock_timeout
            conn.exec_driver_sql(_PG_LOCK_TIMEOUT, (f"{int(ms)}ms",))

    return engine


def _begin_queued(conn: Connection, queue: writelock.WriterLock, busy_ms: int) -> None:
    """``BEGIN IMMEDIATE`` once this connection's turn in the writer queue has come (see
    :mod:`keeper.ledger.writelock`); when the queue did not move within the busy timeout, one
    try at SQLite's lock without waiting ("database is locked" if it is held, as before)."""
    dbapi = conn.connection.driver_connection
    queued = writelock.take(dbapi, queue, busy_ms / 1000)
    if not queued:
        set_sqlite_busy(conn.connection, 0)
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        writelock.let_go(dbapi)  # no transaction began: the next writer may go
        raise
    finally:
        if not queued:
            set_sqlite_busy(conn.connection, busy_ms)


def pipelined_lock_timeout(conn: Connection) -> str | None:
    """This transaction's PostgreSQL ``lock_timeout`` value (e.g. ``"5000ms"``) when ``conn``'s
    options carry ``ledger_busy_ms`` and :data:`PIPELINED`: the group commit sets it in the
    pipeline of its reads (no round trip of its own) instead of the ``begin`` listener sending it
    alone. None otherwise (nothing pending)."""
    opts = conn.get_execution_options()
    ms = opts.get("ledger_busy_ms")
    if ms is None or not opts.get(PIPELINED):
        return None
    return f"{int(ms)}ms"


class DriverQuery:
    """A Core statement compiled once for one dialect, run straight through the DB-API cursor.

    For the hottest small reads (a customer's page of movements): SQLAlchemy's per-execution
    work (parameter processing, result processing, the ``begin`` listener's ``BEGIN``) cost
    more than SQLite running the statement. The SQL still comes from the one Core statement, so
    the rule it encodes keeps one home. Positional dialects only (SQLite's ``?``). Constants
    bound in the statement are processed once here; the caller's parameters (by ``bindparam``
    name) go through their type's bind processor on every call (e.g. datetimes to SQLite text).
    Values come back raw, as the driver hands them.
    """

    def __init__(self, stmt: Any, dialect: Any) -> None:
        compiled = stmt.compile(dialect=dialect)
        if compiled.positiontup is None:
            raise ValueError(f"{dialect.name} binds parameters by name: not a positional dialect")
        self.sql = str(compiled)
        slots: list[tuple[str | None, Any, Any]] = []  # (caller's key, processor, constant)
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            proc = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required:
                slots.append((bind.key, proc, None))
            else:
                value = bind.effective_value
                slots.append((None, None, proc(value) if proc else value))
        self._slots = tuple(slots)

    def args(self, params: dict[str, Any]) -> tuple[Any, ...]:
        """The positional arguments of one execution with ``params`` (by bindparam name)."""
        return tuple(c if k is None else (p(params[k]) if p else params[k])
                     for k, p, c in self._slots)

    def run(self, cursor: Any, params: dict[str, Any]) -> Any:
        """Execute on the DB-API ``cursor`` with ``params``; the cursor, to fetch from."""
        return cursor.execute(self.sql, self.args(params))


@functools.cache
def driver_query(stmt: Any, dialect: Any) -> DriverQuery:
    """``stmt`` compiled once for ``dialect`` (statements are built once: cached by identity)."""
    return DriverQuery(stmt, dialect)


@contextmanager
def driver_cursor(engine: Engine) -> Iterator[Any]:
    """A DB-API cursor of a pooled connection of ``engine``, outside SQLAlchemy's transaction
    handling (SQLite: autocommit, each statement consistent by itself); closed, and the
    connection returned to the pool, on exit."""
    dbapi = engine.raw_connection()
    try:
        cur = dbapi.cursor()
        try:
            yield cur
        finally:
            cur.close()
    finally:
        dbapi.close()


def read_through_driver(engine: Engine, stmt: Any, params: dict[str, Any]) -> list[Any]:
    """Every row of the SELECT ``stmt`` on a SQLite ``engine``, run through the driver
    (:func:`driver_cursor`), values as the driver hands them."""
    query = driver_query(stmt, engine.dialect)
    with driver_cursor(engine) as cur:
        return query.run(cur, params).fetchall()
