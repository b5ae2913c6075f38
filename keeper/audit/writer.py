"""Group-committed audit writer: many callers' records appended in one transaction.

For records that do not belong to another transaction (API calls, reads, logins): callers
``submit`` and get a ``Future`` of their ``(seq, hash)`` list; one writer thread takes everything
queued (up to ``max_batch`` records), appends it with one head update and one multi-row insert,
and commits once (one fsync for the batch). Records are encoded and checked in the caller's
thread, so a bad record is refused to its caller and never sinks a batch; a batch that fails in
the database fails every future in it (nothing of it was written).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from sqlalchemy import Engine

from keeper.audit.chain import append_encoded
from keeper.audit.records import Appended, AuditRecord
from keeper.ledger.batcher import take_batch
from keeper.ledger.db import WRITE, WRITER_BUSY_TIMEOUT

log = logging.getLogger(__name__)
_STOP = object()


def write_options() -> dict[str, object]:
    """Execution options of an audit write: a write transaction (BEGIN IMMEDIATE on SQLite)
    that waits at most the ledger writer's busy timeout for a lock held elsewhere."""
    return {**WRITE, "ledger_busy_ms": int(WRITER_BUSY_TIMEOUT * 1000)}


class AuditWriter:
    """Background writer thread group-committing audit records."""

    def __init__(self, engine: Engine, max_batch: int = 8192) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._q: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._closed = False
        self.batches = 0
        self._thread.start()

    def submit(self, records: AuditRecord | Sequence[AuditRecord]) -> Future[list[Appended]]:
        """Queue ``records`` (appended together, in order); raises ``AuditRecordError`` now for a
        bad record. The future yields each record's ``(seq, hash)`` once committed."""
        if self._closed:
            raise RuntimeError("audit writer is closed")
        items = [records] if isinstance(records, AuditRecord) else list(records)
        encoded = [r.encode() for r in items]
        fut: Future[list[Appended]] = Future()
        self._q.put((encoded, fut))
        return fut

    def close(self) -> None:
        """Commit what is queued and stop the writer thread (idempotent)."""
        if not self._closed:
            self._closed = True
            self._q.put(_STOP)
            self._thread.join()

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._q.get()
            if item is _STOP:
                return
            batch, _, stop = take_batch(self._q, item, self.max_batch, lambda it: len(it[0]), _STOP)
            self._commit(batch)

    def _commit(self, batch: list[tuple[list[str], Future[list[Appended]]]]) -> None:
        live = [(enc, f) for enc, f in batch if f.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            with self.engine.connect().execution_options(**write_options()) as conn, conn.begin():
                done = append_encoded(conn, [e for enc, _ in live for e in enc])
        except BaseException as exc:  # noqa: BLE001 - every caller learns it; nothing written
            log.warning("audit batch of %d records failed: %s", sum(len(e) for e, _ in live),
                        type(exc).__name__)
            for _, f in live:
                f.set_exception(exc)
            return
        self.batches += 1
        i = 0
        for enc, f in live:
            f.set_result(done[i:i + len(enc)])
            i += len(enc)
