"""Group commit: many callers' postings committed together in one database transaction.

Callers ``submit`` and get a :class:`Ticket` (a light future). A single writer thread takes whatever
accumulated while the previous commit was running (up to ``max_batch`` transfers), applies it with
:func:`keeper.ledger.engine.apply_requests` and commits once: the fsync and the per-account balance
updates are shared by the whole batch (TigerBeetle-style). Under light load a batch is one request,
so latency stays at one commit; under heavy load batches grow and throughput follows.

Failures: a refused request (a ``LedgerError`` from the rules) never affects the others. If the
batch's transaction fails, the error is classified (:func:`keeper.ledger.db.is_unavailable`):
the database could not take the write (lock held elsewhere, I/O, connection) => every request of
the batch fails at once with :class:`~keeper.ledger.errors.LedgerUnavailable` (retryable, nothing
written); anything else (a hook raising, a constraint) => each request is retried alone so the
culprit cannot sink the others. Callers wait at most ``result_timeout`` (default
:data:`DEFAULT_RESULT_TIMEOUT`) for a ticket: then :class:`~keeper.ledger.errors.LedgerTimeout`,
and a request the writer had not taken yet is withdrawn (it will never commit).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from types import EllipsisType
from typing import Any

from sqlalchemy import Connection, Engine

from keeper import config
from keeper.ledger import db
from keeper.ledger.checkpoint import Checkpointer
from keeper.ledger.db import NO_AUTOCHECKPOINT, PIPELINED, WRITE, is_unavailable
from keeper.ledger.domain import TransferResult, TransferSpec
from keeper.ledger.engine import Hook, Request, apply_requests
from keeper.ledger.errors import LedgerTimeout, LedgerUnavailable

log = logging.getLogger(__name__)
_STOP = object()


def take_batch(q: queue.SimpleQueue, first: Any, limit: int, size: Callable[[Any], int],
               stop: object) -> tuple[list[Any], int, bool]:
    """``first`` plus whatever is already waiting in ``q``, until the items' ``size`` adds up to
    ``limit``; never blocks. Returns the batch, its total size and whether the ``stop`` marker
    was taken.

    The intake of every group-committing writer thread (the ledger's, the audit trail's).
    """
    batch, n = [first], size(first)
    while n < limit:
        try:
            nxt = q.get_nowait()
        except queue.Empty:
            break
        if nxt is stop:
            return batch, n, True
        batch.append(nxt)
        n += size(nxt)
    return batch, n, False
# how long ``Ticket.result()`` (hence ``Ledger.post``/``post_all``) waits by default, in seconds:
# well above the writer's busy timeout, so a locked database surfaces as LedgerUnavailable first
DEFAULT_RESULT_TIMEOUT: float = config.default("ledger_result_timeout_s")
_QUEUED, _TAKEN, _WITHDRAWN = 0, 1, 2


class Ticket:
    """A light future of one request (``result``, ``exception``, ``done``, ``add_done_callback``).

    ``concurrent.futures.Future`` costs ~20 us per posting (a Condition each); tickets share one
    Condition per committer, notified once per group commit.

    Waits default to the committer's ``result_timeout``. When it passes before the writer took
    the request, the request is withdrawn (it will never commit) and becomes its own outcome: a
    ``LedgerTimeout`` with ``in_flight=False``. When the writer had already taken it, the wait
    raises ``LedgerTimeout`` with ``in_flight=True`` and the ticket still completes later.
    """

    __slots__ = ("_cond", "_done", "_results", "_error", "_callbacks", "completed_at", "_state",
                 "_timeout")

    def __init__(self, cond: threading.Condition, timeout: float | None = None) -> None:
        self._cond = cond
        self._timeout = timeout  # default wait of result()/exception(); None: forever
        self._state = _QUEUED
        self._done = False
        self._results: list[TransferResult] | None = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[Ticket], object]] | None = None
        self.completed_at = 0.0  # time.perf_counter() when its group commit finished

    def done(self) -> bool:
        """True once the request was committed or refused."""
        return self._done

    def _wait(self, timeout: float | None | EllipsisType) -> None:
        if self._done:
            return
        if timeout is ...:
            timeout = self._timeout
        with self._cond:
            if self._cond.wait_for(lambda: self._done, timeout):
                return
            if self._state != _QUEUED:
                raise LedgerTimeout(
                    f"ledger request not committed within {timeout} s and still in flight: it may "
                    "yet commit; retrying with the same transfer ids is safe", in_flight=True)
            self._state = _WITHDRAWN  # the writer will skip it
            self._finish(None, LedgerTimeout(
                f"ledger request not committed within {timeout} s; withdrawn, it will not be "
                "committed", in_flight=False))
            self._cond.notify_all()

    def result(self, timeout: float | None | EllipsisType = ...) -> list[TransferResult]:
        """Wait for the commit; return the results or raise the request's error.

        ``timeout`` defaults to the committer's ``result_timeout``; ``None`` waits forever. On
        timeout raises :class:`~keeper.ledger.errors.LedgerTimeout`.
        """
        self._wait(timeout)
        if self._error is not None:
            raise self._error
        return self._results  # type: ignore[return-value]

    def exception(self, timeout: float | None | EllipsisType = ...) -> BaseException | None:
        """Wait for the commit; return the request's error (None if accepted). ``timeout`` as
        for :meth:`result` (a withdrawn request returns its ``LedgerTimeout``; one still in
        flight raises it)."""
        self._wait(timeout)
        return self._error

    def add_done_callback(self, fn: Callable[[Ticket], object]) -> None:
        """Call ``fn(ticket)`` when done (immediately if already done; else in the writer)."""
        with self._cond:
            if not self._done:
                if self._callbacks is None:
                    self._callbacks = []
                self._callbacks.append(fn)
                return
        fn(self)

    def _finish(
        self, results: list[TransferResult] | None, error: BaseException | None, at: float = 0.0
    ) -> None:
        self._results, self._error = results, error
        self.completed_at = at or time.perf_counter()
        self._done = True


def _busy_ms(seconds: float | None) -> int:
    return int(1000 * (db.WRITER_BUSY_TIMEOUT if seconds is None else seconds))


def _commit(engine: Engine, requests: Sequence[Request], options: dict[str, object],
            held: Connection | None) -> None:
    if held is not None:
        with held.begin():
            apply_requests(held, requests, commit=True)
        return
    with engine.connect().execution_options(**options) as conn, conn.begin():
        apply_requests(conn, requests, commit=True)


def _fail_unavailable(requests: Sequence[Request], exc: BaseException) -> None:
    reason = getattr(exc, "orig", None) or exc  # the driver's message, not the SQL and its values
    for req in requests:
        req.results = None
        req.error = LedgerUnavailable(
            f"ledger database unavailable ({type(reason).__name__}: {reason}); nothing was "
            "written, retry later")
        req.error.__cause__ = exc


def commit_requests(
    engine: Engine, requests: Sequence[Request], options: dict[str, object] | None = None,
    connection: Connection | None = None,
) -> None:
    """Commit ``requests`` in one transaction, setting each request's ``results`` or ``error``.

    If the transaction fails because the database cannot take writes (see
    :func:`~keeper.ledger.db.is_unavailable`), every request fails at once with
    ``LedgerUnavailable``. Any other failure (a hook error, a constraint) is request-specific:
    each request is retried in its own transaction so one cannot sink the others; should one of
    those retries find the database unavailable, it and the requests after it fail at once.
    ``options`` are the write connection's execution options (default: :data:`WRITE`, waiting
    at most :data:`~keeper.ledger.db.WRITER_BUSY_TIMEOUT` for a lock held elsewhere).
    ``connection``: an open connection (no transaction) to use instead of one from ``engine``'s
    pool, its execution options already set (the group committer's).
    """
    options = options or {**WRITE, "ledger_busy_ms": _busy_ms(None)}
    try:
        _commit(engine, requests, options, connection)
        return
    except Exception as exc:  # noqa: BLE001 - classified below
        if is_unavailable(exc):
            log.warning("group commit of %d requests failed: database unavailable (%s)",
                        len(requests), type(exc).__name__)
            _fail_unavailable(requests, exc)
            return
        if len(requests) == 1:
            requests[0].error = exc
            requests[0].results = None
            return
        log.warning("group commit failed (%s); retrying requests one by one", type(exc).__name__)
    for i, req in enumerate(requests):
        req.error = None
        req.results = None
        try:
            _commit(engine, [req], options, connection)
        except Exception as exc:  # noqa: BLE001
            if is_unavailable(exc):
                _fail_unavailable(requests[i:], exc)
                return
            req.error = exc
            req.results = None


class GroupCommitter:
    """Background writer thread accumulating requests into group commits.

    ``max_batch`` caps the transfers of one commit: a bigger batch amortises the fsync further but
    every posting in it waits for the whole batch, so the cap bounds the latency a backlog adds.
    On SQLite the committer's commits skip automatic WAL checkpoints and a
    :class:`~keeper.ledger.checkpoint.Checkpointer` thread runs them in the background.
    """

    def __init__(
        self,
        engine: Engine,
        max_batch: int = 4096,
        *,
        busy_timeout: float | None = None,
        result_timeout: float | None = None,
    ) -> None:
        """``busy_timeout``: seconds a batch waits for a lock held elsewhere before failing with
        ``LedgerUnavailable`` (default :data:`~keeper.ledger.db.WRITER_BUSY_TIMEOUT`);
        ``result_timeout``: the tickets' default wait (default :data:`DEFAULT_RESULT_TIMEOUT`)."""
        self.engine = engine
        self.max_batch = max_batch
        self.result_timeout = DEFAULT_RESULT_TIMEOUT if result_timeout is None else result_timeout
        busy_ms = _busy_ms(busy_timeout)
        sqlite = engine.dialect.name == "sqlite"
        self.checkpointer = Checkpointer(engine, busy_ms=busy_ms) if sqlite else None
        self._options: dict[str, object] = {
            **(NO_AUTOCHECKPOINT if sqlite else {**WRITE, PIPELINED: True}),
            "ledger_busy_ms": busy_ms}
        self._conn: Connection | None = None  # held while batches follow each other
        self._q: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="ledger-group-commit", daemon=True)
        self.batches = 0
        self.committed = 0
        self._thread.start()

    def submit(self, transfers: Sequence[TransferSpec], hook: Hook | None = None) -> Ticket:
        """Queue one all-or-nothing request; the ticket yields its results or raises its error."""
        ticket = Ticket(self._cond, self.result_timeout)
        self._q.put((Request(list(transfers), hook), ticket))
        return ticket

    def close(self) -> None:
        """Flush pending requests and stop the writer thread."""
        self._q.put(_STOP)
        self._thread.join()
        self._release()
        if self.checkpointer is not None:
            self.checkpointer.close()
            self.checkpointer = None

    def _connection(self) -> Connection:
        """The writer's connection: kept while batches follow each other (no pool checkout and
        no pre-ping round trip per batch), given back to the pool when the queue runs dry. A
        connection lost under a batch fails that batch (``LedgerUnavailable``); SQLAlchemy
        invalidates it on the rollback and the next batch runs on a new one."""
        if self._conn is None:
            self._conn = self.engine.connect().execution_options(**self._options)
        return self._conn

    def _release(self) -> None:
        """Give the writer's connection back to the pool."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - a dead connection may fail to close; it is dropped
                log.warning("ledger writer: closing its connection failed", exc_info=True)

    def _commit(self, reqs: list[Request]) -> None:
        try:
            conn = self._connection()
        except Exception as exc:  # noqa: BLE001 - no connection: classified like a failed commit
            if not is_unavailable(exc):
                raise
            _fail_unavailable(reqs, exc)
            return
        commit_requests(self.engine, reqs, self._options, conn)

    def _run(self) -> None:
        stop = False
        while not stop:
            try:
                item = self._q.get_nowait()
            except queue.Empty:
                self._release()  # idle
                item = self._q.get()
            if item is _STOP:
                break
            batch, n, stop = take_batch(self._q, item, self.max_batch,
                                        lambda it: len(it[0].transfers), _STOP)
            with self._cond:  # from here on a caller's timeout no longer withdraws them
                reqs = []
                for req, ticket in batch:  # type: ignore[misc]
                    if ticket._state == _QUEUED:  # noqa: SLF001
                        ticket._state = _TAKEN  # noqa: SLF001
                        reqs.append(req)
            try:
                if reqs:
                    self._commit(reqs)
            except BaseException as exc:  # noqa: BLE001 - never leave a caller hanging
                for req in reqs:
                    req.error = exc
            self.batches += 1
            self.committed += n
            if self.checkpointer is not None:
                self.checkpointer.kick()
            callbacks = []
            at = time.perf_counter()
            with self._cond:
                for req, ticket in batch:  # type: ignore[misc]
                    if ticket._state == _TAKEN:  # noqa: SLF001 - withdrawn ones are finished
                        ticket._finish(req.results, req.error, at)  # noqa: SLF001
                    if ticket._callbacks:  # noqa: SLF001
                        callbacks.append(ticket)
                self._cond.notify_all()
            if self.checkpointer is not None:  # after the callers were released
                try:
                    self.checkpointer.restart_if_large()
                except Exception:  # noqa: BLE001 - retried after the next commit
                    log.exception("WAL restart checkpoint failed")
            for ticket in callbacks:
                for fn in ticket._callbacks:  # noqa: SLF001
                    try:
                        fn(ticket)
                    except Exception:  # noqa: BLE001
                        log.exception("ledger done-callback failed")
