"""Group commit: many callers' postings committed together in one database transaction.

Callers ``submit`` and get a :class:`Ticket` (a light future). A single writer thread takes whatever
accumulated while the previous commit was running (up to ``max_batch`` transfers), applies it with
:func:`keeper.ledger.engine.apply_requests` and commits once: the fsync and the per-account balance
updates are shared by the whole batch (TigerBeetle-style). Under light load a batch is one request,
so latency stays at one commit; under heavy load batches grow and throughput follows.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from keeper.ledger.checkpoint import Checkpointer
from keeper.ledger.db import NO_AUTOCHECKPOINT, WRITE
from keeper.ledger.domain import TransferResult, TransferSpec
from keeper.ledger.engine import Hook, Request, apply_requests

log = logging.getLogger(__name__)
_STOP = object()


class Ticket:
    """A light future of one request (``result``, ``exception``, ``done``, ``add_done_callback``).

    ``concurrent.futures.Future`` costs ~20 us per posting (a Condition each); tickets share one
    Condition per committer, notified once per group commit.
    """

    __slots__ = ("_cond", "_done", "_results", "_error", "_callbacks", "completed_at")

    def __init__(self, cond: threading.Condition) -> None:
        self._cond = cond
        self._done = False
        self._results: list[TransferResult] | None = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[Ticket], object]] | None = None
        self.completed_at = 0.0  # time.perf_counter() when its group commit finished

    def done(self) -> bool:
        """True once the request was committed or refused."""
        return self._done

    def _wait(self, timeout: float | None) -> None:
        if not self._done:
            with self._cond:
                if not self._cond.wait_for(lambda: self._done, timeout):
                    raise TimeoutError("ledger request not committed in time")

    def result(self, timeout: float | None = None) -> list[TransferResult]:
        """Wait for the commit; return the results or raise the request's error."""
        self._wait(timeout)
        if self._error is not None:
            raise self._error
        return self._results  # type: ignore[return-value]

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Wait for the commit; return the request's error (None if accepted)."""
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


def commit_requests(
    engine: Engine, requests: Sequence[Request], options: dict[str, object] | None = None
) -> None:
    """Commit ``requests`` in one transaction; if that fails for a non-ledger reason (a hook error,
    a concurrent writer), retry each request in its own transaction so one cannot sink the others.
    ``options`` are the write connection's execution options (default :data:`WRITE`).
    """
    options = options or WRITE
    try:
        with engine.connect().execution_options(**options) as conn, conn.begin():
            apply_requests(conn, requests)
        return
    except Exception as exc:  # noqa: BLE001 - isolate the failing request below
        if len(requests) == 1:
            requests[0].error = exc
            requests[0].results = None
            return
        log.warning("group commit failed (%s); retrying requests one by one", exc)
    for req in requests:
        req.error = None
        req.results = None
        try:
            with engine.connect().execution_options(**options) as conn, conn.begin():
                apply_requests(conn, [req])
        except Exception as exc:  # noqa: BLE001
            req.error = exc
            req.results = None


class GroupCommitter:
    """Background writer thread accumulating requests into group commits.

    ``max_batch`` caps the transfers of one commit: a bigger batch amortises the fsync further but
    every posting in it waits for the whole batch, so the cap bounds the latency a backlog adds.
    On SQLite the committer's commits skip automatic WAL checkpoints and a
    :class:`~keeper.ledger.checkpoint.Checkpointer` thread runs them in the background.
    """

    def __init__(self, engine: Engine, max_batch: int = 4096) -> None:
        self.engine = engine
        self.max_batch = max_batch
        sqlite = engine.dialect.name == "sqlite"
        self.checkpointer = Checkpointer(engine) if sqlite else None
        self._options: dict[str, object] = NO_AUTOCHECKPOINT if sqlite else WRITE
        self._q: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="ledger-group-commit", daemon=True)
        self.batches = 0
        self.committed = 0
        self._thread.start()

    def submit(self, transfers: Sequence[TransferSpec], hook: Hook | None = None) -> Ticket:
        """Queue one all-or-nothing request; the ticket yields its results or raises its error."""
        ticket = Ticket(self._cond)
        self._q.put((Request(list(transfers), hook), ticket))
        return ticket

    def close(self) -> None:
        """Flush pending requests and stop the writer thread."""
        self._q.put(_STOP)
        self._thread.join()
        if self.checkpointer is not None:
            self.checkpointer.close()
            self.checkpointer = None

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._q.get()
            if item is _STOP:
                break
            batch = [item]
            n = len(item[0].transfers)  # type: ignore[index]
            while n < self.max_batch:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
                n += len(nxt[0].transfers)  # type: ignore[index]
            reqs = [b[0] for b in batch]  # type: ignore[index]
            try:
                commit_requests(self.engine, reqs, self._options)
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
