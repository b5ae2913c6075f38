"""Request rate limits shared by every API process: one fixed-window counter per bucket in the
database, moved by upserts (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``).

A bucket is ``client:<client id>`` for an authenticated request and ``ip:<address>`` otherwise.
The window is the epoch minute: a bucket may make ``limit`` requests per window (a fixed window
lets a client spend up to twice the limit across a window boundary; the spec's 100/min is a
fairness limit, not a security boundary). Processes whose clocks disagree never move a bucket's
window backwards.

Per-process counting (issue 13): a process's first hit of a bucket in a window is an exact
upsert (it learns what other processes counted); later hits are first counted in memory. While
a bucket's estimate
(its count in the database when this process last wrote or flushed it, plus this process's hits
not yet written) stays within half the limit, the hit is answered from memory and a background
thread writes the bucket's pending hits in one upsert every :data:`FLUSH_S` (all buckets in one
short transaction). Once a bucket passes half its limit in a window, every further hit of that
bucket in that window is an exact upsert (with the pending hits) before the answer, so the
refusal at the limit sees every hit other processes have flushed. Bound: with W processes, a
bucket can go over its limit by at most the hits other processes answered from memory in the
last flush interval, at most (W - 1) x limit / 2; below half the limit ``RateLimit-Remaining`` is
this process's estimate. :meth:`RateLimiter.close` writes what is pending (a clean stop loses
nothing); a crash loses at most one flush interval of counts, letting a client a few requests
more, nothing else.

Cost: counters need not survive a crash, so their commits do not wait for the disk: on
PostgreSQL the transaction sets ``synchronous_commit = off``; on SQLite the limiter has its own
small pool whose connections use ``synchronous=NORMAL`` (in WAL mode: no fsync per commit; the
ledger's own connections keep ``FULL`` and their commits still flush every earlier WAL frame). On
SQLite a process also takes its counters' write lock one thread at a time (an in-process mutex):
threads racing for SQLite's file lock would back off in its busy handler, which sleeps
milliseconds at a time. Measured on the 2-core dev machine before per-process counting: the
upsert per request cost ~0.75 ms of CPU and ~3 ms of waiting behind the audit writer's commits.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, case, event, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from keeper import config
from keeper.auth.models import RateLimitRow
from keeper.ledger import make_engine

WINDOW_S = 60
MAX_BUCKET_LEN = 100
BUSY_MS = 250  # longest wait of a counter for a lock held elsewhere
#: how often pending in-memory hits are written when none is given (the setting
#: ``rate_limit_flush_s``'s embedded default; the API passes the setting): each flush upserts
#: every bucket with pending hits, about 20 us of CPU each with the GIL held, which delays every
#: request the event loop is serving meanwhile. Measured at 500 reads/s over 91 clients: a flush
#: took 1.8 ms; every 0.1 s that was nearly an upsert per request and set the p99 of a
#: transactions page. The interval bounds nothing else but how soon one process sees another's
#: counts below half the limit, and a crash's loss.
FLUSH_S: float = config.default("rate_limit_flush_s")
READ_CHUNK = 500  # buckets re-read per statement by a flush
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of one request against its bucket (what the ``RateLimit-*`` headers say)."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: int  # seconds until the window ends (also the ``Retry-After`` of a refusal)


def _relaxed_sqlite(engine: Engine) -> Engine:
    """A small pool on ``engine``'s SQLite file whose commits do not fsync (see module doc)."""
    own = make_engine(engine.url.render_as_string(hide_password=False), pool_size=4)

    @event.listens_for(own, "connect")
    def _normal(dbapi_conn: Any, _rec: Any) -> None:  # after make_engine's own PRAGMAs
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")

    return own


@dataclass(slots=True)
class _Bucket:
    """What this process knows of one bucket in one window."""

    window: int
    shared: int = 0  # the bucket's count in the database when this process last wrote it
    pending: int = 0  # hits counted here and not yet written
    known: bool = False  # ``shared`` was read from the database in this window
    exact: bool = False  # past half the limit: every hit is written before its answer


class RateLimiter:
    """Counts requests per bucket in ``engine``'s ``auth_rate_limits`` table (see the module
    docstring); ``flush_s=None`` starts no background flusher (call :meth:`flush`).
    :meth:`close` writes what is pending and releases the limiter's own SQLite pool."""

    def __init__(self, engine: Engine, per_minute: int,
                 clock: Callable[[], float] = time.time, flush_s: float | None = FLUSH_S) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.sqlite = engine.dialect.name == "sqlite"
        self.engine = _relaxed_sqlite(engine) if self.sqlite else engine
        # a counter waits at most BUSY_MS for a lock another writer holds (a long batch, a
        # backup): the API then lets the request through rather than hang every read with it
        self._tx = self.engine.execution_options(ledger_write=True, ledger_busy_ms=BUSY_MS)
        self.limit = per_minute
        self.clock = clock
        self._writer = threading.Lock() if self.sqlite else contextlib.nullcontext()
        self._mutex = threading.Lock()  # guards _buckets (held for memory work only)
        self._buckets: dict[str, _Bucket] = {}
        dialect = sqlite if self.sqlite else postgresql
        table = RateLimitRow.__table__
        ins = dialect.insert(table)
        current = table.c.window >= ins.excluded.window
        self._upsert = ins.on_conflict_do_update(
            index_elements=[table.c.bucket],
            set_={"count": case((current, table.c.count + ins.excluded.count),
                                else_=ins.excluded.count),
                  "window": case((current, table.c.window), else_=ins.excluded.window)},
        ).returning(table.c.count, table.c.window)
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        if flush_s is not None:
            self._flusher = threading.Thread(target=self._flush_every, args=(flush_s,),
                                             name="ratelimit-flush", daemon=True)
            self._flusher.start()

    def hit_in_memory(self, bucket: str) -> RateDecision | None:
        """Count one request of ``bucket`` in memory if it may be (never touches the database:
        safe on an event loop); ``None`` when this hit must be written: call :meth:`hit`."""
        now = self.clock()
        with self._mutex:
            b = self._bucket(bucket[:MAX_BUCKET_LEN], int(now // WINDOW_S))
            estimate = b.shared + b.pending + 1
            if b.known and not b.exact and 2 * estimate <= self.limit:
                b.pending += 1
                return self._decision(estimate, b.window, now)
        return None

    def hit(self, bucket: str, exact: bool = False) -> RateDecision:
        """Count one request of ``bucket`` now and say whether it is within the limit;
        ``exact``: write it (with the bucket's pending hits) whatever the estimate.

        Raises ``SQLAlchemyError`` when an exact hit cannot be written (the hits it carried
        stay pending for the next write)."""
        fast = None if exact else self.hit_in_memory(bucket)
        if fast is not None:
            return fast
        now = self.clock()
        key = bucket[:MAX_BUCKET_LEN]
        with self._mutex:
            b = self._bucket(key, int(now // WINDOW_S))
            estimate = b.shared + b.pending + 1
            b.exact = b.exact or 2 * estimate > self.limit
            take, b.pending = b.pending + 1, 0
            window = b.window
        try:
            count, stored_window = self._write([(key, window, take)])[0]
        except BaseException:
            with self._mutex:
                self._requeue(key, window, take - 1)  # this request's own hit is let go
            raise
        with self._mutex:
            self._learn(key, count, stored_window)
        return self._decision(count, stored_window, now)

    def flush(self) -> None:
        """Write every bucket's pending hits in one transaction and re-read the counts of the
        other buckets this process knows in the current window (what other processes flushed),
        so the estimates follow them; forget buckets of past windows. Raises if the write
        fails (the hits then stay pending)."""
        with self._mutex:
            current = int(self.clock() // WINDOW_S)
            batch = [(k, b.window, b.pending) for k, b in self._buckets.items() if b.pending]
            for b in self._buckets.values():
                b.pending = 0
            for k in [k for k, b in self._buckets.items() if b.window < current]:
                del self._buckets[k]  # its pending hits are in ``batch``
            written = {k for k, _, _ in batch}
            known = [k for k in self._buckets if k not in written]
        try:
            stored = self._write(batch) if batch else []
        except BaseException:
            with self._mutex:
                for key, window, n in batch:
                    self._requeue(key, window, n)
            raise
        learned = [(k, c, w) for (k, _, _), (c, w) in zip(batch, stored, strict=True)]
        table = RateLimitRow.__table__
        if known:
            with self.engine.connect() as conn:
                for i in range(0, len(known), READ_CHUNK):
                    learned += [(str(k), int(c), int(w)) for k, c, w in conn.execute(
                        select(table.c.bucket, table.c.count, table.c.window)
                        .where(table.c.bucket.in_(known[i:i + READ_CHUNK])))]
        with self._mutex:
            for key, count, window in learned:
                self._learn(key, count, window)

    def close(self) -> None:
        """Stop the flusher, write what is pending, close the limiter's own SQLite pool (the
        caller's engine is left alone)."""
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join()
            self._flusher = None
        try:
            self.flush()
        except SQLAlchemyError as exc:
            log.warning("rate-limit counts not written at close (%s)", type(exc).__name__)
        finally:
            if self.sqlite:
                self.engine.dispose()

    # --------------------------------------------------------------------------------- internals
    def _bucket(self, key: str, window: int) -> _Bucket:
        b = self._buckets.get(key)
        if b is None or b.window < window:  # a new window (pending hits of the old were flushed
            b = self._buckets[key] = _Bucket(window)  # or are being written)
        return b

    def _requeue(self, key: str, window: int, n: int) -> None:
        """Put ``n`` unwritten hits of ``window`` back (dropped if the bucket moved on)."""
        b = self._buckets.setdefault(key, _Bucket(window))
        if b.window == window:
            b.pending += n

    def _learn(self, key: str, count: int, window: int) -> None:
        b = self._buckets.get(key)
        if b is None or b.window < window:
            b = self._buckets[key] = _Bucket(window)
        if b.window == window:
            b.shared, b.known = max(b.shared, count), True

    def _decision(self, count: int, window: int, now: float) -> RateDecision:
        reset = max(1, math.ceil((window + 1) * WINDOW_S - now))
        return RateDecision(count <= self.limit, self.limit, max(0, self.limit - count), reset)

    def _write(self, batch: list[tuple[str, int, int]]) -> list[tuple[int, int]]:
        """Upsert ``(bucket, window, hits)`` rows in one transaction; each ``(count, window)``."""
        with self._writer, self._tx.begin() as conn:
            if not self.sqlite:
                conn.execute(text("SET LOCAL synchronous_commit = off"))
            return [tuple(conn.execute(self._upsert, {"bucket": k, "window": w, "count": n})
                          .one()) for k, w, n in batch]

    def _flush_every(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            try:
                self.flush()
            except SQLAlchemyError as exc:
                log.warning("rate-limit counts not flushed (%s): kept for the next flush",
                            type(exc).__name__)
